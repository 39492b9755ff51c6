// The daemon's /metrics through the compiled binary: the metrics server is
// optional, so a port that is taken never stops CNI being served; the server
// comes up by itself once the port is free (docs/metrics.md).
import { describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { buildRecordingPlugin } from "../helpers/build-fixtures.ts";
import { runCni, shimConf, startDaemon } from "../helpers/multus.ts";
import { createNetns, deleteNetns } from "../helpers/netns.ts";
import {
  canRunE2e,
  containerId,
  createBinDir,
  socketRequest,
  waitFor,
  writeJson,
  workdirPerTest,
} from "../helpers/e2e.ts";
import { type Exposition, freePort, scrapeMetrics } from "../helpers/prom-text.ts";
import { describeRun, startK8sEnv } from "../helpers/k8s-e2e.ts";

const { work, cleanup } = workdirPerTest();

/** Holds a TCP port on all interfaces, as another host-network process would. */
async function occupyPort(): Promise<{ port: number; server: Server }> {
  for (;;) {
    const port = 20000 + Math.floor(Math.random() * 20000);
    const server = createServer();
    const ok = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "0.0.0.0", () => resolve(true));
    });
    if (ok) return { port, server };
  }
}

/**
 * A daemon whose cluster network is loopback followed by the recording plugin,
 * which passes loopback's result on and refuses CHECK with code 7: an ADD needs
 * nothing but a netns, and one CNI error comes from a delegate.
 */
async function startWithMetrics(metricsPort: number) {
  const recorder = await buildRecordingPlugin();
  const cluster = await writeJson(join(work.dir, "lo.conflist"), {
    cniVersion: "1.0.0",
    name: "lo-net",
    plugins: [
      { type: "loopback" },
      {
        type: "recorder",
        echoPrevResult: true,
        failOn: ["CHECK"],
        error: { code: 7, msg: "recorder refuses CHECK" },
      },
    ],
  });
  const daemon = await startDaemon(work.dir, {
    cniDir: join(work.dir, "cache"),
    binDir: await createBinDir(join(work.dir, "plugins"), { extra: { recorder } }),
    clusterNetwork: cluster,
    metricsPort,
  });
  cleanup.add(() => daemon.stop());
  return daemon;
}

describe.skipIf(!canRunE2e)("the metrics server", () => {
  test("a metricsPort taken at start: the daemon says why, serves ADD, and serves /metrics once the port is free", async () => {
    const taken = await occupyPort();
    let held = true;
    cleanup.add(() => held && taken.server.close());
    const daemon = await startWithMetrics(taken.port);
    await waitFor("the metrics warning", () => daemon.stderr().includes("metrics server cannot listen"));
    expect(daemon.stderr()).toContain(String(taken.port));
    expect(daemon.proc.exitCode).toBeNull();

    const ns = await createNetns("mtmet");
    cleanup.add(() => deleteNetns(ns.name));
    const add = await runCni(work.shim, {
      command: "ADD",
      containerId: containerId("met"),
      netns: ns.path,
      stdin: shimConf(daemon.socketDir),
    });
    expect(add.stderr).toBe("");
    expect(add.code).toBe(0);
    expect(add.json().cniVersion).toBe("1.0.0");

    await new Promise<void>((resolve) => taken.server.close(() => resolve()));
    held = false;
    const page = await waitFor("/metrics to answer", () => scrapeMetrics(taken.port), 20_000, 200);
    expect(page.value("multus_metrics_server_start_failures_total")).toBeGreaterThanOrEqual(1);
    // The ADD made while the server was down was counted all the same.
    expect(page.value("multus_server_request_total", { handler: "/cni", code: "200", method: "post" })).toBe(1);
    // Said once, not once per retry.
    expect(daemon.stderr().split("metrics server cannot listen").length - 1).toBe(1);
    expect(daemon.stderr()).toContain("metrics server listening on");
  });

  test("after ADD, CHECK refused by a delegate, DEL, a failed ADD and an unknown path: every series with its labels", async () => {
    const port = await freePort();
    const daemon = await startWithMetrics(port);
    const ns = await createNetns("mtmet");
    cleanup.add(() => deleteNetns(ns.name));
    const id = containerId("met");
    const call = { containerId: id, netns: ns.path, stdin: shimConf(daemon.socketDir) };
    const scrape = () => waitFor("/metrics to answer", () => scrapeMetrics(port), 10_000, 100);
    expect((await runCni(work.shim, { ...call, command: "ADD" })).code).toBe(0);
    expect((await scrape()).value("multus_delegate_cache_entries")).toBe(1);
    const check = await runCni(work.shim, { ...call, command: "CHECK" });
    expect(check.json()).toMatchObject({ code: 7, msg: "recorder refuses CHECK" });
    expect((await runCni(work.shim, { ...call, command: "DEL" })).code).toBe(0);
    const failed = await runCni(work.shim, { ...call, command: "ADD", netns: "/var/run/netns/mt-none-such" });
    expect(failed.json()).toMatchObject({ code: 999 });
    const socket = join(daemon.socketDir, "multus.sock");
    expect((await socketRequest(socket, "/no-such-endpoint", { method: "GET" })).status).toBe(404);

    const page = await scrape();
    expectTypes(page);
    expectRequestCounters(page);
    const count = (command: string, outcome: string) =>
      page.value("multus_cni_request_duration_seconds_count", { command, outcome });
    expect([count("ADD", "success"), count("CHECK", "error"), count("DEL", "success"), count("ADD", "error")]).toEqual([
      1, 1, 1, 1,
    ]);
    expect(page.value("multus_cni_errors_total", { code: "7" })).toBe(1);
    expect(page.value("multus_cni_errors_total", { code: "999" })).toBe(1);
    expect(page.samples("multus_cni_errors_total")).toHaveLength(2);
    expectDelegateRuns(page);
    expect(page.value("multus_delegate_cache_entries")).toBe(0);
    expect(page.value("multus_requests_in_flight")).toBe(0);
    expect(page.samples("multus_requests_queued")).toEqual([]);
    // No Kubernetes: nothing written, no informer.
    expect(page.samples("multus_network_status_writes_total")).toEqual([]);
    expect(page.samples("multus_informer_objects")).toEqual([]);
    expectProcessSeries(page);
  });
});

function expectTypes(page: Exposition): void {
  const types = Object.fromEntries([...page.families.values()].map((f) => [f.name, f.type]));
  expect(types).toMatchObject({
    multus_server_request_total: "counter",
    multus_cni_request_duration_seconds: "histogram",
    multus_cni_errors_total: "counter",
    multus_delegate_duration_seconds: "histogram",
    multus_requests_in_flight: "gauge",
    multus_requests_queued: "gauge",
    multus_delegate_cache_entries: "gauge",
    multus_network_status_writes_total: "counter",
    multus_kube_api_requests_total: "counter",
    multus_kube_api_request_duration_seconds: "histogram",
    multus_informer_objects: "gauge",
    multus_informer_last_sync_timestamp_seconds: "gauge",
    multus_informer_restarts_total: "counter",
    multus_metrics_server_start_failures_total: "counter",
    process_resident_memory_bytes: "gauge",
  });
}

function expectRequestCounters(page: Exposition): void {
  const requests = (labels: Record<string, string>) => page.value("multus_server_request_total", labels);
  expect(requests({ handler: "/cni", code: "200", method: "post" })).toBe(2);
  expect(requests({ handler: "/cni", code: "400", method: "post" })).toBe(2);
  expect(requests({ handler: "NotFound", code: "404", method: "get" })).toBe(1);
  // startDaemon polled /readyz until it answered 200.
  expect(requests({ handler: "/readyz", code: "200", method: "get" })).toBeGreaterThanOrEqual(1);
  expect(requests({ handler: "/cni", code: "200", method: "POST" })).toBeUndefined();
}

/** Each plugin of the list, each command: ADD and DEL ran both, CHECK stopped at the recorder's refusal. */
function expectDelegateRuns(page: Exposition): void {
  const runs = page
    .samples("multus_delegate_duration_seconds")
    .filter((s) => s.name === "multus_delegate_duration_seconds_count")
    .map((s) => `${s.labels.plugin_type} ${s.labels.command} ${s.labels.outcome} ${s.value}`)
    .sort();
  expect(runs).toEqual([
    "loopback ADD success 1",
    "loopback CHECK success 1",
    "loopback DEL success 1",
    "recorder ADD success 1",
    "recorder CHECK error 1",
    "recorder DEL success 1",
  ]);
  const sum = page.value("multus_delegate_duration_seconds_sum", {
    plugin_type: "loopback",
    command: "ADD",
    outcome: "success",
  });
  expect(sum).toBeGreaterThan(0);
  expect(sum).toBeLessThan(30);
}

function expectProcessSeries(page: Exposition): void {
  expect(page.value("process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
  expect(page.value("process_cpu_seconds_total")).toBeGreaterThan(0);
  expect(page.value("process_open_fds")).toBeGreaterThan(2);
  const started = page.value("process_start_time_seconds") ?? 0;
  const now = Date.now() / 1000;
  expect(started).toBeGreaterThan(now - 300);
  // Whole seconds, rounded: it may read up to 1 s ahead of the clock.
  expect(started).toBeLessThanOrEqual(now + 1);
}

describe.skipIf(!canRunE2e)("metrics of a daemon with Kubernetes", () => {
  test("API requests by verb, resource and code; informer health; network-status writes; a delegate refusing ADD", async () => {
    const port = await freePort();
    const env = await startK8sEnv({ daemonConfig: { metricsPort: port }, withRecorder: true });
    cleanup.add(() => env.stop());
    env.createNad({
      name: "refuses",
      config: { cniVersion: "1.0.0", type: "recorder", failOn: ["ADD"], error: { code: 7, msg: "no, says the NAD" } },
    });
    const netns = await Promise.all([createNetns("mtmk"), createNetns("mtmk"), createNetns("mtmk")]);
    for (const ns of netns) cleanup.add(() => deleteNetns(ns.name));
    const scrape = () => waitFor("/metrics to answer", () => scrapeMetrics(port), 10_000, 100);
    // The NAD informer has the NAD once its count says so: no live GET races the watch.
    await waitFor("both informers synced, the NAD cached", async () => {
      const page = await scrape();
      return page.value("multus_informer_objects", { informer: "network-attachment-definitions" }) === 1;
    });

    const ok = env.createPod({});
    const okRun = await env.cni("ADD", { pod: ok, containerId: "ctr-ok", netns: netns[0]!.path });
    expect(okRun.code, describeRun(okRun)).toBe(0);
    expect((await env.cni("DEL", { pod: ok, containerId: "ctr-ok", netns: netns[0]!.path })).code).toBe(0);
    const refused = env.createPod({ annotations: { "k8s.v1.cni.cncf.io/networks": "refuses" } });
    const refusedRun = await env.cni("ADD", { pod: refused, containerId: "ctr-refused", netns: netns[1]!.path });
    expect(refusedRun.json()).toMatchObject({ code: 7 });
    const unwritable = env.createPod({});
    env.fake.failNext({ verb: "PATCH", path: "pods/status", status: 403 });
    const unwritableRun = await env.cni("ADD", { pod: unwritable, containerId: "ctr-403", netns: netns[2]!.path });
    expect(unwritableRun.json(), describeRun(unwritableRun)).toMatchObject({ code: 999 });

    // A watch that ends and cannot be opened again is a restart of its informer.
    env.fake.failNext({ verb: "WATCH", path: "nads", status: 500 });
    env.fake.cutWatches();
    const page = await waitFor("the NAD informer to restart", async () => {
      const p = await scrape();
      return (p.value("multus_informer_restarts_total", { informer: "network-attachment-definitions" }) ?? 0) >= 1
        ? p
        : undefined;
    });

    const writes = (outcome: string) => page.value("multus_network_status_writes_total", { outcome });
    expect([writes("success"), writes("error")]).toEqual([1, 1]);
    expect(page.value("multus_cni_errors_total", { code: "7" })).toBe(1);
    expect(page.value("multus_cni_errors_total", { code: "999" })).toBe(1);
    const runs = (type: string, command: string, outcome: string) =>
      page.value("multus_delegate_duration_seconds_count", { plugin_type: type, command, outcome }) ?? 0;
    // Every ADD attached the cluster bridge; the DEL and both rollbacks took it away again.
    expect([runs("bridge", "ADD", "success"), runs("bridge", "DEL", "success")]).toEqual([3, 3]);
    expect([runs("recorder", "ADD", "error"), runs("recorder", "DEL", "success")]).toEqual([1, 1]);
    expect(page.value("multus_delegate_cache_entries")).toBe(0);
    expectKubeRequests(page, env.fake.counts());
    expectInformerHealth(page);
  });
});

/** Each counted request the fake API saw appears with Kubernetes' verb, resource and status. */
function expectKubeRequests(page: Exposition, fake: Record<string, number>): void {
  const requests = (labels: Record<string, string>) => page.sum("multus_kube_api_requests_total", labels);
  expect(requests({ verb: "patch", resource: "pods/status", code: "200" })).toBe(1);
  expect(requests({ verb: "patch", resource: "pods/status", code: "403" })).toBe(1);
  expect(requests({ verb: "patch", resource: "pods/status" })).toBe(fake["PATCH pods/status"] ?? 0);
  expect(requests({ verb: "list", resource: "pods", code: "200" })).toBeGreaterThanOrEqual(1);
  expect(requests({ verb: "list", resource: "network-attachment-definitions", code: "200" })).toBeGreaterThanOrEqual(1);
  expect(requests({ verb: "watch", resource: "network-attachment-definitions", code: "500" })).toBe(1);
  expect(requests({ verb: "watch", resource: "pods", code: "200" })).toBeGreaterThanOrEqual(1);
  const labels = page.samples("multus_kube_api_requests_total").map((s) => Object.keys(s.labels).sort().join(","));
  expect(new Set(labels)).toEqual(new Set(["code,resource,verb"]));
  const latency = page.value("multus_kube_api_request_duration_seconds_count", {
    verb: "patch",
    resource: "pods/status",
  });
  expect(latency).toBe(2);
}

function expectInformerHealth(page: Exposition): void {
  const now = Date.now() / 1000;
  for (const informer of ["pods", "network-attachment-definitions"]) {
    expect(page.value("multus_informer_synced", { informer })).toBe(1);
    const last = page.value("multus_informer_last_sync_timestamp_seconds", { informer }) ?? 0;
    expect(last).toBeGreaterThan(now - 120);
    expect(last).toBeLessThanOrEqual(now + 1);
  }
  // The three pods of this test are on the node.
  expect(page.value("multus_informer_objects", { informer: "pods" })).toBe(3);
  expect(page.value("multus_informer_objects", { informer: "network-attachment-definitions" })).toBe(1);
}
