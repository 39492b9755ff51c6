// namespaceIsolation through the compiled shim and daemon, for every way a pod
// can name a NAD: the networks annotation as text (`ns/name@if`) and as JSON
// (`"namespace"`), and the default-network override in both forms. The
// cluster's own networks (clusterNetwork, defaultNetworks) come from the
// config and are looked up in multusNamespace: isolation does not apply to
// them, as in Go. Go leaves the override unchecked; we check it, allowing
// multusNamespace too (where an unqualified override is looked up).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import {
  bridgeConflist,
  bridgeNet,
  type BridgeNet,
  canRunE2e,
  containerId,
  deleteBridge,
  exists,
  netnsPerTest,
  storeIps,
} from "../helpers/e2e.ts";
import { describeRun, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";
import { randomSuffix } from "../helpers/netns.ts";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";
const DEFAULT_NETWORK = "v1.multus-cni.io/default-network";
const GO_REFUSAL = "GetNetworkDelegates: namespace isolation enabled, annotation violates permission";
const OVERRIDE_REFUSAL = "namespace isolation enabled, the default-network annotation violates permission";

let env: K8sEnv;
let net: BridgeNet;
const s = randomSuffix(5);
/** One NAD of this name in each namespace the table names. */
const NAD = `iso-${s}`;
const NAMESPACES = ["team-a", "team-b", "team-c", "default", "kube-system", `multus-${s}`];

beforeAll(async () => {
  if (!canRunE2e) return;
  env = await startK8sEnv();
  net = bridgeNet("iso", env.dataDir);
  env.cleanup.add(() => deleteBridge(net.bridge));
  for (const namespace of NAMESPACES) env.createNad({ namespace, name: NAD, config: bridgeConflist(net) });
});
afterAll(() => env?.stop());

const ns = netnsPerTest("mti");

type Expect = { refused: string; names?: never } | { refused?: never; links: string[] };

const json = (v: unknown) => JSON.stringify(v);
const ISO = { namespaceIsolation: true };

const cases: Array<[string, Record<string, string>, Record<string, unknown>, Expect]> = [
  [
    "text, another namespace",
    { [NETWORKS]: `team-b/${NAD}` },
    ISO,
    { refused: `${GO_REFUSAL}, pod is in namespace team-a but refers to target namespace team-b` },
  ],
  ["text with @interface, another namespace", { [NETWORKS]: `team-b/${NAD}@net7` }, ISO, { refused: GO_REFUSAL }],
  ["text, the second of two", { [NETWORKS]: `${NAD},team-b/${NAD}` }, ISO, { refused: GO_REFUSAL }],
  ["JSON, another namespace", { [NETWORKS]: json([{ name: NAD, namespace: "team-b" }]) }, ISO, { refused: GO_REFUSAL }],
  [
    "JSON, multusNamespace is not exempt for the annotation",
    { [NETWORKS]: json([{ name: NAD, namespace: "kube-system" }]) },
    ISO,
    { refused: GO_REFUSAL },
  ],
  [
    "default-network override as text, another namespace",
    { [DEFAULT_NETWORK]: `team-b/${NAD}` },
    ISO,
    { refused: `${OVERRIDE_REFUSAL}, pod is in namespace team-a but refers to target namespace team-b` },
  ],
  [
    "default-network override as JSON, another namespace",
    { [DEFAULT_NETWORK]: json([{ name: NAD, namespace: "team-b" }]) },
    ISO,
    { refused: OVERRIDE_REFUSAL },
  ],
  [
    "globalNamespaces replaces default",
    { [NETWORKS]: `default/${NAD}` },
    { ...ISO, globalNamespaces: "team-c" },
    { refused: GO_REFUSAL },
  ],
  ["text, the pod's own namespace", { [NETWORKS]: NAD }, ISO, { links: ["eth0", "lo", "net1"] }],
  [
    "JSON, the pod's own namespace spelled out",
    { [NETWORKS]: json([{ name: NAD, namespace: "team-a", interface: "net7" }]) },
    ISO,
    { links: ["eth0", "lo", "net7"] },
  ],
  [
    "text, default (the implicit global namespace)",
    { [NETWORKS]: `default/${NAD}` },
    ISO,
    { links: ["eth0", "lo", "net1"] },
  ],
  [
    "JSON, a namespace of globalNamespaces",
    { [NETWORKS]: json([{ name: NAD, namespace: "team-c" }]) },
    { ...ISO, globalNamespaces: "team-c, team-d" },
    { links: ["eth0", "lo", "net1"] },
  ],
  ["override unqualified: multusNamespace", { [DEFAULT_NETWORK]: NAD }, ISO, { links: ["eth0", "lo"] }],
  ["override in the pod's own namespace", { [DEFAULT_NETWORK]: `team-a/${NAD}` }, ISO, { links: ["eth0", "lo"] }],
  [
    "isolation off: another namespace is allowed",
    { [NETWORKS]: `team-b/${NAD}`, [DEFAULT_NETWORK]: `team-b/${NAD}` },
    {},
    { links: ["eth0", "lo", "net1"] },
  ],
  [
    "clusterNetwork and defaultNetworks from multusNamespace are exempt",
    {},
    { ...ISO, clusterNetwork: NAD, defaultNetworks: [NAD], multusNamespace: `multus-${s}` },
    { links: ["eth0", "lo", "net1"] },
  ],
];

describe.skipIf(!canRunE2e)("namespaceIsolation for every way a pod names a NAD (pod in team-a)", () => {
  test.each(cases)("%s", async (_what, annotations, conf, want) => {
    const pod = env.createPod({ namespace: "team-a", annotations });
    const id = containerId();
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path, conf });
    if (want.refused !== undefined) {
      expect(r.code, describeRun(r)).toBe(1);
      const err = r.json();
      expect(err.code).toBe(7);
      expect(err.msg).toContain(want.refused);
      // Refused before any delegate ran: not even the cluster network is attached.
      expect(await ns.links()).toEqual(["lo"]);
      expect(await storeIps(env.cluster.dataDir, env.cluster.name)).toEqual([]);
    } else {
      expect(r.code, describeRun(r)).toBe(0);
      expect((await ns.links()).sort()).toEqual(want.links);
    }
    const d = await env.cni("DEL", { pod, containerId: id, netns: ns.path, conf });
    expect(d.code, describeRun(d)).toBe(0);
    expect(await ns.links()).toEqual(["lo"]);
    expect(await storeIps(net.dataDir, net.name)).toEqual([]);
    expect(await exists(join(env.cniDir, id))).toBe(false);
  });
});
