// Issue 3, what a pod gets: the compiled shim and daemon against the fake API
// server (HTTPS, generated kubeconfig), NADs resolved from the API, real
// delegates (bridge, macvlan, host-local, static) in real namespaces, the
// network-status annotation compared byte for byte, events, namespace
// isolation, a missing NAD, default-route, the default-network annotation,
// clusterNetwork/defaultNetworks as NAD names, systemNamespaces, cni-args.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { readFile } from "node:fs/promises";
import {
  canRunE2e,
  containerId,
  deleteBridge,
  exists,
  macvlanConf,
  randomPrefix,
  readDelegateCacheFile,
  resultCacheEntries,
  storeIps,
  bridgeConflist,
  type BridgeNet,
  bridgeNet,
  netnsPerTest,
} from "../helpers/e2e.ts";
import { readRecords } from "../helpers/build-fixtures.ts";
import { defaultRoutes, describeRun, linkMac, startK8sEnv, type K8sEnv, type PodHandle } from "../helpers/k8s-e2e.ts";
import { createVethPair, deleteLink, randomSuffix } from "../helpers/netns.ts";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";
const DEFAULT_NETWORK = "v1.multus-cni.io/default-network";

let env: K8sEnv;
let veth: { a: string; b: string };

beforeAll(async () => {
  if (!canRunE2e) return;
  env = await startK8sEnv({ withRecorder: true });
  veth = await createVethPair("mtk");
  env.cleanup.add(() => deleteLink(veth.a));
});
afterAll(() => env?.stop());

const ns = netnsPerTest("mtk");

/** A bridge + host-local network (no default route) whose bridge is removed at the end. */
function bridgeNad(tag: string): BridgeNet {
  const net = bridgeNet(tag, env.dataDir);
  env.cleanup.add(() => deleteBridge(net.bridge));
  return net;
}

/** ADD must succeed; returns the runtime's view of the result. */
async function add(pod: PodHandle, id: string, conf?: Record<string, unknown>): Promise<any> {
  const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path, conf });
  expect(r.code, describeRun(r)).toBe(0);
  return r.json();
}

async function del(pod: PodHandle, id: string, conf?: Record<string, unknown>): Promise<void> {
  const r = await env.cni("DEL", { pod, containerId: id, netns: ns.path, conf });
  expect(r.code, describeRun(r)).toBe(0);
}

/** Nothing of the attachment is left: only lo, no IPs held, no caches. */
async function expectNothingAttached(id: string, nets: BridgeNet[]): Promise<void> {
  expect(await ns.links()).toEqual(["lo"]);
  for (const net of [env.cluster, ...nets]) expect(await storeIps(net.dataDir, net.name)).toEqual([]);
  expect(await exists(join(env.cniDir, id))).toBe(false);
  expect(await resultCacheEntries(env.cniDir, id)).toEqual([]);
}

const ipOf = (cidr: string) => cidr.split("/")[0]!;

describe.skipIf(!canRunE2e)("a pod with networks from NetworkAttachmentDefinitions", () => {
  test("two extra networks (macvlan with a static IP and MAC, bridge with an explicit name): three interfaces, the exact network-status, AddedInterface events", async () => {
    const s = randomSuffix(5);
    const staticPrefix = randomPrefix();
    const mvName = `mv-${s}`;
    env.createNad({
      name: mvName,
      config: {
        cniVersion: "1.0.0",
        type: "macvlan",
        master: veth.a,
        mode: "bridge",
        capabilities: { ips: true, mac: true },
        ipam: { type: "static" },
      },
    });
    const br = bridgeNad("nad");
    env.createNad({ name: br.name, config: bridgeConflist(br) });
    const staticIp = `${staticPrefix}.50/24`;
    const staticMac = "02:11:22:33:44:55";
    const pod = env.createPod({
      annotations: {
        [NETWORKS]: JSON.stringify([
          { name: mvName, ips: [staticIp], mac: staticMac },
          { name: br.name, namespace: "default", interface: "data1" },
        ]),
      },
    });
    const id = containerId();

    const result = await add(pod, id);

    expect((await ns.links()).sort()).toEqual(["data1", "eth0", "lo", "net1"]);
    const [eth0Ip] = await ns.addrs("eth0");
    const [dataIp] = await ns.addrs("data1");
    expect(eth0Ip).toStartWith(`${env.cluster.prefix}.`);
    expect(dataIp).toStartWith(`${br.prefix}.`);
    expect(await ns.addrs("net1")).toEqual([staticIp]);
    expect(await linkMac(ns.name, "net1")).toBe(staticMac);
    const eth0Mac = await linkMac(ns.name, "eth0");
    const dataMac = await linkMac(ns.name, "data1");

    // The runtime gets the cluster network's result, in its cniVersion.
    expect(result.cniVersion).toBe("1.0.0");
    expect(result.interfaces.find((i: any) => i.sandbox)).toEqual({ name: "eth0", mac: eth0Mac, sandbox: ns.path });
    expect(result.ips).toEqual([{ address: eth0Ip, gateway: `${env.cluster.prefix}.1`, interface: 2 }]);
    expect(result.routes).toEqual([{ dst: "0.0.0.0/0", gw: `${env.cluster.prefix}.1` }]);

    // Byte for byte what Go's json.MarshalIndent per entry, joined by ",", gives.
    expect(env.networkStatus(pod)).toBe(`[{
    "name": "${env.cluster.name}",
    "interface": "eth0",
    "ips": [
        "${ipOf(eth0Ip!)}"
    ],
    "mac": "${eth0Mac}",
    "default": true,
    "dns": {},
    "gateway": [
        "${env.cluster.prefix}.1"
    ]
},{
    "name": "default/${mvName}",
    "interface": "net1",
    "ips": [
        "${staticPrefix}.50"
    ],
    "mac": "${staticMac}",
    "dns": {}
},{
    "name": "default/${br.name}",
    "interface": "data1",
    "ips": [
        "${ipOf(dataIp!)}"
    ],
    "mac": "${dataMac}",
    "dns": {}
}]`);

    const events = await env.events(pod, 3);
    expect(events.map((e) => [e.type, e.reason, e.message]).sort()).toEqual([
      ["Normal", "AddedInterface", `Add data1 [${dataIp}] from default/${br.name}`],
      ["Normal", "AddedInterface", `Add eth0 [${eth0Ip}] from ${env.cluster.name}`],
      ["Normal", "AddedInterface", `Add net1 [${staticIp}] from default/${mvName}`],
    ]);
    for (const e of events) {
      expect(e.involved).toMatchObject({ kind: "Pod", namespace: "default", name: pod.name, uid: pod.uid });
      expect(e.component).toBe("multus");
    }

    // The delegate cache names each network and keeps the requests (Go field names).
    const cache = await readDelegateCacheFile(env.cniDir, id);
    expect(cache?.map((c) => [c.Name, c.ifnameRequest, c.ipRequest, c.macRequest])).toEqual([
      [env.cluster.name, undefined, undefined, undefined],
      [`default/${mvName}`, undefined, [staticIp], staticMac],
      [`default/${br.name}`, "data1", undefined, undefined],
    ]);
    // No default-route anywhere: Go leaves every gateway filter off.
    expect(cache?.map((c) => [c.IsFilterV4Gateway, c.IsFilterV6Gateway])).toEqual([
      [false, false],
      [false, false],
      [false, false],
    ]);

    await del(pod, id);
    await expectNothingAttached(id, [br]);
  });

  test("namespaceIsolation: a NAD in another namespace is refused and nothing is attached; one in the pod's namespace or in default is allowed", async () => {
    const s = randomSuffix(5);
    const br = bridgeNad("iso");
    env.createNad({ namespace: "team-b", name: `other-${s}`, config: bridgeConflist(br) });
    env.createNad({ namespace: "default", name: `shared-${s}`, config: bridgeConflist(br) });
    const conf = { namespaceIsolation: true };

    const bad = env.createPod({ namespace: "team-a", annotations: { [NETWORKS]: `team-b/other-${s}` } });
    const id = containerId();
    const r = await env.cni("ADD", { pod: bad, containerId: id, netns: ns.path, conf });
    expect(r.code, describeRun(r)).toBe(1);
    const err = r.json();
    expect(err.code).toBe(7);
    expect(`${err.msg}: ${err.details ?? ""}`).toContain(
      "GetNetworkDelegates: namespace isolation enabled, annotation violates permission, pod is in namespace team-a but refers to target namespace team-b",
    );
    await expectNothingAttached(id, [br]);
    const del1 = await env.cni("DEL", { pod: bad, containerId: id, netns: ns.path, conf });
    expect(del1.code, describeRun(del1)).toBe(0);

    // `default` is the implicit global namespace.
    const good = env.createPod({ namespace: "team-a", annotations: { [NETWORKS]: `default/shared-${s}` } });
    const id2 = containerId();
    await add(good, id2, conf);
    expect((await ns.links()).sort()).toEqual(["eth0", "lo", "net1"]);
    // Events go out in order: once the allowed pod's are there, the refused one had its chance.
    // A refusal is not a missing network: no NoNetworkFound (Go sends it only when a NAD lookup fails).
    await env.events(good, 2);
    expect(await env.events(bad, 0)).toEqual([]);
    await del(good, id2, conf);
    await expectNothingAttached(id2, [br]);
  });

  test.each([
    ["spec.config that is not JSON", "{not json", 6, "failed to decode spec.config"],
    ["spec.config that is a JSON list", "[1, 2]", 6, "failed to decode spec.config"],
    ["a plugin type with a path", { cniVersion: "1.0.0", type: "../../../bin/sh" }, 7, "invalid plugin type"],
    ["a conflist whose plugins is not a list", { cniVersion: "1.0.0", plugins: "bridge" }, 7, ""],
    ["a conf with neither type nor plugins", { cniVersion: "1.0.0" }, 7, ""],
  ] as const)(
    "a hostile NAD (%s): a CNI error with code %d, nothing attached, the daemon still serving",
    async (_what, config, code, msg) => {
      const name = `hostile-${randomSuffix(5)}`;
      env.createNad({ name, config: config as string | Record<string, unknown> });
      const pod = env.createPod({ annotations: { [NETWORKS]: name } });
      const id = containerId();
      const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
      expect(r.code, describeRun(r)).toBe(1);
      const err = r.json();
      expect(err.code, describeRun(r)).toBe(code);
      expect(err.msg).toContain(msg);
      expect(`${err.msg} ${err.details ?? ""}`).toContain(name);
      await expectNothingAttached(id, []);
      await del(pod, id);
      // The next pod is served as usual.
      const ok = env.createPod({});
      const okId = containerId();
      await add(ok, okId);
      await del(ok, okId);
    },
  );

  test.each([
    ['[{"name": 5}]', 'element 0: field "name"'],
    ['[{"name": "net", "ips": ["not-an-ip"]}]', 'element 0: field "ips[0]"'],
    ["net@this-name-is-far-too-long", "interface"],
    ["a,,b", "element 1"],
  ])(
    "a hostile networks annotation %s: code 7 naming the element and field, nothing attached",
    async (annotation, where) => {
      const pod = env.createPod({ annotations: { [NETWORKS]: annotation } });
      const id = containerId();
      const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
      expect(r.code, describeRun(r)).toBe(1);
      const err = r.json();
      expect(err.code).toBe(7);
      expect(`${err.msg} ${err.details ?? ""}`).toContain(where);
      await expectNothingAttached(id, []);
      await del(pod, id);
    },
  );

  test("a missing NAD: code 7 naming it and its namespace, a NoNetworkFound warning, and nothing attached at all", async () => {
    const missing = `missing-${randomSuffix(5)}`;
    const pod = env.createPod({ annotations: { [NETWORKS]: missing } });
    const id = containerId();
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
    expect(r.code, describeRun(r)).toBe(1);
    const err = r.json();
    expect(err.code).toBe(7);
    expect(err.msg).toContain(`cannot find a network-attachment-definition (${missing}) in namespace (default)`);
    await expectNothingAttached(id, []);
    expect(env.networkStatus(pod)).toBeUndefined();

    const [event] = await env.events(pod, 1);
    expect(event).toMatchObject({ type: "Warning", reason: "NoNetworkFound" });
    expect(event!.message).toBe(
      `cannot find a network-attachment-definition (${missing}) in namespace (default): network-attachment-definitions.k8s.cni.cncf.io "${missing}" not found`,
    );

    // DEL of a sandbox whose ADD failed is fine.
    await del(pod, id);
  });

  test("a malformed networks annotation: Go's words first, then the element and field, and nothing attached", async () => {
    const pod = env.createPod({ annotations: { [NETWORKS]: '[{"name":"a","ips":["10.1.1.300/24"]}]' } });
    const id = containerId();
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
    expect(r.code, describeRun(r)).toBe(1);
    const err = r.json();
    expect(err.code).toBe(7);
    expect(err.msg).toBe(
      `failed to parse CIDR "10.1.1.300/24": invalid CIDR address: 10.1.1.300/24 (invalid networks annotation: element 0: field "ips[0]": "10.1.1.300/24" is not a valid CIDR)`,
    );
    await expectNothingAttached(id, []);
    await del(pod, id);
  });

  test("default-route on a NAD network: its gateway is the pod's only default route, in the netns, the result, network-status and the libcni cache", async () => {
    const br = bridgeNad("gw");
    const gw = `${br.prefix}.1`;
    env.createNad({ name: br.name, config: bridgeConflist(br) });
    const pod = env.createPod({
      annotations: { [NETWORKS]: JSON.stringify([{ name: br.name, "default-route": [gw] }]) },
    });
    const id = containerId();

    const result = await add(pod, id);

    expect(await defaultRoutes(ns.name)).toEqual([`default via ${gw} dev net1`]);
    // The cluster network's result lost its default route (it is what the runtime sees).
    expect(result.routes ?? []).toEqual([]);
    const status = JSON.parse(env.networkStatus(pod)!);
    expect(status.map((s: any) => [s.name, s.interface, s.default ?? false, s.gateway])).toEqual([
      // `default` marks the cluster (master) network, as in Go; `gateway` says where the default route went.
      [env.cluster.name, "eth0", true, undefined],
      [`default/${br.name}`, "net1", false, [gw]],
    ]);
    const eth0Cache = await readLibcniCacheFile({ networkName: env.cluster.name, containerId: id, ifName: "eth0" });
    expect(eth0Cache.result.routes ?? []).toEqual([]);
    const net1Cache = await readLibcniCacheFile({ networkName: br.name, containerId: id, ifName: "net1" });
    expect(net1Cache.result.routes).toEqual([{ dst: "0.0.0.0/0", gw }]);
    expect(net1Cache.netns).toBe(ns.path);
    // The gateway filters as Go's CheckGatewayConfig sets them: the cluster network's gateways
    // are filtered (both families); the network that asked for an IPv4 default route keeps IPv4.
    const delegates = await readDelegateCacheFile(env.cniDir, id);
    expect(delegates?.map((c) => [c.Name, c.IsFilterV4Gateway, c.IsFilterV6Gateway])).toEqual([
      [env.cluster.name, true, true],
      [`default/${br.name}`, false, true],
    ]);

    // CHECK agrees with what is there.
    const check = await env.cni("CHECK", { pod, containerId: id, netns: ns.path });
    expect(check.code, describeRun(check)).toBe(0);

    await del(pod, id);
    await expectNothingAttached(id, [br]);
  });
});

/**
 * A libcni result cache file read as bytes, the way libcni (and so a Go runtime or a Go
 * daemon after a rollback) reads it: <cniDir>/results/<network>-<containerID>-<ifname>,
 * libcni's cachedInfo keys in its order, the config as base64 of the network's conf.
 */
async function readLibcniCacheFile(key: { networkName: string; containerId: string; ifName: string }) {
  const path = join(env.cniDir, "results", `${key.networkName}-${key.containerId}-${key.ifName}`);
  const raw = JSON.parse(await readFile(path, "utf8"));
  const keys = Object.keys(raw);
  const order = [
    "kind",
    "containerId",
    "config",
    "ifName",
    "networkName",
    "netns",
    "cniArgs",
    "capabilityArgs",
    "result",
  ];
  expect(keys).toEqual(order.filter((k) => keys.includes(k)));
  expect(raw).toMatchObject({ kind: "cniCacheV1", containerId: key.containerId, ifName: key.ifName });
  expect(raw.networkName).toBe(key.networkName);
  expect(JSON.parse(Buffer.from(raw.config, "base64").toString("utf8")).name).toBe(key.networkName);
  expect(raw.result).toBeObject();
  return raw as { netns: string; result: { routes?: unknown[] } };
}

describe.skipIf(!canRunE2e)("annotation forms and NAD shapes", () => {
  test("the text form <namespace>/<name>@<ifname> selects a NAD in another namespace under the asked name", async () => {
    const br = bridgeNad("txt");
    env.createNad({ namespace: "net-team", name: br.name, config: bridgeConflist(br) });
    const pod = env.createPod({ annotations: { [NETWORKS]: ` net-team/${br.name}@data7 ` } });
    const id = containerId();
    await add(pod, id);
    expect((await ns.links()).sort()).toEqual(["data7", "eth0", "lo"]);
    const status = JSON.parse(env.networkStatus(pod)!);
    expect(status[1]).toMatchObject({ name: `net-team/${br.name}`, interface: "data7" });
    await del(pod, id);
    await expectNothingAttached(id, [br]);
  });

  test("the same NAD twice: two interfaces, two addresses, both released", async () => {
    const br = bridgeNad("twice");
    env.createNad({ name: br.name, config: bridgeConflist(br) });
    const pod = env.createPod({ annotations: { [NETWORKS]: `${br.name},${br.name}` } });
    const id = containerId();
    await add(pod, id);
    expect((await ns.links()).sort()).toEqual(["eth0", "lo", "net1", "net2"]);
    expect(await storeIps(br.dataDir, br.name)).toHaveLength(2);
    const status = JSON.parse(env.networkStatus(pod)!);
    expect(status.map((x: any) => [x.name, x.interface])).toEqual([
      [env.cluster.name, "eth0"],
      [`default/${br.name}`, "net1"],
      [`default/${br.name}`, "net2"],
    ]);
    await del(pod, id);
    await expectNothingAttached(id, [br]);
  });

  test("two IPv4 default-route requests are ECMP: code 7 before anything is attached", async () => {
    const a = bridgeNad("ecmpa");
    const b = bridgeNad("ecmpb");
    env.createNad({ name: a.name, config: bridgeConflist(a) });
    env.createNad({ name: b.name, config: bridgeConflist(b) });
    const pod = env.createPod({
      annotations: {
        [NETWORKS]: JSON.stringify([
          { name: a.name, "default-route": [`${a.prefix}.1`] },
          { name: b.name, "default-route": [`${b.prefix}.1`] },
        ]),
      },
    });
    const id = containerId();
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.json()).toMatchObject({ code: 7, msg: "multus does not support ECMP for default-route" });
    await expectNothingAttached(id, [a, b]);
  });

  test("a NAD without spec.config takes the conf named like it from confDir", async () => {
    const name = `fromfile-${randomSuffix(5)}`;
    const net: BridgeNet = { name, bridge: "", prefix: randomPrefix(), dataDir: env.dataDir };
    await Bun.write(join(env.confDir, `30-${name}.conf`), JSON.stringify(macvlanConf({ ...net, master: veth.a })));
    env.fake.createNad({ namespace: "default", name });
    const pod = env.createPod({ annotations: { [NETWORKS]: name } });
    const id = containerId();
    await add(pod, id);
    expect((await ns.addrs("net1"))[0]).toStartWith(`${net.prefix}.`);
    expect(JSON.parse(env.networkStatus(pod)!)[1]).toMatchObject({ name: `default/${name}`, interface: "net1" });
    await del(pod, id);
    await expectNothingAttached(id, [net]);
  });
});

describe.skipIf(!canRunE2e)("cluster and default networks from the API", () => {
  test("v1.multus-cni.io/default-network replaces the cluster network with a NAD from multusNamespace", async () => {
    const alt = bridgeNad("alt");
    env.createNad({ namespace: "kube-system", name: alt.name, config: bridgeConflist(alt) });
    const pod = env.createPod({ annotations: { [DEFAULT_NETWORK]: alt.name } });
    const id = containerId();

    const result = await add(pod, id);

    expect(await ns.links()).toEqual(["lo", "eth0"]);
    const [eth0Ip] = await ns.addrs("eth0");
    expect(eth0Ip).toStartWith(`${alt.prefix}.`);
    expect(result.ips[0].address).toBe(eth0Ip);
    const status = JSON.parse(env.networkStatus(pod)!);
    expect(status).toEqual([
      {
        name: `kube-system/${alt.name}`,
        interface: "eth0",
        ips: [ipOf(eth0Ip!)],
        mac: await linkMac(ns.name, "eth0"),
        default: true,
        dns: {},
      },
    ]);
    expect(await storeIps(env.cluster.dataDir, env.cluster.name)).toEqual([]);

    await del(pod, id);
    await expectNothingAttached(id, [alt]);
  });

  test("clusterNetwork and defaultNetworks as NAD names in multusNamespace; systemNamespaces get no defaultNetworks and no network-status", async () => {
    const s = randomSuffix(5);
    const multusNamespace = `multus-${s}`;
    const clu = bridgeNad("cnad");
    env.createNad({ namespace: multusNamespace, name: `cluster-${s}`, config: bridgeConflist(clu) });
    const dn: BridgeNet = { name: `dflt-${s}`, bridge: "", prefix: randomPrefix(), dataDir: env.dataDir };
    env.createNad({ namespace: multusNamespace, name: dn.name, config: macvlanConf({ ...dn, master: veth.a }) });
    const conf = {
      clusterNetwork: `cluster-${s}`,
      defaultNetworks: [dn.name],
      multusNamespace,
      systemNamespaces: ["kube-system", "infra"],
    };

    const pod = env.createPod({});
    const id = containerId();
    await add(pod, id, conf);
    expect((await ns.links()).sort()).toEqual(["eth0", "lo", "net1"]);
    expect((await ns.addrs("eth0"))[0]).toStartWith(`${clu.prefix}.`);
    expect((await ns.addrs("net1"))[0]).toStartWith(`${dn.prefix}.`);
    const status = JSON.parse(env.networkStatus(pod)!);
    expect(status.map((x: any) => [x.name, x.interface, x.default ?? false])).toEqual([
      [`${multusNamespace}/cluster-${s}`, "eth0", true],
      [`${multusNamespace}/${dn.name}`, "net1", false],
    ]);
    await del(pod, id, conf);
    await expectNothingAttached(id, [clu, dn]);

    // A pod in a system namespace: the cluster network only, and no network-status write.
    const sys = env.createPod({ namespace: "infra" });
    const id2 = containerId();
    env.fake.resetCounts();
    await add(sys, id2, conf);
    expect(await ns.links()).toEqual(["lo", "eth0"]);
    expect(env.fake.count("PATCH pods/status")).toBe(0);
    expect(env.networkStatus(sys)).toBeUndefined();
    await del(sys, id2, conf);
    await expectNothingAttached(id2, [clu, dn]);
  });
});

describe.skipIf(!canRunE2e)("what a NAD delegate receives", () => {
  test("cni-args reach args.cni; CNI_ARGS carry the pod and IgnoreUnknown; runtimeConfig only for declared capabilities", async () => {
    const s = randomSuffix(5);
    const recordFile = join(env.dir, `rec-${s}.jsonl`);
    const nadConfig = {
      cniVersion: "1.0.0",
      type: "recorder",
      recordFile,
      capabilities: { ips: true, portMappings: true },
      args: { cni: { keep: "me", over: "old" } },
      result: {
        cniVersion: "1.0.0",
        interfaces: [{ name: "net1", sandbox: "/x" }],
        ips: [{ address: "192.0.2.10/24", interface: 0 }],
      },
    };
    env.createNad({ name: `rec-${s}`, config: nadConfig });
    const selection = {
      name: `rec-${s}`,
      "cni-args": { over: "new", n: 1, nested: { a: [1, 2] } },
      ips: ["192.0.2.10/24"],
      mac: "02:aa:bb:cc:dd:ee",
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
      bandwidth: { ingressRate: 1000, ingressBurst: 2000 },
    };
    const pod = env.createPod({ annotations: { [NETWORKS]: JSON.stringify([selection]) } });
    const id = containerId();

    await add(pod, id);
    await del(pod, id);

    const records = await readRecords(recordFile);
    expect(records.map((r) => r.command)).toEqual(["ADD", "DEL"]);
    const [addRec, delRec] = records as [(typeof records)[0], (typeof records)[0]];
    expect(addRec.conf.name).toBe(`rec-${s}`);
    expect(addRec.conf.args).toEqual({ cni: { keep: "me", over: "new", n: 1, nested: { a: [1, 2] } } });
    expect(addRec.conf.runtimeConfig).toEqual({
      ips: ["192.0.2.10/24"],
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
    });
    const podArgs = `IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${id};K8S_POD_UID=${pod.uid}`;
    expect(addRec.env).toMatchObject({
      CNI_COMMAND: "ADD",
      CNI_CONTAINERID: id,
      CNI_NETNS: ns.path,
      CNI_IFNAME: "net1",
      CNI_ARGS: `${podArgs};MAC=02:aa:bb:cc:dd:ee;IP=192.0.2.10/24`,
    });
    expect(addRec.env.CNI_PATH?.split(":")[0]).toBe(env.binDir);
    // DEL: the same config and runtimeConfig, no MAC/IP requests.
    expect(delRec.conf.args).toEqual(addRec.conf.args);
    expect(delRec.conf.runtimeConfig).toEqual(addRec.conf.runtimeConfig);
    expect(delRec.env).toMatchObject({ CNI_COMMAND: "DEL", CNI_IFNAME: "net1", CNI_ARGS: podArgs });
    await expectNothingAttached(id, []);
  });
});
