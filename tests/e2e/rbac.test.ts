// The ClusterRoles in deployments/ grant exactly what the code calls: a
// representative run of the compiled daemon against the fake API (informer
// list and watch, ADD with NADs, a NAD that is missing, a pod the caches do not
// hold, a pod whose DRA claim serves a NAD's resourceName, the network-status
// patch, events, DEL) and the grant every request it made needs, compared with
// the thick role; the same for the thin plugin (live reads only, no informers)
// and the thin role. A call the role lacks fails on a
// real cluster with 403; a grant no call needs is privilege to take away.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import {
  bridgeConflist,
  bridgeNet,
  canRunE2e,
  containerId,
  deleteBridge,
  netnsPerTest,
  PLUGIN_DIR,
  writeJson,
} from "../helpers/e2e.ts";
import { startFakeKube, type FakeKube } from "../helpers/fake-kube.ts";
import { thinInvoker } from "../helpers/invokers.ts";
import { describeRun, NODE, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";
import { createCleanup, randomSuffix } from "../helpers/netns.ts";
import { startPodResourcesServer, type PodResourcesServer } from "../helpers/pod-resources-server.ts";
import { grantOf, grants } from "../helpers/rbac.ts";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";
const THICK = resolve(import.meta.dir, "../../deployments/multus-daemonset-thick.yml");
const THIN = resolve(import.meta.dir, "../../deployments/multus-daemonset.yml");

let env: K8sEnv;
let kubelet: PodResourcesServer;
let kubeletDir: string;
beforeAll(async () => {
  if (!canRunE2e) return;
  kubeletDir = await mkdtemp(join(tmpdir(), "multus-rbac-kubelet-"));
  kubelet = await startPodResourcesServer(join(kubeletDir, "kubelet.sock"));
  env = await startK8sEnv({ fake: { resourceApi: true }, daemonConfig: { podResourcesSocket: kubelet.socketPath } });
});
afterAll(async () => {
  await env?.stop();
  await kubelet?.stop();
  if (kubeletDir) await rm(kubeletDir, { recursive: true, force: true });
});

const ns = netnsPerTest("mtr");

/** A DRA claim `claim-<s>` allocated one device of `sriov_nic_1` on `node`, and the node's ResourceSlice publishing it. */
function draObjects(fake: FakeKube, s: string, node: string): void {
  const driver = "vf.example.com";
  fake.createResourceClaim({
    metadata: { name: `claim-${s}`, namespace: "default" },
    status: { allocation: { devices: { results: [{ request: "vf", driver, pool: node, device: "vf-1" }] } } },
  });
  fake.createResourceSlice({
    metadata: { name: `slice-${s}` },
    spec: {
      driver,
      nodeName: node,
      pool: { name: node, generation: 1, resourceSliceCount: 1 },
      devices: [
        {
          name: "vf-1",
          attributes: {
            "k8s.cni.cncf.io/deviceID": { string: "0000:04:00.1" },
            "k8s.cni.cncf.io/resourceName": { string: "sriov_nic_1" },
          },
        },
      ],
    },
  });
}
const claimStatus = (s: string) => ({
  phase: "Pending",
  resourceClaimStatuses: [{ name: "vf", resourceClaimName: `claim-${s}` }],
});

function clusterRole(file = THICK): Record<string, any> {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  const all = (Array.isArray(docs) ? docs : [docs]).map((d) => d.toJS());
  return all.find((o) => o?.kind === "ClusterRole");
}

describe.skipIf(!canRunE2e)("the thick ClusterRole", () => {
  test("grants exactly the verbs and resources a representative run called", async () => {
    const s = randomSuffix(5);
    const net = bridgeNet("rbac", env.dataDir);
    env.cleanup.add(() => deleteBridge(net.bridge));
    env.createNad({ name: `rbac-${s}`, config: bridgeConflist(net) });

    // ADD with a NAD and a missing one (NoNetworkFound), then DEL.
    const pod = env.createPod({ annotations: { [NETWORKS]: `rbac-${s}` } });
    const id = containerId();
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
    expect(r.code, describeRun(r)).toBe(0);
    await env.events(pod, 2);
    const missing = env.createPod({ annotations: { [NETWORKS]: `absent-${s}` } });
    const r2 = await env.cni("ADD", { pod: missing, containerId: containerId(), netns: ns.path });
    expect(r2.code, describeRun(r2)).toBe(1);
    await env.events(missing, 1);
    // A pod the caches do not hold: the live GET (it is not found; ADD gets the placeholder result).
    const ghost = { namespace: "default", name: `ghost-${s}`, uid: `uid-${s}`, args: pod.args };
    const ghostArgs = `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=ghost-${s};K8S_POD_UID=uid-${s}`;
    const r3 = await env.cni("DEL", { pod: ghost, containerId: containerId(), netns: ns.path, args: ghostArgs });
    expect(r3.code, describeRun(r3)).toBe(0);
    const d = await env.cni("DEL", { pod, containerId: id, netns: ns.path });
    expect(d.code, describeRun(d)).toBe(0);
    // A NAD whose resourceName a DRA claim serves: the claim and the node's ResourceSlices are read.
    const vfNet = bridgeNet("rbacvf", env.dataDir);
    env.cleanup.add(() => deleteBridge(vfNet.bridge));
    env.fake.createNad({ name: `vf-${s}`, resourceName: "sriov_nic_1", config: JSON.stringify(bridgeConflist(vfNet)) });
    draObjects(env.fake, s, NODE);
    const draPod = env.createPod({ annotations: { [NETWORKS]: `vf-${s}` }, status: claimStatus(s) });
    const draId = containerId();
    const r4 = await env.cni("ADD", { pod: draPod, containerId: draId, netns: ns.path });
    expect(r4.code, describeRun(r4)).toBe(0);
    expect((await env.cni("DEL", { pod: draPod, containerId: draId, netns: ns.path })).code).toBe(0);

    expect(calledGrants(env.fake)).toEqual(grants(clusterRole(THICK)));
  });
});

/**
 * The grants the requests the fake API logged need. Non-resource URLs may be /version and the
 * resource.k8s.io/v1 discovery document (asked for the DRA pod), which every authenticated
 * user may read through the default discovery roles.
 */
function calledGrants(fake: FakeKube): string[] {
  const requests = fake.requests();
  const nonResource = new Set(requests.filter((q) => grantOf(q) === undefined).map((q) => q.path));
  expect(nonResource.has("/apis/resource.k8s.io/v1")).toBe(true);
  expect([...nonResource].every((p) => p === "/version" || p === "/apis/resource.k8s.io/v1")).toBe(true);
  return [...new Set(requests.map(grantOf).filter((g) => g !== undefined))].sort();
}

describe.skipIf(!canRunE2e)("the thin ClusterRole", () => {
  const thin = thinInvoker();
  const cleanup = createCleanup();
  let fake: FakeKube;
  beforeAll(async () => {
    if (!canRunE2e) return;
    fake = await startFakeKube({ resourceApi: true });
    cleanup.add(() => fake.stop());
    const dir = await mkdtemp(join(tmpdir(), "multus-rbac-thin-"));
    cleanup.add(() => rm(dir, { recursive: true, force: true }));
    const confDir = join(dir, "net.d");
    await mkdir(confDir);
    const cluster = bridgeNet("rbt", join(dir, "ipam"));
    cleanup.add(() => deleteBridge(cluster.bridge));
    const clusterNetwork = await writeJson(join(confDir, "10-cluster.conflist"), bridgeConflist(cluster));
    const kubeconfig = fake.writeKubeconfig(join(dir, "kubeconfig"));
    await thin.setup({
      config: { cniDir: join(dir, "cache"), confDir, binDir: PLUGIN_DIR, clusterNetwork, kubeconfig },
    });
    cleanup.add(() => thin.teardown());
  });
  afterAll(() => cleanup.run());

  test("grants exactly the verbs and resources a representative thin run called", async () => {
    const s = randomSuffix(5);
    const net = bridgeNet("rbtn", join(tmpdir(), `multus-rbac-thin-ipam-${s}`));
    cleanup.add(() => deleteBridge(net.bridge));
    cleanup.add(() => rm(net.dataDir, { recursive: true, force: true }));
    fake.createNad({ namespace: "default", name: `rbac-${s}`, config: JSON.stringify(bridgeConflist(net)) });
    const args = (name: string, id: string) =>
      `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${id}`;
    const cni = (command: string, name: string, id: string) =>
      thin.cni({ command, containerId: id, netns: ns.path, args: args(name, id) });

    // ADD with a NAD (pod and NAD read live, network-status patched, events), then DEL from the cache.
    fake.createPod({ namespace: "default", name: `pod-${s}`, annotations: { [NETWORKS]: `rbac-${s}` } });
    const id = containerId();
    const add = await cni("ADD", `pod-${s}`, id);
    expect(add.code, describeRun(add)).toBe(0);
    expect(fake.count("PATCH pods/status")).toBe(1);
    // A NAD that is missing: the ADD fails and says so in an event.
    fake.createPod({ namespace: "default", name: `lost-${s}`, annotations: { [NETWORKS]: `absent-${s}` } });
    const lost = await cni("ADD", `lost-${s}`, containerId());
    expect(lost.code, describeRun(lost)).toBe(1);
    expect(fake.events().map((e) => e.reason)).toContain("NoNetworkFound");
    // No cache and a pod the API does not know: DEL asks for it and has nothing to delete.
    const ghost = await cni("DEL", `ghost-${s}`, containerId());
    expect(ghost.code, describeRun(ghost)).toBe(0);
    const del = await cni("DEL", `pod-${s}`, id);
    expect(del.code, describeRun(del)).toBe(0);
    // A pod with a DRA claim serving its NAD's resourceName: the claim and the slices are read
    // (with the kubelet's view, asked at the same time; whether this machine has a kubelet
    // decides the ADD's outcome, not the reads).
    fake.createNad({
      namespace: "default",
      name: `vf-${s}`,
      resourceName: "sriov_nic_1",
      config: JSON.stringify(bridgeConflist(net)),
    });
    draObjects(fake, s, "node-thin");
    fake.createPod({
      namespace: "default",
      name: `dra-${s}`,
      nodeName: "node-thin",
      annotations: { [NETWORKS]: `vf-${s}` },
      status: claimStatus(s),
    });
    const draId = containerId();
    await cni("ADD", `dra-${s}`, draId);
    expect(fake.count("GET resourceclaims")).toBe(1);
    expect(fake.count("LIST resourceslices")).toBe(1);
    expect((await cni("DEL", `dra-${s}`, draId)).code).toBe(0);

    expect(calledGrants(fake)).toEqual(grants(clusterRole(THIN)));
  });
});
