// Prometheus metrics on metricsPort, loaded only when a port
// is configured: prom-client alone costs ~15 MB of daemon memory.
import { Counter, Histogram, Registry } from "prom-client";
import { Endpoint } from "../api/api.ts";

const KNOWN: string[] = Object.values(Endpoint);

export interface Metrics {
  observeResponse(path: string, method: string, status: number): void;
  observeCommand(command: string, seconds: number, ok: boolean): void;
  stop(): Promise<void>;
  readonly port: number;
}

export function startMetrics(port: number, hostname = "0.0.0.0"): Metrics {
  const registry = new Registry();
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
  const server = Bun.serve({
    port,
    hostname,
    async fetch(request) {
      if (new URL(request.url).pathname !== "/metrics") return new Response("not found\n", { status: 404 });
      return new Response(await registry.metrics(), { headers: { "content-type": registry.contentType } });
    },
  });
  return {
    port: server.port ?? port,
    observeResponse(path, method, status) {
      requests.inc({ handler: KNOWN.includes(path) ? path : "NotFound", code: String(status), method });
    },
    observeCommand(command, seconds, ok) {
      durations.observe({ command, outcome: ok ? "success" : "error" }, seconds);
    },
    async stop() {
      await server.stop(true);
    },
  };
}
