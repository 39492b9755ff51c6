// The HTTP listener of /metrics, apart from the series (metrics.ts) so that it
// needs no Prometheus client. Optional, so it fails soft: a port that cannot be
// bound is said once with the reason, counted through `onFailure`, and retried
// with backoff while CNI requests go on being served (docs/metrics.md).
import type { Logger } from "../util/log.ts";

export interface MetricsServerOptions {
  port: number;
  hostname?: string;
  log: Logger;
  /** Start-up news an operator must see whatever the log level (stderr). */
  say(msg: string): void;
  /** Delay before the first retry, doubled after each failure up to `maxRetryMs`. */
  retryMs?: number;
  maxRetryMs?: number;
  /** More paths on the same port (the enablePprof profiles): a Response, or undefined for "not mine". */
  routes?(request: Request): Promise<Response | undefined>;
}

export type Scrape = () => Promise<{ body: string; contentType: string }>;

export interface MetricsServer {
  /** The bound port, or undefined while the server is not (yet) listening. */
  readonly port: number | undefined;
  stop(): Promise<void>;
}

/** Bun.serve on the metrics port, tried again with backoff for as long as it fails. */
export function startRetryingServer(opts: MetricsServerOptions, onFailure: () => void, scrape: Scrape): MetricsServer {
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
          const routed = await opts.routes?.(request);
          if (routed) return routed;
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
      onFailure();
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
