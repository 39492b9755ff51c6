import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { chmod, chown, copyFile, mkdir, mkdtemp, open, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildRecordingPlugin, readRecords } from "../../tests/helpers/build-fixtures.ts";
import { ErrorCode } from "./errors.ts";
import { buildPluginEnv, execPlugin, findPlugin, type ExecRequest } from "./invoke.ts";
import { rejection } from "../../tests/helpers/thrown.ts";

let recorder = "";
let binDir = "";
let tmp = "";
let recordFile = "";

beforeAll(async () => {
  recorder = await buildRecordingPlugin();
  binDir = dirname(recorder);
});
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "invoke-test-"));
  recordFile = join(tmp, "records.jsonl");
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function request(conf: Record<string, unknown>, over: Partial<ExecRequest> = {}): ExecRequest {
  return {
    command: "ADD",
    pluginType: "recorder",
    binDirs: [binDir],
    stdin: JSON.stringify({ cniVersion: "1.0.0", name: "net", type: "recorder", recordFile, ...conf }),
    cniEnv: { containerId: "c1", netns: "/var/run/netns/x", ifname: "eth0", args: "IgnoreUnknown=1" },
    baseEnv: { PATH: "/usr/bin:/bin" },
    timeoutMs: 10_000,
    ...over,
  };
}

describe("findPlugin", () => {
  test.each([
    ["", "empty"],
    ["a/b", "slash"],
    ["/usr/lib/cni/bridge", "absolute path"],
    ["../evil", "parent traversal"],
    ["..", "dot-dot"],
    ["foo..bar", "embedded dot-dot"],
    ["a\\b", "backslash"],
    ["a\0b", "NUL"],
    [".", "dot"],
  ])("rejects %j (%s) before any lookup", async (t) => {
    // "../evil" would exist relative to the bin dir: the check must not look.
    await mkdir(join(tmp, "bin"));
    await writeFile(join(tmp, "evil"), "#!/bin/sh\n", { mode: 0o755 });
    const err = await rejection(findPlugin(t, [join(tmp, "bin")]));
    expect(err.code).toBe(ErrorCode.InvalidConfig);
    expect(err.msg).toBe(`invalid plugin type ${JSON.stringify(t)}`);
  });

  test("searches the dirs in order and skips directories of that name", async () => {
    const a = join(tmp, "a");
    const b = join(tmp, "b");
    await mkdir(join(a, "plug"), { recursive: true });
    await mkdir(b);
    await writeFile(join(b, "plug"), "x", { mode: 0o755 });
    expect(await findPlugin("plug", [a, b])).toBe(join(b, "plug"));
  });

  test("a symlink within the bin dir, or into another bin dir, is followed", async () => {
    const a = join(tmp, "a");
    const b = join(tmp, "b");
    await mkdir(a);
    await mkdir(b);
    await writeFile(join(b, "multi"), "x", { mode: 0o755 });
    await symlink("multi", join(b, "same-dir"));
    await symlink(join(b, "multi"), join(a, "other-bin-dir"));
    expect(await findPlugin("same-dir", [a, b])).toBe(join(b, "same-dir"));
    expect(await findPlugin("other-bin-dir", [a, b])).toBe(join(a, "other-bin-dir"));
  });

  test("a symlink out of the bin dirs to a file only root can change is followed (Debian's /bin)", async () => {
    const bin = join(tmp, "bin");
    await mkdir(bin);
    await symlink("/bin/true", join(bin, "t"));
    expect(await findPlugin("t", [bin])).toBe(join(bin, "t"));
  });

  test.each([
    ["a dir writable by others", 0o777, 0, "is writable by group or others (mode 777)"],
    ["a group-writable file", 0o775, 0, "is writable by group or others (mode 775)"],
    ["a dir owned by another user", 0o755, 1234, "is owned by uid 1234"],
  ])(
    "a symlink out of the bin dirs into %s is refused before exec, naming the plugin",
    async (_what, mode, uid, why) => {
      const bin = join(tmp, "bin");
      const elsewhere = join(tmp, "elsewhere");
      await mkdir(bin);
      await mkdir(elsewhere);
      await writeFile(join(elsewhere, "evil"), "#!/bin/sh\n", { mode: 0o755 });
      if (mode === 0o775) await chmod(join(elsewhere, "evil"), mode);
      else await chmod(elsewhere, mode);
      if (uid !== 0) await chown(elsewhere, uid, uid);
      await symlink(join(elsewhere, "evil"), join(bin, "bridge"));
      const err = await rejection(findPlugin("bridge", [bin]));
      expect(err.code).toBe(ErrorCode.InvalidConfig);
      expect(err.msg).toContain(
        `plugin "bridge" refused: ${join(bin, "bridge")} resolves to ${join(elsewhere, "evil")}`,
      );
      expect(err.msg).toContain(why);
    },
  );

  test("not found names the plugin and the path like libcni", async () => {
    const err = await rejection(findPlugin("nope", ["/nonexistent/a", "/nonexistent/b"]));
    expect(err.code).toBe(ErrorCode.InvalidConfig);
    expect(err.msg).toBe(`failed to find plugin "nope" in path [/nonexistent/a /nonexistent/b]`);
  });
});

describe("buildPluginEnv", () => {
  test("base env plus request values; base CNI_* never leak; undefined values omitted", () => {
    const env = buildPluginEnv({
      command: "GC",
      binDirs: ["/a", "/b"],
      cniEnv: {},
      baseEnv: { PATH: "/usr/bin", CNI_NETNS: "/leaked", CNI_ARGS: "LEAK=1" },
    });
    expect(env).toEqual({ PATH: "/usr/bin", CNI_COMMAND: "GC", CNI_PATH: "/a:/b" });
  });
});

describe("execPlugin with the recording plugin", () => {
  test("env assembled exactly and stdin passed byte for byte", async () => {
    const req = request(
      { result: { cniVersion: "1.0.0", ips: [] } },
      { baseEnv: { PATH: "/usr/bin:/bin", FOO: "bar" } },
    );
    const out = await execPlugin(req);
    expect(out).toEqual({ cniVersion: "1.0.0", ips: [] });
    const [rec] = await readRecords(recordFile);
    expect(rec?.stdin).toBe(req.stdin as string);
    expect(rec?.env).toEqual({
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c1",
      CNI_NETNS: "/var/run/netns/x",
      CNI_IFNAME: "eth0",
      CNI_ARGS: "IgnoreUnknown=1",
      CNI_PATH: binDir,
    });
    expect(rec?.fullEnv).toEqual({
      PATH: "/usr/bin:/bin",
      FOO: "bar",
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: "c1",
      CNI_NETNS: "/var/run/netns/x",
      CNI_IFNAME: "eth0",
      CNI_ARGS: "IgnoreUnknown=1",
      CNI_PATH: binDir,
    });
  });

  test("stdin given as bytes; empty stdout on success is undefined", async () => {
    const stdin = new TextEncoder().encode(
      JSON.stringify({ cniVersion: "1.0.0", name: "n", type: "recorder", recordFile }),
    );
    expect(await execPlugin(request({}, { command: "DEL", stdin }))).toBeUndefined();
    expect((await readRecords(recordFile))[0]?.command).toBe("DEL");
  });

  test("the plugin's error object passes through unchanged", async () => {
    const err = await rejection(execPlugin(request({ error: { code: 42, msg: "boom", details: "some details" } })));
    expect(err.code).toBe(42);
    expect(err.msg).toBe("boom");
    expect(err.details).toBe("some details");
  });

  test("stderr-only failure", async () => {
    const err = await rejection(execPlugin(request({ stderr: "it broke\n", stdout: "", exitCode: 3 })));
    expect(err.code).toBe(ErrorCode.Internal);
    expect(err.msg).toBe(`netplugin failed: "it broke\\n"`);
    expect(err.details).toBe("exit status 3");
  });

  test("failure with neither stdout nor stderr", async () => {
    const err = await rejection(execPlugin(request({ stdout: "", exitCode: 2 })));
    expect(err.code).toBe(ErrorCode.Internal);
    expect(err.msg).toBe("netplugin failed with no error message: exit status 2");
  });

  test("failure whose stdout is not a CNI error", async () => {
    const err = await rejection(execPlugin(request({ stdout: "garbage", stderr: "ignored", exitCode: 1 })));
    expect(err.code).toBe(ErrorCode.Internal);
    expect(err.msg).toBe(`netplugin failed but error parsing its diagnostic message "garbage"`);
    const err2 = await rejection(execPlugin(request({ stdout: `{"hello":1}`, exitCode: 1 })));
    expect(err2.msg).toBe(`netplugin failed but error parsing its diagnostic message "{\\"hello\\":1}"`);
  });

  test("success with non-JSON stdout is a decode failure", async () => {
    const err = await rejection(execPlugin(request({ stdout: "not json", exitCode: 0 })));
    expect(err.code).toBe(ErrorCode.DecodeFailure);
    expect(err.msg).toBe(`failed to unmarshal result of plugin "recorder"`);
  });

  test("stderr of a successful plugin goes to the sink", async () => {
    const seen: string[] = [];
    await execPlugin(request({ stderr: "a warning" }, { onStderr: (t) => seen.push(t) }));
    expect(seen).toEqual(["a warning"]);
  });

  test("a hung plugin is killed at the deadline", async () => {
    const start = performance.now();
    const err = await rejection(execPlugin(request({ sleepMs: 60_000 }, { timeoutMs: 400 })));
    const took = performance.now() - start;
    expect(err.code).toBe(ErrorCode.Internal);
    expect(err.msg).toBe(`plugin "recorder" timed out after 400 ms (killed)`);
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(3000);
    const [rec] = await readRecords(recordFile);
    expect(rec).toBeDefined();
    expect(isAlive(rec!.pid)).toBe(false);
  });

  test("the kill reaches the plugin's children too, even ones holding its stdout", async () => {
    const start = performance.now();
    const err = await rejection(
      execPlugin(request({ spawnChild: ["/bin/sleep", "60"], sleepMs: 60_000 }, { timeoutMs: 400 })),
    );
    expect(err.msg).toBe(`plugin "recorder" timed out after 400 ms (killed)`);
    expect(performance.now() - start).toBeLessThan(3000);
    const recs = await readRecords(recordFile);
    const child = recs.find((r) => r.command === "child");
    expect(child).toBeDefined();
    // the signal is delivered asynchronously; give it a moment
    const until = Date.now() + 2000;
    while (isAlive(child!.pid) && Date.now() < until) await Bun.sleep(20);
    expect(isAlive(child!.pid)).toBe(false);
  });

  test("a busy executable (ETXTBSY) is retried", async () => {
    const myBin = join(tmp, "bin");
    await mkdir(myBin);
    const exe = join(myBin, "recorder");
    await copyFile(recorder, exe);
    await chmod(exe, 0o755);
    const writer = await open(exe, "r+"); // an open writer makes exec fail with ETXTBSY
    setTimeout(() => void writer.close(), 300);
    const out = await execPlugin(request({ result: { cniVersion: "1.0.0" } }, { binDirs: [myBin] }));
    expect(out).toEqual({ cniVersion: "1.0.0" });
  });
});

/** Running (a zombie nobody reaped counts as dead: pid 1 in a container may never reap). */
function isAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}
