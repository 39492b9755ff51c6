// DRA device IDs through the compiled shim and daemon: a NAD whose
// k8s.v1.cni.cncf.io/resourceName names a DRA claim gets the claim's device
// as `deviceID` in its delegate config. The kubelet's PodResources API (its
// DynamicResources, as Go v4.1-v4.3 read them) is a real gRPC server on a
// unix socket; the delegate is the recording plugin.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readRecords } from "../helpers/build-fixtures.ts";
import { canRunE2e, containerId, netnsPerTest } from "../helpers/e2e.ts";
import { describeRun, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";
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
});
