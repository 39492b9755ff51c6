// Things going wrong, end to end: a failing second delegate (rolled back, its
// error reaching the runtime unchanged), a hanging delegate (killed at the
// deadline), and bad input from the runtime. After each the daemon still serves.
//
// One daemon for the file; each test names its networks in the shim's stdin
// (clusterNetwork, defaultNetworks), which the daemon config does not override.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  createWorkdir,
  runCni,
  shimConf,
  startDaemon,
  type CniCall,
  type DaemonHandle,
  type ShimRun,
} from "../helpers/multus.ts";
import { createCleanup, randomSuffix, type Cleanup } from "../helpers/netns.ts";
import { buildRecordingPlugin, readRecords } from "../helpers/build-fixtures.ts";
import {
  canRunE2e,
  containerId,
  createBinDir,
  ensureBinary,
  exists,
  isAlive,
  listDir,
  macvlanConf,
  PLUGIN_DIR,
  randomPrefix,
  resultCacheEntries,
  storeIps,
  waitFor,
  writeJson,
  type BridgeNet,
  netnsPerTest,
  writeBridgeNetwork,
} from "../helpers/e2e.ts";

// Per request (the shim's conf), so that only the hang test waits for it and the real
// plugins of the other tests keep the default under load.
const HANG_TIMEOUT_S = 0.4;

let work: Awaited<ReturnType<typeof createWorkdir>>;
let daemon: DaemonHandle;
let cniDir: string;
let confDir: string;
let hangLog: string;
let floodLog: string;
let evilRecord: string;
const fileCleanup = createCleanup();

beforeAll(async () => {
  if (!canRunE2e) return;
  const [, recorder] = await Promise.all([ensureBinary(), buildRecordingPlugin()]);
  work = await createWorkdir();
  fileCleanup.add(() => work.remove());
  cniDir = join(work.dir, "cache");
  confDir = join(work.dir, "net.d");
  await mkdir(confDir);
  hangLog = join(work.dir, "hang.log");
  evilRecord = join(work.dir, "evil.record");
  // A plugin that hangs on ADD with a child of its own; any other command returns at once.
  const hang = `#!/bin/sh
cat >/dev/null
echo "$CNI_COMMAND $$" >> ${hangLog}
if [ "$CNI_COMMAND" = ADD ]; then
  sleep 60 &
  echo "child $!" >> ${hangLog}
  wait
fi
exit 0
`;
  floodLog = join(work.dir, "flood.log");
  // A plugin that prints without end on ADD (50 MB and more); DEL answers at once.
  const flood = `#!/bin/sh
cat >/dev/null
echo "$CNI_COMMAND $$" >> ${floodLog}
if [ "$CNI_COMMAND" = ADD ]; then exec yes "0123456789abcdef0123456789abcdef"; fi
exit 0
`;
  const binDir = await createBinDir(join(work.dir, "plugins", "bin"), {
    extra: { recorder },
    scripts: { hang, flood },
  });
  // a recorder outside the bin dir, one "../" away: reaching it would be the bug
  await createBinDir(join(work.dir, "plugins", "evil"), { extra: { recorder } });
  daemon = await startDaemon(work.dir, {
    cniDir,
    confDir,
    binDir,
    logToStderr: true,
  });
  fileCleanup.add(() => daemon.stop());
});
afterAll(() => fileCleanup.run());

const ns = netnsPerTest("mtfail");
let cluster: BridgeNet;
let clusterFile: string;
let cleanup: Cleanup;
beforeEach(async () => {
  if (!canRunE2e) return;
  cleanup = createCleanup();
  ({ net: cluster, file: clusterFile } = await writeBridgeNetwork({ dir: work.dir, tag: "cl", cleanup }));
});
afterEach(async () => {
  if (canRunE2e) await cleanup.run();
});

/** Writes a conf into confDir (found there by its name) and returns the name. */
async function confNamed(conf: Record<string, unknown> & { name: string }): Promise<string> {
  await writeJson(join(confDir, `${conf.name}.conf`), conf);
  return conf.name;
}

function shim(
  command: string,
  id: string,
  opts: {
    defaultNetworks?: string[];
    call?: Partial<CniCall>;
    stdin?: CniCall["stdin"];
    conf?: Record<string, unknown>;
  } = {},
): Promise<ShimRun> {
  const stdin =
    opts.stdin ??
    shimConf(daemon.socketDir, {
      clusterNetwork: clusterFile,
      defaultNetworks: opts.defaultNetworks ?? [],
      ...opts.conf,
    });
  return runCni(work.shim, { command, containerId: id, netns: ns.path, stdin, ...opts.call });
}

/** A CNI error on stdout as the spec prints it (4-space indent, no newline), exit status 1. */
function cniError(run: ShimRun): { cniVersion?: string; code: number; msg: string; details?: string } {
  expect(run.code).toBe(1);
  const err = run.json();
  expect(run.stdout).toBe(JSON.stringify(err, null, 4));
  return err;
}

/** Nothing of container `id` is left: no interface, no host-local address, no caches. */
async function expectNothingLeft(id: string): Promise<void> {
  expect(await ns.links()).toEqual(["lo"]);
  expect(await storeIps(cluster.dataDir, cluster.name)).toEqual([]);
  expect(await exists(join(cniDir, id))).toBe(false);
  expect(await resultCacheEntries(cniDir, id)).toEqual([]);
}

/** The daemon still serves: a full ADD and DEL of the cluster network. */
async function expectGoodAddWorks(): Promise<void> {
  const id = containerId("good");
  const add = await shim("ADD", id);
  expect(add.code).toBe(0);
  const [eth0] = await ns.addrs("eth0");
  expect(eth0).toStartWith(`${cluster.prefix}.`);
  expect(add.json().ips[0].address).toBe(eth0);
  expect((await shim("DEL", id)).code).toBe(0);
  await expectNothingLeft(id);
}

describe.skipIf(!canRunE2e)("rollback when the second delegate fails", () => {
  test("macvlan on a master that does not exist: its own code and msg, the network named in details", async () => {
    const master = `nosuch${randomSuffix(5)}`;
    const conf = macvlanConf({
      name: `mv-${randomSuffix(5)}`,
      master,
      prefix: randomPrefix(),
      dataDir: join(work.dir, "ipam"),
    });
    const net = await confNamed(conf as Record<string, unknown> & { name: string });
    // What macvlan itself says, run directly as a runtime would (it fails before touching anything).
    const direct = await runCni(join(PLUGIN_DIR, "macvlan"), {
      command: "ADD",
      containerId: "direct",
      netns: ns.path,
      ifname: "net1",
      stdin: conf,
    });
    const own = cniError(direct);

    const id = containerId();
    const err = cniError(await shim("ADD", id, { defaultNetworks: [net] }));
    expect(err.code).toBe(own.code);
    expect(err.msg).toBe(own.msg);
    expect(err.details).toContain(`error adding container to network "${net}"`);
    await expectNothingLeft(id);
    expect(await storeIps(join(work.dir, "ipam"), net)).toEqual([]);
    await expectGoodAddWorks();
  });

  test("the recording plugin told to fail: code, msg and details unchanged; it and the bridge get DEL", async () => {
    const record = join(work.dir, `rec-${randomSuffix(5)}.record`);
    const net = await confNamed({
      cniVersion: "1.0.0",
      name: `rec-${randomSuffix(5)}`,
      type: "recorder",
      recordFile: record,
      error: { code: 117, msg: "recorder says no", details: "because the test said so" },
      failOn: ["ADD"],
    });
    const id = containerId();
    const err = cniError(await shim("ADD", id, { defaultNetworks: [net] }));
    expect(err.code).toBe(117);
    expect(err.msg).toBe("recorder says no");
    expect(err.details).toStartWith(`[default/test/:${net}]: error adding container to network "${net}"`);
    expect(err.details).toEndWith("because the test said so");
    expect(err.cniVersion).toBe("1.0.0");
    // rollback: DEL for the failed delegate too (idx..0), with the same container and ifname
    const records = await readRecords(record);
    expect(records.map((r) => [r.command, r.env.CNI_CONTAINERID, r.env.CNI_IFNAME])).toEqual([
      ["ADD", id, "net1"],
      ["DEL", id, "net1"],
    ]);
    await expectNothingLeft(id);
    await expectGoodAddWorks();
  });
});

describe.skipIf(!canRunE2e)("a delegate that hangs", () => {
  test(`is killed (with its child) at delegateTimeoutSeconds=${HANG_TIMEOUT_S}; rollback; the daemon keeps serving`, async () => {
    const net = await confNamed({ cniVersion: "1.0.0", name: `hang-${randomSuffix(5)}`, type: "hang" });
    const id = containerId();
    const run = await shim("ADD", id, { defaultNetworks: [net], conf: { delegateTimeoutSeconds: HANG_TIMEOUT_S } });
    const err = cniError(run);
    expect(err.code).toBe(999);
    expect(err.msg).toBe(`plugin "hang" timed out after ${HANG_TIMEOUT_S * 1000} ms (killed)`);
    expect(err.details).toContain(`error adding container to network "${net}"`);
    expect(run.ms).toBeGreaterThanOrEqual(HANG_TIMEOUT_S * 1000);
    expect(run.ms).toBeLessThan(HANG_TIMEOUT_S * 1000 + 4000);

    const log = (await Bun.file(hangLog).text())
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    const pids = log.filter(([what]) => what === "ADD" || what === "child").map(([, pid]) => Number(pid));
    expect(pids).toHaveLength(2);
    for (const pid of pids) await waitFor(`process ${pid} to be gone`, async () => !(await isAlive(pid)), 3000);
    // the rollback reached the hung delegate too (DEL answers at once)
    expect(log.map(([what]) => what)).toContain("DEL");
    await expectNothingLeft(id);
    await expectGoodAddWorks();
  });
});

describe.skipIf(!canRunE2e)("a delegate that prints without end", () => {
  test("is killed past maxPluginOutputBytes (1 MiB by default), well before its deadline; rollback; the daemon's memory stays bounded", async () => {
    const rssBefore = await rssKiB(daemon.proc.pid);
    const net = await confNamed({ cniVersion: "1.0.0", name: `flood-${randomSuffix(5)}`, type: "flood" });
    const id = containerId();
    const run = await shim("ADD", id, { defaultNetworks: [net] });
    const err = cniError(run);
    expect(err.code).toBe(999);
    expect(err.msg).toBe(`plugin "flood" printed more than 1048576 bytes on stdout (maxPluginOutputBytes) (killed)`);
    expect(err.details).toContain(`error adding container to network "${net}"`);
    expect(run.ms).toBeLessThan(2000); // the default delegateTimeoutSeconds is 60

    const log = (await Bun.file(floodLog).text())
      .trim()
      .split("\n")
      .map((l) => l.split(" "));
    const adds = log.filter(([what]) => what === "ADD").map(([, pid]) => Number(pid));
    expect(adds).toHaveLength(1);
    await waitFor(`process ${adds[0]} to be gone`, async () => !(await isAlive(adds[0]!)), 3000);
    expect(log.map(([what]) => what)).toContain("DEL");
    // Without the bound the daemon buffered everything the plugin printed (hundreds of MB).
    expect((await rssKiB(daemon.proc.pid)) - rssBefore).toBeLessThan(64 * 1024);
    await expectNothingLeft(id);
    await expectGoodAddWorks();
  });
});

async function rssKiB(pid: number): Promise<number> {
  const status = await Bun.file(`/proc/${pid}/status`).text();
  return Number(/^VmRSS:\s+(\d+)/m.exec(status)![1]);
}

describe.skipIf(!canRunE2e)("bad input from the runtime: a CNI error on stdout, exit 1, the daemon unaffected", () => {
  test("stdin that is not JSON: code 6", async () => {
    const err = cniError(await shim("ADD", containerId(), { stdin: "this is not json" }));
    expect(err.code).toBe(6);
    expect(err.msg).toBe("failed to decode network configuration");
    await expectGoodAddWorks();
  });

  test("missing env vars: code 4 naming all of them", async () => {
    const err = cniError(await shim("ADD", containerId(), { call: { omit: ["CNI_NETNS", "CNI_PATH"] } }));
    expect(err).toMatchObject({ code: 4, msg: "required env variables [CNI_NETNS,CNI_PATH] missing" });
    const del = cniError(await shim("DEL", "", {}));
    expect(del.code).toBe(4);
    expect(del.msg).toBe("required env variables [CNI_CONTAINERID] missing");
    await expectGoodAddWorks();
  });

  test.each([["eth0:1"], ["a-name-of-16-chr"], [".."], ["eth 0"]])("CNI_IFNAME %p: code 4", async (ifname) => {
    const err = cniError(await shim("ADD", containerId(), { call: { ifname } }));
    expect(err.code).toBe(4);
    expect(err.msg).toBe("invalid CNI_IFNAME");
    expect(err.details).toContain(JSON.stringify(ifname));
    expect(await ns.links()).toEqual(["lo"]);
  });

  test("a delegate whose type has ../ in it: code 7 invalid plugin type, nothing run, rolled back", async () => {
    const net = await confNamed({
      cniVersion: "1.0.0",
      name: `evil-${randomSuffix(5)}`,
      type: "../evil/recorder",
      recordFile: evilRecord,
    });
    const id = containerId();
    const err = cniError(await shim("ADD", id, { defaultNetworks: [net] }));
    expect(err.code).toBe(7);
    expect(err.msg).toBe(`invalid plugin type "../evil/recorder"`);
    expect(await exists(evilRecord)).toBe(false);
    await expectNothingLeft(id);
    await expectGoodAddWorks();
  });

  test("a shim config without a name: code 7", async () => {
    const stdin = {
      cniVersion: "1.0.0",
      type: "multus-shim",
      daemonSocketDir: daemon.socketDir,
      clusterNetwork: clusterFile,
    };
    const err = cniError(await shim("ADD", containerId(), { stdin }));
    expect(err).toEqual({ cniVersion: "1.0.0", code: 7, msg: "missing network name" });
    expect(await ns.links()).toEqual(["lo"]);
    await expectGoodAddWorks();
    // nothing of these containers reached the cache
    expect((await listDir(cniDir)).filter((f) => f !== "results")).toEqual([]);
  });
});
