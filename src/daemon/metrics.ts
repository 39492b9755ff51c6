// Prometheus metrics on metricsPort, loaded only when a port is configured:
// prom-client alone is a good part of the daemon's memory. This is the one module that
// imports it: the rest of the daemon, the core and the Kubernetes client hear of
// events through small observer interfaces, and gauges read their value from
// `sources` at scrape time, so nothing on a request's path waits on metrics.
// Every series is described in docs/metrics.md.
import { readdir } from "node:fs/promises";
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { Endpoint } from "../api/api.ts";
import type { InformerState } from "../k8s/client.ts";
import type { KubeRequestEvent } from "../k8s/observe.ts";
import type { MultusObserver } from "../multus/ports.ts";
import type { BodyBudgetState } from "./server.ts";
import { type MetricsServerOptions, startRetryingServer } from "./metrics-server.ts";

const KNOWN: string[] = Object.values(Endpoint);
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Where the gauges read their values when /metrics is scraped. */
export interface MetricsSources {
  /** Requests holding a connectionLimit slot, and those waiting, by CNI command. */
  queue?: () => { inFlight: number; queued: Map<string, number> };
  informers?: () => InformerState[];
  /** The socket server's body budget and the requests it refused itself. */
  bodies?: () => BodyBudgetState;
  /** The delegate cache directory (cniDir): its entries are counted at each scrape. */
  cacheDir?: string;
}

export interface Metrics {
  observeResponse(path: string, method: string, status: number): void;
  observeCommand(command: string, seconds: number, ok: boolean): void;
  observeCniError(code: number): void;
  observeKubeRequest(o: KubeRequestEvent): void;
  /** A DEL recorded a tombstone, or a replay cleared one. */
  observeTombstone(event: "recorded" | "replayed"): void;
  /** The core's observer port: plugin runs and network-status writes. */
  readonly multus: MultusObserver;
  /** Sets (or adds to) what the gauges read; called once the parts they read exist. */
  watch(sources: MetricsSources): void;
  stop(): Promise<void>;
  /** The bound port, or undefined while the server is not (yet) listening. */
  readonly port: number | undefined;
}

export interface MetricsOptions extends MetricsServerOptions {
  /** Tombstones waiting for their plugin, read at each scrape. */
  pendingTombstones?(): Promise<number>;
}

export function startMetrics(opts: MetricsOptions): Metrics {
  const registry = new Registry();
  registerProcessMetrics(registry);
  const sources: MetricsSources = {};
  registerGauges(registry, sources);
  const cni = cniSeries(registry);
  const kube = kubeSeries(registry);
  const failures = new Counter({
    name: "multus_metrics_server_start_failures_total",
    help: "Failed attempts to start the metrics server (the port taken, say); each is retried with backoff",
    registers: [registry],
  });
  const tombstones = registerTombstoneMetrics(registry, opts.pendingTombstones);
  const serving = startRetryingServer(
    opts,
    () => failures.inc(),
    async () => ({ body: await registry.metrics(), contentType: registry.contentType }),
  );
  const pluginType = boundedLabel(MAX_PLUGIN_TYPES);
  return {
    get port() {
      return serving.port;
    },
    observeResponse(path, method, status) {
      // Go's promhttp writes the method lower-case ("post"); dashboards built on it match on that.
      const handler = KNOWN.includes(path) ? path : "NotFound";
      cni.requests.inc({ handler, code: String(status), method: method.toLowerCase() });
    },
    observeCommand(command, seconds, ok) {
      cni.durations.observe({ command, outcome: ok ? "success" : "error" }, seconds);
    },
    observeCniError(code) {
      cni.errors.inc({ code: Number.isInteger(code) && code >= 0 && code <= 999 ? String(code) : "other" });
    },
    observeKubeRequest({ verb, resource, code, seconds }) {
      kube.requests.inc({ verb, resource, code });
      kube.durations.observe({ verb, resource }, seconds);
    },
    observeTombstone: tombstones.observe,
    multus: {
      delegateCall({ pluginType: type, command, seconds, ok }) {
        const labels = { plugin_type: pluginType(type), command, outcome: ok ? "success" : "error" };
        cni.delegates.observe(labels, seconds);
      },
      networkStatusWrite(ok) {
        cni.networkStatus.inc({ outcome: ok ? "success" : "error" });
      },
    },
    watch(more) {
      Object.assign(sources, more);
    },
    stop: serving.stop,
  };
}

function cniSeries(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: "multus_server_request_total",
      help: "Counter of HTTP requests",
      labelNames: ["handler", "code", "method"] as const,
      registers,
    }),
    durations: new Histogram({
      name: "multus_cni_request_duration_seconds",
      help: "Duration of CNI requests handled by the daemon, by command and outcome",
      labelNames: ["command", "outcome"] as const,
      buckets: BUCKETS,
      registers,
    }),
    errors: new Counter({
      name: "multus_cni_errors_total",
      help: "CNI errors returned to the runtime, by CNI error code",
      labelNames: ["code"] as const,
      registers,
    }),
    delegates: new Histogram({
      name: "multus_delegate_duration_seconds",
      help: "Duration of each delegate plugin run, by plugin type, CNI command and outcome",
      labelNames: ["plugin_type", "command", "outcome"] as const,
      buckets: BUCKETS,
      registers,
    }),
    networkStatus: new Counter({
      name: "multus_network_status_writes_total",
      help: "Writes of a pod's network-status annotation, by outcome",
      labelNames: ["outcome"] as const,
      registers,
    }),
  };
}

function kubeSeries(registry: Registry) {
  const registers = [registry];
  return {
    requests: new Counter({
      name: "multus_kube_api_requests_total",
      help: "Kubernetes API requests, by verb, resource and HTTP status",
      labelNames: ["verb", "resource", "code"] as const,
      registers,
    }),
    durations: new Histogram({
      name: "multus_kube_api_request_duration_seconds",
      help: "Latency of Kubernetes API requests (a watch: until its headers), by verb and resource",
      labelNames: ["verb", "resource"] as const,
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers,
    }),
  };
}

/** Gauges (and the informer restart counter) read from `sources` at each scrape. */
function registerGauges(registry: Registry, sources: MetricsSources): void {
  const registers = [registry];
  new Gauge({
    name: "multus_requests_in_flight",
    help: "CNI requests being handled (holding a connectionLimit slot)",
    registers,
    collect() {
      this.set(sources.queue?.().inFlight ?? 0);
    },
  });
  new Gauge({
    name: "multus_requests_queued",
    help: "CNI requests waiting for a connectionLimit slot, by CNI command",
    labelNames: ["command"] as const,
    registers,
    collect() {
      this.reset();
      for (const [command, n] of sources.queue?.().queued ?? []) this.set({ command }, n);
    },
  });
  new Gauge({
    name: "multus_delegate_cache_entries",
    help: "Delegate cache files on disk (one per container with networks attached)",
    registers,
    async collect() {
      if (sources.cacheDir !== undefined) this.set(await countCacheEntries(sources.cacheDir));
    },
  });
  registerInformerGauges(registry, sources);
  registerBodyBudgetMetrics(registry, sources);
}

/**
 * The request-body budget (maxPendingRequestBytes) and the requests the server turned away
 * itself with code 11, read from the server at each scrape: a held figure near the budget,
 * or refusals that grow, say why shims are being told to try again.
 */
function registerBodyBudgetMetrics(registry: Registry, sources: MetricsSources): void {
  const registers = [registry];
  new Gauge({
    name: "multus_request_body_bytes_held",
    help: "Bytes of request bodies the daemon holds now (being read, waiting for a slot or handled)",
    registers,
    collect() {
      this.set(sources.bodies?.().heldBytes ?? 0);
    },
  });
  new Gauge({
    name: "multus_request_body_bytes_budget",
    help: "maxPendingRequestBytes in force: bodies past it are refused unread (503, CNI code 11)",
    registers,
    collect() {
      this.set(sources.bodies?.().budgetBytes ?? 0);
    },
  });
  new Counter({
    name: "multus_requests_refused_total",
    help: "Requests the daemon refused with CNI code 11 before handling them, by reason: body_budget (503, body unread) or queue_deadline (no connectionLimit slot in time)",
    labelNames: ["reason"] as const,
    registers,
    collect() {
      // The server keeps the counts; the counter mirrors them.
      const b = sources.bodies?.();
      this.reset();
      this.inc({ reason: "body_budget" }, b?.refusedOverBudget ?? 0);
      this.inc({ reason: "queue_deadline" }, b?.refusedQueueDeadline ?? 0);
    },
  });
}

function registerInformerGauges(registry: Registry, sources: MetricsSources): void {
  const registers = [registry];
  const labelNames = ["informer"] as const;
  new Gauge({
    name: "multus_informer_objects",
    help: "Objects in an informer's cache",
    labelNames,
    registers,
    collect() {
      for (const i of sources.informers?.() ?? []) this.set({ informer: i.name }, i.objects);
    },
  });
  new Gauge({
    name: "multus_informer_synced",
    help: "1 once an informer's first list completed (until then pod and NAD reads are live GETs)",
    labelNames,
    registers,
    collect() {
      for (const i of sources.informers?.() ?? []) this.set({ informer: i.name }, i.synced ? 1 : 0);
    },
  });
  new Gauge({
    name: "multus_informer_last_sync_timestamp_seconds",
    help: "When an informer last listed or received a watch event, seconds since the Unix epoch",
    labelNames,
    registers,
    collect() {
      for (const i of sources.informers?.() ?? []) {
        if (i.lastSyncAt !== undefined) this.set({ informer: i.name }, i.lastSyncAt / 1000);
      }
    },
  });
  new Counter({
    name: "multus_informer_restarts_total",
    help: "Times an informer's list/watch failed and was started again",
    labelNames,
    registers,
    collect() {
      // The informer keeps the count; the counter mirrors it.
      this.reset();
      for (const i of sources.informers?.() ?? []) this.inc({ informer: i.name }, i.restarts);
    },
  });
}

/**
 * DELs answered with success while their plugin was not installed: how many were
 * recorded and replayed, and how many still wait (a non-zero gauge that does not fall
 * is a plugin missing on this node for good).
 */
function registerTombstoneMetrics(registry: Registry, pending?: () => Promise<number>) {
  const events = new Counter({
    name: "multus_del_tombstones_total",
    help: "DELs of a delegate whose plugin was not installed, by event: recorded (DEL answered success) or replayed",
    labelNames: ["event"] as const,
    registers: [registry],
  });
  new Gauge({
    name: "multus_del_tombstones_pending",
    help: "Tombstones waiting for their plugin to be installed again",
    registers: [registry],
    async collect() {
      this.set(pending ? await pending().catch(() => 0) : 0);
    },
  });
  return { observe: (event: "recorded" | "replayed") => events.inc({ event }) };
}

/** Regular files of the cache dir, less temp files of writes in progress (`.name.pid.hex.tmp`) and `results/`. */
async function countCacheEntries(dir: string): Promise<number> {
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile() && !e.name.startsWith(".")).length;
}

/** Distinct plugin types labelled before the rest is "other": a NAD author must not blow up the series count. */
const MAX_PLUGIN_TYPES = 64;

function boundedLabel(max: number): (value: string) => string {
  const seen = new Set<string>();
  return (value) => {
    if (!/^[\w.-]{1,64}$/.test(value)) return "invalid";
    if (seen.has(value)) return value;
    if (seen.size >= max) return "other";
    seen.add(value);
    return value;
  };
}

/**
 * The process_* series (memory, CPU, fds, start time), as Go's process
 * collector names them. prom-client's nodejs_* series are left out: under Bun
 * its event-loop and heap-space figures are not meaningful (NaN, zeros).
 */
function registerProcessMetrics(registry: Registry): void {
  const scratch = new Registry();
  collectDefaultMetrics({ register: scratch });
  for (const metric of scratch.getMetricsAsArray()) {
    if (metric.name.startsWith("process_")) registry.registerMetric(metric as never);
  }
}
