// The auxiliary chain (`auxiliaryCNIChainName`) through the
// compiled shim and daemon against the fake API server: the cluster network is
// a bridge conflist file, and `<its dir>/<chain>/` holds Debian's tuning plugin
// (a sysctl on the pod's eth0) and the recording plugin. The chain runs last,
// headed by our binary invoked as `passthru`, on `net<i>` as Go runs it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { $ } from "bun";
import { mkdir, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { BINARY, runCni } from "../helpers/multus.ts";
import {
  canRunE2e,
  containerId,
  exists,
  readDelegateCacheFile,
  resultCacheEntries,
  storeIps,
  writeJson,
  netnsPerTest,
} from "../helpers/e2e.ts";
import { readRecords, type PluginRecord } from "../helpers/build-fixtures.ts";
import { describeRun, startK8sEnv, type K8sEnv, type PodHandle } from "../helpers/k8s-e2e.ts";
import { randomSuffix } from "../helpers/netns.ts";

const CHAIN = `vendor-chain-${randomSuffix(5)}`;
const FAILING_CHAIN = `failing-chain-${randomSuffix(5)}`;
const SYSCTL = "net.ipv4.conf.eth0.arp_filter";

let env: K8sEnv;
let record: string;
let passthru: string;

beforeAll(async () => {
  if (!canRunE2e) return;
  env = await startK8sEnv({ withRecorder: true });
  // The chain's head is looked up in binDir like any plugin: our binary under the name passthru.
  passthru = join(env.binDir, "passthru");
  await symlink(BINARY, passthru);
  record = join(env.dir, "aux.record");
  // The chain dir sits next to the clusterNetwork file (confDir/10-cluster.conflist).
  await mkdir(join(env.confDir, CHAIN));
  await writeJson(join(env.confDir, CHAIN, "10-tuning.conf"), { type: "tuning", sysctl: { [SYSCTL]: "1" } });
  await writeJson(join(env.confDir, CHAIN, "20-recorder.conf"), {
    type: "recorder",
    recordFile: record,
    echoPrevResult: true,
  });
  await mkdir(join(env.confDir, FAILING_CHAIN));
  await writeJson(join(env.confDir, FAILING_CHAIN, "10-recorder.conf"), {
    type: "recorder",
    recordFile: record,
    failOn: ["ADD"],
    error: { code: 11, msg: "chain plugin says no" },
  });
});
afterAll(() => env?.stop());

const ns = netnsPerTest("mtaux");

function cni(command: string, pod: PodHandle, id: string, cniVersion: string, chain = CHAIN) {
  return env.cni(command, { pod, containerId: id, netns: ns.path, cniVersion, conf: { auxiliaryCNIChainName: chain } });
}

/** What the recording plugin in the chain was called with for this container. */
async function chainCalls(id: string): Promise<PluginRecord[]> {
  return (await readRecords(record)).filter((r) => r.env.CNI_CONTAINERID === id);
}

async function sysctlInNetns(key: string): Promise<string> {
  return (await $`ip netns exec ${ns.name} cat /proc/sys/${key.replaceAll(".", "/")}`.quiet().text()).trim();
}

/** Nothing of the attachment is left: only lo, no IP held, no delegate or result cache. */
async function expectReleased(id: string): Promise<void> {
  expect(await ns.links()).toEqual(["lo"]);
  expect(await storeIps(env.cluster.dataDir, env.cluster.name)).toEqual([]);
  expect(await exists(join(env.cniDir, id))).toBe(false);
  expect(await resultCacheEntries(env.cniDir, id)).toEqual([]);
}

describe.skipIf(!canRunE2e)("auxiliaryCNIChainName", () => {
  test.each(["0.3.1", "0.4.0", "1.0.0"])(
    "%s: the chain tunes eth0 after the cluster network, is cached, not in network-status, not CHECKed, deleted",
    async (version) => {
      const pod = env.createPod({});
      const id = containerId("aux");
      expect(await sysctlInNetns("net.ipv4.conf.default.arp_filter")).toBe("0"); // what a new eth0 would get untuned

      const add = await cni("ADD", pod, id, version);
      expect(add.code, describeRun(add)).toBe(0);
      // The runtime gets the cluster network's result; the chain creates no interface.
      const result = add.json();
      expect(result.cniVersion).toBe(version);
      expect(result.ips.map((ip: { address: string }) => ip.address.split(".").slice(0, 3).join("."))).toEqual([
        env.cluster.prefix,
      ]);
      expect((await ns.links()).sort()).toEqual(["eth0", "lo"]);
      expect(await sysctlInNetns(SYSCTL)).toBe("1"); // tuning, from the chain dir

      // The chain ran once, last, on net1 (the next index, as Go names it), with passthru's empty result before it.
      const calls = await chainCalls(id);
      expect(calls.map((c) => c.command)).toEqual(["ADD"]);
      const [call] = calls;
      expect(call!.env).toMatchObject({ CNI_IFNAME: "net1", CNI_NETNS: ns.path, CNI_CONTAINERID: id });
      expect(call!.env.CNI_ARGS).toContain(`K8S_POD_NAME=${pod.name}`);
      expect(call!.conf).toMatchObject({ name: CHAIN, cniVersion: version, type: "recorder" });
      const prev = call!.conf.prevResult as Record<string, unknown>;
      expect(prev.cniVersion).toBe(version);
      expect(prev.interfaces ?? []).toEqual([]);
      expect(prev.ips ?? []).toEqual([]);

      // Cached for DEL: the whole chain under its name, with its interface.
      const cache = await readDelegateCacheFile(env.cniDir, id);
      expect(cache?.map((c) => [c.Name, c.ifname, c.auxiliary])).toEqual([
        [env.cluster.name, "eth0", undefined],
        [CHAIN, "net1", true],
      ]);
      const chainConf = JSON.parse(Buffer.from(cache![1]!.Bytes as string, "base64").toString());
      expect(chainConf.plugins.map((p: { type: string }) => p.type)).toEqual(["passthru", "tuning", "recorder"]);
      expect(chainConf.plugins[0]).toEqual({ type: "passthru", name: "passthru-cni" });
      expect((await resultCacheEntries(env.cniDir, id)).sort()).toEqual(
        [`${env.cluster.name}-${id}-eth0`, `${CHAIN}-${id}-net1`].sort(),
      );

      // An empty result makes no network-status entry and no event (as in Go): only the cluster network shows.
      const status = JSON.parse(env.networkStatus(pod) ?? "[]") as Array<{
        name: string;
        interface?: string;
        default?: boolean;
      }>;
      expect(status.map((s) => [s.name, s.interface, s.default])).toEqual([[env.cluster.name, "eth0", true]]);
      const events = await env.events(pod, 1);
      expect(events.map((e) => e.message)).toEqual([expect.stringMatching(/^Add eth0 \[/)]);

      if (version !== "0.3.1") {
        const check = await cni("CHECK", pod, id, version);
        expect(check.code, describeRun(check)).toBe(0);
        expect((await chainCalls(id)).map((c) => c.command)).toEqual(["ADD"]);
      }

      const del = await cni("DEL", pod, id, version);
      expect(del.code, describeRun(del)).toBe(0);
      const delCall = (await chainCalls(id)).find((c) => c.command === "DEL");
      expect(delCall?.env.CNI_IFNAME).toBe("net1");
      await expectReleased(id);
    },
  );

  test("DEL without the delegate cache (rebuilt from the pod and the config) reaches the chain too", async () => {
    const pod = env.createPod({});
    const id = containerId("aux");
    const add = await cni("ADD", pod, id, "1.0.0");
    expect(add.code, describeRun(add)).toBe(0);
    await rm(join(env.cniDir, id));

    const del = await cni("DEL", pod, id, "1.0.0");
    expect(del.code, describeRun(del)).toBe(0);
    expect((await chainCalls(id)).map((c) => [c.command, c.env.CNI_IFNAME])).toEqual([
      ["ADD", "net1"],
      ["DEL", "net1"],
    ]);
    await expectReleased(id);
  });

  test("a clusterNetwork .conflist also takes the plugin confs in <its dir>/<list name>/ (libcni chaining)", async () => {
    const key = "net.ipv4.conf.eth0.arp_ignore";
    const chained = join(env.confDir, env.cluster.name);
    await mkdir(chained);
    try {
      await writeJson(join(chained, "10-tuning.conf"), { type: "tuning", sysctl: { [key]: "1" } });
      const pod = env.createPod({});
      const id = containerId("chain");
      const add = await env.cni("ADD", { pod, containerId: id, netns: ns.path, cniVersion: "1.0.0" });
      expect(add.code, describeRun(add)).toBe(0);
      expect(await sysctlInNetns(key)).toBe("1");
      const cached = await readDelegateCacheFile(env.cniDir, id);
      expect(JSON.stringify(cached)).toContain("tuning");
      const del = await env.cni("DEL", { pod, containerId: id, netns: ns.path, cniVersion: "1.0.0" });
      expect(del.code, describeRun(del)).toBe(0);
      await expectReleased(id);
    } finally {
      await rm(chained, { recursive: true, force: true });
    }
  });

  test("a chain name with no directory adds nothing: only the cluster network", async () => {
    const pod = env.createPod({});
    const id = containerId("aux");
    const add = await cni("ADD", pod, id, "1.0.0", "no-such-chain");
    expect(add.code, describeRun(add)).toBe(0);
    expect((await readDelegateCacheFile(env.cniDir, id))?.map((c) => c.Name)).toEqual([env.cluster.name]);
    expect(await sysctlInNetns(SYSCTL)).toBe("0");
    const del = await cni("DEL", pod, id, "1.0.0", "no-such-chain");
    expect(del.code, describeRun(del)).toBe(0);
    await expectReleased(id);
  });

  test("a chain plugin failing ADD fails the ADD with its code, and the cluster network is rolled back", async () => {
    const pod = env.createPod({});
    const id = containerId("aux");
    const add = await cni("ADD", pod, id, "1.0.0", FAILING_CHAIN);
    expect(add.code).toBe(1);
    expect(add.json()).toMatchObject({ code: 11, msg: "chain plugin says no" });
    expect(add.json().details).toContain(`error adding container to network "${FAILING_CHAIN}"`);
    expect((await chainCalls(id)).map((c) => c.command)).toEqual(["ADD", "DEL"]);
    await expectReleased(id);
  });
});

describe.skipIf(!canRunE2e)("the binary invoked as passthru", () => {
  test("VERSION, ADD (an empty result in the config's version), DEL (nothing)", async () => {
    const version = await runCni(passthru, { command: "VERSION", stdin: "{}" });
    expect(version.code).toBe(0);
    expect(version.json()).toEqual({
      cniVersion: "1.1.0",
      supportedVersions: ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });

    const id = containerId("pt");
    for (const cniVersion of ["0.3.0", "0.4.0", "1.1.0"]) {
      const conf = { cniVersion, name: "aux", type: "passthru" };
      const add = await runCni(passthru, {
        command: "ADD",
        containerId: id,
        netns: ns.path,
        ifname: "net1",
        stdin: conf,
      });
      expect(add.code, describeRun(add)).toBe(0);
      expect(add.stderr).toBe("");
      const result = add.json();
      expect(result.cniVersion).toBe(cniVersion);
      expect([result.interfaces ?? [], result.ips ?? [], result.routes ?? []]).toEqual([[], [], []]);
      const del = await runCni(passthru, {
        command: "DEL",
        containerId: id,
        netns: ns.path,
        ifname: "net1",
        stdin: conf,
      });
      expect([del.code, del.stdout]).toEqual([0, ""]);
    }
    expect(await ns.links()).toEqual(["lo"]);

    const old = await runCni(passthru, {
      command: "ADD",
      containerId: id,
      netns: ns.path,
      stdin: { cniVersion: "0.2.0", name: "aux", type: "passthru" },
    });
    expect(old.code).toBe(1);
    expect(old.json()).toMatchObject({ code: 1, msg: "incompatible CNI versions" });
  });
});
