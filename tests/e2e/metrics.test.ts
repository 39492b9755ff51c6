// The daemon's /metrics through the compiled binary: the metrics server is
// optional, so a port that is taken never stops CNI being served; the server
// comes up by itself once the port is free (docs/metrics.md).
import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createServer, type Server } from "node:net";
import { join } from "node:path";
import { createWorkdir, runCni, shimConf, startDaemon } from "../helpers/multus.ts";
import { createCleanup, createNetns, deleteNetns } from "../helpers/netns.ts";
import { canRunE2e, containerId, ensureBinary, socketRequest, waitFor, writeJson } from "../helpers/e2e.ts";

let work: Awaited<ReturnType<typeof createWorkdir>>;
let cleanup: ReturnType<typeof createCleanup>;

beforeAll(async () => {
  if (canRunE2e) await ensureBinary();
});
beforeEach(async () => {
  if (!canRunE2e) return;
  cleanup = createCleanup();
  work = await createWorkdir();
  cleanup.add(() => work.remove());
});
afterEach(async () => {
  if (canRunE2e) await cleanup.run();
});

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

/** A daemon with a loopback-only cluster network: an ADD needs nothing but a netns. */
async function startWithMetrics(metricsPort: number) {
  const cluster = await writeJson(join(work.dir, "lo.conflist"), {
    cniVersion: "1.0.0",
    name: "lo-net",
    plugins: [{ type: "loopback" }],
  });
  const daemon = await startDaemon(work.dir, {
    cniDir: join(work.dir, "cache"),
    binDir: "/usr/lib/cni",
    clusterNetwork: cluster,
    metricsPort,
  });
  cleanup.add(() => daemon.stop());
  return daemon;
}

async function scrape(port: number): Promise<string | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(2000) });
    return res.status === 200 ? await res.text() : undefined;
  } catch {
    return undefined;
  }
}

/** The value of one sample line `name{labels} value`, found by name and exact label set. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const found = Object.fromEntries([...(m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    if (JSON.stringify(Object.entries(found).sort()) === JSON.stringify(Object.entries(labels).sort())) {
      return Number(m[3]);
    }
  }
  return undefined;
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
    const text = await waitFor("/metrics to answer", () => scrape(taken.port), 20_000, 200);
    expect(sample(text, "multus_metrics_server_start_failures_total")).toBeGreaterThanOrEqual(1);
    // The ADD made while the server was down was counted all the same.
    expect(sample(text, "multus_server_request_total", { handler: "/cni", code: "200", method: "post" })).toBe(1);
    // Said once, not once per retry.
    expect(daemon.stderr().split("metrics server cannot listen").length - 1).toBe(1);
    expect(daemon.stderr()).toContain("metrics server listening on");
  });

  test("after ADD, DEL, a failed ADD and an unknown path: request counters with Go's labels, durations, process series", async () => {
    const free = await occupyPort();
    await new Promise<void>((resolve) => free.server.close(() => resolve()));
    const daemon = await startWithMetrics(free.port);
    const ns = await createNetns("mtmet");
    cleanup.add(() => deleteNetns(ns.name));
    const id = containerId("met");
    const call = { containerId: id, netns: ns.path, stdin: shimConf(daemon.socketDir) };
    expect((await runCni(work.shim, { ...call, command: "ADD" })).code).toBe(0);
    expect((await runCni(work.shim, { ...call, command: "DEL" })).code).toBe(0);
    const failed = await runCni(work.shim, { ...call, command: "ADD", netns: "/var/run/netns/mt-none-such" });
    expect(failed.code).not.toBe(0);
    const socket = join(daemon.socketDir, "multus.sock");
    expect((await socketRequest(socket, "/no-such-endpoint", { method: "GET" })).status).toBe(404);

    const text = await waitFor("/metrics to answer", () => scrape(free.port), 10_000, 100);
    const requests = (labels: Record<string, string>) => sample(text, "multus_server_request_total", labels);
    expect(requests({ handler: "/cni", code: "200", method: "post" })).toBe(2);
    expect(requests({ handler: "/cni", code: "400", method: "post" })).toBe(1);
    expect(requests({ handler: "NotFound", code: "404", method: "get" })).toBe(1);
    // startDaemon polled /readyz until it answered 200.
    expect(requests({ handler: "/readyz", code: "200", method: "get" })).toBeGreaterThanOrEqual(1);
    expect(requests({ handler: "/cni", code: "200", method: "POST" })).toBeUndefined();

    const count = (command: string, outcome: string) =>
      sample(text, "multus_cni_request_duration_seconds_count", { command, outcome });
    expect([count("ADD", "success"), count("DEL", "success"), count("ADD", "error")]).toEqual([1, 1, 1]);

    const rss = sample(text, "process_resident_memory_bytes") ?? 0;
    expect(rss).toBeGreaterThan(1024 * 1024);
    expect(sample(text, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(sample(text, "process_open_fds")).toBeGreaterThan(2);
    const started = sample(text, "process_start_time_seconds") ?? 0;
    const now = Date.now() / 1000;
    expect(started).toBeGreaterThan(now - 300);
    // Whole seconds, rounded: it may read up to 1 s ahead of the clock.
    expect(started).toBeLessThanOrEqual(now + 1);
  });
});
