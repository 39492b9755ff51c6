// The fake API server's protocol, checked with raw fetch and with client-node's own code paths
// (CoreV1Api, Watch, ListWatch), so that tests of src/k8s rest on a faithful server.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { CoreV1Api, KubeConfig, ListWatch, Watch, type V1Pod } from "@kubernetes/client-node";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startFakeKube, until, type FakeKube } from "../helpers/fake-kube.ts";
import { readWatchEvents } from "../helpers/watch-events.ts";

let fake: FakeKube;
let tmp: string;

beforeAll(async () => {
  fake = await startFakeKube();
  tmp = mkdtempSync(join(tmpdir(), "fake-kube-test-"));
});
afterAll(async () => {
  await fake.stop();
  rmSync(tmp, { recursive: true, force: true });
});

function api(path: string, init: RequestInit & { token?: string | null; contentType?: string } = {}) {
  const headers: Record<string, string> = {};
  if (init.token !== null) headers.authorization = `Bearer ${init.token ?? fake.token}`;
  if (init.contentType) headers["content-type"] = init.contentType;
  return fetch(`${fake.url}${path}`, { ...init, headers, tls: { ca: fake.caPem } });
}

describe("fake-kube protocol", () => {
  test("rejects requests without the bearer token with a 401 Status", async () => {
    const res = await api("/api/v1/pods", { token: null });
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({
      kind: "Status",
      apiVersion: "v1",
      status: "Failure",
      reason: "Unauthorized",
      code: 401,
    });
    const bad = await api("/api/v1/pods", { token: "wrong" });
    expect(bad.status).toBe(401);
  });

  test("404 is a NotFound Status", async () => {
    const res = await api("/api/v1/namespaces/default/pods/nope");
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ kind: "Status", status: "Failure", reason: "NotFound", code: 404 });
  });

  test("create, list with fieldSelector and resourceVersion, duplicate create is 409 AlreadyExists", async () => {
    fake.createPod({ namespace: "p1", name: "on-a", nodeName: "node-a" });
    fake.createPod({ namespace: "p1", name: "on-b", nodeName: "node-b" });
    const res = await api("/api/v1/namespaces/p1/pods", {
      method: "POST",
      body: JSON.stringify({ metadata: { name: "posted" }, spec: { nodeName: "node-a" } }),
      contentType: "application/json",
    });
    expect(res.status).toBe(201);
    const posted = (await res.json()) as any;
    expect(posted.metadata.uid).toBeString();
    expect(posted.metadata.namespace).toBe("p1");
    const dup = await api("/api/v1/namespaces/p1/pods", {
      method: "POST",
      body: JSON.stringify({ metadata: { name: "posted" } }),
      contentType: "application/json",
    });
    expect(dup.status).toBe(409);
    expect(((await dup.json()) as any).reason).toBe("AlreadyExists");

    const list = (await (await api("/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-a")).json()) as any;
    expect(list.kind).toBe("PodList");
    expect(list.metadata.resourceVersion).toBe(String(fake.resourceVersion()));
    expect(list.items.map((p: any) => p.metadata.name).sort()).toEqual(["on-a", "posted"]);
    const byName = (await (await api("/api/v1/pods?fieldSelector=metadata.name%3Don-b")).json()) as any;
    expect(byName.items.map((p: any) => p.spec.nodeName)).toEqual(["node-b"]);
  });

  test("list pages with limit/continue", async () => {
    for (let i = 0; i < 5; i++) fake.createNad({ namespace: "paged", name: `n${i}`, config: "{}" });
    const names: string[] = [];
    let cont = "";
    let pages = 0;
    do {
      const page = (await (
        await api(
          `/apis/k8s.cni.cncf.io/v1/namespaces/paged/network-attachment-definitions?limit=2${cont ? `&continue=${cont}` : ""}`,
        )
      ).json()) as any;
      names.push(...page.items.map((n: any) => n.metadata.name));
      cont = page.metadata.continue ?? "";
      pages++;
    } while (cont);
    expect(pages).toBe(3);
    expect(names).toEqual(["n0", "n1", "n2", "n3", "n4"]);
  });

  test("watch replays from a resourceVersion and applies the selector to transitions", async () => {
    const from = fake.resourceVersion();
    fake.createPod({ namespace: "w", name: "moving" }); // unscheduled: not on node-x
    fake.updatePod("w", "moving", (p) => ((p.spec as any).nodeName = "node-x")); // enters the selection
    fake.updatePod("w", "moving", (p) => (p.metadata.annotations = { a: "b" }));
    fake.deletePod("w", "moving");
    const res = await api(`/api/v1/pods?watch=true&resourceVersion=${from}&fieldSelector=spec.nodeName%3Dnode-x`);
    expect(res.status).toBe(200);
    const events = await readWatchEvents(res, 3);
    expect(events.map((e) => e.type)).toEqual(["ADDED", "MODIFIED", "DELETED"]);
    expect(Number(events[2]!.object.metadata.resourceVersion)).toBe(fake.resourceVersion());
  });

  test("watch without resourceVersion starts with ADDED for existing objects, then live events and bookmarks", async () => {
    fake.createNad({ namespace: "live", name: "first", config: "{}" });
    const res = await api(
      "/apis/k8s.cni.cncf.io/v1/namespaces/live/network-attachment-definitions?watch=true&allowWatchBookmarks=true",
    );
    const reading = readWatchEvents(res, 3);
    await until(() => fake.openWatches("nads") > 0, "watch registered");
    fake.createNad({ namespace: "live", name: "second", config: "{}" });
    fake.sendBookmarks();
    const events = await reading;
    expect(events.map((e) => [e.type, e.object.metadata.name])).toEqual([
      ["ADDED", "first"],
      ["ADDED", "second"],
      ["BOOKMARK", undefined],
    ]);
    expect(events[2]!.object.metadata.resourceVersion).toBe(String(fake.resourceVersion()));
  });

  test("a resourceVersion older than the history gets an ERROR event with a 410 Expired Status", async () => {
    const old = fake.resourceVersion();
    fake.createPod({ namespace: "gone", name: "x" });
    fake.compact();
    const events = await readWatchEvents(await api(`/api/v1/pods?watch=true&resourceVersion=${old}`), 1);
    expect(events[0]).toMatchObject({ type: "ERROR", object: { kind: "Status", code: 410, reason: "Expired" } });
  });

  test("PATCH pods/status: merge and JSON patch change metadata/status, never spec; stale RV is 409", async () => {
    fake.createPod({ namespace: "pt", name: "p", nodeName: "node-a" });
    const merge = await api("/api/v1/namespaces/pt/pods/p/status", {
      method: "PATCH",
      contentType: "application/merge-patch+json",
      body: JSON.stringify({ metadata: { annotations: { k: "v" } }, spec: { nodeName: "elsewhere" } }),
    });
    expect(merge.status).toBe(200);
    expect(fake.getPod("pt", "p")!.metadata.annotations).toEqual({ k: "v" });
    expect((fake.getPod("pt", "p")!.spec as any).nodeName).toBe("node-a");

    const strategic = await api("/api/v1/namespaces/pt/pods/p", {
      method: "PATCH",
      contentType: "application/strategic-merge-patch+json",
      body: JSON.stringify({ metadata: { annotations: { k: null, k2: "v2" } } }),
    });
    expect(strategic.status).toBe(200);
    expect(fake.getPod("pt", "p")!.metadata.annotations).toEqual({ k2: "v2" });

    const json = await api("/api/v1/namespaces/pt/pods/p/status", {
      method: "PATCH",
      contentType: "application/json-patch+json",
      body: JSON.stringify([{ op: "add", path: "/metadata/annotations/a~1b", value: "c" }]),
    });
    expect(json.status).toBe(200);
    expect(fake.getPod("pt", "p")!.metadata.annotations).toEqual({ k2: "v2", "a/b": "c" });

    const stale = await api("/api/v1/namespaces/pt/pods/p/status", {
      method: "PATCH",
      contentType: "application/merge-patch+json",
      body: JSON.stringify({ metadata: { resourceVersion: "1", annotations: { x: "y" } } }),
    });
    expect(stale.status).toBe(409);
    expect(((await stale.json()) as any).reason).toBe("Conflict");
    expect(fake.count("PATCH pods/status")).toBeGreaterThanOrEqual(3);
    expect(fake.count("PATCH pods")).toBeGreaterThanOrEqual(1);
  });

  test("failNext injects statuses; counters and the request log record requests", async () => {
    fake.resetCounts();
    fake.failNext({ verb: "GET", path: "pods", status: 500, times: 2 });
    fake.createPod({ namespace: "fn", name: "p" });
    expect((await api("/api/v1/namespaces/fn/pods/p")).status).toBe(500);
    expect((await api("/api/v1/namespaces/fn/pods/p")).status).toBe(500);
    expect((await api("/api/v1/namespaces/fn/pods/p")).status).toBe(200);
    fake.failNext({ verb: "LIST", path: /network-attachment-definitions$/, status: 429, retryAfterSeconds: 1 });
    const limited = await api("/apis/k8s.cni.cncf.io/v1/network-attachment-definitions");
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("1");
    expect(fake.counts()).toEqual({ "GET pods": 3, "LIST nads": 1 });
    expect(fake.requests().map((r) => r.status)).toEqual([500, 500, 200, 429]);
  });

  test("setDown: refuse drops connections, 503 answers ServiceUnavailable, recovery on setDown(false)", async () => {
    await fake.setDown(true, "refuse");
    await expect(api("/version")).rejects.toThrow();
    await fake.setDown(false);
    expect((await api("/version")).status).toBe(200);
    await fake.setDown(true, "503");
    const res = await api("/version");
    expect(res.status).toBe(503);
    expect(((await res.json()) as any).reason).toBe("ServiceUnavailable");
    await fake.setDown(false);
    expect((await api("/version")).status).toBe(200);
  });

  test("setDelay: replies and watch starts come late, a request given up is dropped, 0 lets waiters through", async () => {
    fake.createPod({ namespace: "slow", name: "p" });
    fake.setDelay(0.3);
    try {
      let t0 = performance.now();
      expect((await api("/api/v1/namespaces/slow/pods/p")).status).toBe(200);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(290);

      t0 = performance.now();
      const watch = await api("/api/v1/namespaces/slow/pods?watch=true");
      expect(performance.now() - t0).toBeGreaterThanOrEqual(290);
      expect((await readWatchEvents(watch, 1))[0]?.type).toBe("ADDED");

      // A merge patch whose client gives up while it waits must not be applied.
      const patched = api("/api/v1/namespaces/slow/pods/p", {
        method: "PATCH",
        contentType: "application/merge-patch+json",
        body: JSON.stringify({ metadata: { annotations: { late: "yes" } } }),
        signal: AbortSignal.timeout(50),
      });
      await expect(patched).rejects.toThrow();
      // Once its own wait is over, the fake sees the client gone and drops the PATCH.
      await until(() => fake.requests().some((r) => r.method === "PATCH" && r.dropped), "the PATCH to be dropped");
      const rv = fake.resourceVersion();
      fake.setDelay(30);
      t0 = performance.now();
      const waiting = api("/version");
      await until(() => fake.requests().some((r) => r.path === "/version" && r.status === 0), "the GET to wait");
      fake.setDelay(0);
      expect((await waiting).status).toBe(200);
      expect(performance.now() - t0).toBeLessThan(5_000);
      expect(fake.resourceVersion()).toBe(rv);
      expect(fake.getPod("slow", "p")?.metadata.annotations?.late).toBeUndefined();
    } finally {
      fake.setDelay(0);
    }
  });

  test("events: core v1 and events.k8s.io/v1 POSTs are recorded", async () => {
    const core = await api("/api/v1/namespaces/ev/events", {
      method: "POST",
      contentType: "application/json",
      body: JSON.stringify({
        metadata: { name: "p.1" },
        involvedObject: { kind: "Pod", name: "p", namespace: "ev" },
        type: "Normal",
        reason: "R",
        message: "m",
        source: { component: "c" },
      }),
    });
    expect(core.status).toBe(201);
    const v1 = await api("/apis/events.k8s.io/v1/namespaces/ev/events", {
      method: "POST",
      contentType: "application/json",
      body: JSON.stringify({
        metadata: { name: "p.2" },
        regarding: { kind: "Pod", name: "p" },
        type: "Warning",
        reason: "R2",
        note: "n",
        reportingController: "c2",
      }),
    });
    expect(v1.status).toBe(201);
    const evs = fake.events().filter((e) => e.namespace === "ev");
    expect(evs.map((e) => [e.api, e.type, e.reason, e.message, e.component])).toEqual([
      ["v1", "Normal", "R", "m", "c"],
      ["events.k8s.io/v1", "Warning", "R2", "n", "c2"],
    ]);
  });
});

describe("client-node's own code paths against the fake", () => {
  test("kubeconfig + CoreV1Api read/patch, and ListWatch relisting after 410", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(fake.writeKubeconfig(join(tmp, "kubeconfig")));
    const core = kc.makeApiClient(CoreV1Api);
    fake.createPod({ namespace: "cn", name: "p", nodeName: "node-cn", annotations: { a: "1" } });
    const pod = await core.readNamespacedPod({ name: "p", namespace: "cn" });
    expect(pod.metadata?.annotations).toEqual({ a: "1" });
    await expect(core.readNamespacedPod({ name: "missing", namespace: "cn" })).rejects.toMatchObject({ code: 404 });

    // what makeInformer builds, plus the field selector it cannot pass
    const informer = new ListWatch<V1Pod>(
      "/api/v1/pods",
      new Watch(kc),
      () => core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=node-cn" }),
      false,
      undefined,
      "spec.nodeName=node-cn",
    );
    await informer.start();
    try {
      await until(() => informer.get("p", "cn"), "informer has p");
      fake.createPod({ namespace: "cn", name: "q", nodeName: "node-cn" });
      await until(() => informer.get("q", "cn"), "informer sees q");
      const lists = fake.count("LIST pods");
      // while the watch is down, r appears and the history is compacted past the client's RV
      fake.cutWatches();
      fake.createPod({ namespace: "cn", name: "r", nodeName: "node-cn" });
      fake.compact();
      await until(() => informer.get("r", "cn"), "informer relisted and sees r");
      expect(fake.count("LIST pods")).toBeGreaterThan(lists);
    } finally {
      await informer.stop();
    }
  });
});
