// What the daemon's logs say about each request, end to end through the shim
// and the socket: the verbose line of a finished request (pod, networks,
// interfaces, addresses), the debug line of each delegate call, the one line of
// a failure, logFormat "json", logOptions.maxAge, and a logFile that cannot be
// written (stderr instead, the daemon keeps serving).
//
// Each test names its networks in the shim's stdin (clusterNetwork,
// defaultNetworks), which the daemon configs do not override.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createWorkdir, runCni, shimConf, startDaemon, type DaemonHandle, type ShimRun } from "../helpers/multus.ts";
import { createCleanup, createNetns, deleteNetns, randomSuffix, type NetnsFixture } from "../helpers/netns.ts";
import {
  bridgeConflist,
  canRunE2e,
  containerId,
  createBinDir,
  deleteBridge,
  ensureBinary,
  exists,
  listDir,
  randomPrefix,
  waitFor,
  writeJson,
  type BridgeNet,
} from "../helpers/e2e.ts";
import { backupStamp } from "../../src/util/log-file.ts";

const s = randomSuffix(5);
let work: Awaited<ReturnType<typeof createWorkdir>>;
let text: DaemonHandle;
let json: DaemonHandle;
let cluster: BridgeNet;
let second: BridgeNet;
let clusterFile: string;
let confDir: string;
const FAILING = `failing-${s}`;
/** A network whose plugin is not installed. */
const ABSENT = `absent-${s}`;
const fileCleanup = createCleanup();

/** Config shared by the daemons: where plugins and confs are; each daemon has its own cache and socket. */
async function daemonIn(name: string, extra: Record<string, unknown>, binDir: string): Promise<DaemonHandle> {
  const dir = join(work.dir, name);
  await mkdir(dir);
  const d = await startDaemon(dir, { binDir, confDir, cniDir: join(dir, "cache"), ...extra });
  fileCleanup.add(() => d.stop());
  return d;
}

beforeAll(async () => {
  if (!canRunE2e) return;
  await ensureBinary();
  work = await createWorkdir();
  fileCleanup.add(() => work.remove());
  const dataDir = join(work.dir, "ipam");
  cluster = { name: `cluster-${s}`, bridge: `mlbr${s}`, prefix: randomPrefix(), dataDir };
  second = { name: `second-${s}`, bridge: `mlsb${s}`, prefix: randomPrefix(), dataDir };
  fileCleanup.add(() => deleteBridge(cluster.bridge));
  fileCleanup.add(() => deleteBridge(second.bridge));
  confDir = join(work.dir, "net.d");
  await mkdir(confDir);
  clusterFile = await writeJson(join(confDir, "10-cluster.conflist"), bridgeConflist(cluster));
  await writeJson(join(confDir, "20-second.conflist"), bridgeConflist(second));
  await writeJson(join(confDir, "40-absent.conf"), { cniVersion: "1.0.0", name: ABSENT, type: "absent-plugin" });
  // A delegate whose ADD fails with its own CNI error; DEL of it succeeds.
  await writeJson(join(confDir, "30-failing.conf"), { cniVersion: "1.0.0", name: FAILING, type: "failing" });
  const binDir = await createBinDir(join(work.dir, "bin-plugins"), {
    scripts: {
      failing: `#!/bin/sh
cat >/dev/null
if [ "$CNI_COMMAND" = ADD ]; then echo '{"cniVersion":"1.0.0","code":7,"msg":"failing refuses"}'; exit 1; fi
exit 0
`,
    },
  });
  [text, json] = await Promise.all([
    daemonIn("text", { logToStderr: true, logLevel: "verbose" }, binDir),
    daemonIn("json", { logToStderr: true, logLevel: "debug", logFormat: "json" }, binDir),
  ]);
});

afterAll(() => fileCleanup.run());

let ns: NetnsFixture;
beforeEach(async () => {
  if (canRunE2e) ns = await createNetns("mtlog");
});
afterEach(async () => {
  if (canRunE2e) await deleteNetns(ns.name);
});

const POD_ARGS = (uid: string) => `IgnoreUnknown=1;K8S_POD_NAMESPACE=logs;K8S_POD_NAME=web-${s};K8S_POD_UID=${uid}`;

function cni(d: DaemonHandle, command: string, id: string, extra: Record<string, unknown> = {}): Promise<ShimRun> {
  return runCni(work.shim, {
    command,
    containerId: id,
    netns: ns.path,
    args: POD_ARGS(`uid-${id}`),
    stdin: shimConf(d.socketDir, { clusterNetwork: clusterFile, defaultNetworks: [second.name], ...extra }),
  });
}

/** The daemon's log lines (not its start-up news) that name container `id`. */
function linesOf(d: DaemonHandle, id: string): string[] {
  return d
    .stderr()
    .split("\n")
    .filter((l) => l.includes(id) && !l.startsWith("multus-daemon:"));
}

/** The address on `ifname` in the netns, as the daemon should report it. */
async function addrOf(ifname: string): Promise<string> {
  const [addr] = await ns.addrs(ifname);
  expect(addr).toBeDefined();
  return addr!;
}

describe.skipIf(!canRunE2e)("verbose: one line per finished request", () => {
  test("ADD names the pod, the container, each network with its type, interface and address", async () => {
    const id = containerId("logadd");
    const add = await cni(text, "ADD", id);
    expect(add.code).toBe(0);
    const [eth0, net1] = [await addrOf("eth0"), await addrOf("net1")];
    const done = await waitFor("the ADD line", () => linesOf(text, id).filter((l) => l.includes("ADD finished in")));
    expect(done).toHaveLength(1);
    const line = done[0]!;
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT\S+Z \[verbose\] ADD finished in \d+\.\d ms: /);
    expect(line).toContain(`${cluster.name}(bridge) eth0 ${eth0}, ${second.name}(bridge) net1 ${net1}`);
    expect(line).toContain(`pod=logs/web-${s}`);
    expect(line).toContain(`podUID=uid-${id}`);
    expect(line).toContain(`containerID=${id}`);
    expect(line).toMatch(/ durationMs=\d+(\.\d)?( |$)/);
    // Delegate calls are for debug only.
    expect(linesOf(text, id).some((l) => l.includes("delegate bridge"))).toBe(false);

    expect((await cni(text, "DEL", id)).code).toBe(0);
    await waitFor("the DEL line", () =>
      linesOf(text, id).some((l) => /\[verbose\] DEL finished in \d+\.\d ms/.test(l)),
    );
  });

  test("a failed ADD is logged once, naming the pod, the network and its delegate", async () => {
    const id = containerId("logfail");
    const add = await cni(text, "ADD", id, { defaultNetworks: [second.name, FAILING] });
    expect(add.code).toBe(1);
    expect(add.json()).toMatchObject({ code: 7, msg: "failing refuses" });
    const failed = await waitFor("the failure line", () => linesOf(text, id).filter((l) => l.includes("[error]")));
    expect(failed).toHaveLength(1);
    const line = failed[0]!;
    expect(line).toMatch(/\[error\] ADD failed in \d+\.\d ms: failing refuses/);
    expect(line).toContain(`pod=logs/web-${s}`);
    expect(line).toContain(`network=${FAILING}`);
    expect(line).toContain("delegate=failing");
    expect(line).toContain("code=7");
    // The shim passed the daemon's answer on without logging it again.
    expect(add.stderr).not.toContain("failing refuses");
    expect(linesOf(text, id).filter((l) => l.includes("finished in"))).toEqual([]);
    expect((await cni(text, "DEL", id)).code).toBe(0);
  });
});

describe.skipIf(!canRunE2e)('logFormat "json" at debug', () => {
  test("every line is one JSON object; the request and each delegate call carry their fields", async () => {
    const id = containerId("logjson");
    expect((await cni(json, "ADD", id)).code).toBe(0);
    const [eth0, net1] = [await addrOf("eth0"), await addrOf("net1")];
    const done = await waitFor("the ADD object", () =>
      parsedLines(json).find((o) => o.containerID === id && String(o.msg).startsWith("ADD finished")),
    );
    expect(done).toMatchObject({
      level: "verbose",
      command: "ADD",
      pod: `logs/web-${s}`,
      podUID: `uid-${id}`,
      containerID: id,
      networks: [
        { name: cluster.name, type: "bridge", ifname: "eth0", ips: [eth0] },
        { name: second.name, type: "bridge", ifname: "net1", ips: [net1] },
      ],
    });
    expect(typeof done.durationMs).toBe("number");
    expect(Number.isNaN(Date.parse(String(done.time)))).toBe(false);
    // What the daemon says whatever the log level is an object too.
    expect(parsedLines(json).find((o) => o.level === "notice")).toMatchObject({
      source: "multus-daemon",
      msg: expect.stringContaining(`listening on ${json.socketDir}`),
    });

    const calls = parsedLines(json).filter((o) => o.containerID === id && o.plugin !== undefined);
    expect(calls.map((c) => [c.plugin, c.command, c.network, c.ifname, c.exitStatus])).toEqual([
      ["bridge", "ADD", cluster.name, "eth0", "exit status 0"],
      ["bridge", "ADD", second.name, "net1", "exit status 0"],
    ]);
    for (const c of calls) {
      expect(c.level).toBe("debug");
      expect(typeof c.durationMs).toBe("number");
    }
    expect((await cni(json, "DEL", id)).code).toBe(0);
    await waitFor("the DEL calls", () =>
      parsedLines(json).some((o) => o.containerID === id && o.plugin === "bridge" && o.command === "DEL"),
    );
  });

  test("a failing delegate call says its exit status", async () => {
    const id = containerId("logjfail");
    expect((await cni(json, "ADD", id, { defaultNetworks: [FAILING] })).code).toBe(1);
    const call = await waitFor("the failing call", () =>
      parsedLines(json).find((o) => o.containerID === id && o.plugin === "failing" && o.command === "ADD"),
    );
    expect(call).toMatchObject({ level: "debug", network: FAILING, exitStatus: "exit status 1" });
    expect(parsedLines(json).filter((o) => o.containerID === id && o.level === "error")).toHaveLength(1);
    expect((await cni(json, "DEL", id)).code).toBe(0);
  });

  test("a delegate that could not be started says so", async () => {
    const id = containerId("logjabs");
    const add = await cni(json, "ADD", id, { defaultNetworks: [ABSENT] });
    expect(add.json()).toMatchObject({
      code: 7,
      msg: expect.stringContaining('failed to find plugin "absent-plugin"'),
    });
    const call = await waitFor("the absent plugin's call", () =>
      parsedLines(json).find((o) => o.containerID === id && o.plugin === "absent-plugin" && o.command === "ADD"),
    );
    expect(call).toMatchObject({ level: "debug", network: ABSENT, exitStatus: "not run" });
    expect((await cni(json, "DEL", id)).code).toBe(0);
  });
});

/** Every line of the daemon's stderr parsed, its start-up news too; a line that is not one JSON object fails the test. */
function parsedLines(d: DaemonHandle): Array<Record<string, unknown>> {
  return d
    .stderr()
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const o = JSON.parse(l) as unknown;
      expect(typeof o === "object" && o !== null && !Array.isArray(o)).toBe(true);
      return o as Record<string, unknown>;
    });
}

describe.skipIf(!canRunE2e)("the log file", () => {
  test("logOptions.maxAge: rotated files older than it go when the daemon opens the log", async () => {
    const dir = join(work.dir, "maxage-logs");
    await mkdir(dir);
    const day = 24 * 60 * 60 * 1000;
    const old = `multus.log-${backupStamp(new Date(Date.now() - 3 * day))}.gz`;
    const recent = `multus.log-${backupStamp(new Date(Date.now() - 60 * 60 * 1000))}.gz`;
    const foreign = "multus.log-keep-me";
    for (const name of [old, recent, foreign]) await writeFile(join(dir, name), "x");
    const logFile = join(dir, "multus.log");
    const d = await daemonIn(
      "maxage",
      { logFile, logLevel: "verbose", logOptions: { maxAge: 2 } },
      join(work.dir, "bin-plugins"),
    );
    expect(await listDir(dir)).toEqual([foreign, "multus.log", recent].sort());
    await waitFor("a line in the log file", async () => (await Bun.file(logFile).text()).includes("listening on"));
    expect(d.proc.exitCode).toBeNull();
  });

  test("an unwritable logFile is said on stderr at start, then stderr gets the lines and CNI is served", async () => {
    const blocker = join(work.dir, "not-a-dir");
    await writeFile(blocker, "");
    const logFile = join(blocker, "multus.log");
    const d = await daemonIn("unwritable", { logFile, logLevel: "verbose" }, join(work.dir, "bin-plugins"));
    expect(d.stderr()).toContain(`multus logging: cannot write the log file ${logFile}`);
    expect(d.stderr()).toContain("logging to stderr instead");
    // Logged at verbose through the logger, not said: it reached stderr instead of the file.
    await waitFor("a log line on stderr", () => /\[verbose\] listening on /.test(d.stderr()));
    const id = containerId("lognofile");
    expect((await cni(d, "ADD", id)).code).toBe(0);
    await waitFor("the ADD line on stderr", () => linesOf(d, id).some((l) => l.includes("ADD finished in")));
    expect((await cni(d, "DEL", id)).code).toBe(0);
    expect(await exists(logFile)).toBe(false);
  });
});
