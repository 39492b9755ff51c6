// The ClusterRole in deployments/ grants exactly what the daemon calls: a
// representative run of the compiled daemon against the fake API (informer
// list and watch, ADD with NADs, a NAD that is missing, a pod the caches do not
// hold, the network-status patch, events, DEL) and the grant every request it
// made needs, compared with the role. A call the role lacks fails on a real
// cluster with 403; a grant no call needs is privilege to take away.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { bridgeConflist, bridgeNet, canRunE2e, containerId, deleteBridge, netnsPerTest } from "../helpers/e2e.ts";
import { describeRun, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";
import { randomSuffix } from "../helpers/netns.ts";
import { grantOf, grants } from "../helpers/rbac.ts";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";
const THICK = resolve(import.meta.dir, "../../deployments/multus-daemonset-thick.yml");

let env: K8sEnv;
beforeAll(async () => {
  if (canRunE2e) env = await startK8sEnv();
});
afterAll(() => env?.stop());

const ns = netnsPerTest("mtr");

function clusterRole(): Record<string, any> {
  const docs = parseAllDocuments(readFileSync(THICK, "utf8"));
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

    const requests = env.fake.requests();
    const nonResource = [...new Set(requests.filter((q) => grantOf(q) === undefined).map((q) => q.path))];
    expect(nonResource.every((p) => p === "/version")).toBe(true);
    const called = [...new Set(requests.map(grantOf).filter((g) => g !== undefined))].sort();
    expect(called).toEqual(grants(clusterRole()));
  });
});
