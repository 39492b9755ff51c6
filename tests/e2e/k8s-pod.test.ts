// Issue 3, which pod a request is for: a pod the API does not know gets the
// placeholder result in every cniVersion and nothing attached; a pod whose UID
// is not the runtime's is refused unless it is a static pod. The compiled shim
// and daemon, the fake API server, real delegates in real namespaces.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { canRunE2e, containerId, exists, storeIps, netnsPerTest } from "../helpers/e2e.ts";
import { describeRun, startK8sEnv, type K8sEnv, type PodHandle } from "../helpers/k8s-e2e.ts";
import { randomSuffix } from "../helpers/netns.ts";

let env: K8sEnv;
beforeAll(async () => {
  if (canRunE2e) env = await startK8sEnv();
});
afterAll(() => env?.stop());

const ns = netnsPerTest("mtp");

async function expectNothingAttached(id: string): Promise<void> {
  expect(await ns.links()).toEqual(["lo"]);
  expect(await storeIps(env.cluster.dataDir, env.cluster.name)).toEqual([]);
  expect(await exists(join(env.cniDir, id))).toBe(false);
}

/** A pod the API has never heard of. */
function ghost(): PodHandle {
  const p = { namespace: "default", name: `ghost-${randomSuffix(6)}`, uid: crypto.randomUUID() };
  return {
    ...p,
    args: (id, uid = p.uid) =>
      `IgnoreUnknown=1;K8S_POD_NAMESPACE=${p.namespace};K8S_POD_NAME=${p.name};K8S_POD_INFRA_CONTAINER_ID=${id};K8S_POD_UID=${uid}`,
  };
}

describe.skipIf(!canRunE2e)("a pod the API does not know", () => {
  const placeholders: Record<string, (netns: string) => unknown> = {
    "1.0.0": (netns) => ({
      cniVersion: "1.0.0",
      interfaces: [{ name: "eth0", sandbox: netns }],
      ips: [{ address: "0.0.0.0/0", gateway: "0.0.0.0" }],
    }),
    "0.3.1": (netns) => ({
      cniVersion: "0.3.1",
      interfaces: [{ name: "eth0", sandbox: netns }],
      ips: [{ version: "4", address: "0.0.0.0/0", gateway: "0.0.0.0" }],
    }),
    "0.2.0": () => ({ cniVersion: "0.2.0", ip4: { ip: "0.0.0.0/0", gateway: "0.0.0.0" } }),
  };

  for (const [cniVersion, expected] of Object.entries(placeholders)) {
    test(`ADD answers the placeholder result in ${cniVersion} and attaches nothing; DEL is fine`, async () => {
      const pod = ghost();
      const id = containerId();
      env.fake.resetCounts();
      const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path, cniVersion });
      expect(r.code, describeRun(r)).toBe(0);
      const { dns, ...rest } = r.json();
      expect(rest).toEqual(expected(ns.path));
      expect(dns ?? {}).toEqual({});
      // The informer does not have it; one live GET says it does not exist.
      expect(env.fake.count("GET pods")).toBe(1);
      expect(env.fake.count("PATCH pods/status")).toBe(0);
      await expectNothingAttached(id);

      const d = await env.cni("DEL", { pod, containerId: id, netns: ns.path, cniVersion });
      expect(d.code, describeRun(d)).toBe(0);
    });
  }
});

describe.skipIf(!canRunE2e)("the pod's UID", () => {
  test("a runtime UID that is not the API's is refused (after one live GET past the cache) and nothing is attached", async () => {
    const pod = env.createPod({});
    const id = containerId();
    const runtimeUid = crypto.randomUUID();
    env.fake.resetCounts();
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path, args: pod.args(id, runtimeUid) });
    expect(r.code, describeRun(r)).toBe(1);
    const err = r.json();
    expect(err.msg).toBe(`expected pod UID "${runtimeUid}" but got "${pod.uid}" from Kube API`);
    expect(env.fake.count("GET pods")).toBe(1);
    await expectNothingAttached(id);
  });

  test("a static pod (kubernetes.io/config.source: file) is exempt", async () => {
    const pod = env.createPod({ annotations: { "kubernetes.io/config.source": "file" } });
    const id = containerId();
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path, args: pod.args(id, crypto.randomUUID()) });
    expect(r.code, describeRun(r)).toBe(0);
    expect(await ns.links()).toEqual(["lo", "eth0"]);
    expect(JSON.parse(env.networkStatus(pod)!)[0].interface).toBe("eth0");
    const d = await env.cni("DEL", { pod, containerId: id, netns: ns.path });
    expect(d.code, describeRun(d)).toBe(0);
    await expectNothingAttached(id);
  });

  test("no K8S_POD_UID from the runtime: no check", async () => {
    const pod = env.createPod({});
    const id = containerId();
    const args = `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_INFRA_CONTAINER_ID=${id}`;
    const r = await env.cni("ADD", { containerId: id, netns: ns.path, args });
    expect(r.code, describeRun(r)).toBe(0);
    const d = await env.cni("DEL", { containerId: id, netns: ns.path, args });
    expect(d.code, describeRun(d)).toBe(0);
    await expectNothingAttached(id);
  });

  test("the same name recreated with a new UID while the informer is stale: the runtime's UID wins, one live GET", async () => {
    const pod = env.createPod({});
    // Keep the pod informer from seeing what follows: its watch is cut and may not come back.
    env.fake.failNext({ verb: "WATCH", path: "pods", status: 500, times: 1_000_000 });
    env.fake.cutWatches();
    env.fake.deletePod(pod.namespace, pod.name);
    const again = env.createPod({ name: pod.name });
    const id = containerId();
    try {
      env.fake.resetCounts();
      const r = await env.cni("ADD", { pod: again, containerId: id, netns: ns.path });
      expect(r.code, describeRun(r)).toBe(0);
      expect(env.fake.count("GET pods")).toBe(1);
      expect(await ns.links()).toEqual(["lo", "eth0"]);
    } finally {
      env.fake.clearFailures();
    }
    const d = await env.cni("DEL", { pod: again, containerId: id, netns: ns.path });
    expect(d.code, describeRun(d)).toBe(0);
    await expectNothingAttached(id);
  });
});
