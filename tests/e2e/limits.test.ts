// Issue 8 item 4, limits a pod's annotations cannot get past: the number of delegates
// one pod may get (maxDelegatesPerPod) and the size of its networks and default-network
// annotations (maxAnnotationBytes), set in daemon-config.json. Refused with code 7 naming
// the bound before any NAD is read or any delegate runs: nothing attached, nothing cached.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { canRunE2e, containerId, exists, netnsPerTest, storeIps } from "../helpers/e2e.ts";
import { describeRun, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";

let env: K8sEnv;
beforeAll(async () => {
  if (canRunE2e) env = await startK8sEnv({ daemonConfig: { maxDelegatesPerPod: 4, maxAnnotationBytes: 2048 } });
});
afterAll(() => env?.stop());

const ns = netnsPerTest("mtl");

async function refused(annotations: Record<string, string>): Promise<string> {
  const pod = env.createPod({ annotations });
  const id = containerId();
  env.fake.resetCounts();
  const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
  expect(r.code, describeRun(r)).not.toBe(0);
  const err = r.json() as { code: number; msg: string };
  expect(err.code).toBe(7);
  expect(env.fake.count("GET nads")).toBe(0);
  expect(await ns.links()).toEqual(["lo"]);
  expect(await storeIps(env.cluster.dataDir, env.cluster.name)).toEqual([]);
  expect(await exists(join(env.cniDir, id))).toBe(false);
  // DEL still tears the pod down: a refused annotation never holds a pod Terminating.
  const d = await env.cni("DEL", { pod, containerId: id, netns: ns.path });
  expect(d.code, describeRun(d)).toBe(0);
  return err.msg;
}

const names = (n: number) => Array.from({ length: n }, (_, i) => `net${i}`).join(",");

describe.skipIf(!canRunE2e)("limits on what a pod asks for", () => {
  test("a networks annotation naming 200 networks is refused before anything runs", async () => {
    const msg = await refused({ "k8s.v1.cni.cncf.io/networks": names(200) });
    expect(msg).toBe(
      "the pod's networks annotation names 200 networks: with the 1 of the configuration that is 201 delegates, more than maxDelegatesPerPod (4)",
    );
  });

  test("the configured bound holds: 4 networks and the cluster network are 5 delegates, one too many", async () => {
    const msg = await refused({ "k8s.v1.cni.cncf.io/networks": names(4) });
    expect(msg).toContain("that is 5 delegates, more than maxDelegatesPerPod (4)");
  });

  test("an annotation over maxAnnotationBytes is refused, naming the annotation and both sizes", async () => {
    const big = JSON.stringify([{ name: "net0", interface: "x".repeat(3000) }]);
    const msg = await refused({ "k8s.v1.cni.cncf.io/networks": big });
    expect(msg).toBe(
      `annotation k8s.v1.cni.cncf.io/networks is ${big.length} bytes, more than maxAnnotationBytes (2048)`,
    );
    const msg2 = await refused({ "v1.multus-cni.io/default-network": "a".repeat(2049) });
    expect(msg2).toContain("annotation v1.multus-cni.io/default-network is 2049 bytes");
  });
});
