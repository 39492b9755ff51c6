// build.ts cross-compiles the one executable for each platform the images are
// built for (Bun fetches the target's runtime from the npm registry): the ELF
// header says which machine it is for, and the x86-64 baseline build runs here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const ROOT = resolve(import.meta.dir, "../..");
let out = "";

function build(args: string[]) {
  return Bun.spawn([process.execPath, "run", "build.ts", ...args], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
}

/** e_machine of an ELF file: 62 = x86-64, 183 = AArch64 (the ELF spec's numbers). */
async function elfMachine(path: string): Promise<number> {
  const fh = await open(path, "r");
  try {
    const { buffer } = await fh.read(Buffer.alloc(20), 0, 20, 0);
    expect(buffer.subarray(0, 4).toString("latin1")).toBe("\x7fELF");
    expect(buffer[4]).toBe(2); // 64-bit
    return buffer.readUInt16LE(18);
  } finally {
    await fh.close();
  }
}

beforeAll(async () => {
  out = await mkdtemp(join(tmpdir(), "multus-targets-"));
});
afterAll(() => rm(out, { recursive: true, force: true }));

describe("build.ts --target", () => {
  test("linux-arm64 is an AArch64 executable; linux-x64-baseline an x86-64 one that runs here", async () => {
    const targets = ["linux-arm64", "linux-x64-baseline"];
    const procs = targets.map((t) => build(["--target", t, "--outfile", join(out, t)]));
    for (const [i, proc] of procs.entries()) {
      const err = await new Response(proc.stderr).text();
      expect(await proc.exited, `${targets[i]}: ${err}`).toBe(0);
    }
    expect(await elfMachine(join(out, "linux-arm64"))).toBe(183);
    expect(await elfMachine(join(out, "linux-x64-baseline"))).toBe(62);
    const run = Bun.spawnSync([join(out, "linux-x64-baseline"), "version"]);
    expect(run.exitCode).toBe(0);
    expect(run.stdout.toString()).toMatch(/^multus: version:\d+\.\d+\.\d+/);
  }, 120_000); // a fresh machine first downloads both runtimes from the npm registry

  test("an unknown target exits 2 naming the accepted ones, and builds nothing", async () => {
    const proc = build(["--target", "windows-x64", "--outfile", join(out, "nope")]);
    expect(await proc.exited).toBe(2);
    expect(await new Response(proc.stderr).text()).toContain(
      'unknown --target "windows-x64"; accepted: linux-x64, linux-x64-baseline, linux-arm64',
    );
    expect(await Bun.file(join(out, "nope")).exists()).toBe(false);
  });
});
