// Builds test fixtures that need compiling: the recording plugin
// (recording-plugin.ts) as a standalone executable named "recorder" in a bin
// dir of its own. Built once per content (source + bun version), cached under
// the system temp dir, installed by rename so concurrent test processes agree.
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const SOURCE = join(import.meta.dir, "recording-plugin.ts");

/** One line of the record file, as the recorder wrote it. */
export interface RawRecord {
  command: string;
  /** The CNI_* variables only. */
  env: Record<string, string>;
  fullEnv: Record<string, string>;
  stdin: string;
  pid: number;
  cwd: string;
}
export type PluginRecord = RawRecord & { conf: Record<string, unknown> };

let built: Promise<string> | undefined;

/** Absolute path of the compiled recorder (`<cache>/bin/recorder`); its dir is a usable bin dir. */
export function buildRecordingPlugin(): Promise<string> {
  built ??= buildOnce();
  return built;
}

async function buildOnce(): Promise<string> {
  const src = await readFile(SOURCE);
  const key = createHash("sha256").update(src).update(Bun.version).digest("hex").slice(0, 16);
  const binDir = join(tmpdir(), `multus-test-recorder-${key}`, "bin");
  const exe = join(binDir, "recorder");
  if (await isFile(exe)) return exe;

  await mkdir(binDir, { recursive: true, mode: 0o755 });
  const tmpOut = join(binDir, `.recorder.${process.pid}.${Date.now()}`);
  const proc = Bun.spawn({
    cmd: [
      process.execPath,
      "build",
      "--compile",
      "--no-compile-autoload-dotenv",
      "--no-compile-autoload-bunfig",
      SOURCE,
      "--outfile",
      tmpOut,
    ],
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, errText] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) {
    await rm(tmpOut, { force: true });
    throw new Error(`building the recording plugin failed (exit ${code}): ${errText}`);
  }
  await rename(tmpOut, exe);
  await removeStaleBuilds(key);
  return exe;
}

/** Builds are ~100 MB: drop those of other contents once they are an hour old (a concurrent run may still use a fresh one). */
async function removeStaleBuilds(currentKey: string): Promise<void> {
  const cutoff = Date.now() - 3600_000;
  for (const name of await readdir(tmpdir()).catch(() => [] as string[])) {
    if (!name.startsWith("multus-test-recorder-") || name.endsWith(currentKey)) continue;
    const dir = join(tmpdir(), name);
    const st = await stat(dir).catch(() => undefined);
    if (st && st.mtimeMs < cutoff) await rm(dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

async function isFile(p: string): Promise<boolean> {
  return (await stat(p).catch(() => undefined))?.isFile() ?? false;
}

/** Every invocation the recorder wrote to `file`, in order; [] when it does not exist. */
export async function readRecords(file: string): Promise<PluginRecord[]> {
  const text = await readFile(file, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const r = JSON.parse(l) as RawRecord;
      let conf: Record<string, unknown> = {};
      try {
        conf = JSON.parse(r.stdin) as Record<string, unknown>;
      } catch {
        // keep {}
      }
      return { ...r, conf };
    });
}
