// ADD, CHECK and DEL through the compiled shim and the real daemon, with
// Debian's bridge + host-local as the cluster network (a conflist file) and
// macvlan as a default network (by conf name in confDir) in real namespaces.
// Also: DEL from the delegate cache after the daemon was restarted.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createWorkdir, runCni, shimConf, startDaemon, type DaemonHandle, type ShimRun } from "../helpers/multus.ts";
import { createCleanup, createVethPair, deleteLink, randomSuffix } from "../helpers/netns.ts";
import {
  bridgeConflist,
  canRunE2e,
  containerId,
  deleteBridge,
  ensureBinary,
  exists,
  macvlanConf,
  randomPrefix,
  readDelegateCacheFile,
  resultCacheEntries,
  storeIps,
  writeJson,
  type BridgeNet,
  type MacvlanNet,
  netnsPerTest,
} from "../helpers/e2e.ts";

const s = randomSuffix(5);
let work: Awaited<ReturnType<typeof createWorkdir>>;
let daemon: DaemonHandle;
let daemonConfig: Record<string, unknown>;
let veth: { a: string; b: string };
let cluster: BridgeNet;
let extra: MacvlanNet;
let cniDir: string;
const fileCleanup = createCleanup();

beforeAll(async () => {
  if (!canRunE2e) return;
  await ensureBinary();
  work = await createWorkdir();
  fileCleanup.add(() => work.remove());
  veth = await createVethPair("mta");
  fileCleanup.add(() => deleteLink(veth.a));
  const dataDir = join(work.dir, "ipam");
  cniDir = join(work.dir, "cache");
  cluster = { name: `cluster-${s}`, bridge: `mtbr${s}`, prefix: randomPrefix(), dataDir };
  extra = { name: `macvlan-${s}`, master: veth.a, prefix: randomPrefix(), dataDir };
  fileCleanup.add(() => deleteBridge(cluster.bridge));
  const confDir = join(work.dir, "net.d");
  await mkdir(confDir);
  const clusterFile = await writeJson(join(confDir, "10-cluster.conflist"), bridgeConflist(cluster));
  await writeJson(join(confDir, "20-macvlan.conf"), macvlanConf(extra));
  daemonConfig = {
    cniDir,
    binDir: "/usr/lib/cni",
    confDir,
    clusterNetwork: clusterFile,
    defaultNetworks: [extra.name],
    logToStderr: true,
    logLevel: "verbose",
  };
  daemon = await startDaemon(work.dir, daemonConfig);
  fileCleanup.add(() => daemon.stop());
});

afterAll(() => fileCleanup.run());

const ns = netnsPerTest("mtacd");

function cni(command: string, id: string, cniVersion: string): Promise<ShimRun> {
  return runCni(work.shim, {
    command,
    containerId: id,
    netns: ns.path,
    stdin: shimConf(daemon.socketDir, { cniVersion }),
  });
}

/** Everything an attachment leaves behind is gone: interfaces, addresses, both caches. */
async function expectReleased(id: string): Promise<void> {
  expect(await ns.links()).toEqual(["lo"]);
  expect(await storeIps(cluster.dataDir, cluster.name)).toEqual([]);
  expect(await storeIps(extra.dataDir, extra.name)).toEqual([]);
  expect(await exists(join(cniDir, id))).toBe(false);
  expect(await resultCacheEntries(cniDir, id)).toEqual([]);
}

/** eth0 (bridge) and net1 (macvlan) exist with addresses from their subnets; returns both. */
async function expectAttached(): Promise<{ eth0: string; net1: string }> {
  expect((await ns.links()).sort()).toEqual(["eth0", "lo", "net1"]);
  const [eth0] = await ns.addrs("eth0");
  const [net1] = await ns.addrs("net1");
  expect(eth0).toMatch(new RegExp(`^${cluster.prefix.replaceAll(".", "\\.")}\\.\\d+/24$`));
  expect(net1).toMatch(new RegExp(`^${extra.prefix.replaceAll(".", "\\.")}\\.\\d+/24$`));
  expect(await storeIps(cluster.dataDir, cluster.name)).toEqual([eth0!.split("/")[0]!]);
  expect(await storeIps(extra.dataDir, extra.name)).toEqual([net1!.split("/")[0]!]);
  return { eth0: eth0!, net1: net1! };
}

describe.skipIf(!canRunE2e)("bridge cluster network + macvlan default network", () => {
  test.each([["0.3.1"], ["0.4.0"], ["1.0.0"], ["1.1.0"]])(
    "ADD, CHECK, DEL, DEL with a %s shim config",
    async (version) => {
      const id = containerId();
      const add = await cni("ADD", id, version);
      expect(add.stderr).toBe("");
      expect(add.code).toBe(0);
      expect(add.stdout).not.toEndWith("\n");
      const result = add.json();
      const { eth0 } = await expectAttached();

      // The master's (bridge's) result, in the shim config's version.
      expect(result.cniVersion).toBe(version);
      const ifaces = result.interfaces as Array<{ name: string; sandbox?: string }>;
      const eth0Index = ifaces.findIndex((i) => i.name === "eth0");
      expect(ifaces[eth0Index]!.sandbox).toBe(ns.path);
      expect(ifaces.map((i) => i.name)).toContain(cluster.bridge);
      expect(ifaces.map((i) => i.name)).not.toContain("net1");
      expect(result.ips).toHaveLength(1);
      const ip = result.ips[0];
      expect(ip.address).toBe(eth0);
      expect(ip.gateway).toBe(`${cluster.prefix}.1`);
      expect(ip.interface).toBe(eth0Index);
      expect(result.routes).toEqual([{ dst: "0.0.0.0/0" }]);
      if (version.startsWith("0.")) {
        expect(ip.version).toBe("4");
        expect(result.dns).toEqual({});
      } else {
        expect(ip.version).toBeUndefined();
        expect(result.dns).toBeUndefined();
      }

      // Both caches: the delegate list (Go field names) and libcni's per-attachment results.
      const cached = await readDelegateCacheFile(cniDir, id);
      expect(cached?.map((d) => d.Name)).toEqual([cluster.name, extra.name]);
      expect(await resultCacheEntries(cniDir, id)).toEqual(
        [`${cluster.name}-${id}-eth0`, `${extra.name}-${id}-net1`].sort(),
      );

      const check = await cni("CHECK", id, version);
      if (version === "0.3.1") {
        expect(check.code).toBe(1);
        expect(check.json()).toMatchObject({ code: 1, msg: "config version does not allow CHECK" });
      } else {
        expect(check.stdout).toBe("");
        expect(check.code).toBe(0);
      }

      const del = await cni("DEL", id, version);
      expect(del.stdout).toBe("");
      expect(del.code).toBe(0);
      await expectReleased(id);

      const again = await cni("DEL", id, version);
      expect(again.stdout).toBe("");
      expect(again.code).toBe(0);
      await expectReleased(id);
    },
  );

  test("a 0.2.0 shim config gets the result in ip4 form", async () => {
    const id = containerId();
    const add = await cni("ADD", id, "0.2.0");
    expect(add.code).toBe(0);
    const { eth0 } = await expectAttached();
    const result = add.json();
    expect(result).toEqual({
      cniVersion: "0.2.0",
      ip4: { ip: eth0, gateway: `${cluster.prefix}.1`, routes: [{ dst: "0.0.0.0/0" }] },
      dns: {},
    });
    // CHECK came with 0.4.0
    const check = await cni("CHECK", id, "0.2.0");
    expect(check.json()).toMatchObject({ code: 1, msg: "config version does not allow CHECK" });
    expect((await cni("DEL", id, "0.2.0")).code).toBe(0);
    await expectReleased(id);
  });

  test("a delegate cache cut short by a crash (empty file) does not fail DEL: the configuration says what to delete", async () => {
    const id = containerId();
    expect((await cni("ADD", id, "1.0.0")).code).toBe(0);
    await expectAttached();
    await Bun.write(join(cniDir, id), "");
    const del = await cni("DEL", id, "1.0.0");
    expect(del.stdout).toBe("");
    expect(del.code).toBe(0);
    await expectReleased(id);
  });

  test.each([["SIGTERM"], ["SIGKILL"]] as const)(
    "DEL after the daemon was stopped (%s) and restarted comes from the cache",
    async (signal) => {
      const id = containerId();
      expect((await cni("ADD", id, "1.0.0")).code).toBe(0);
      await expectAttached();

      const exitCode = await daemon.stop(signal);
      if (signal === "SIGTERM") {
        expect(exitCode).toBe(0);
        expect(await exists(join(daemon.socketDir, "multus.sock"))).toBe(false);
      } else {
        // a killed daemon leaves its socket file behind; the next one must cope
        expect(await exists(join(daemon.socketDir, "multus.sock"))).toBe(true);
      }
      daemon = await startDaemon(work.dir, daemonConfig);

      const del = await cni("DEL", id, "1.0.0");
      expect(del.stdout).toBe("");
      expect(del.code).toBe(0);
      await expectReleased(id);
    },
  );
});
