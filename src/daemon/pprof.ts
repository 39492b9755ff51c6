// What Go's `enablePprof` gives operators, for a Bun process: on the metrics
// port, a heap snapshot and a CPU profile of N seconds to download. Both are in
// the V8 formats Chrome DevTools (Memory / Performance panels) and speedscope
// open. node:inspector is loaded only when a profile is asked for.
// docs/metrics.md "Profiling".

import type { Logger } from "../util/log.ts";

export const PPROF_PREFIX = "/debug/pprof/";
const DEFAULT_SECONDS = 30; // Go's pprof default
const MAX_SECONDS = 300;

const INDEX = `multus profiling (enablePprof)

${PPROF_PREFIX}heap               a heap snapshot (.heapsnapshot: Chrome DevTools, Memory panel)
${PPROF_PREFIX}profile?seconds=N  a CPU profile of N seconds, default ${DEFAULT_SECONDS}, at most ${MAX_SECONDS}
                                 (.cpuprofile: Chrome DevTools, Performance panel, or speedscope)
`;

export interface Pprof {
  /** The answer for a /debug/pprof/ path, or undefined for any other path. */
  handle(request: Request): Promise<Response | undefined>;
}

/** `log` says when a profile starts and ends; `sleep` waits out a profile (replaceable in tests). */
export function createPprof(opts: { log: Logger; sleep?: (ms: number) => Promise<void> }): Pprof {
  const sleep = opts.sleep ?? ((ms: number) => Bun.sleep(ms));
  let profiling = false;
  return {
    async handle(request) {
      const url = new URL(request.url);
      if (!url.pathname.startsWith(PPROF_PREFIX)) return undefined;
      if (request.method !== "GET") return text("method not allowed\n", 405);
      switch (url.pathname.slice(PPROF_PREFIX.length)) {
        case "":
          return text(INDEX, 200);
        case "heap":
          return download(Bun.generateHeapSnapshot("v8"), "heapsnapshot");
        case "profile": {
          const seconds = parseSeconds(url.searchParams.get("seconds"));
          if (typeof seconds === "string") return text(`${seconds}\n`, 400);
          // One at a time: the inspector session is per process.
          if (profiling) return text("a CPU profile is already being taken; try again when it is done\n", 409);
          profiling = true;
          try {
            opts.log.verbose(`pprof: CPU profile of ${seconds} s started`);
            return download(JSON.stringify(await cpuProfile(seconds * 1000, sleep)), "cpuprofile");
          } finally {
            profiling = false;
            opts.log.verbose("pprof: CPU profile done");
          }
        }
        default:
          return text(`unknown profile; see ${PPROF_PREFIX}\n`, 404);
      }
    },
  };
}

/** Seconds from `?seconds=`, or the reason it is not acceptable. */
function parseSeconds(raw: string | null): number | string {
  if (raw === null || raw === "") return DEFAULT_SECONDS;
  const seconds = Number(raw);
  if (!Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_SECONDS) {
    return `seconds must be a number above 0 and at most ${MAX_SECONDS}, got ${JSON.stringify(raw)}`;
  }
  return seconds;
}

async function cpuProfile(ms: number, sleep: (ms: number) => Promise<void>): Promise<unknown> {
  const { Session } = await import("node:inspector");
  const session = new Session();
  session.connect();
  const post = (method: string) =>
    new Promise<Record<string, unknown>>((resolve, reject) =>
      session.post(method, (err, result) => (err ? reject(err) : resolve((result ?? {}) as Record<string, unknown>))),
    );
  try {
    await post("Profiler.enable");
    await post("Profiler.start");
    await sleep(ms);
    return (await post("Profiler.stop")).profile;
  } finally {
    session.disconnect();
  }
}

function download(body: string, extension: string): Response {
  const stamp = new Date().toISOString().replace(/[:.]/g, "-");
  return new Response(body, {
    headers: {
      "content-type": "application/json",
      "content-disposition": `attachment; filename="multus-${process.pid}-${stamp}.${extension}"`,
    },
  });
}

function text(body: string, status: number): Response {
  return new Response(body, { status, headers: { "content-type": "text/plain; charset=utf-8" } });
}
