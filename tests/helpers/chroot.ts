// Building a chroot for plugins: Debian's plugins are dynamically linked, so
// each binary goes in with the shared libraries ldd names, at the same paths.
import { copyFile, mkdir, realpath } from "node:fs/promises";
import { dirname, join } from "node:path";

/** Runs a command; its stdout, or an error with its stderr. */
export function must(cmd: string[]): string {
  const p = Bun.spawnSync({ cmd, stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error(`${cmd.join(" ")} failed (${p.exitCode}): ${p.stderr.toString()}`);
  return p.stdout.toString();
}

/** Copies `file` and the shared libraries ldd names into `root`, at the same paths. */
export async function copyWithLibs(root: string, file: string): Promise<void> {
  const wanted = new Set([file]);
  for (const line of must(["ldd", file]).split("\n")) {
    const m = /(\/\S+)\s+\(0x/.exec(line);
    if (m?.[1]) wanted.add(m[1]);
  }
  for (const p of wanted) {
    const dest = join(root, p);
    await mkdir(dirname(dest), { recursive: true });
    await copyFile(await realpath(p), dest);
    if (p === file) must(["chmod", "0755", dest]);
  }
}
