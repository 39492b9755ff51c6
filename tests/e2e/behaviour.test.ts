// One behaviour suite, two ways in (STYLE "One behaviour, several paths"):
// the same tests run against the thick plugin (compiled shim -> daemon whose
// config holds the Multus keys) and the thin plugin (the binary installed as
// `multus`, everything in its stdin conf). Both reach the fake Kubernetes API
// server through a generated kubeconfig; delegates are Debian's bridge,
// macvlan and host-local in real namespaces.
//
// Every outcome whose text does not depend on per-run values (errors, the
// placeholder result, VERSION, the printed ADD result with addresses and names
// replaced) is recorded per invoker, and the last block checks that thin and
// thick printed the same bytes and exit codes.
//
// Left out on purpose, because the modes differ there by design:
// - an unreachable daemon exists only in thick (tests/e2e/daemon-lifecycle.test.ts);
// - the daemon's informers: thick reads a known pod and its NADs from its cache
//   (tests/e2e/k8s-api.test.ts counts the requests), so with the API down it
//   attaches and fails at the network-status write after apiTimeoutSeconds,
//   while thin's live GET fails within podLookupTimeoutSeconds (both code 11);
// - no CNI_COMMAND at all: `multus-shim` prints the CNI "about" text (exit 0),
//   while `multus` with no arguments is the CLI and prints its usage (exit 1).
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  PLUGIN_DIR,
  bridgeConflist,
  canRunE2e,
  containerId,
  deleteBridge,
  exists,
  macvlanConf,
  randomPrefix,
  readDelegateCacheFile,
  resultCacheEntries,
  storeIps,
  writeJson,
  type BridgeNet,
  type MacvlanNet,
  bridgeNet,
} from "../helpers/e2e.ts";
import { startFakeKube, type FakeKube, type RecordedEvent } from "../helpers/fake-kube.ts";
import { allInvokers, type Invoker, type InvokerCall, type InvokerName } from "../helpers/invokers.ts";
import { describeRun, linkMac, withGateway } from "../helpers/k8s-e2e.ts";
import { runCni, type ShimRun } from "../helpers/multus.ts";
import {
  createCleanup,
  createNetns,
  createVethPair,
  deleteLink,
  deleteNetns,
  randomSuffix,
  type NetnsFixture,
} from "../helpers/netns.ts";

const NODE = "node-behaviour";
const NETWORKS = "k8s.v1.cni.cncf.io/networks";
const NETWORK_STATUS = "k8s.v1.cni.cncf.io/network-status";
/** The same missing NAD name in both suites, so their error text can be compared. */
const MISSING_NAD = `missing-${randomSuffix(5)}`;

// ---------------------------------------------------------------------------
// What each invoker printed, for the comparison at the end.

const outcomes = new Map<string, Partial<Record<InvokerName, string>>>();

/** Records `run` under `key` with every per-run value replaced by its placeholder. */
function record(inv: Invoker, key: string, run: ShimRun, values: Record<string, string>): void {
  let text = `exit ${run.code}\n${run.stdout}`;
  // Longest first, so a value that contains another is replaced whole.
  for (const [value, placeholder] of Object.entries(values).sort((a, b) => b[0].length - a[0].length)) {
    if (value) text = text.replaceAll(value, placeholder);
  }
  outcomes.set(key, { ...outcomes.get(key), [inv.name]: text });
}

// ---------------------------------------------------------------------------
// The suite

interface Pod {
  namespace: string;
  name: string;
  uid: string;
}

function podArgs(pod: Pod, id: string, uid = pod.uid): string {
  return `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${id};K8S_POD_UID=${uid}`;
}

function behaviourSuite(inv: Invoker): void {
  const cleanup = createCleanup();
  let fake: FakeKube;
  let cniDir: string;
  let dataDir: string;
  let cluster: BridgeNet;
  let veth: { a: string; b: string };

  beforeAll(async () => {
    fake = await startFakeKube();
    cleanup.add(() => fake.stop());
    const dir = await mkdtemp(join(tmpdir(), `multus-behaviour-${inv.name}-`));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    cniDir = join(dir, "cache");
    dataDir = join(dir, "ipam");
    const confDir = join(dir, "net.d");
    await mkdir(confDir);
    cluster = bridgeNet("beh", dataDir);
    cleanup.add(() => deleteBridge(cluster.bridge));
    const clusterFile = await writeJson(
      join(confDir, "10-cluster.conflist"),
      withGateway(bridgeConflist(cluster), cluster),
    );
    veth = await createVethPair("mtb");
    cleanup.add(() => deleteLink(veth.a));
    await inv.setup({
      config: {
        cniDir,
        confDir,
        binDir: PLUGIN_DIR,
        clusterNetwork: clusterFile,
        kubeconfig: fake.writeKubeconfig(join(dir, "kubeconfig")),
        logToStderr: true,
        logLevel: "verbose",
      },
      nodeName: NODE,
    });
    cleanup.add(() => inv.teardown());
  });
  afterAll(() => cleanup.run());

  let ns: NetnsFixture;
  beforeEach(async () => {
    ns = await createNetns("mtb");
  });
  afterEach(async () => {
    await deleteNetns(ns.name);
  });

  const createPod = (annotations?: Record<string, string>): Pod => {
    const pod = { namespace: "default", name: `pod-${randomSuffix(6)}`, uid: crypto.randomUUID() };
    fake.createPod({ ...pod, nodeName: NODE, annotations });
    return pod;
  };

  /** A macvlan + host-local NAD on the veth in namespace default. */
  const createMacvlanNad = (): MacvlanNet => {
    const net = { name: `mv-${randomSuffix(5)}`, master: veth.a, prefix: randomPrefix(), dataDir };
    fake.createNad({ namespace: "default", name: net.name, config: JSON.stringify(macvlanConf(net)) });
    return net;
  };

  const cni = (command: string, pod: Pod | undefined, id: string, extra: Partial<InvokerCall> = {}) =>
    inv.cni({ command, containerId: id, netns: ns.path, args: pod ? podArgs(pod, id) : undefined, ...extra });

  const ok = async (
    command: string,
    pod: Pod | undefined,
    id: string,
    extra: Partial<InvokerCall> = {},
  ): Promise<ShimRun> => {
    const r = await cni(command, pod, id, extra);
    expect(r.code, `${inv.name} ${command}: ${describeRun(r)}\n${inv.logs()}`).toBe(0);
    return r;
  };

  const networkStatus = (pod: Pod) => fake.getPod(pod.namespace, pod.name)?.metadata.annotations?.[NETWORK_STATUS];

  /** Events about the pod, once at least `min` have arrived. */
  const events = async (pod: Pod, min: number): Promise<RecordedEvent[]> => {
    const about = () =>
      fake.events().filter((e) => e.involved?.name === pod.name && e.involved?.namespace === pod.namespace);
    const deadline = Date.now() + 5_000;
    while (about().length < min && Date.now() < deadline) await Bun.sleep(20);
    return about();
  };

  /** Nothing of container `id` is left: only lo, no address held, no caches. */
  const expectNothingAttached = async (id: string, nets: Array<{ name: string; dataDir: string }> = []) => {
    expect(await ns.links()).toEqual(["lo"]);
    for (const net of [cluster, ...nets]) expect(await storeIps(net.dataDir, net.name)).toEqual([]);
    expect(await exists(join(cniDir, id))).toBe(false);
    expect(await resultCacheEntries(cniDir, id)).toEqual([]);
  };

  const ipOf = (cidr: string) => cidr.split("/")[0]!;

  for (const cniVersion of ["0.3.1", "1.0.0"]) {
    test(`static cluster network in cniVersion ${cniVersion}: ADD (result in ${cniVersion}, network-status, event), CHECK, DEL, DEL`, async () => {
      const pod = createPod();
      const id = containerId();
      const add = await ok("ADD", pod, id, { cniVersion });
      expect(add.stdout).not.toEndWith("\n");

      expect(await ns.links()).toEqual(["lo", "eth0"]);
      const [eth0] = await ns.addrs("eth0");
      expect(eth0).toStartWith(`${cluster.prefix}.`);
      expect(await storeIps(dataDir, cluster.name)).toEqual([ipOf(eth0!)]);
      const mac = await linkMac(ns.name, "eth0");
      const gw = `${cluster.prefix}.1`;

      // The cluster network's result in the conf's version, printed with 4-space indent.
      const result = add.json();
      expect(add.stdout).toBe(JSON.stringify(result, null, 4));
      expect(result.cniVersion).toBe(cniVersion);
      const ifaces = result.interfaces as Array<{ name: string; mac?: string; sandbox?: string }>;
      const eth0Index = ifaces.findIndex((i) => i.name === "eth0");
      expect(ifaces[eth0Index]).toEqual({ name: "eth0", mac, sandbox: ns.path });
      expect(ifaces.map((i) => i.name)).toContain(cluster.bridge);
      const ip = { address: eth0, gateway: gw, interface: eth0Index };
      expect(result.ips).toEqual([cniVersion === "1.0.0" ? ip : { version: "4", ...ip }]);
      expect(result.routes).toEqual([{ dst: "0.0.0.0/0", gw }]);
      if (cniVersion === "1.0.0") expect(result.dns).toBeUndefined();
      else expect(result.dns).toEqual({});

      const hostVeth = ifaces.find((i) => i.name !== "eth0" && i.name !== cluster.bridge)!;
      record(inv, `static cluster ADD ${cniVersion}`, add, {
        [ns.path]: "<netns>",
        [eth0!]: "<eth0-cidr>",
        [gw]: "<gw>",
        [cluster.bridge]: "<bridge>",
        [mac]: "<mac>",
        [ifaces.find((i) => i.name === cluster.bridge)!.mac!]: "<bridge-mac>",
        [hostVeth.name]: "<host-veth>",
        [hostVeth.mac!]: "<host-veth-mac>",
      });

      expect(networkStatus(pod)).toBe(`[{
    "name": "${cluster.name}",
    "interface": "eth0",
    "ips": [
        "${ipOf(eth0!)}"
    ],
    "mac": "${mac}",
    "default": true,
    "dns": {},
    "gateway": [
        "${gw}"
    ]
}]`);
      const [event] = await events(pod, 1);
      expect(event).toMatchObject({
        type: "Normal",
        reason: "AddedInterface",
        message: `Add eth0 [${eth0}] from ${cluster.name}`,
      });
      expect(event!.involved).toMatchObject({ kind: "Pod", namespace: "default", name: pod.name, uid: pod.uid });

      const check = await cni("CHECK", pod, id, { cniVersion });
      record(inv, `static cluster CHECK ${cniVersion}`, check, {});
      if (cniVersion === "0.3.1") {
        expect(check.code).toBe(1);
        expect(check.json()).toMatchObject({ code: 1, msg: "config version does not allow CHECK" });
      } else {
        expect(check.code, describeRun(check)).toBe(0);
        expect(check.stdout).toBe("");
      }

      for (let i = 0; i < 2; i++) {
        const del = await ok("DEL", pod, id, { cniVersion });
        expect(del.stdout).toBe("");
        await expectNothingAttached(id);
      }
    });
  }

  test("a pod with a NAD network (macvlan): net1 from the NAD, the exact network-status, events, CHECK, DEL releases both", async () => {
    const mv = createMacvlanNad();
    const pod = createPod({ [NETWORKS]: mv.name });
    const id = containerId();
    const add = await ok("ADD", pod, id);

    expect((await ns.links()).sort()).toEqual(["eth0", "lo", "net1"]);
    const [eth0] = await ns.addrs("eth0");
    const [net1] = await ns.addrs("net1");
    expect(eth0).toStartWith(`${cluster.prefix}.`);
    expect(net1).toStartWith(`${mv.prefix}.`);
    expect(await storeIps(dataDir, mv.name)).toEqual([ipOf(net1!)]);
    const eth0Mac = await linkMac(ns.name, "eth0");
    const net1Mac = await linkMac(ns.name, "net1");

    // The runtime still gets the cluster network's result only.
    const result = add.json();
    expect(result.interfaces.map((i: { name: string }) => i.name)).not.toContain("net1");
    expect(result.ips.map((i: { address: string }) => i.address)).toEqual([eth0]);

    expect(networkStatus(pod)).toBe(`[{
    "name": "${cluster.name}",
    "interface": "eth0",
    "ips": [
        "${ipOf(eth0!)}"
    ],
    "mac": "${eth0Mac}",
    "default": true,
    "dns": {},
    "gateway": [
        "${cluster.prefix}.1"
    ]
},{
    "name": "default/${mv.name}",
    "interface": "net1",
    "ips": [
        "${ipOf(net1!)}"
    ],
    "mac": "${net1Mac}",
    "dns": {}
}]`);
    const evs = await events(pod, 2);
    expect(evs.map((e) => [e.type, e.reason, e.message]).sort()).toEqual([
      ["Normal", "AddedInterface", `Add eth0 [${eth0}] from ${cluster.name}`],
      ["Normal", "AddedInterface", `Add net1 [${net1}] from default/${mv.name}`],
    ]);
    expect((await readDelegateCacheFile(cniDir, id))?.map((d) => d.Name)).toEqual([cluster.name, `default/${mv.name}`]);

    const check = await ok("CHECK", pod, id);
    expect(check.stdout).toBe("");
    await ok("DEL", pod, id);
    await expectNothingAttached(id, [mv]);
  });

  test("a missing NAD: code 7 naming it, a NoNetworkFound warning, nothing attached; DEL is fine", async () => {
    const pod = createPod({ [NETWORKS]: MISSING_NAD });
    const id = containerId();
    const r = await cni("ADD", pod, id);
    record(inv, "missing NAD ADD", r, { [pod.name]: "<pod>", [pod.uid]: "<uid>", [id]: "<id>", [ns.path]: "<netns>" });
    expect(r.code, describeRun(r)).toBe(1);
    const err = r.json();
    expect(err.code).toBe(7);
    expect(err.msg).toContain(`cannot find a network-attachment-definition (${MISSING_NAD}) in namespace (default)`);
    await expectNothingAttached(id);
    expect(networkStatus(pod)).toBeUndefined();

    const [event] = await events(pod, 1);
    expect(event).toMatchObject({ type: "Warning", reason: "NoNetworkFound" });
    expect(event!.message).toContain(
      `cannot find a network-attachment-definition (${MISSING_NAD}) in namespace (default)`,
    );

    const del = await ok("DEL", pod, id);
    expect(del.stdout).toBe("");
  });

  test("DEL after the pod and its NAD were deleted from the API releases every IP from the delegate cache; DEL twice is fine", async () => {
    const mv = createMacvlanNad();
    const pod = createPod({ [NETWORKS]: mv.name });
    const id = containerId();
    await ok("ADD", pod, id);
    expect((await ns.links()).sort()).toEqual(["eth0", "lo", "net1"]);
    expect(await storeIps(dataDir, mv.name)).toHaveLength(1);

    fake.deletePod(pod.namespace, pod.name);
    fake.deleteNad("default", mv.name);
    await ok("DEL", pod, id);
    await expectNothingAttached(id, [mv]);
    await ok("DEL", pod, id);
    await expectNothingAttached(id, [mv]);
  });

  test("DEL from the delegate cache while the API server refuses connections: everything released", async () => {
    const mv = createMacvlanNad();
    const pod = createPod({ [NETWORKS]: mv.name });
    const id = containerId();
    await ok("ADD", pod, id);
    await fake.setDown(true, "refuse");
    try {
      // Neither mode waits for the API (podLookupTimeoutSeconds is 5 s).
      expect((await ok("DEL", pod, id)).ms).toBeLessThan(2_000);
    } finally {
      await fake.setDown(false);
    }
    await expectNothingAttached(id, [mv]);
  });

  test("DEL without the delegate cache while the pod exists: its networks are rebuilt from the API and released", async () => {
    const mv = createMacvlanNad();
    const pod = createPod({ [NETWORKS]: mv.name });
    const id = containerId();
    await ok("ADD", pod, id);
    await rm(join(cniDir, id));
    await ok("DEL", pod, id);
    await expectNothingAttached(id, [mv]);
  });

  for (const cniVersion of ["0.3.1", "1.0.0"]) {
    test(`a pod the API does not know: the placeholder result in ${cniVersion}, nothing attached, no write; DEL is fine`, async () => {
      const ghost = { namespace: "default", name: `ghost-${randomSuffix(6)}`, uid: crypto.randomUUID() };
      const id = containerId();
      const r = await ok("ADD", ghost, id, { cniVersion });
      record(inv, `placeholder ${cniVersion}`, r, { [ns.path]: "<netns>" });
      const { dns, ...rest } = r.json();
      const ip = { address: "0.0.0.0/0", gateway: "0.0.0.0" };
      expect(rest).toEqual({
        cniVersion,
        interfaces: [{ name: "eth0", sandbox: ns.path }],
        ips: [cniVersion === "1.0.0" ? ip : { version: "4", ...ip }],
      });
      expect(dns ?? {}).toEqual({});
      await expectNothingAttached(id);
      expect(fake.getPod(ghost.namespace, ghost.name)).toBeUndefined();
      await ok("DEL", ghost, id, { cniVersion });
    });
  }

  test("a runtime UID that is not the API's: refused with the same message, nothing attached", async () => {
    const pod = createPod();
    const id = containerId();
    const runtimeUid = crypto.randomUUID();
    const r = await cni("ADD", pod, id, { args: podArgs(pod, id, runtimeUid) });
    record(inv, "UID mismatch", r, {
      [pod.uid]: "<api-uid>",
      [runtimeUid]: "<runtime-uid>",
      [pod.name]: "<pod>",
      [id]: "<id>",
    });
    expect(r.code, describeRun(r)).toBe(1);
    expect(r.json().msg).toBe(`expected pod UID "${runtimeUid}" but got "${pod.uid}" from Kube API`);
    await expectNothingAttached(id);
  });

  describe("bad input from the runtime: a CNI error on stdout, exit 1", () => {
    test("stdin that is not JSON: code 6", async () => {
      const r = await cni("ADD", undefined, containerId(), { stdin: "this is not json" });
      record(inv, "stdin not JSON", r, {});
      expect(r.code).toBe(1);
      expect(r.json()).toMatchObject({ code: 6, msg: "failed to decode network configuration" });
    });

    test("a conf without a name: code 7", async () => {
      const { name: _, ...conf } = inv.conf();
      const r = await cni("ADD", undefined, containerId(), { stdin: conf });
      record(inv, "no name", r, {});
      expect(r.code).toBe(1);
      expect(r.json()).toEqual({ cniVersion: "1.0.0", code: 7, msg: "missing network name" });
    });

    test("a cniVersion we do not speak: code 1", async () => {
      const r = await cni("ADD", undefined, containerId(), { cniVersion: "9.9.9" });
      record(inv, "unknown cniVersion", r, {});
      expect(r.code).toBe(1);
      expect(r.json().code).toBe(1);
    });

    test("missing env vars: code 4 naming all of them", async () => {
      const add = await cni("ADD", undefined, containerId(), { omit: ["CNI_NETNS", "CNI_PATH"] });
      record(inv, "missing env ADD", add, {});
      expect(add.code).toBe(1);
      expect(add.json()).toMatchObject({ code: 4, msg: "required env variables [CNI_NETNS,CNI_PATH] missing" });
      const del = await cni("DEL", undefined, "");
      record(inv, "missing env DEL", del, {});
      expect(del.code).toBe(1);
      expect(del.json()).toMatchObject({ code: 4, msg: "required env variables [CNI_CONTAINERID] missing" });
    });

    test.each([["eth0:1"], ["a-name-of-16-chr"], [".."]])("CNI_IFNAME %p: code 4", async (ifname) => {
      const id = containerId();
      const r = await cni("ADD", undefined, id, { ifname });
      record(inv, `ifname ${ifname}`, r, {});
      expect(r.code).toBe(1);
      expect(r.json()).toMatchObject({ code: 4, msg: "invalid CNI_IFNAME" });
      expect(await ns.links()).toEqual(["lo"]);
    });

    test("an unknown CNI_COMMAND: code 4", async () => {
      const r = await cni("FROB", undefined, containerId());
      record(inv, "unknown command", r, {});
      expect(r.code).toBe(1);
      expect(r.json().code).toBe(4);
    });
  });

  test("a delegate's own error (macvlan on a master that does not exist): its code and msg unchanged, the cluster network rolled back", async () => {
    const net = { name: `bad-${randomSuffix(5)}`, master: `nx${randomSuffix(8)}`, prefix: randomPrefix(), dataDir };
    fake.createNad({ namespace: "default", name: net.name, config: JSON.stringify(macvlanConf(net)) });
    const pod = createPod({ [NETWORKS]: net.name });
    const id = containerId();
    const r = await cni("ADD", pod, id);
    record(inv, "delegate error", r, {
      [pod.name]: "<pod>",
      [pod.uid]: "<uid>",
      [id]: "<id>",
      [ns.path]: "<netns>",
      [net.name]: "<nad>",
      [net.master]: "<master>",
    });
    expect(r.code, describeRun(r)).toBe(1);
    // What macvlan itself says, run directly as a runtime would (it fails before touching anything).
    const direct = await runCni(join(PLUGIN_DIR, "macvlan"), {
      command: "ADD",
      containerId: "direct",
      netns: ns.path,
      ifname: "net1",
      stdin: macvlanConf(net),
    });
    const own = direct.json();
    const err = r.json();
    expect(err.code).toBe(own.code);
    expect(err.msg).toBe(own.msg);
    expect(err.details).toContain(`error adding container to network "default/${net.name}"`);
    await expectNothingAttached(id, [net]);
    // DEL rebuilds the networks from the pod (the cache went with the rollback); macvlan's own
    // DEL fails on the missing master again, but nothing was cached as attached: DEL succeeds,
    // so the runtime is not left retrying a sandbox with nothing on it.
    const del = await cni("DEL", pod, id);
    record(inv, "DEL after a delegate error", del, {
      [pod.name]: "<pod>",
      [pod.uid]: "<uid>",
      [id]: "<id>",
      [net.name]: "<nad>",
    });
    expect(del.code, describeRun(del)).toBe(0);
    expect(await exists(join(cniDir, id))).toBe(false);
    expect(await ns.links()).toEqual(["lo"]);
    expect(await storeIps(dataDir, cluster.name)).toEqual([]);
  });

  test("GC (1.1.0 conf): a cached attachment missing from cni.dev/valid-attachments is released, a listed one is kept", async () => {
    const pods = [createPod(), createPod()];
    const ids = [containerId(), containerId()];
    const other = await createNetns("mtb");
    try {
      await ok("ADD", pods[0], ids[0]!);
      await ok("ADD", pods[1], ids[1]!, { netns: other.path });
      const kept = await ns.addrs("eth0");
      const stdin = { ...inv.conf("1.1.0"), "cni.dev/valid-attachments": [{ containerID: ids[0], ifname: "eth0" }] };
      const gc = await inv.cni({ command: "GC", stdin });
      record(inv, "GC", gc, {});
      expect(gc.code, describeRun(gc)).toBe(0);
      expect(gc.stdout).toBe("");
      expect(await exists(join(cniDir, ids[1]!))).toBe(false);
      expect(await storeIps(dataDir, cluster.name)).toEqual(kept.map(ipOf));
      expect(await exists(join(cniDir, ids[0]!))).toBe(true);
      await ok("DEL", pods[0], ids[0]!);
      await expectNothingAttached(ids[0]!);
    } finally {
      await deleteNetns(other.name);
    }
  });

  test("STATUS (1.1.0 conf): the cluster network is there, nothing printed", async () => {
    const r = await inv.cni({ command: "STATUS", cniVersion: "1.1.0" });
    record(inv, "STATUS", r, {});
    expect(r.code, describeRun(r)).toBe(0);
    expect(r.stdout).toBe("");
  });

  test("VERSION: the versions we speak", async () => {
    const r = await ok("VERSION", undefined, "", { stdin: "{}" });
    record(inv, "VERSION", r, {});
    expect(JSON.parse(r.stdout)).toEqual({
      cniVersion: "1.1.0",
      supportedVersions: ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"],
    });
  });
}

for (const inv of allInvokers()) describe.skipIf(!canRunE2e)(`behaviour (${inv.name})`, () => behaviourSuite(inv));

describe.skipIf(!canRunE2e)("thin and thick agree", () => {
  test("every recorded outcome is the same bytes and exit code in both", () => {
    expect(outcomes.size).toBeGreaterThan(0);
    for (const [key, by] of outcomes) {
      expect(by.thick, `${key}: thick`).toBeDefined();
      expect(by.thin, `${key}: thin`).toBeDefined();
      expect(`${key}\n${by.thin}`).toBe(`${key}\n${by.thick}`);
    }
  });
});
