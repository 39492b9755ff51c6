// Requests in parallel: different containers run side by side; requests for
// the same container are serialised, so a DEL sent while its ADD is still
// running sees everything that ADD attached.
//
// The cluster network is the recording plugin, whose ADD is held until the
// test opens a gate (a window to observe); the second network is a real
// bridge, whose interface would be left behind if DEL overtook ADD.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createWorkdir, runCni, shimConf, startDaemon, type DaemonHandle, type ShimRun } from "../helpers/multus.ts";
import { createCleanup, createNetns, deleteNetns, randomSuffix, type NetnsFixture } from "../helpers/netns.ts";
import { buildRecordingPlugin, readRecords } from "../helpers/build-fixtures.ts";
import {
  canRunE2e,
  containerId,
  createBinDir,
  ensureBinary,
  exists,
  resultCacheEntries,
  storeIps,
  waitFor,
  writeJson,
  type BridgeNet,
  writeBridgeNetwork,
} from "../helpers/e2e.ts";

const s = randomSuffix(5);
let work: Awaited<ReturnType<typeof createWorkdir>>;
let daemon: DaemonHandle;
let cniDir: string;
let record: string;
let gate: string;
let bridgeNet: BridgeNet;
const fileCleanup = createCleanup();

beforeAll(async () => {
  if (!canRunE2e) return;
  const [, recorder] = await Promise.all([ensureBinary(), buildRecordingPlugin()]);
  work = await createWorkdir();
  fileCleanup.add(() => work.remove());
  cniDir = join(work.dir, "cache");
  record = join(work.dir, "slow.record");
  gate = join(work.dir, "gate");
  const confDir = join(work.dir, "net.d");
  await mkdir(confDir);
  const dataDir = join(work.dir, "ipam");
  ({ net: bridgeNet } = await writeBridgeNetwork({ dir: confDir, tag: "par", cleanup: fileCleanup, dataDir }));
  const slow = await writeJson(join(work.dir, "slow.conflist"), {
    cniVersion: "1.0.0",
    name: `slow-${s}`,
    plugins: [{ type: "recorder", recordFile: record, waitForFile: gate }],
  });
  const binDir = await createBinDir(join(work.dir, "plugins"), { extra: { recorder } });
  daemon = await startDaemon(work.dir, {
    cniDir,
    confDir,
    binDir,
    clusterNetwork: slow,
    defaultNetworks: [bridgeNet.name],
    // At debug the daemon says when a request waits for another of the same container.
    logToStderr: true,
    logLevel: "debug",
  });
  fileCleanup.add(() => daemon.stop());
});
afterAll(() => fileCleanup.run());

let cleanup: ReturnType<typeof createCleanup>;
beforeEach(async () => {
  cleanup = createCleanup();
  if (canRunE2e) await rm(gate, { force: true });
});
afterEach(async () => {
  if (canRunE2e) await cleanup.run();
});

async function netns(): Promise<NetnsFixture> {
  const ns = await createNetns("mtpar");
  cleanup.add(() => deleteNetns(ns.name));
  return ns;
}

/** Starts a shim call; `done` says whether it has returned yet, `at` when. */
function start(
  command: string,
  id: string,
  ns: NetnsFixture,
): { run: Promise<ShimRun>; done: () => boolean; at: () => number } {
  let finished = 0;
  const run = runCni(work.shim, {
    command,
    containerId: id,
    netns: ns.path,
    stdin: shimConf(daemon.socketDir),
  }).finally(() => {
    finished = performance.now();
  });
  return { run, done: () => finished !== 0, at: () => finished };
}

async function recordedAdds(ids: string[]) {
  return (await readRecords(record)).filter((r) => r.command === "ADD" && ids.includes(r.env.CNI_CONTAINERID ?? ""));
}

async function expectReleased(ns: NetnsFixture, id: string): Promise<void> {
  expect(await ns.links()).toEqual(["lo"]);
  expect(await exists(join(cniDir, id))).toBe(false);
  expect(await resultCacheEntries(cniDir, id)).toEqual([]);
}

describe.skipIf(!canRunE2e)("concurrent requests", () => {
  test("ADDs for two containers run in parallel", async () => {
    const [nsA, nsB] = await Promise.all([netns(), netns()]);
    const [a, b] = [containerId("a"), containerId("b")];
    const addA = start("ADD", a, nsA);
    const addB = start("ADD", b, nsB);
    // both reached the held plugin: they overlap (one at a time, the second would never get there)
    await waitFor("both ADDs to reach the plugin", async () => (await recordedAdds([a, b])).length === 2, 10_000, 10);
    expect([addA.done(), addB.done()]).toEqual([false, false]);
    await writeFile(gate, "");

    const [runA, runB] = await Promise.all([addA.run, addB.run]);
    expect([runA.code, runB.code]).toEqual([0, 0]);
    const [ipA] = await nsA.addrs("net1");
    const [ipB] = await nsB.addrs("net1");
    expect(ipA).toStartWith(`${bridgeNet.prefix}.`);
    expect(ipB).toStartWith(`${bridgeNet.prefix}.`);
    expect(ipA).not.toBe(ipB);
    expect(await storeIps(bridgeNet.dataDir, bridgeNet.name)).toHaveLength(2);

    const dels = await Promise.all([start("DEL", a, nsA).run, start("DEL", b, nsB).run]);
    expect(dels.map((d) => d.code)).toEqual([0, 0]);
    await expectReleased(nsA, a);
    await expectReleased(nsB, b);
    expect(await storeIps(bridgeNet.dataDir, bridgeNet.name)).toEqual([]);
  });

  test("ADD then DEL of the same container, sent while ADD is running: DEL waits and releases everything", async () => {
    const ns = await netns();
    const id = containerId("same");
    const add = start("ADD", id, ns);
    // ADD holds the container's lock: its cache is written and the held plugin is running
    await waitFor("ADD to reach the plugin", async () => (await recordedAdds([id])).length === 1, 10_000, 10);
    expect(await exists(join(cniDir, id))).toBe(true);
    const del = start("DEL", id, ns);
    await waitFor("the daemon to hold DEL back", () =>
      daemon.stderr().includes(`DEL of ${id} waits for the request in flight`),
    );
    expect(del.done()).toBe(false);
    await writeFile(gate, "");

    const [addRun, delRun] = await Promise.all([add.run, del.run]);
    expect(addRun.code).toBe(0);
    expect([delRun.code, delRun.stdout]).toEqual([0, ""]);
    expect(del.at()).toBeGreaterThan(add.at());
    // had DEL overtaken ADD, the bridge's net1 (attached after the slow plugin) would still be here
    await expectReleased(ns, id);
    expect(await storeIps(bridgeNet.dataDir, bridgeNet.name)).toEqual([]);
    const calls = (await readRecords(record)).filter((r) => r.env.CNI_CONTAINERID === id);
    expect(calls.map((r) => r.command)).toEqual(["ADD", "DEL"]);
  });
});
