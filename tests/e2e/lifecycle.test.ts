// The daemon's life cycle through the compiled binary:
// 00-multus.conf generated from the primary once the daemon serves, kept in
// step with it, kept when the primary breaks, kept over restarts, removed with
// the readiness indicator; start-up waits and their exit codes; the graceful
// stop; and every command-line flag reaching its config key.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { chmod, mkdir, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { BINARY, createWorkdir, runCni, startDaemon, type DaemonHandle, type ShimRun } from "../helpers/multus.ts";
import { buildRecordingPlugin, readRecords } from "../helpers/build-fixtures.ts";
import {
  canRunE2e,
  containerId,
  ensureBinary,
  exists,
  goShimBody,
  socketRequest,
  waitFor,
  writeJson,
} from "../helpers/e2e.ts";
import { createNetns, deleteNetns, type NetnsFixture } from "../helpers/netns.ts";

let recorder = "";
let recorderDir = "";
// ADD checks that the netns exists before the recorder runs: one real, empty netns serves every test.
let ns: NetnsFixture | undefined;
beforeAll(async () => {
  if (!canRunE2e) return;
  await ensureBinary();
  recorder = await buildRecordingPlugin();
  recorderDir = join(recorder, "..");
  ns = await createNetns("mtlife");
});
afterAll(async () => {
  if (ns) await deleteNetns(ns.name);
});

interface Env {
  dir: string;
  netd: string;
  socketDir: string;
  records: string;
  shim: string;
  daemons: DaemonHandle[];
  procs: Subprocess[];
}
let env: Env;
let removeWorkdir: () => Promise<void>;

beforeEach(async () => {
  if (!canRunE2e) return;
  const w = await createWorkdir();
  removeWorkdir = w.remove;
  env = {
    dir: w.dir,
    netd: join(w.dir, "net.d"),
    socketDir: join(w.dir, "run"),
    records: join(w.dir, "records.jsonl"),
    shim: w.shim,
    daemons: [],
    procs: [],
  };
  await mkdir(env.netd);
});
afterEach(async () => {
  if (!canRunE2e) return;
  for (const d of env.daemons) await d.stop("SIGKILL").catch(() => undefined);
  for (const p of env.procs) if (p.exitCode === null) p.kill("SIGKILL");
  await removeWorkdir();
});

/** The recorder as the primary (cluster) network. */
function primary(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: "1.0.0", name: "rec-net", type: "recorder", recordFile: env.records, ...extra };
}

/** An auto-mode daemon config whose generated file the test's shims can use. */
function autoConfig(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    socketDir: env.socketDir,
    daemonSocketDir: env.socketDir,
    multusConfigFile: "auto",
    cniVersion: "1.0.0",
    cniConfigDir: env.netd,
    multusAutoconfigDir: env.netd,
    binDir: recorderDir,
    cniDir: join(env.dir, "cache"),
    primaryConfTimeoutSeconds: 3,
    ...extra,
  };
}

async function start(config: Record<string, unknown>, args: string[] = []): Promise<DaemonHandle> {
  const d = await startDaemon(env.dir, config, { args });
  env.daemons.push(d);
  return d;
}

interface Spawned {
  proc: Subprocess;
  stderr(): string;
  /** Exit code, once stderr is drained. */
  exited: Promise<number>;
}

/** Starts the daemon without waiting for it; for start-up failures and waits. */
async function spawnDaemon(config: Record<string, unknown>, args: string[] = []): Promise<Spawned> {
  const configPath = join(env.dir, "daemon-config.json");
  await writeFile(configPath, JSON.stringify(config));
  const proc = Bun.spawn([BINARY, "daemon", `-config=${configPath}`, ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  env.procs.push(proc);
  let err = "";
  const drained = (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) err += new TextDecoder().decode(chunk);
  })();
  return { proc, stderr: () => err, exited: drained.then(() => proc.exited) };
}

const confPath = () => join(env.netd, "00-multus.conf");
const readConf = async () => JSON.parse(await readFile(confPath(), "utf8")) as Record<string, any>;
const waitForConf = (what = "00-multus.conf") => waitFor(what, () => exists(confPath()));

function add(stdin: Record<string, unknown>, id = containerId("life")): Promise<ShimRun> {
  return runCni(env.shim, { command: "ADD", containerId: id, netns: ns!.path, stdin });
}

describe.skipIf(!canRunE2e)("00-multus.conf (auto)", () => {
  test("written once the daemon serves, Go's keys and order, 0600; an ADD through it reaches the primary", async () => {
    await writeJson(join(env.netd, "20-other.conf"), primary({ name: "other" }));
    await writeJson(join(env.netd, "10-rec.conflist"), {
      cniVersion: "1.0.0",
      name: "rec-net",
      plugins: [{ type: "recorder", recordFile: env.records, capabilities: { portMappings: true } }],
    });
    await writeJson(join(env.netd, "05-ignored.json"), primary({ name: "json" }));
    await start(autoConfig({ logLevel: "verbose", logFile: join(env.dir, "multus.log") }));
    await waitForConf();
    const text = await readFile(confPath(), "utf8");
    expect(text).toBe(
      JSON.stringify({
        binDir: recorderDir,
        capabilities: { portMappings: true },
        cniVersion: "1.0.0",
        logFile: join(env.dir, "multus.log"),
        logLevel: "verbose",
        name: "multus-cni-network",
        clusterNetwork: join(env.netd, "10-rec.conflist"),
        type: "multus-shim",
        cniDir: join(env.dir, "cache"),
        daemonSocketDir: env.socketDir,
      }),
    );
    expect((await stat(confPath())).mode & 0o777).toBe(0o600);

    const r = await add({
      ...JSON.parse(text),
      runtimeConfig: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] },
    });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const recs = await readRecords(env.records);
    expect(recs.map((x) => x.command)).toEqual(["ADD"]);
    expect(recs[0]!.conf.runtimeConfig).toEqual({
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
    });
  });

  test("a change of the primary's capabilities regenerates it", async () => {
    const p = await writeJson(join(env.netd, "10-rec.conf"), primary({ capabilities: { portMappings: true } }));
    await start(autoConfig());
    await waitForConf();
    expect((await readConf()).capabilities).toEqual({ portMappings: true });
    await writeJson(p, primary({ capabilities: { portMappings: true, bandwidth: true } }));
    await waitFor("bandwidth in 00-multus.conf", async () => (await readConf()).capabilities.bandwidth === true);
    expect(Object.keys((await readConf()).capabilities)).toEqual(["bandwidth", "portMappings"]);
  });

  test("the daemon probes its own socket before it reports ready and before 00-multus.conf points runtimes at it", async () => {
    await writeJson(join(env.netd, "10-rec.conf"), primary());
    const d = await start(autoConfig({ logToStderr: true, logLevel: "verbose" }));
    await waitForConf();
    await waitFor("the follows line", () => d.stderr().includes("00-multus.conf follows"));
    const err = d.stderr();
    const selfCheck = err.indexOf(`self-check: ${join(env.socketDir, "multus.sock")} answered in `);
    expect(selfCheck, err).toBeGreaterThan(-1);
    expect(selfCheck).toBeLessThan(err.indexOf("00-multus.conf follows"));
  });

  test("garbage in the primary leaves the last good file; a good primary again is followed", async () => {
    const p = await writeJson(join(env.netd, "10-rec.conf"), primary({ capabilities: { portMappings: true } }));
    const d = await start(autoConfig({ logToStderr: true, logLevel: "error" }));
    await waitForConf();
    const good = await readFile(confPath(), "utf8");
    const before = await stat(confPath());
    await writeFile(p, "{ this is not json");
    // What the daemon says when it has re-read the primary and kept the file.
    await waitFor("the daemon to keep the last good file", () => d.stderr().includes("keeping the last good"));
    expect(await readFile(confPath(), "utf8")).toBe(good);
    expect((await stat(confPath())).mtimeMs).toBe(before.mtimeMs);
    await writeJson(p, primary({ capabilities: { ips: true } }));
    await waitFor("recovery", async () => (await readConf()).capabilities.ips === true);
  });

  test("stopping does not remove it; a restart leaves it untouched", async () => {
    await writeJson(join(env.netd, "10-rec.conf"), primary());
    // Both with the same config (its log keys are part of the file): a verbose log says when the file was checked.
    const config = autoConfig({ logToStderr: true, logLevel: "verbose" });
    const d = await start(config);
    await waitForConf();
    const before = await stat(confPath());
    expect(await d.stop()).toBe(0);
    expect(await exists(confPath())).toBe(true);
    const again = await start(config);
    // What the new daemon says once it has compared the file with what it would write.
    await waitFor("the restarted daemon to find it up to date", () =>
      again.stderr().includes(`${confPath()} is up to date`),
    );
    const after = await stat(confPath());
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  test("a primary too old for the daemon's cniVersion: exit 2, Go's message, nothing written", async () => {
    await writeJson(join(env.netd, "10-rec.conf"), primary({ cniVersion: "0.3.1" }));
    const d = await spawnDaemon(autoConfig({ cniVersion: "0.4.0" }));
    expect(await d.exited).toBe(2);
    expect(d.stderr()).toContain("failed to create the configuration manager for the primary CNI plugin");
    expect(d.stderr()).toContain("delegate cni version is 0.3.1 while top level cni version is 0.4.0");
    expect(await exists(confPath())).toBe(false);
  });

  test("forceCNIVersion rewrites the primary and the daemon starts", async () => {
    const p = await writeJson(join(env.netd, "10-rec.conf"), primary({ cniVersion: "0.3.1" }));
    await start(autoConfig({ cniVersion: "1.0.0", forceCNIVersion: true }));
    await waitForConf();
    expect(JSON.parse(await readFile(p, "utf8")).cniVersion).toBe("1.0.0");
  });

  test("no primary within primaryConfTimeoutSeconds: exit 2", async () => {
    const d = await spawnDaemon(autoConfig({ primaryConfTimeoutSeconds: 0.3 }));
    expect(await d.exited).toBe(2);
    expect(d.stderr()).toContain(`could not find a plugin configuration in ${env.netd}`);
  });

  test("a primary that appears during start-up is waited for", async () => {
    const d = await spawnDaemon(autoConfig({ primaryConfTimeoutSeconds: 10, logToStderr: true, logLevel: "verbose" }));
    await waitFor("the daemon to wait for a primary", () =>
      d.stderr().includes(`no CNI configuration in ${env.netd} yet: waiting up to 10 s`),
    );
    expect(await exists(join(env.socketDir, "multus.sock"))).toBe(false);
    await writeJson(join(env.netd, "10-rec.conf"), primary());
    await waitForConf();
    expect(d.proc.exitCode).toBeNull();
  });
});

describe.skipIf(!canRunE2e)("readiness indicator file", () => {
  test("the daemon waits for it, then starts", async () => {
    const ready = join(env.dir, "ready", "flag");
    await writeJson(join(env.netd, "10-rec.conf"), primary());
    const d = await spawnDaemon(
      autoConfig({
        readinessindicatorfile: ready,
        readinessIndicatorTimeoutSeconds: 20,
        logToStderr: true,
        logLevel: "verbose",
      }),
    );
    await waitFor("the daemon to wait for the file", () =>
      d.stderr().includes(`waiting up to 20 s for readiness indicator file ${ready}`),
    );
    expect(await exists(join(env.socketDir, "multus.sock"))).toBe(false);
    expect(await exists(confPath())).toBe(false);
    await mkdir(join(env.dir, "ready"));
    await writeFile(ready, "");
    await waitForConf();
    expect(d.proc.exitCode).toBeNull();
  });

  test("not there in time: exit 1", async () => {
    const d = await spawnDaemon(
      autoConfig({ readinessindicatorfile: join(env.dir, "never"), readinessIndicatorTimeoutSeconds: 0.3 }),
    );
    expect(await d.exited).toBe(1);
    expect(d.stderr()).toContain(`still waiting for readinessindicatorfile @ ${join(env.dir, "never")}`);
  });

  test("its removal removes 00-multus.conf and ends the daemon with exit 2", async () => {
    const ready = join(env.dir, "flag");
    await writeFile(ready, "");
    await writeJson(join(env.netd, "10-rec.conf"), primary());
    const d = await start(autoConfig({ readinessindicatorfile: ready }));
    await waitForConf();
    expect((await readConf()).readinessindicatorfile).toBeUndefined();
    await rm(ready);
    expect(await d.proc.exited).toBe(2);
    expect(await exists(confPath())).toBe(false);
    expect(d.stderr()).toContain(`readiness indicator file ${ready} is gone`);
  });
});

describe.skipIf(!canRunE2e)("multusConfigFile other than auto", () => {
  test("a path is copied once into cniConfigDir under its base name", async () => {
    const src = join(env.dir, "70-user.conf");
    await writeJson(src, { cniVersion: "1.0.0", name: "mine", type: "multus-shim", daemonSocketDir: env.socketDir });
    await chmod(src, 0o644);
    await start({ multusConfigFile: src, cniConfigDir: env.netd });
    await waitFor("the copy", () => exists(join(env.netd, "70-user.conf")));
    expect(await readFile(join(env.netd, "70-user.conf"), "utf8")).toBe(await readFile(src, "utf8"));
    expect((await stat(join(env.netd, "70-user.conf"))).mode & 0o777).toBe(0o644);
  });

  test('"" manages no file', async () => {
    await writeJson(join(env.netd, "10-rec.conf"), primary());
    const d = await start({ multusConfigFile: "", cniConfigDir: env.netd, cniVersion: "1.0.0" });
    // A daemon writes or copies its file before it waits for a signal: once it has stopped, it is not coming.
    expect(await d.stop()).toBe(0);
    expect(await exists(confPath())).toBe(false);
  });
});

describe.skipIf(!canRunE2e)("graceful stop", () => {
  test("an ADD in flight finishes while /readyz says 500; exit 0; later calls get 11", async () => {
    const gate = join(env.dir, "gate");
    await writeJson(join(env.netd, "10-rec.conf"), primary({ waitForFile: gate }));
    const d = await start(autoConfig({ gracePeriodSeconds: 10 }));
    await waitForConf();
    const shimConf = await readConf();
    const socket = join(env.socketDir, "multus.sock");

    const inFlight = add(shimConf);
    await waitFor("the slow ADD to reach the recorder", async () => (await readRecords(env.records)).length === 1);
    d.proc.kill("SIGTERM");
    await waitFor(
      "readyz 500",
      async () => (await socketRequest(socket, "/readyz", { method: "GET" })).status === 500,
      1000,
    );
    expect((await socketRequest(socket, "/healthz", { method: "GET" })).status).toBe(200);
    expect(d.proc.exitCode).toBeNull();
    // While stopping: a new ADD is sent away (503, CNI code 11) without reaching a delegate;
    // a DEL is still served, since it frees what a pod holds.
    const addEnv = { CNI_COMMAND: "ADD", CNI_CONTAINERID: containerId(), CNI_NETNS: ns!.path, CNI_IFNAME: "eth0" };
    const refused = await socketRequest(socket, "/cni", { body: goShimBody({ ...addEnv, CNI_PATH: "/x" }, shimConf) });
    expect(refused.status).toBe(503);
    expect(refused.json()).toMatchObject({ code: 11, msg: "multus daemon is stopping: try again later" });
    const del = await runCni(env.shim, { command: "DEL", containerId: containerId("late"), stdin: shimConf });
    expect([del.code, del.stdout]).toEqual([0, ""]);
    expect(await readRecords(env.records)).toHaveLength(2);

    await writeFile(gate, "");
    const r = await inFlight;
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    expect(r.json().cniVersion).toBe("1.0.0");
    expect(await d.proc.exited).toBe(0);
    expect(await exists(confPath())).toBe(true);

    const late = await add({ ...shimConf, daemonReadyTimeoutSeconds: 0.5 });
    expect(late.code).toBe(1);
    expect(late.json()).toMatchObject({ code: 11, msg: `multus daemon is not ready at ${socket}` });
  });

  test("a request longer than the grace period is cut at its end; the daemon still stops with exit 0", async () => {
    await writeJson(join(env.netd, "10-rec.conf"), primary({ sleepMs: 5000 }));
    const d = await start(autoConfig({ gracePeriodSeconds: 0.5 }));
    await waitForConf();
    const inFlight = add(await readConf());
    await waitFor("the slow ADD to reach the recorder", async () => (await readRecords(env.records)).length === 1);
    const t0 = Date.now();
    d.proc.kill("SIGTERM");
    expect(await d.proc.exited).toBe(0);
    expect(Date.now() - t0).toBeLessThan(3000);
    const r = await inFlight;
    expect(r.code).toBe(1);
    expect(r.json().code).toBe(11);
  });

  test("SIGTERM during a start-up wait ends it with exit 0", async () => {
    const never = join(env.dir, "never");
    const d = await spawnDaemon(
      autoConfig({
        readinessindicatorfile: never,
        readinessIndicatorTimeoutSeconds: 30,
        logToStderr: true,
        logLevel: "verbose",
      }),
    );
    await waitFor("the daemon to wait for the file", () => d.stderr().includes(`readiness indicator file ${never}`));
    d.proc.kill("SIGTERM");
    expect(await d.exited).toBe(0);
  });
});

describe.skipIf(!canRunE2e)("command-line flags reach their config keys", () => {
  test("generation flags, single and double dash, = and separate values, a bare boolean before another flag", async () => {
    const auto = join(env.dir, "auto");
    await mkdir(auto);
    await writeJson(join(auto, "10-first.conf"), primary({ name: "first" }));
    await writeJson(join(auto, "20-chosen.conf"), primary({ name: "chosen", capabilities: { ips: true } }));
    const ready = join(env.dir, "ready");
    await writeFile(ready, "");
    const logFile = join(env.dir, "flags.log");
    // The file says other things; every one of them is overridden.
    const d = await start(
      {
        socketDir: env.socketDir,
        daemonSocketDir: env.socketDir,
        multusConfigFile: "",
        cniVersion: "0.3.1",
        cniConfigDir: join(env.dir, "elsewhere"),
        multusAutoconfigDir: join(env.dir, "elsewhere"),
        logLevel: "error",
      },
      [
        "-multus-conf-file=auto",
        "--cni-conf-dir",
        env.netd,
        "-multus-autoconfig-dir",
        auto,
        "-multus-master-cni-file-name=20-chosen.conf",
        "-cni-version",
        "1.0.0",
        "-namespace-isolation",
        "--global-namespaces=default,infra",
        "-override-network-name",
        "true",
        "-multus-log-level",
        "debug",
        `-multus-log-file=${logFile}`,
        "--readiness-indicator-file",
        ready,
      ],
    );
    await waitForConf();
    expect(await readFile(confPath(), "utf8")).toBe(
      JSON.stringify({
        capabilities: { ips: true },
        cniVersion: "1.0.0",
        logFile,
        logLevel: "debug",
        name: "chosen",
        clusterNetwork: join(auto, "20-chosen.conf"),
        namespaceIsolation: true,
        globalNamespaces: "default,infra",
        type: "multus-shim",
        daemonSocketDir: env.socketDir,
        overrideNetworkName: true,
      }),
    );
    expect(await exists(logFile)).toBe(true);
    await rm(ready);
    expect(await d.proc.exited).toBe(2);
  });

  test("-additional-bin-dir is searched for delegates after binDir", async () => {
    const emptyBin = join(env.dir, "empty-bin");
    const extraBin = join(env.dir, "extra-bin");
    await mkdir(emptyBin);
    await mkdir(extraBin);
    await symlink(recorder, join(extraBin, "recorder"));
    await writeJson(join(env.netd, "10-rec.conf"), primary());
    await start(autoConfig({ binDir: emptyBin }));
    await waitForConf();
    const without = await add(await readConf());
    expect(without.code).not.toBe(0);
    expect(without.stdout).toContain("failed to find plugin");
    for (const d of env.daemons.splice(0)) await d.stop();

    await start(autoConfig({ binDir: emptyBin }), ["-additional-bin-dir", extraBin]);
    const withDir = await add(await readConf());
    expect(withDir.stderr).toBe("");
    expect(withDir.code).toBe(0);
  });

  test("-metricsPort and --metrics-port serve metrics", async () => {
    const port = 20000 + Math.floor(Math.random() * 20000);
    await start({}, [`-metricsPort=${port}`]);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toContain("multus_server_request_total");
    for (const d of env.daemons.splice(0)) await d.stop();
    await start({}, ["--metrics-port", String(port + 1)]);
    expect((await fetch(`http://127.0.0.1:${port + 1}/metrics`)).status).toBe(200);
  });

  test("misuse is refused with exit 2 and the usage", async () => {
    for (const args of [
      ["-no-such-flag"],
      ["-cni-version"],
      ["-metrics-port=abc"],
      ["stray"],
      ["-namespace-isolation=maybe"],
    ]) {
      const proc = Bun.spawn([BINARY, "daemon", ...args], { stdout: "pipe", stderr: "pipe" });
      const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      expect({ args, code }).toEqual({ args, code: 2 });
      expect(err).toContain("Usage: multus-daemon");
    }
  });

  test("--help lists every flag with its key and default", async () => {
    const proc = Bun.spawn([BINARY, "daemon", "-help"], { stdout: "pipe", stderr: "pipe" });
    const [code, out] = await Promise.all([proc.exited, new Response(proc.stdout).text()]);
    expect(code).toBe(0);
    for (const flag of [
      "-config",
      "-metrics-port",
      "-metricsPort",
      "-additional-bin-dir",
      "-multus-log-level",
      "-multus-log-file",
      "-cni-version",
      "-namespace-isolation",
      "-global-namespaces",
      "-readiness-indicator-file",
      "-multus-autoconfig-dir",
      "-multus-master-cni-file-name",
      "-override-network-name",
    ]) {
      expect(out).toContain(flag);
    }
    expect(out).toContain("(default /etc/cni/net.d/multus.d/daemon-config.json)");
    expect(out).toContain('sets "multusMasterCNI"');
  });
});
