// Issue 3, how the daemon uses the API: per ADD no reads when its caches are
// warm and one write; DEL needs neither the pod nor its NADs; a cut or expired
// watch recovers; an API server that is down fails ADD with code 11 within the
// configured deadline and leaves nothing attached, and does not stop DEL.
// The compiled shim and daemon, the fake API server, real delegates.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import type { DownMode } from "../helpers/fake-kube.ts";
import { runCni, shimConf, startDaemon } from "../helpers/multus.ts";
import {
  bridgeConflist,
  canRunE2e,
  containerId,
  deleteBridge,
  exists,
  macvlanConf,
  randomPrefix,
  resultCacheEntries,
  storeIps,
  waitFor,
  type BridgeNet,
  bridgeNet,
  netnsPerTest,
} from "../helpers/e2e.ts";
import { NODE, createdAndCached, describeRun, startK8sEnv, type K8sEnv, type PodHandle } from "../helpers/k8s-e2e.ts";
import { createVethPair, deleteLink, randomSuffix } from "../helpers/netns.ts";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";

let env: K8sEnv;
let veth: { a: string; b: string };
beforeAll(async () => {
  if (!canRunE2e) return;
  env = await startK8sEnv();
  veth = await createVethPair("mtq");
  env.cleanup.add(() => deleteLink(veth.a));
});
afterAll(() => env?.stop());

const ns = netnsPerTest("mtq");
afterEach(async () => {
  if (!canRunE2e) return;
  await env.fake.setDown(false);
  env.fake.clearFailures();
});

/** Two NADs (bridge and macvlan, both host-local) and a pod selecting them. */
function podWithTwoNetworks(): { pod: PodHandle; nets: BridgeNet[] } {
  const br = bridgeNet("api", env.dataDir);
  env.cleanup.add(() => deleteBridge(br.bridge));
  env.createNad({ name: br.name, config: bridgeConflist(br) });
  const mv: BridgeNet = { name: `mv-${randomSuffix(5)}`, bridge: "", prefix: randomPrefix(), dataDir: env.dataDir };
  env.createNad({ name: mv.name, config: macvlanConf({ ...mv, master: veth.a }) });
  const pod = env.createPod({ annotations: { [NETWORKS]: `${br.name},${mv.name}` } });
  return { pod, nets: [br, mv] };
}

async function expectAttached(nets: BridgeNet[]): Promise<void> {
  expect((await ns.links()).sort()).toEqual(["eth0", "lo", "net1", "net2"]);
  for (const net of [env.cluster, ...nets]) expect(await storeIps(net.dataDir, net.name)).toHaveLength(1);
}

async function expectNothingAttached(id: string, nets: BridgeNet[]): Promise<void> {
  expect(await ns.links()).toEqual(["lo"]);
  for (const net of [env.cluster, ...nets]) expect(await storeIps(net.dataDir, net.name)).toEqual([]);
  expect(await exists(join(env.cniDir, id))).toBe(false);
  expect(await resultCacheEntries(env.cniDir, id)).toEqual([]);
}

/** Both informers have a watch open again (after a cut, an expiry or an outage). */
/**
 * A pod asking for a NAD the informer has not seen: the NAD informer loses its watch and
 * every NAD read answers `status` from now on; then the NAD is created.
 */
async function podWithUnreadableNad(tag: string, status: number) {
  await informersWatching();
  const name = `${tag}-${randomSuffix(5)}`;
  const pod = env.createPod({ annotations: { [NETWORKS]: name } });
  for (const verb of ["WATCH", "LIST", "GET"]) env.fake.failNext({ verb, path: "nads", status, times: 1_000_000 });
  env.fake.cutWatches();
  const br = bridgeNet(tag, env.dataDir);
  env.cleanup.add(() => deleteBridge(br.bridge));
  env.createNad({ name, config: bridgeConflist(br) });
  return { name, pod, br };
}

async function informersWatching(timeoutMs = 40_000): Promise<void> {
  await waitFor(
    "the daemon's pod and NAD watches",
    () => env.fake.openWatches("pods") >= 1 && env.fake.openWatches("nads") >= 1,
    timeoutMs,
    50,
  );
}

async function addOk(pod: PodHandle, id: string, conf?: Record<string, unknown>): Promise<void> {
  const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path, conf });
  expect(r.code, describeRun(r)).toBe(0);
}

async function delOk(pod: PodHandle, id: string): Promise<void> {
  const r = await env.cni("DEL", { pod, containerId: id, netns: ns.path });
  expect(r.code, describeRun(r)).toBe(0);
}

describe.skipIf(!canRunE2e)("requests the daemon makes", () => {
  test("ADD with warm caches: no GET of the pod or its NADs, exactly one write (PATCH pods/status); DEL from the cache: no request", async () => {
    await informersWatching();
    const { pod, nets } = await createdAndCached(env, { pods: 1, "network-attachment-definitions": 2 }, () =>
      podWithTwoNetworks(),
    );
    const id = containerId();
    env.fake.resetCounts();
    await addOk(pod, id);
    await expectAttached(nets);
    const counts = env.fake.counts();
    expect(counts["GET pods"] ?? 0).toBe(0);
    expect(counts["GET nads"] ?? 0).toBe(0);
    expect(counts["PATCH pods/status"] ?? 0).toBe(1);
    const writes = env.fake
      .requests()
      .filter((r) => !["GET", "LIST", "WATCH"].includes(r.verb) && r.resource !== "events");
    expect(writes.map((w) => `${w.verb} ${w.resource}`)).toEqual(["PATCH pods/status"]);
    expect(writes[0]!.contentType).toBe("application/merge-patch+json");
    expect(env.networkStatus(pod)).toContain(`"default/${nets[1]!.name}"`);
    // The AddedInterface events follow, off the request's path.
    await env.events(pod, 3);

    env.fake.resetCounts();
    await delOk(pod, id);
    expect(env.fake.requests().map((r) => `${r.verb} ${r.resource}`)).toEqual([]);
    await expectNothingAttached(id, nets);
  });

  test("a pod created unscheduled and then bound to this node reaches the informer: no GET on ADD", async () => {
    await informersWatching();
    const name = `bound-${randomSuffix(6)}`;
    const uid = crypto.randomUUID();
    env.fake.createPod({ namespace: "default", name, uid });
    await createdAndCached(env, { pods: 1 }, () =>
      env.fake.updatePod("default", name, (p) => {
        (p.spec as Record<string, unknown>).nodeName = NODE;
      }),
    );
    const pod: PodHandle = {
      namespace: "default",
      name,
      uid,
      args: (id) =>
        `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${id};K8S_POD_UID=${uid}`,
    };
    const id = containerId();
    env.fake.resetCounts();
    await addOk(pod, id);
    expect(env.fake.count("GET pods")).toBe(0);
    expect(env.fake.count("PATCH pods/status")).toBe(1);
    await delOk(pod, id);
    await expectNothingAttached(id, []);
  });

  test("DEL after the pod and its NADs were deleted from the API releases every IP and the caches; DEL twice is fine", async () => {
    const { pod, nets } = podWithTwoNetworks();
    const id = containerId();
    await addOk(pod, id);
    await expectAttached(nets);

    env.fake.deletePod(pod.namespace, pod.name);
    for (const net of nets) env.fake.deleteNad("default", net.name);
    await delOk(pod, id);
    await expectNothingAttached(id, nets);
    await delOk(pod, id);
    await expectNothingAttached(id, nets);
  });
});

describe.skipIf(!canRunE2e)("DEL without the delegate cache", () => {
  test("the pod still exists: its networks are rebuilt from the API and every IP is released", async () => {
    const { pod, nets } = podWithTwoNetworks();
    const id = containerId();
    await addOk(pod, id);
    await rm(join(env.cniDir, id));
    await delOk(pod, id);
    await expectNothingAttached(id, nets);
  });

  test("the pod exists but one of its NADs is gone: the others are rebuilt under their own interface names and released", async () => {
    const { pod, nets } = podWithTwoNetworks();
    const [gone, kept] = nets as [BridgeNet, BridgeNet];
    const id = containerId();
    await addOk(pod, id);
    await rm(join(env.cniDir, id));
    env.fake.deleteNad("default", gone.name);
    await delOk(pod, id);
    // net1's config went with its NAD; net2 (its name fixed by its place in the annotation) and eth0 are released.
    expect(await storeIps(kept.dataDir, kept.name)).toEqual([]);
    expect(await storeIps(env.cluster.dataDir, env.cluster.name)).toEqual([]);
    expect(await storeIps(gone.dataDir, gone.name)).toHaveLength(1);
    expect((await ns.links()).sort()).toEqual(["lo", "net1"]);
  });

  test("the pod exists but a defaultNetworks NAD and the cluster network's NAD are gone: DEL still succeeds", async () => {
    const s = randomSuffix(5);
    const clu = bridgeNet("gonec", env.dataDir);
    env.cleanup.add(() => deleteBridge(clu.bridge));
    env.createNad({ namespace: "kube-system", name: `clu-${s}`, config: bridgeConflist(clu) });
    const dn = bridgeNet("goned", env.dataDir);
    env.cleanup.add(() => deleteBridge(dn.bridge));
    env.createNad({ namespace: "kube-system", name: `dn-${s}`, config: bridgeConflist(dn) });
    const conf = { clusterNetwork: `clu-${s}`, defaultNetworks: [`dn-${s}`] };
    const pod = env.createPod({});
    const id = containerId();
    await addOk(pod, id, conf);
    await rm(join(env.cniDir, id));
    env.fake.deleteNad("kube-system", `dn-${s}`);
    const r1 = await env.cni("DEL", { pod, containerId: id, netns: ns.path, conf });
    expect(r1.code, describeRun(r1)).toBe(0);
    expect(await storeIps(clu.dataDir, clu.name)).toEqual([]);
    env.fake.deleteNad("kube-system", `clu-${s}`);
    const r2 = await env.cni("DEL", { pod, containerId: id, netns: ns.path, conf });
    expect(r2.code, describeRun(r2)).toBe(0);
  });

  test("neither the cache nor the pod: nothing to do, success without waiting for the API", async () => {
    await env.fake.setDown(true, "hang");
    const pod = env.createPod({});
    const r = await env.cni("DEL", {
      pod,
      containerId: containerId(),
      netns: ns.path,
      conf: { podLookupTimeoutSeconds: 10 },
    });
    expect(r.code, describeRun(r)).toBe(0);
    // Well inside the lookup deadline: DEL did not wait for the API.
    expect(r.ms).toBeLessThan(3_000);
  });
});

describe.skipIf(!canRunE2e)("informer recovery", () => {
  for (const mode of ["end", "error"] as const) {
    test(`a watch stream cut (${mode}) resumes: a NAD and pod created afterwards come from the watch, no GET, no relist`, async () => {
      await informersWatching();
      const cut = env.fake.cutWatches(mode);
      expect(cut).toBeGreaterThanOrEqual(2);
      await informersWatching();

      const { pod, nets } = await createdAndCached(env, { pods: 1, "network-attachment-definitions": 2 }, () =>
        podWithTwoNetworks(),
      );
      const id = containerId();
      env.fake.resetCounts();
      await addOk(pod, id);
      await expectAttached(nets);
      expect(env.fake.count("GET nads")).toBe(0);
      expect(env.fake.count("GET pods")).toBe(0);
      expect(env.fake.count("LIST nads") + env.fake.count("LIST pods")).toBe(0);
      await delOk(pod, id);
      await expectNothingAttached(id, nets);
    });
  }

  test("an expired resourceVersion (410) makes the informers relist; what changed meanwhile is usable without a GET", async () => {
    await informersWatching();
    env.fake.resetCounts();
    // Changes the watches will never deliver: the history is dropped, then the watches are told they are too old.
    env.fake.failNext({ verb: "WATCH", status: 500, times: 1_000_000 });
    env.fake.cutWatches();
    const { pod, nets } = podWithTwoNetworks();
    env.fake.compact();
    env.fake.clearFailures();
    await waitFor(
      "a relist of both informers",
      () => env.fake.count("LIST pods") >= 1 && env.fake.count("LIST nads") >= 1,
      40_000,
      50,
    );
    await informersWatching();

    const id = containerId();
    env.fake.resetCounts();
    await addOk(pod, id);
    await expectAttached(nets);
    expect(env.fake.count("GET nads")).toBe(0);
    expect(env.fake.count("GET pods")).toBe(0);
    await delOk(pod, id);
    await expectNothingAttached(id, nets);
  });
});

describe.skipIf(!canRunE2e)("the API server down", () => {
  const MODES: DownMode[] = ["refuse", "503", "hang"];

  for (const mode of MODES) {
    test(`(${mode}) DEL works from the delegate cache`, async () => {
      const { pod, nets } = podWithTwoNetworks();
      const id = containerId();
      await addOk(pod, id);
      await env.fake.setDown(true, mode);
      await delOk(pod, id);
      await expectNothingAttached(id, nets);
    });
  }

  for (const mode of MODES) {
    test(`(${mode}) ADD of a pod the informer has not seen: code 11 within podLookupTimeoutSeconds, nothing attached`, async () => {
      await env.fake.setDown(true, mode);
      // Created while the API is unreachable: only a live GET could find it.
      const pod = env.createPod({});
      const id = containerId();
      const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path, conf: { podLookupTimeoutSeconds: 0.5 } });
      expect(r.code, describeRun(r)).toBe(1);
      const err = r.json();
      expect(err.code).toBe(11);
      expect(err.msg).toContain(`cannot get pod default/${pod.name}`);
      expect(r.ms).toBeLessThan(500 + 1_500);
      await expectNothingAttached(id, []);
    });
  }

  test("ADD whose NAD the informer has not seen and the API cannot give: code 11 within apiTimeoutSeconds naming the NAD, nothing attached", async () => {
    const { name, pod, br } = await podWithUnreadableNad("late", 503);
    const id = containerId();
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path, conf: { apiTimeoutSeconds: 0.5 } });
    expect(r.code, describeRun(r)).toBe(1);
    const err = r.json();
    expect(err.code).toBe(11);
    expect(err.msg).toContain(`network-attachment-definition default/${name}`);
    expect(r.ms).toBeLessThan(500 + 1_500);
    await expectNothingAttached(id, [br]);
  });

  test("a daemon restarted while the API is unreachable serves at once: DEL from the cache works, ADD is code 11 within its deadline", async () => {
    const { pod, nets } = podWithTwoNetworks();
    const id = containerId();
    await addOk(pod, id);
    await env.fake.setDown(true, "refuse");
    // The same node configuration, a second daemon on its own socket (the first one idles).
    const config = JSON.parse(await Bun.file(env.daemon.configPath).text());
    const dir = join(env.dir, `restart-${randomSuffix(4)}`);
    await mkdir(dir);
    const restarted = await startDaemon(
      dir,
      { ...config, socketDir: join(dir, "run") },
      { env: { MULTUS_NODE_NAME: NODE } },
    );
    env.cleanup.add(() => restarted.stop());
    const via = (command: string, p: PodHandle, cid: string, conf: Record<string, unknown> = {}) =>
      runCni(env.shim, {
        command,
        containerId: cid,
        netns: ns.path,
        args: p.args(cid),
        stdin: shimConf(restarted.socketDir, { clusterNetwork: env.clusterFile, ...conf }),
      });
    const del = await via("DEL", pod, id);
    expect(del.code, describeRun(del)).toBe(0);
    await expectNothingAttached(id, nets);

    const other = env.createPod({});
    const add = await via("ADD", other, containerId(), { podLookupTimeoutSeconds: 0.5 });
    expect(add.code, describeRun(add)).toBe(1);
    expect(add.json().code).toBe(11);
    expect(add.json().msg).toContain(`cannot get pod default/${other.name} from the Kubernetes API`);
    expect(add.ms).toBeLessThan(500 + 1_500);
  });

  test("ADD whose NAD the API refuses with 403 (RBAC): not code 11, the message names the status, nothing attached", async () => {
    const { name, pod, br } = await podWithUnreadableNad("rbac", 403);
    const id = containerId();
    const getsBefore = env.fake.count("GET nads");
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path, conf: { apiTimeoutSeconds: 2 } });
    expect(r.code, describeRun(r)).toBe(1);
    const err = r.json();
    expect(err.code).not.toBe(11);
    expect(err.msg).toContain(`network-attachment-definition default/${name}`);
    expect(err.msg).toContain("the Kubernetes API answered 403 Forbidden");
    // One GET: a permanent answer is not retried until the deadline.
    expect(env.fake.count("GET nads") - getsBefore).toBe(1);
    await expectNothingAttached(id, [br]);
  });

  test("ADD whose network-status write cannot be made: code 11 within apiTimeoutSeconds, every network rolled back", async () => {
    const { pod, nets } = podWithTwoNetworks();
    env.fake.failNext({ verb: "PATCH", path: "pods/status", status: 503, times: 1_000_000 });
    const id = containerId();
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path, conf: { apiTimeoutSeconds: 0.5 } });
    expect(r.code, describeRun(r)).toBe(1);
    const err = r.json();
    expect(err.code).toBe(11);
    expect(err.msg).toContain("network-status");
    expect(r.ms).toBeLessThan(500 + 1_500);
    expect(env.fake.count("PATCH pods/status")).toBeGreaterThan(1);
    await expectNothingAttached(id, nets);
  });
});
