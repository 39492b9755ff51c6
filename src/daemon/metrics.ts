// Prometheus metrics on metricsPort, loaded only when a port is configured:
// prom-client alone costs ~15 MB of daemon memory. The metrics server is
// optional, so it fails soft: a port that cannot be bound is said once with the
// reason, counted, and retried with backoff while CNI requests go on being
// served (docs/metrics.md).
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { Endpoint } from "../api/api.ts";
import type { Logger } from "../util/log.ts";

const KNOWN: string[] = Object.values(Endpoint);

export interface Metrics {
  observeResponse(path: string, method: string, status: number): void;
  observeCommand(command: string, seconds: number, ok: boolean): void;
  /** A DEL recorded a tombstone, or a replay cleared one. */
  observeTombstone(event: "recorded" | "replayed"): void;
  stop(): Promise<void>;
  /** The bound port, or undefined while the server is not (yet) listening. */
  readonly port: number | undefined;
}

export interface MetricsOptions {
  port: number;
  hostname?: string;
  log: Logger;
  /** Start-up news an operator must see whatever the log level (stderr). */
  say(msg: string): void;
  /** Delay before the first retry, doubled after each failure up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  /** Tombstones waiting for their plugin, read at each scrape. */
  pendingTombstones?(): Promise<number>;
}

export function startMetrics(opts: MetricsOptions): Metrics {
  const registry = new Registry();
  registerProcessMetrics(registry);
  const requests = new Counter({
    name: "multus_server_request_total",
    help: "Counter of HTTP requests",
    labelNames: ["handler", "code", "method"] as const,
    registers: [registry],
  });
  const durations = new Histogram({
    name: "multus_cni_request_duration_seconds",
    help: "Duration of CNI requests handled by the daemon, by command and outcome",
    labelNames: ["command", "outcome"] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
    registers: [registry],
  });
  const failures = new Counter({
    name: "multus_metrics_server_start_failures_total",
    help: "Failed attempts to start the metrics server (the port taken, say); each is retried with backoff",
    registers: [registry],
  });
  const tombstones = registerTombstoneMetrics(registry, opts.pendingTombstones);
  const serving = createRetryingServer(opts, failures, async () => ({
    body: await registry.metrics(),
    contentType: registry.contentType,
  }));
  return {
    get port() {
      return serving.port;
    },
    observeResponse(path, method, status) {
      // Go's promhttp writes the method lower-case ("post"); dashboards built on it match on that.
      const handler = KNOWN.includes(path) ? path : "NotFound";
      requests.inc({ handler, code: String(status), method: method.toLowerCase() });
    },
    observeCommand(command, seconds, ok) {
      durations.observe({ command, outcome: ok ? "success" : "error" }, seconds);
    },
    observeTombstone: tombstones.observe,
    stop: serving.stop,
  };
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

type Scrape = () => Promise<{ body: string; contentType: string }>;

/** Bun.serve on the metrics port, tried again with backoff for as long as it fails. */
function createRetryingServer(opts: MetricsOptions, failures: Counter, scrape: Scrape) {
  const hostname = opts.hostname ?? "0.0.0.0";
  const maxRetryMs = opts.maxRetryMs ?? 30_000;
  let delay = opts.retryMs ?? 1000;
  let server: ReturnType<typeof Bun.serve> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failed = 0;
  let stopped = false;

  const attempt = () => {
    timer = undefined;
    if (stopped) return;
    try {
      server = Bun.serve({
        port: opts.port,
        hostname,
        async fetch(request) {
          if (new URL(request.url).pathname !== "/metrics") return new Response("not found\n", { status: 404 });
          const { body, contentType } = await scrape();
          return new Response(body, { headers: { "content-type": contentType } });
        },
      });
      if (failed > 0) {
        const msg = `metrics server listening on ${hostname}:${opts.port} after ${failed} failed attempt(s)`;
        opts.say(msg);
        opts.log.verbose(msg);
      }
    } catch (err) {
      failures.inc();
      failed++;
      // Said once: a retry every few seconds must not flood the log of a daemon that otherwise works.
      if (failed === 1) {
        const msg =
          `metrics server cannot listen on ${hostname}:${opts.port}: ${(err as Error).message}; ` +
          "retrying with backoff, CNI requests are still served";
        opts.say(`warning: ${msg}`);
        opts.log.error(msg);
      }
      timer = setTimeout(attempt, delay);
      // A pending retry must not keep a stopping daemon alive.
      timer.unref?.();
      delay = Math.min(delay * 2, maxRetryMs);
    }
  };
  attempt();

  return {
    get port(): number | undefined {
      return server ? (server.port ?? opts.port) : undefined;
    },
    async stop(): Promise<void> {
      stopped = true;
      if (timer) clearTimeout(timer);
      await server?.stop(true);
    },
  };
}
