// DRA device IDs through the compiled shim and daemon: a NAD whose
// k8s.v1.cni.cncf.io/resourceName is served by a DRA claim gets the claim's
// device as `deviceID` in its delegate config, once through the kubelet's
// PodResources API (its DynamicResources, as Go v4.1-v4.3 read them; a real
// gRPC server on a unix socket) and once through resource.k8s.io/v1
// ResourceClaims and ResourceSlices (as Go main, Kubernetes 1.34+; the fake
// API serves them). The delegate is the recording plugin.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readRecords } from "../helpers/build-fixtures.ts";
import { canRunE2e, containerId, netnsPerTest } from "../helpers/e2e.ts";
import { describeRun, NODE, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";
import { randomSuffix } from "../helpers/netns.ts";
import { startPodResourcesServer, type PodResourcesServer } from "../helpers/pod-resources-server.ts";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";
const ns = netnsPerTest("mtdra");

/** A NAD whose only plugin is the recorder, asking for a device of `resourceName`. */
function recorderNad(env: K8sEnv, opts: { name: string; resourceName: string; recordFile: string }): void {
  env.fake.createNad({
    name: opts.name,
    resourceName: opts.resourceName,
    config: JSON.stringify({ cniVersion: "1.0.0", name: opts.name, type: "recorder", recordFile: opts.recordFile }),
  });
}

describe.skipIf(!canRunE2e)("DRA through the kubelet PodResources API", () => {
  let env: K8sEnv;
  let kubelet: PodResourcesServer;
  let kubeletDir: string;
  beforeAll(async () => {
    kubeletDir = await mkdtemp(join(tmpdir(), "multus-dra-kubelet-"));
    kubelet = await startPodResourcesServer(join(kubeletDir, "kubelet.sock"));
    env = await startK8sEnv({ withRecorder: true, daemonConfig: { podResourcesSocket: kubelet.socketPath } });
  });
  afterAll(async () => {
    await env?.stop();
    await kubelet?.stop();
    await rm(kubeletDir, { recursive: true, force: true });
  });

  test("the claim's CDI device is the deviceID of the NAD naming the claim", async () => {
    const s = randomSuffix(5);
    const recordFile = join(env.dir, `rec-${s}.jsonl`);
    recorderNad(env, { name: `vf-${s}`, resourceName: `vf-claim-${s}`, recordFile });
    const pod = env.createPod({ annotations: { [NETWORKS]: `vf-${s}` } });
    kubelet.setPods([
      {
        name: pod.name,
        namespace: pod.namespace,
        containers: [
          {
            name: "app",
            dynamicResources: [
              {
                claimName: `vf-claim-${s}`,
                claimResources: [{ cdiDevices: ["k8s.example.com/vf=0000:04:00.3"], driverName: "vf.example.com" }],
              },
            ],
          },
        ],
      },
    ]);
    const id = containerId();
    const add = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
    expect(add.code, describeRun(add)).toBe(0);
    const [rec] = (await readRecords(recordFile)).filter((r) => r.command === "ADD");
    expect(rec?.conf.deviceID).toBe("0000:04:00.3");
    expect(rec?.conf.pciBusID).toBe("0000:04:00.3");
    const del = await env.cni("DEL", { pod, containerId: id, netns: ns.path });
    expect(del.code, describeRun(del)).toBe(0);
  });

  test("a pod with claims, on an API server without resource.k8s.io/v1: the kubelet's view alone", async () => {
    const s = randomSuffix(5);
    const recordFile = join(env.dir, `rec-${s}.jsonl`);
    recorderNad(env, { name: `vf-${s}`, resourceName: `vf-claim-${s}`, recordFile });
    const pod = env.createPod({
      annotations: { [NETWORKS]: `vf-${s}` },
      status: { phase: "Pending", resourceClaimStatuses: [{ name: "vf", resourceClaimName: `vf-claim-${s}` }] },
    });
    kubelet.setPods([
      {
        name: pod.name,
        namespace: pod.namespace,
        containers: [
          {
            name: "app",
            dynamicResources: [
              { claimName: `vf-claim-${s}`, claimResources: [{ cdiDevices: ["vf.example.com/vf=vf-7"] }] },
            ],
          },
        ],
      },
    ]);
    env.fake.resetCounts();
    const id = containerId();
    const add = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
    expect(add.code, describeRun(add)).toBe(0);
    const [rec] = (await readRecords(recordFile)).filter((r) => r.command === "ADD");
    expect(rec?.conf.deviceID).toBe("vf-7");
    // Discovery answered 404; no claim or slice was asked for.
    const dra = env.fake.requests().filter((r) => r.path.startsWith("/apis/resource.k8s.io"));
    expect(dra.map((r) => `${r.path} ${r.status}`)).toEqual(["/apis/resource.k8s.io/v1 404"]);
    expect((await env.cni("DEL", { pod, containerId: id, netns: ns.path })).code).toBe(0);
  });
});

const VF = "vf.example.com";
const attrs = (deviceId: string, resourceName?: string) => ({
  "k8s.cni.cncf.io/deviceID": { string: deviceId },
  ...(resourceName && { "k8s.cni.cncf.io/resourceName": { string: resourceName } }),
});

describe.skipIf(!canRunE2e)("DRA through resource.k8s.io/v1 ResourceClaims and ResourceSlices", () => {
  let env: K8sEnv;
  let kubelet: PodResourcesServer;
  let kubeletDir: string;
  beforeAll(async () => {
    // A 1.34 kubelet: its PodResources socket is there, with nothing for these pods.
    kubeletDir = await mkdtemp(join(tmpdir(), "multus-dra-kubelet-"));
    kubelet = await startPodResourcesServer(join(kubeletDir, "kubelet.sock"));
    env = await startK8sEnv({
      withRecorder: true,
      fake: { resourceApi: true },
      daemonConfig: { podResourcesSocket: kubelet.socketPath },
    });
    env.fake.createResourceSlice({
      metadata: { name: `${NODE}-${VF}` },
      spec: {
        driver: VF,
        nodeName: NODE,
        pool: { name: NODE, generation: 1, resourceSliceCount: 1 },
        devices: [
          { name: "vf-1", attributes: attrs("0000:04:00.1", "sriov_nic_1") },
          { name: "vf-2", attributes: attrs("0000:04:00.2", "sriov_nic_1") },
          { name: "vf-3", attributes: attrs("0000:04:00.3") },
        ],
      },
    });
    // The same pool name on another node: never listed (field selector spec.nodeName).
    env.fake.createResourceSlice({
      metadata: { name: `other-${VF}` },
      spec: {
        driver: VF,
        nodeName: "other-node",
        pool: { name: NODE, generation: 1, resourceSliceCount: 1 },
        devices: [{ name: "vf-1", attributes: attrs("WRONG", "sriov_nic_1") }],
      },
    });
  });
  afterAll(async () => {
    await env?.stop();
    await kubelet?.stop();
    await rm(kubeletDir, { recursive: true, force: true });
  });

  test("the allocated devices' k8s.cni.cncf.io/deviceID go, in order, to the NADs naming their resourceName", async () => {
    const s = randomSuffix(5);
    const recordFile = join(env.dir, `rec-${s}.jsonl`);
    recorderNad(env, { name: `a-${s}`, resourceName: "sriov_nic_1", recordFile });
    recorderNad(env, { name: `b-${s}`, resourceName: "sriov_nic_1", recordFile });
    const claimName = `pod-${s}-vf`;
    env.fake.createResourceClaim({
      metadata: { name: claimName, namespace: "default" },
      spec: { devices: { requests: [{ name: "vf", exactly: { deviceClassName: "vf", count: 3 } }] } },
      status: {
        allocation: {
          devices: {
            results: [
              { request: "vf", driver: VF, pool: NODE, device: "vf-2" },
              // published without k8s.cni.cncf.io/resourceName: not for CNI, skipped
              { request: "vf", driver: VF, pool: NODE, device: "vf-3" },
              { request: "vf", driver: VF, pool: NODE, device: "vf-1" },
            ],
          },
        },
      },
    });
    const pod = env.createPod({
      annotations: { [NETWORKS]: `a-${s}@net1,b-${s}@net2` },
      status: { phase: "Pending", resourceClaimStatuses: [{ name: "vf", resourceClaimName: claimName }] },
    });
    env.fake.resetCounts();
    const id = containerId();
    const add = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
    expect(add.code, describeRun(add)).toBe(0);
    const adds = (await readRecords(recordFile)).filter((r) => r.command === "ADD");
    expect(adds.map((r) => [r.env.CNI_IFNAME, r.conf.deviceID])).toEqual([
      ["net1", "0000:04:00.2"],
      ["net2", "0000:04:00.1"],
    ]);
    // Exactly these reads: discovery, the claim, this node's slices of the driver (once).
    const dra = env.fake.requests().filter((r) => r.path.startsWith("/apis/resource.k8s.io"));
    expect(dra.map((r) => `${r.verb} ${r.path}${r.query}`)).toEqual([
      "GET /apis/resource.k8s.io/v1",
      `GET /apis/resource.k8s.io/v1/namespaces/default/resourceclaims/${claimName}`,
      `LIST /apis/resource.k8s.io/v1/resourceslices?fieldSelector=${encodeURIComponent(`spec.nodeName=${NODE},spec.driver=${VF}`)}`,
    ]);
    const del = await env.cni("DEL", { pod, containerId: id, netns: ns.path });
    expect(del.code, describeRun(del)).toBe(0);
  });

  test("a claim that does not exist fails ADD with code 11 naming it; no delegate runs", async () => {
    const s = randomSuffix(5);
    const recordFile = join(env.dir, `rec-${s}.jsonl`);
    recorderNad(env, { name: `a-${s}`, resourceName: "sriov_nic_1", recordFile });
    const pod = env.createPod({
      annotations: { [NETWORKS]: `a-${s}` },
      status: { phase: "Pending", resourceClaimStatuses: [{ name: "vf", resourceClaimName: `gone-${s}` }] },
    });
    const add = await env.cni("ADD", { pod, containerId: containerId(), netns: ns.path });
    expect(add.code, describeRun(add)).toBe(1);
    const err = add.json();
    expect(err.code).toBe(11);
    expect(err.msg).toBe(`failed to get the devices allocated to pod default/${pod.name}`);
    expect(err.details).toBe(`resource claim default/gone-${s} not found`);
    expect(await readRecords(recordFile)).toEqual([]);
  });
});
