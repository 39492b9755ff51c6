// `multus install`: the init step that copies this executable into the CNI
// bin dir — same bytes, executable, atomic (a running old
// multus-shim is not disturbed, no temp file is left) — as multus-shim (or
// multus) and as passthru, the plugin heading the auxiliary chain.
import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { copyFile, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY } from "../helpers/multus.ts";
import { canRunE2e, ensureBinary, isAlive } from "../helpers/e2e.ts";

let dir: string;
const procs: Array<{ kill(sig?: number | NodeJS.Signals): void; exitCode: number | null }> = [];

beforeAll(async () => {
  if (canRunE2e) await ensureBinary();
});
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "multus-install-"));
});
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill("SIGKILL");
  await rm(dir, { recursive: true, force: true });
});

async function multus(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([BINARY, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

/** Same bytes (cmp stops at the first difference). */
function sameBytes(a: string, b: string): boolean {
  return Bun.spawnSync({ cmd: ["cmp", "-s", a, b] }).exitCode === 0;
}

describe.skipIf(!canRunE2e)("multus install", () => {
  test("--dest <dir> installs <dir>/multus-shim and <dir>/passthru: same bytes, executable, nothing else left", async () => {
    const dest = join(dir, "opt", "cni", "bin"); // created when missing
    const run = await multus("install", "--dest", dest);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    const target = join(dest, "multus-shim");
    const passthru = join(dest, "passthru");
    expect(run.stdout).toBe(
      `multus multus-shim copy succeeded! (${target})\npassthru cni ${passthru} copy succeeded!\n`,
    );
    for (const file of [target, passthru]) {
      expect(sameBytes(BINARY, file)).toBe(true);
      expect((await stat(file)).mode & 0o7777).toBe((await stat(BINARY)).mode & 0o7777);
      expect((await stat(file)).mode & 0o111).toBe(0o111);
    }
    expect((await readdir(dest)).sort()).toEqual(["multus-shim", "passthru"]);
    expect((await stat(passthru)).ino).toBe((await stat(target)).ino); // one copy, two names
    // and what was installed works as the plugins: the shim speaks every version, passthru 0.3.0 on
    const version = (cmd: string) => {
      const r = Bun.spawnSync({ cmd: [cmd], env: { CNI_COMMAND: "VERSION" }, stdin: new TextEncoder().encode("{}") });
      expect(r.exitCode).toBe(0);
      return JSON.parse(r.stdout.toString()) as { cniVersion: string; supportedVersions: string[] };
    };
    expect(version(target).cniVersion).toBe("1.1.0");
    expect(version(target).supportedVersions).toContain("0.1.0");
    expect(version(passthru)).toEqual({
      cniVersion: "1.1.0",
      supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
  });

  test("replaces a multus-shim that is executing right now (no text file busy), leaving no temp file", async () => {
    const target = join(dir, "multus-shim");
    await copyFile("/bin/sleep", target); // the "old" shim
    const old = Bun.spawn([target, "30"], { stdout: "ignore", stderr: "ignore" });
    procs.push(old);
    expect(await isAlive(old.pid)).toBe(true);

    const run = await multus("install", "--dest", dir);
    expect(run.code).toBe(0);
    expect(sameBytes(BINARY, target)).toBe(true);
    expect(await isAlive(old.pid)).toBe(true); // the running one keeps its (old, unlinked) file
    expect((await readdir(dir)).sort()).toEqual(["multus-shim", "passthru"]);
  });

  test("--type thin installs <dir>/multus; Go-style -d/-t work too; a bad type fails", async () => {
    const thin = await multus("install", "--dest", dir, "--type", "thin");
    expect(thin.code).toBe(0);
    expect(thin.stdout).toBe(
      `multus multus copy succeeded! (${join(dir, "multus")})\npassthru cni ${join(dir, "passthru")} copy succeeded!\n`,
    );
    expect(sameBytes(BINARY, join(dir, "multus"))).toBe(true);
    expect((await readdir(dir)).sort()).toEqual(["multus", "passthru"]); // Go's install_multus copies passthru for thin too

    const other = join(dir, "go-style");
    await mkdir(other);
    const go = await multus("install", "-d", other, "-t", "thick");
    expect(go.code).toBe(0);
    expect((await readdir(other)).sort()).toEqual(["multus-shim", "passthru"]);

    const bad = await multus("install", "--dest", dir, "--type", "thinnest");
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(`--type must be thick or thin, got "thinnest"`);
    expect((await readdir(dir)).sort()).toEqual(["go-style", "multus", "passthru"]);
  });
});
