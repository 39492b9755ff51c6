import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { chmod, mkdir, mkdtemp, readFile, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CniError } from "../cni/errors.ts";
import { createLogger } from "../util/log.ts";
import {
  copyUserConfig,
  createConfigManager,
  discoverPrimary,
  type ConfigManager,
  type ConfigManagerOptions,
} from "./watch.ts";
import { captureLog, logged } from "../../tests/helpers/capture-log.ts";

const log = createLogger({});

// The manager's log (captureLog) is how a test sees that it re-checked.
let dir = "";
let netd = "";
const managers: ConfigManager[] = [];

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "multus-watch-"));
  netd = join(dir, "net.d");
  await mkdir(netd);
});
afterEach(async () => {
  for (const m of managers.splice(0)) await m.stop();
  await rm(dir, { recursive: true, force: true });
});

async function until<T>(fn: () => Promise<T | undefined | false>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

const conf = (extra: Record<string, unknown> = {}) =>
  JSON.stringify({ cniVersion: "1.0.0", name: "cluster", type: "bridge", ...extra });
const list = (caps: Record<string, boolean>[]) =>
  JSON.stringify({
    cniVersion: "1.0.0",
    name: "cluster",
    plugins: caps.map((c, i) => ({ type: `p${i}`, capabilities: c })),
  });

async function manager(opts: Partial<ConfigManagerOptions> = {}): Promise<ConfigManager> {
  const m = await createConfigManager({
    daemon: { cniVersion: "1.0.0" },
    cniConfigDir: netd,
    forceCniVersion: false,
    primaryTimeoutMs: 2000,
    log,
    ...opts,
  });
  managers.push(m);
  return m;
}
const generated = async () =>
  JSON.parse(await readFile(join(netd, "00-multus.conf"), "utf8")) as Record<string, unknown>;
/** A manager on the same primary writing elsewhere: when it has regenerated, the change has been seen. */
async function startWitness(): Promise<ConfigManager> {
  const otherDir = join(dir, "witness-net.d");
  await mkdir(otherDir);
  const witness = await manager({ autoconfigDir: netd, cniConfigDir: otherDir });
  await witness.start();
  return witness;
}
/** Tracks whether `promise` has settled yet, without awaiting it. */
function settledState<T>(promise: Promise<T>): { promise: Promise<T>; settled: boolean } {
  const state = { promise, settled: false };
  promise.then(
    () => (state.settled = true),
    () => (state.settled = true),
  );
  return state;
}
async function errorOf(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CniError) return err;
    throw err;
  }
  throw new Error("expected a CniError");
}

describe("discovery", () => {
  test("the first .conf/.conflist, skipping 00-multus* and dirs", async () => {
    await writeFile(join(netd, "00-multus.conf"), "{}");
    await writeFile(join(netd, "30-c.conf"), conf());
    await writeFile(join(netd, "20-b.conflist"), list([{}]));
    await writeFile(join(netd, "10-a.json"), conf());
    await mkdir(join(netd, "15-dir.conf"));
    const m = await manager();
    expect(m.primaryPath).toBe(join(netd, "20-b.conflist"));
    await m.start();
    expect((await generated()).clusterNetwork).toBe(join(netd, "20-b.conflist"));
  });

  test("waits for a primary to appear, bounded", async () => {
    const logger = captureLog();
    const found = settledState(discoverPrimary(netd, { timeoutMs: 10_000, log: logger }));
    await logged(logger, `no CNI configuration in ${netd} yet: waiting up to 10 s`, 0);
    expect(found.settled).toBe(false);
    await writeFile(join(netd, "10-late.conf"), conf());
    expect(await found.promise).toBe("10-late.conf");
    const err = await errorOf(discoverPrimary(join(dir, "empty-and-missing"), { timeoutMs: 100 }));
    expect(err.message).toContain(`could not find a plugin configuration in ${join(dir, "empty-and-missing")}`);
  });

  test("an abort ends the wait at once", async () => {
    const ac = new AbortController();
    const logger = captureLog();
    const t0 = Date.now();
    const waiting = discoverPrimary(netd, { timeoutMs: 10_000, signal: ac.signal, log: logger });
    await logged(logger, "waiting up to 10 s", 0);
    ac.abort();
    expect((await errorOf(waiting)).details).toBe("stopped while waiting");
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  test("multusMasterCNI names the file in the autoconfig dir", async () => {
    const auto = join(dir, "auto");
    await mkdir(auto);
    await writeFile(join(auto, "10-a.conf"), conf());
    await writeFile(join(auto, "50-chosen.conflist"), list([{ portMappings: true }]));
    const m = await manager({ autoconfigDir: auto, masterCni: "50-chosen.conflist" });
    await m.start();
    expect(await generated()).toMatchObject({
      clusterNetwork: join(auto, "50-chosen.conflist"),
      capabilities: { portMappings: true },
    });
  });

  test("the generated file cannot be its own primary", async () => {
    await writeFile(join(netd, "00-multus.conf"), conf());
    const err = await errorOf(manager({ masterCni: "00-multus.conf" }));
    expect(err.message).toContain("it is the file multus generates");
  });
});

describe("creation refuses what Go refuses (exit 2)", () => {
  const cases: Array<[string, string, Record<string, unknown>, string]> = [
    [
      "version mismatch",
      conf({ cniVersion: "0.3.1" }),
      { cniVersion: "0.4.0" },
      "delegate cni version is 0.3.1 while top level cni version is 0.4.0",
    ],
    ["no cniVersion in the daemon config", conf(), {}, "the CNI version is a mandatory parameter"],
    ["not JSON", "{nope", { cniVersion: "1.0.0" }, "failed to decode"],
    [
      "a conf without type",
      JSON.stringify({ cniVersion: "1.0.0", name: "x" }),
      { cniVersion: "1.0.0" },
      "missing 'type'",
    ],
  ];
  test.each(cases)("%s", async (_name, text, daemon, message) => {
    await writeFile(join(netd, "10-x.conf"), text);
    const err = await errorOf(manager({ daemon }));
    expect(err.message).toContain(`cannot generate 00-multus.conf from ${join(netd, "10-x.conf")}`);
    expect(err.message).toContain(message);
  });
});

describe("writing and watching", () => {
  test("nothing is written before start(); start writes 0600, and only when the content differs", async () => {
    await writeFile(join(netd, "10-x.conf"), conf());
    const m = await manager();
    expect(await stat(m.path).catch(() => undefined)).toBeUndefined();
    await m.start();
    const st1 = await stat(m.path);
    expect(st1.mode & 0o777).toBe(0o600);
    await m.stop();
    const again = await manager();
    await again.start();
    const st2 = await stat(m.path);
    expect([st2.ino, st2.mtimeMs]).toEqual([st1.ino, st1.mtimeMs]);
  });

  test("a change of the primary's capabilities regenerates the file; dropped ones are dropped (no accumulation)", async () => {
    const primary = join(netd, "10-x.conflist");
    await writeFile(primary, list([{ portMappings: true }]));
    const m = await manager();
    await m.start();
    expect((await generated()).capabilities).toEqual({ portMappings: true });

    await writeFile(primary, list([{ portMappings: true }, { bandwidth: true }]));
    await until(
      async () => JSON.stringify((await generated()).capabilities) === '{"bandwidth":true,"portMappings":true}',
      "bandwidth added",
    );

    // replaced by rename, as installers do
    await writeFile(join(dir, "tmp"), list([{ bandwidth: true }]));
    await rename(join(dir, "tmp"), primary);
    await until(
      async () => JSON.stringify((await generated()).capabilities) === '{"bandwidth":true}',
      "portMappings dropped",
    );
  });

  test("an unreadable or invalid primary keeps the last good file", async () => {
    const primary = join(netd, "10-x.conf");
    await writeFile(primary, conf({ capabilities: { portMappings: true } }));
    const logger = captureLog();
    const m = await manager({ log: logger });
    await m.start();
    const good = await readFile(m.path, "utf8");

    let seen = logger.lines.length;
    await writeFile(primary, "garbage{");
    seen = await logged(logger, "keeping the last good", seen);
    expect(await readFile(m.path, "utf8")).toBe(good);

    await writeFile(primary, "");
    seen = await logged(logger, "keeping the last good", seen);
    expect(await readFile(m.path, "utf8")).toBe(good);

    await writeFile(primary, conf({ cniVersion: "0.3.1" })); // fails the version check
    seen = await logged(logger, "keeping the last good", seen);
    expect(await readFile(m.path, "utf8")).toBe(good);

    await writeFile(primary, conf({ capabilities: { ips: true } }));
    await until(
      async () =>
        (await generated()).capabilities && JSON.stringify((await generated()).capabilities) === '{"ips":true}',
      "recovery",
    );
  });

  test("a deleted, discovered primary gives way to the next candidate; until then the file stays", async () => {
    await writeFile(join(netd, "10-a.conf"), conf({ name: "a" }));
    const logger = captureLog();
    const m = await manager({ daemon: { cniVersion: "1.0.0", overrideNetworkName: true }, log: logger });
    await m.start();
    const seen = logger.lines.length;
    await rm(join(netd, "10-a.conf"));
    await logged(logger, "keeping the last good", seen);
    expect((await generated()).name).toBe("a");
    await writeFile(join(netd, "20-b.conf"), conf({ name: "b" }));
    await until(async () => (await generated()).name === "b", "switch to 20-b.conf");
    expect((await generated()).clusterNetwork).toBe(join(netd, "20-b.conf"));
    expect(m.primaryPath).toBe(join(netd, "20-b.conf"));
  });

  test("unrelated files in the dir do not rewrite it", async () => {
    await writeFile(join(netd, "10-x.conf"), conf());
    const logger = captureLog();
    const m = await manager({ log: logger });
    await m.start();
    const st = await stat(m.path);
    const seen = logger.lines.length;
    await writeFile(join(netd, "README"), "x");
    await writeFile(join(netd, "99-other.conf"), conf({ name: "other" }));
    // The candidate is looked at (README's event came before it): and found to change nothing.
    await logged(logger, "unchanged", seen);
    const st2 = await stat(m.path);
    expect([st2.ino, st2.mtimeMs]).toEqual([st.ino, st.mtimeMs]);
  });

  test("stop() leaves the generated file in place and stops following", async () => {
    const primary = join(netd, "10-x.conf");
    await writeFile(primary, conf());
    const m = await manager();
    await m.start();
    const content = await readFile(m.path, "utf8");
    await m.stop();
    const witness = await startWitness();
    await writeFile(primary, conf({ capabilities: { ips: true } }));
    await until(async () => (await readFile(witness.path, "utf8")).includes('"ips":true'), "the witness regenerating");
    expect(await readFile(m.path, "utf8")).toBe(content);
  });

  test("forceCNIVersion rewrites the primary file (through a symlink, keeping its mode)", async () => {
    const real = join(dir, "real.conf");
    await writeFile(real, conf({ cniVersion: "0.3.1", extra: 1 }));
    await chmod(real, 0o640);
    await symlink(real, join(netd, "10-x.conf"));
    const m = await manager({ forceCniVersion: true });
    expect(JSON.parse(await readFile(real, "utf8"))).toEqual({
      cniVersion: "1.0.0",
      name: "cluster",
      type: "bridge",
      extra: 1,
    });
    expect((await stat(real)).mode & 0o777).toBe(0o640);
    await m.start();
    expect((await generated()).cniVersion).toBe("1.0.0");
    // rewritten again when the primary goes back to an old version
    await writeFile(real, conf({ cniVersion: "0.3.1", capabilities: { ips: true } }));
    await until(async () => JSON.stringify((await generated()).capabilities) === '{"ips":true}', "regeneration");
    expect(JSON.parse(await readFile(real, "utf8")).cniVersion).toBe("1.0.0");
  });
});

describe("readiness indicator", () => {
  test("its removal removes 00-multus.conf and resolves `lost`", async () => {
    const file = join(dir, "run", "ready");
    await mkdir(join(dir, "run"));
    await writeFile(file, "");
    await writeFile(join(netd, "10-x.conf"), conf());
    const logger = captureLog();
    const m = await manager({ readinessIndicatorFile: file, log: logger });
    await m.start();
    expect(await stat(m.path).catch(() => undefined)).toBeDefined();
    const lost = settledState(m.lost);
    let seen = await logged(logger, `readiness indicator file ${file} is still there (start)`, 0);
    expect(lost.settled).toBe(false);
    // an atomic replace is not a removal: the check it triggers finds the file
    await writeFile(join(dir, "run", "ready.tmp"), "x");
    await rename(join(dir, "run", "ready.tmp"), file);
    seen = await logged(logger, `readiness indicator file ${file} is still there (ready changed)`, seen);
    expect(lost.settled).toBe(false);

    await rm(file);
    const reason = await m.lost;
    expect(reason).toContain(`readiness indicator file ${file} is gone`);
    expect(await stat(m.path).catch(() => undefined)).toBeUndefined();
    // and it is not written again, though a manager still running sees the primary change
    const witness = await startWitness();
    await writeFile(join(netd, "10-x.conf"), conf({ capabilities: { ips: true } }));
    await until(async () => (await readFile(witness.path, "utf8")).includes('"ips":true'), "the witness regenerating");
    expect(await stat(m.path).catch(() => undefined)).toBeUndefined();
  });
});

describe("copyUserConfig", () => {
  test("copies once under its base name with the source's mode; unchanged or same file: no write", async () => {
    const src = join(dir, "my-multus.conf");
    await writeFile(src, '{"name":"mine"}');
    await chmod(src, 0o644);
    expect(await copyUserConfig(src, netd)).toBe(join(netd, "my-multus.conf"));
    expect(await readFile(join(netd, "my-multus.conf"), "utf8")).toBe('{"name":"mine"}');
    expect((await stat(join(netd, "my-multus.conf"))).mode & 0o777).toBe(0o644);
    expect(await copyUserConfig(src, netd)).toBeUndefined();
    expect(await copyUserConfig(join(netd, "my-multus.conf"), netd)).toBeUndefined();
    expect(await readFile(join(netd, "my-multus.conf"), "utf8")).toBe('{"name":"mine"}');
  });

  test("a missing source is an error", async () => {
    await expect(copyUserConfig(join(dir, "nope.conf"), netd)).rejects.toThrow();
  });
});
