// Fault case e: a delegate's plugin uninstalled before its pod is torn down.
// With the netns still there DEL fails (code 7) for the runtime to retry; once
// the netns is gone DEL succeeds and leaves a tombstone; the plugin installed
// again, the daemon's timer replays the DEL and the tombstone goes.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import {
  canRunE2e,
  PLUGIN_DIR,
  randomPrefix,
  resultCacheEntries,
  storeIps,
  waitFor,
  writeJson,
} from "../helpers/e2e.ts";
import { describeRun } from "../helpers/k8s-e2e.ts";
import { createNetns, deleteNetns, randomSuffix } from "../helpers/netns.ts";
import { startFaultNode, type FaultNode } from "./env.ts";

const REPLAY_SECONDS = 1;

let node: FaultNode;
let metricsPort: number;
const ptp = { name: `tp-${randomSuffix(5)}`, prefix: randomPrefix(), dataDir: "" };

beforeAll(async () => {
  if (!canRunE2e) return;
  metricsPort = freePort();
  node = await startFaultNode({ daemonConfig: { tombstoneReplaySeconds: REPLAY_SECONDS, metricsPort } });
  ptp.dataDir = node.cluster.dataDir;
  await writeJson(join(node.confDir, `${ptp.name}.conf`), {
    cniVersion: "1.0.0",
    name: ptp.name,
    type: "ptp",
    ipam: { type: "host-local", dataDir: ptp.dataDir, ranges: [[{ subnet: `${ptp.prefix}.0/24` }]] },
  });
});
afterAll(() => node?.stop());

function freePort(): number {
  const probe = Bun.serve({ port: 0, fetch: () => new Response() });
  const port = probe.port!;
  probe.stop(true);
  return port;
}

async function metric(name: string): Promise<string[]> {
  const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
  return text.split("\n").filter((l) => l.startsWith(name));
}

describe.skipIf(!canRunE2e)("a DEL whose plugin is not installed", () => {
  test("fails while the netns exists, becomes a tombstone once it is gone, and is replayed when the plugin is back", async () => {
    const ns = await createNetns("mtts");
    const id = node.containerId();
    const call = { containerId: id, netns: ns.path, defaultNetworks: [ptp.name] };
    const add = await node.cni({ command: "ADD", ...call });
    expect(add.code, describeRun(add)).toBe(0);
    expect(await storeIps(ptp.dataDir, ptp.name)).toHaveLength(1);

    await rm(join(node.binDir, "ptp"));
    const first = await node.cni({ command: "DEL", ...call });
    expect(first.code, describeRun(first)).toBe(1);
    expect(first.json()).toMatchObject({ code: 7, msg: `failed to find plugin "ptp" in path [${node.binDir}]` });

    // The sandbox is gone; containerd's retry comes with an empty CNI_NETNS.
    await deleteNetns(ns.name);
    const second = await node.cni({ command: "DEL", ...call, netns: "" });
    expect(second.code, describeRun(second)).toBe(0);
    const stoneFile = join(node.cniDir, "tombstones", `${id}-net1.json`);
    const stone = JSON.parse(await readFile(stoneFile, "utf8"));
    expect(stone).toMatchObject({
      containerId: id,
      network: ptp.name,
      ifname: "net1",
      missingPlugin: "ptp",
      binDirs: [node.binDir],
      env: { CNI_COMMAND: "DEL", CNI_CONTAINERID: id, CNI_IFNAME: "net1" },
    });
    expect(stone.config.plugins[0].type).toBe("ptp");
    expect(node.daemon.stderr()).toContain(`DEL of network "${ptp.name}" (net1): failed to find plugin "ptp"`);
    // What ptp owes is still held: the lease and its result cache; the rest is clean.
    expect(await storeIps(ptp.dataDir, ptp.name)).toHaveLength(1);
    expect(await resultCacheEntries(node.cniDir, id)).toHaveLength(1);
    const owed = await node.audit({ networks: [node.cluster, node.second, ptp] });
    expect(owed).toHaveLength(3);
    expect(owed[0]).toStartWith(`host-local leases of ${ptp.name}: ${ptp.prefix}.`);
    expect(owed.slice(1)).toEqual([`result caches: ${ptp.name}-${id}-net1`, `tombstones: ${id}-net1.json`]);
    expect(await metric("multus_del_tombstones_total")).toEqual(['multus_del_tombstones_total{event="recorded"} 1']);
    expect(await metric("multus_del_tombstones_pending")).toEqual(["multus_del_tombstones_pending 1"]);

    await symlink(join(PLUGIN_DIR, "ptp"), join(node.binDir, "ptp"));
    await waitFor("the tombstone to be replayed", async () => !(await Bun.file(stoneFile).exists()), 10_000, 100);
    expect(await storeIps(ptp.dataDir, ptp.name)).toEqual([]);
    expect(await metric("multus_del_tombstones_total")).toContain('multus_del_tombstones_total{event="replayed"} 1');
    expect(await metric("multus_del_tombstones_pending")).toEqual(["multus_del_tombstones_pending 0"]);
    expect(await node.audit({ networks: [node.cluster, node.second, ptp] })).toEqual([]);
  });

  test("a tombstone left by a stopped daemon is replayed when the next one starts", async () => {
    const ns = await createNetns("mtts");
    const id = node.containerId();
    const call = { containerId: id, netns: ns.path, defaultNetworks: [ptp.name] };
    const add = await node.cni({ command: "ADD", ...call });
    expect(add.code, describeRun(add)).toBe(0);
    await rm(join(node.binDir, "ptp"));
    await deleteNetns(ns.name);
    const del = await node.cni({ command: "DEL", ...call, netns: "" });
    expect(del.code, describeRun(del)).toBe(0);
    const stoneFile = join(node.cniDir, "tombstones", `${id}-net1.json`);
    expect(await Bun.file(stoneFile).exists()).toBe(true);

    expect(await node.daemon.stop()).toBe(0);
    await symlink(join(PLUGIN_DIR, "ptp"), join(node.binDir, "ptp"));
    // A timer an hour away: only the pass at start can replay it.
    await node.restart({ tombstoneReplaySeconds: 3600, metricsPort: freePort() });
    await waitFor(
      "the tombstone to be replayed at start",
      async () => !(await Bun.file(stoneFile).exists()),
      10_000,
      50,
    );
    expect(await storeIps(ptp.dataDir, ptp.name)).toEqual([]);
    expect(await node.audit({ networks: [node.cluster, node.second, ptp] })).toEqual([]);
  });
});
