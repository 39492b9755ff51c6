// src/k8s against the fake API server over HTTPS. One suite, run through a generated kubeconfig
// and through in-cluster settings (token + CA files, host/port).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { utimes } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createKubeClient, type KubeClient, type KubeClientOptions } from "../../src/k8s/client.ts";
import { KubeTimeoutError, isConnectionError, kubeStatusOf } from "../../src/k8s/errors.ts";
import { NETWORK_STATUS_ANNOTATION } from "../../src/multus/report.ts";
import { captureKubeLog } from "../helpers/capture-log.ts";
import { startFakeKube, until, type FakeKube } from "../helpers/fake-kube.ts";
import { createProjectedToken } from "../helpers/projected-token.ts";

/** The network-status annotation as multus/ hands it to the client. */
const status = (value: string) => ({ key: NETWORK_STATUS_ANNOTATION, value });

const NODE = "node-a";
const FAST = { syncTimeoutMs: 5_000, informerBackoff: { initialMs: 20, maxMs: 200 }, eventDrainMs: 500 };

interface Mode {
  name: string;
  connect(fake: FakeKube, dir: string): Pick<KubeClientOptions, "kubeconfigPath" | "inCluster">;
}

const modes: Mode[] = [
  { name: "kubeconfig", connect: (fake, dir) => ({ kubeconfigPath: fake.writeKubeconfig(join(dir, "kubeconfig")) }) },
  {
    name: "in-cluster",
    connect: (fake, dir) => {
      const { host, port, tokenFile, caFile } = fake.inClusterEnv(join(dir, "serviceaccount"));
      return { inCluster: { host, port, tokenFile, caFile } };
    },
  },
  {
    // Not a kubeconfig src/k8s/kubeconfig.ts reads itself: client-node's KubeConfig runs the plugin.
    name: "kubeconfig with an exec plugin (client-node)",
    connect: (fake, dir) => {
      const path = fake.writeKubeconfig(join(dir, "kubeconfig"));
      const text = readFileSync(path, "utf8");
      const token = JSON.parse(/^ {4}token: (.*)$/m.exec(text)![1]!) as string;
      const plugin = join(dir, "credential-plugin");
      const credential = { apiVersion: "client.authentication.k8s.io/v1", kind: "ExecCredential", status: { token } };
      writeFileSync(plugin, `#!/bin/sh\nprintf '%s' '${JSON.stringify(credential)}'\n`, { mode: 0o755 });
      const exec = ["    exec:", "      apiVersion: client.authentication.k8s.io/v1", `      command: ${plugin}`];
      writeFileSync(path, text.replace(/^ {4}token: .*$/m, exec.join("\n")));
      return { kubeconfigPath: path };
    },
  },
];

async function elapsed<T>(p: Promise<T>): Promise<{ ms: number; result?: T; error?: unknown }> {
  const t = Date.now();
  try {
    const result = await p;
    return { ms: Date.now() - t, result };
  } catch (error) {
    return { ms: Date.now() - t, error };
  }
}

for (const mode of modes) {
  describe(`k8s client via ${mode.name}`, () => {
    let fake: FakeKube;
    let dir: string;
    let client: KubeClient;
    let connection: Pick<KubeClientOptions, "kubeconfigPath" | "inCluster">;
    const logger = captureKubeLog();
    const clients: KubeClient[] = [];

    async function newClient(extra: Partial<KubeClientOptions> = {}): Promise<KubeClient> {
      const c = await createKubeClient({ ...connection, ...FAST, logger, ...extra });
      clients.push(c);
      return c;
    }

    /** The informer holds it: getNad answers with zero GETs. */
    async function nadCached(namespace: string, name: string) {
      return until(async () => {
        const before = fake.count("GET nads");
        const nad = await client.getNad({ namespace, name }, { timeoutMs: 1_000 });
        return fake.count("GET nads") === before ? nad : null;
      }, `NAD ${namespace}/${name} in the informer cache`);
    }

    beforeAll(async () => {
      fake = await startFakeKube();
      dir = mkdtempSync(join(tmpdir(), "k8s-client-test-"));
      connection = mode.connect(fake, dir);
      fake.createPod({
        namespace: "ns1",
        name: "web",
        nodeName: NODE,
        uid: "uid-web",
        annotations: { "k8s.v1.cni.cncf.io/networks": "net1" },
      });
      fake.createPod({
        namespace: "kube-system",
        name: "static-node-a",
        nodeName: NODE,
        annotations: {
          "kubernetes.io/config.source": "file",
          "kubectl.kubernetes.io/last-applied-configuration": "{}",
        },
        status: {
          phase: "Running",
          resourceClaimStatuses: [{ name: "gpu", resourceClaimName: "web-gpu" }, { name: "none" }],
          extendedResourceClaimStatus: {
            resourceClaimName: "static-node-a-extended-resources-x",
            requestMappings: [
              { containerName: "c", resourceName: "example.com/vf", requestName: "container-0-request-0" },
            ],
          },
        },
      });
      fake.createPod({ namespace: "ns1", name: "elsewhere", nodeName: "node-b", uid: "uid-elsewhere" });
      fake.createNad({
        namespace: "ns1",
        name: "net1",
        config: '{"cniVersion":"1.0.0","type":"bridge"}',
        resourceName: "example.com/sriov",
      });
      fake.createNad({ namespace: "ns1", name: "noconfig" });
      client = await newClient({ nodeName: NODE });
      await client.start();
    });

    afterAll(async () => {
      await Promise.all(clients.map((c) => c.stop()));
      await fake.stop();
      rmSync(dir, { recursive: true, force: true });
    });

    test("start() lists this node's pods (never cluster-wide) and all NADs, then watches", async () => {
      expect(client.isSynced()).toBe(true);
      const podReads = fake
        .requests()
        .filter((r) => r.resource === "pods" && (r.verb === "LIST" || r.verb === "WATCH"));
      expect(podReads.length).toBeGreaterThanOrEqual(1);
      for (const r of podReads) {
        expect(r.path).toBe("/api/v1/pods");
        expect(new URLSearchParams(r.query).get("fieldSelector")).toBe(`spec.nodeName=${NODE}`);
      }
      expect(fake.count("LIST pods")).toBe(1);
      expect(fake.count("LIST nads")).toBe(1);
      await until(() => fake.openWatches("pods") === 1 && fake.openWatches("nads") === 1, "both watches open");
    });

    test("getPod answers from the informer cache with zero GETs", async () => {
      fake.resetCounts();
      const pod = await client.getPod({ namespace: "ns1", name: "web" }, { timeoutMs: 1_000 });
      expect(pod).toEqual({
        namespace: "ns1",
        name: "web",
        uid: "uid-web",
        annotations: { "k8s.v1.cni.cncf.io/networks": "net1" },
        isStatic: false,
        nodeName: NODE,
      });
      const st = await client.getPod({ namespace: "kube-system", name: "static-node-a" }, { timeoutMs: 1_000 });
      expect(st?.isStatic).toBe(true);
      expect(st?.annotations).toEqual({ "kubernetes.io/config.source": "file" }); // last-applied dropped
      expect(st?.resourceClaimStatuses).toEqual([{ name: "gpu", resourceClaimName: "web-gpu" }, { name: "none" }]);
      expect(st?.extendedResourceClaimStatus).toEqual({
        resourceClaimName: "static-node-a-extended-resources-x",
        requestMappings: [{ containerName: "c", resourceName: "example.com/vf", requestName: "container-0-request-0" }],
      });
      expect(fake.count("GET pods")).toBe(0);
    });

    test("a pod not in the cache costs exactly one live GET; NotFound is null", async () => {
      fake.resetCounts();
      const other = await client.getPod({ namespace: "ns1", name: "elsewhere" }, { timeoutMs: 1_000 });
      expect(other?.uid).toBe("uid-elsewhere");
      expect(fake.count("GET pods")).toBe(1);
      expect(await client.getPod({ namespace: "ns1", name: "missing" }, { timeoutMs: 1_000 })).toBeNull();
      expect(fake.count("GET pods")).toBe(2);
    });

    test("a cached pod whose UID differs from the one asked for is re-read live", async () => {
      fake.resetCounts();
      const pod = await client.getPod({ namespace: "ns1", name: "web", uid: "uid-new" }, { timeoutMs: 1_000 });
      expect(pod?.uid).toBe("uid-web"); // the API's answer; the caller compares
      expect(fake.count("GET pods")).toBe(1);
    });

    test("pod changes reach the cache (created, annotated, deleted)", async () => {
      fake.createPod({ namespace: "ns2", name: "new", nodeName: NODE, uid: "uid-new" });
      const cached = async (want: (p: Awaited<ReturnType<KubeClient["getPod"]>>) => boolean) =>
        until(async () => {
          const before = fake.count("GET pods");
          const p = await client.getPod({ namespace: "ns2", name: "new" }, { timeoutMs: 1_000 });
          return fake.count("GET pods") === before && want(p);
        }, "pod change in the cache");
      await cached((p) => p?.uid === "uid-new");
      fake.updatePod("ns2", "new", (p) => (p.metadata.annotations = { a: "b" }));
      await cached((p) => p?.annotations.a === "b");
      fake.deletePod("ns2", "new");
      // gone from the cache: the lookup falls through to a GET, which says NotFound
      await until(
        async () => (await client.getPod({ namespace: "ns2", name: "new" }, { timeoutMs: 1_000 })) === null,
        "pod gone",
      );
    });

    test("getNad: cache hit with zero GETs; config and resourceName trimmed; NotFound is null", async () => {
      fake.resetCounts();
      expect(await client.getNad({ namespace: "ns1", name: "net1" }, { timeoutMs: 1_000 })).toEqual({
        namespace: "ns1",
        name: "net1",
        config: '{"cniVersion":"1.0.0","type":"bridge"}',
        resourceName: "example.com/sriov",
      });
      expect(await client.getNad({ namespace: "ns1", name: "noconfig" }, { timeoutMs: 1_000 })).toEqual({
        namespace: "ns1",
        name: "noconfig",
        config: "",
      });
      expect(fake.count("GET nads")).toBe(0);
      expect(await client.getNad({ namespace: "ns1", name: "nope" }, { timeoutMs: 1_000 })).toBeNull();
      expect(fake.count("GET nads")).toBe(1);
    });

    test("a created NAD is seen by the informer; an updated one changes; a deleted one goes", async () => {
      fake.createNad({ namespace: "ns3", name: "later", config: "{}" });
      expect(await nadCached("ns3", "later")).toMatchObject({ config: "{}" });
      fake.updateNad("ns3", "later", (n) => ((n.spec as any).config = '{"v":2}'));
      await until(async () => {
        const nad = await nadCached("ns3", "later");
        return nad.config === '{"v":2}';
      }, "NAD update");
      fake.deleteNad("ns3", "later");
      await until(
        async () => (await client.getNad({ namespace: "ns3", name: "later" }, { timeoutMs: 1_000 })) === null,
        "NAD gone",
      );
    });

    test("a watch stream cut mid-run (clean end, then reset) is resumed; later NADs are seen", async () => {
      const watches = fake.count("WATCH nads");
      const lists = fake.count("LIST nads");
      expect(fake.cutWatches("end")).toBeGreaterThanOrEqual(2);
      fake.createNad({ namespace: "ns4", name: "after-end", config: "{}" });
      await nadCached("ns4", "after-end");
      await until(() => fake.openWatches("nads") === 1, "NAD watch reopened");
      fake.cutWatches("error");
      fake.createNad({ namespace: "ns4", name: "after-reset", config: "{}" });
      await nadCached("ns4", "after-reset");
      expect(fake.count("WATCH nads")).toBeGreaterThanOrEqual(watches + 2);
      expect(fake.count("LIST nads")).toBe(lists); // resumed from the last resourceVersion, no relist
      await until(() => fake.openWatches("pods") === 1 && fake.openWatches("nads") === 1, "both watches open");
    });

    test("410 Gone (history compacted while disconnected) makes the informer relist", async () => {
      fake.createNad({ namespace: "ns5", name: "doomed", config: "{}" });
      await nadCached("ns5", "doomed");
      const lists = fake.count("LIST nads");
      fake.cutWatches();
      fake.deleteNad("ns5", "doomed"); // missed by the informer: only a relist can drop it
      fake.createNad({ namespace: "ns5", name: "fresh", config: "{}" });
      fake.compact();
      await nadCached("ns5", "fresh");
      expect(fake.count("LIST nads")).toBe(lists + 1);
      fake.resetCounts();
      expect(await client.getNad({ namespace: "ns5", name: "doomed" }, { timeoutMs: 1_000 })).toBeNull();
      expect(fake.count("GET nads")).toBe(1); // not in the cache any more
      expect(logger.lines.some((l) => l.startsWith("verbose") && l.includes("relisting"))).toBe(true);
    });

    test("an ERROR 410 on an open watch also relists", async () => {
      await until(() => fake.openWatches("nads") === 1, "NAD watch open");
      const lists = fake.count("LIST nads");
      fake.expireWatches();
      fake.createNad({ namespace: "ns5", name: "after-expire", config: "{}" });
      await nadCached("ns5", "after-expire");
      await until(() => fake.count("LIST nads") >= lists + 1, "relist");
    });

    test("the informer restarts after non-410 errors (500 on watch and list) with backoff", async () => {
      fake.failNext({ verb: "WATCH", path: "nads", status: 500, times: 3 });
      fake.failNext({ verb: "LIST", path: "nads", status: 503, times: 1 });
      fake.cutWatches("error");
      fake.createNad({ namespace: "ns6", name: "after-errors", config: "{}" });
      await nadCached("ns6", "after-errors");
      expect(logger.lines.some((l) => l.startsWith("error") && l.includes("500"))).toBe(true);
      expect(client.isSynced()).toBe(true);
    });

    test("writePodAnnotation is exactly one merge PATCH of pods/status and no GET", async () => {
      fake.resetCounts();
      await client.writePodAnnotation({ namespace: "ns1", name: "web" }, status('[{"name":"net1"}]'), {
        timeoutMs: 2_000,
      });
      expect(fake.counts()).toEqual({ "PATCH pods/status": 1 });
      const req = fake.requests()[0]!;
      expect(req.path).toBe("/api/v1/namespaces/ns1/pods/web/status");
      expect(req.contentType).toBe("application/merge-patch+json");
      expect(req.body).toEqual({ metadata: { annotations: { [NETWORK_STATUS_ANNOTATION]: '[{"name":"net1"}]' } } });
      expect(fake.getPod("ns1", "web")?.metadata.annotations?.[NETWORK_STATUS_ANNOTATION]).toBe('[{"name":"net1"}]');
      expect(fake.getPod("ns1", "web")?.metadata.annotations?.["k8s.v1.cni.cncf.io/networks"]).toBe("net1");
    });

    test("writePodAnnotation retries injected 409, 429 and 500, then succeeds", async () => {
      fake.resetCounts();
      fake.failNext({ verb: "PATCH", path: "pods/status", status: 409, times: 1 });
      fake.failNext({ verb: "PATCH", path: "pods/status", status: 429, times: 1, retryAfterSeconds: 0 });
      fake.failNext({ verb: "PATCH", path: "pods/status", status: 500, times: 1 });
      await client.writePodAnnotation({ namespace: "ns1", name: "web" }, status("[]"), { timeoutMs: 5_000 });
      expect(fake.counts()).toEqual({ "PATCH pods/status": 4 });
      expect(fake.requests().map((r) => r.status)).toEqual([409, 429, 500, 200]);
      expect(fake.getPod("ns1", "web")?.metadata.annotations?.[NETWORK_STATUS_ANNOTATION]).toBe("[]");
    });

    test("writePodAnnotation tolerates 404, gives up on 403, and is bounded by its deadline", async () => {
      fake.resetCounts();
      await client.writePodAnnotation({ namespace: "ns1", name: "gone" }, status("[]"), { timeoutMs: 1_000 });
      expect(fake.counts()).toEqual({ "PATCH pods/status": 1 });

      fake.failNext({ verb: "PATCH", path: "pods/status", status: 403 });
      const forbidden = await elapsed(
        client.writePodAnnotation({ namespace: "ns1", name: "web" }, status("[]"), { timeoutMs: 1_000 }),
      );
      expect(kubeStatusOf(forbidden.error)).toBe(403);

      fake.failNext({ verb: "PATCH", path: "pods/status", status: 500, times: 1_000 });
      const failing = await elapsed(
        client.writePodAnnotation({ namespace: "ns1", name: "web" }, status("[]"), { timeoutMs: 400 }),
      );
      expect(kubeStatusOf(failing.error)).toBe(500);
      expect(failing.ms).toBeLessThan(1_000);
      expect(fake.count("PATCH pods/status")).toBeGreaterThan(3);
      fake.clearFailures();
    });

    test("recordEvent returns at once; the event is posted in the background (retried on 500)", async () => {
      fake.failNext({ verb: "POST", path: "events", status: 500, times: 1 });
      const t = performance.now();
      const ret = client.recordEvent(
        { namespace: "ns1", name: "web", uid: "uid-web" },
        { type: "Normal", reason: "AddedInterface", message: "Add net1 [10.0.0.2/24] from ns1/net1" },
      );
      expect(ret).toBeUndefined();
      expect(performance.now() - t).toBeLessThan(5);
      const ev = await until(() => fake.events().find((e) => e.reason === "AddedInterface"), "event recorded");
      expect(ev).toMatchObject({
        api: "v1",
        namespace: "ns1",
        type: "Normal",
        message: "Add net1 [10.0.0.2/24] from ns1/net1",
        involved: { kind: "Pod", namespace: "ns1", name: "web", uid: "uid-web" },
        component: "multus",
      });
      expect(ev.name.startsWith("web.")).toBe(true);
      expect((ev.object as any).source).toEqual({ component: "multus", host: NODE });
    });

    test("without a node name no pod informer runs: pods are read with live GETs", async () => {
      fake.resetCounts();
      const c = await newClient();
      await c.start();
      expect(c.isSynced()).toBe(true);
      expect(fake.count("LIST pods")).toBe(0);
      expect(fake.count("WATCH pods")).toBe(0);
      expect((await c.getPod({ namespace: "ns1", name: "web" }, { timeoutMs: 1_000 }))?.uid).toBe("uid-web");
      expect(fake.count("GET pods")).toBe(1);
      await c.stop();
    });

    test("a rotated token file is followed without a restart or a failed request", async () => {
      const projected = createProjectedToken(join(dir, `projected-${crypto.randomUUID()}`), fake.token);
      const c = await createKubeClient(
        !connection.inCluster
          ? { kubeconfigPath: fake.writeKubeconfig(join(dir, "kubeconfig-file"), { tokenFile: projected.path }) }
          : { inCluster: { ...connection.inCluster!, tokenFile: projected.path } },
      );
      try {
        const get = () => c.getPod({ namespace: "ns1", name: "web" }, { timeoutMs: 2_000 });
        expect((await get())?.uid).toBe("uid-web");
        // kubelet writes the new token while the old one is still valid, then the old one expires
        fake.acceptTokens(fake.token, "rotated-1");
        projected.rotate("rotated-1");
        fake.acceptTokens("rotated-1");
        fake.resetCounts();
        expect((await get())?.uid).toBe("uid-web");
        expect(podGetStatuses(fake)).toEqual([200]); // the change was seen before sending
      } finally {
        fake.acceptTokens(fake.token);
        await c.stop();
      }
    });

    test("a 401 re-reads the token file and retries once", async () => {
      const file = join(dir, `token-${crypto.randomUUID()}`);
      await writeFile(file, "before-0");
      const mtime = new Date("2026-01-01T00:00:00Z"); // whole seconds: utimes restores it exactly
      await utimes(file, mtime, mtime);
      const c = await createKubeClient(
        !connection.inCluster
          ? { kubeconfigPath: fake.writeKubeconfig(join(dir, "kubeconfig-file"), { tokenFile: file }) }
          : { inCluster: { ...connection.inCluster!, tokenFile: file } },
      );
      try {
        fake.acceptTokens("before-0");
        const get = () => c.getPod({ namespace: "ns1", name: "web" }, { timeoutMs: 2_000 });
        expect((await get())?.uid).toBe("uid-web");
        // Rewritten in place with the same size and mtime: nothing a stat can see, as when a
        // change lands within the file system's timestamp granularity.
        await writeFile(file, "after-01".slice(0, 8));
        await utimes(file, mtime, mtime);
        fake.acceptTokens("after-01");
        fake.resetCounts();
        expect((await get())?.uid).toBe("uid-web");
        expect(podGetStatuses(fake)).toEqual([401, 200]);
        // A token that stays wrong is not retried in a loop: one 401 and one retry, then the error.
        fake.acceptTokens("nobody-has-this");
        fake.resetCounts();
        const r = await elapsed(get());
        expect(kubeStatusOf(r.error)).toBe(401);
        expect(podGetStatuses(fake)).toEqual([401]); // the file did not change, so nothing to retry with
      } finally {
        fake.acceptTokens(fake.token);
        await c.stop();
      }
    });

    test("a wrong token gives 401 at once (not retried)", async () => {
      const c = await createKubeClient({
        ...(!connection.inCluster
          ? { kubeconfigPath: await writeBadKubeconfig(fake, dir) }
          : { inCluster: { ...connection.inCluster!, tokenFile: await writeFile(join(dir, "bad-token"), "nope") } }),
      });
      const r = await elapsed(c.getPod({ namespace: "ns1", name: "web" }, { timeoutMs: 2_000 }));
      expect(kubeStatusOf(r.error)).toBe(401);
      expect(r.ms).toBeLessThan(1_000);
      await c.stop();
    });

    test("server down: cached reads still work, live reads reject within the deadline, informers recover", async () => {
      await fake.setDown(true, "refuse");
      try {
        expect((await client.getPod({ namespace: "ns1", name: "web" }, { timeoutMs: 300 }))?.uid).toBe("uid-web");
        const refused = await elapsed(client.getPod({ namespace: "ns1", name: "elsewhere" }, { timeoutMs: 300 }));
        expect(isConnectionError(refused.error)).toBe(true);
        expect(refused.ms).toBeLessThan(1_000);
        client.recordEvent({ namespace: "ns1", name: "web" }, { type: "Warning", reason: "WhileDown", message: "x" });
      } finally {
        await fake.setDown(false);
      }

      await fake.setDown(true, "hang");
      try {
        const hung = await elapsed(client.getPod({ namespace: "ns1", name: "elsewhere" }, { timeoutMs: 300 }));
        expect(hung.error).toBeInstanceOf(KubeTimeoutError);
        expect(hung.ms).toBeGreaterThanOrEqual(250);
        expect(hung.ms).toBeLessThan(1_000);
      } finally {
        await fake.setDown(false);
      }

      await fake.setDown(true, "503");
      try {
        const unavailable = await elapsed(client.getNad({ namespace: "ns1", name: "nope" }, { timeoutMs: 300 }));
        expect(kubeStatusOf(unavailable.error)).toBe(503);
        expect(unavailable.ms).toBeLessThan(1_000);
      } finally {
        await fake.setDown(false);
      }

      fake.createNad({ namespace: "ns7", name: "after-outage", config: "{}" });
      await nadCached("ns7", "after-outage");
      fake.createPod({ namespace: "ns7", name: "after-outage", nodeName: NODE, uid: "uid-ao" });
      await until(async () => {
        const before = fake.count("GET pods");
        const p = await client.getPod({ namespace: "ns7", name: "after-outage" }, { timeoutMs: 1_000 });
        return fake.count("GET pods") === before && p?.uid === "uid-ao";
      }, "pod informer recovered");
    });

    test("an abort signal cancels a pending read", async () => {
      await fake.setDown(true, "hang");
      try {
        const ac = new AbortController();
        const before = fake.count("GET pods");
        const p = elapsed(
          client.getPod({ namespace: "ns1", name: "elsewhere" }, { timeoutMs: 5_000, signal: ac.signal }),
        );
        // Aborted once the GET is held at the API server: the read is pending, not yet to be sent.
        await until(async () => fake.count("GET pods") > before, "the GET to reach the API server");
        ac.abort(new Error("cancelled by test"));
        const r = await p;
        expect((r.error as Error).message).toBe("cancelled by test");
        expect(r.ms).toBeLessThan(1_000);
      } finally {
        await fake.setDown(false);
      }
    });

    test("stop() ends the watches and sends queued events first", async () => {
      const base = fake.openWatches();
      const c = await newClient({ nodeName: NODE });
      await c.start();
      await until(() => fake.openWatches() === base + 2, "the new client's watches open");
      c.recordEvent({ namespace: "ns1", name: "web" }, { type: "Warning", reason: "AtShutdown", message: "bye" });
      await c.stop();
      expect(fake.events().some((e) => e.reason === "AtShutdown")).toBe(true);
      await until(() => fake.openWatches() === base, "its watches closed");
    });
  });
}

/** Statuses of the pod GETs the fake answered since resetCounts (the suite's own informers also talk to it). */
const podGetStatuses = (fake: FakeKube) =>
  fake
    .requests()
    .filter((r) => r.verb === "GET" && r.resource === "pods")
    .map((r) => r.status);

async function writeFile(path: string, text: string): Promise<string> {
  await Bun.write(path, text);
  return path;
}

async function writeBadKubeconfig(fake: FakeKube, dir: string): Promise<string> {
  const path = fake.writeKubeconfig(join(dir, "bad-kubeconfig"));
  const text = await Bun.file(path).text();
  return writeFile(path, text.replace(JSON.stringify(fake.token), '"wrong-token"'));
}

describe("k8s client configuration errors", () => {
  test("a missing CA file fails createKubeClient", async () => {
    await expect(
      createKubeClient({
        inCluster: { host: "127.0.0.1", port: "1", tokenFile: "/nonexistent/token", caFile: "/nonexistent/ca.crt" },
      }),
    ).rejects.toThrow();
  });

  test("neither kubeconfig nor in-cluster settings is an error", async () => {
    await expect(createKubeClient({})).rejects.toThrow(/neither/);
  });
});
