// The unix-socket HTTP server: socket file hygiene, an optional cap on
// requests in flight (connectionLimit), and a graceful stop.
import { chmod, mkdir, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import { DAEMON_URL, Endpoint } from "../api/api.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { Admission, QueueDeadlineError } from "./admission.ts";
import { BodyBudget, type BodyHold, defaultPendingRequestBytes, SMALL_BODY_BYTES } from "./body-budget.ts";

/**
 * A shim request is a few KiB (env + the netconf); 1 MiB leaves room for the largest
 * conflists while a body, which costs ~3x its size as it is decoded, stays well inside
 * the DaemonSet's memory limit (docs/deploy.md).
 */
export const MAX_REQUEST_BYTES = 1024 * 1024;
/** A request body still arriving after this long is cut off (a client trickling bytes). */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

export interface ServerOptions {
  socketPath: string;
  handle(request: Request): Promise<Response>;
  /** Called once per answered request (metrics). */
  onResponse?(path: string, method: string, status: number): void;
  /** Called with the code of each CNI error the server answers itself (saturation, code 11). */
  onCniError?(code: number): void;
  /** At most this many requests are handled at once; the rest wait (Go's LimitListener). */
  connectionLimit?: number;
  /** Longest a request waits for a slot before it is refused with CNI code 11 (ms). */
  queueDeadlineMs?: number;
  /** Largest request body (default MAX_REQUEST_BYTES); a larger one is refused with 413. */
  maxRequestBytes?: number;
  /**
   * Bytes of request bodies held at once, being read or waiting or handled (default
   * defaultPendingRequestBytes, never less than maxRequestBytes); past it 503, code 11.
   */
  maxPendingRequestBytes?: number;
  /** Longest the body may take to arrive (default DEFAULT_BODY_TIMEOUT_MS); then 408 and the connection is closed. */
  bodyTimeoutMs?: number;
  /** A full GC after a request once RSS grew this much since the last one (default GC_RSS_GROWTH_BYTES; 0: never). */
  gcRssGrowthBytes?: number;
}

/**
 * A full garbage collection after a CNI request, once the reply is out, when the daemon's
 * RSS has grown this much since the last one. JavaScriptCore lets garbage pile up to about
 * twice the live heap before it collects, and a burst's garbage lifts the peak; collecting
 * only when the process grows keeps nearly all of that peak down for a fraction of the
 * collections a fixed count makes (after every 8th request a burst of 32 paid ~6 ms per GC,
 * ~0.7 ms per request). RSS is read in ~3 us; heapUsed does not track garbage between
 * collections (bench/results.md, "A full GC when RSS grew").
 */
export const GC_RSS_GROWTH_BYTES = 512 * 1024;

/**
 * A check to run after each request: a full GC once RSS is `growth` bytes above what it was
 * after the last one. The base follows RSS down when pages are given back, so growth is
 * always counted from the lowest point since the last collection.
 */
export function gcOnRssGrowth(
  growth: number,
  readRss: () => number = () => process.memoryUsage.rss(),
  collect: () => void = () => Bun.gc(true),
): () => void {
  let base = readRss();
  return () => {
    const rss = readRss();
    if (rss < base) base = rss;
    else if (rss - base >= growth) {
      collect();
      base = readRss();
    }
  };
}

/** Without a configured deadline a waiter is refused after this long, well inside a kubelet's 4 min CNI timeout. */
export const DEFAULT_QUEUE_DEADLINE_MS = 60_000;

/**
 * The CNI command of a /cni or /delegate body, read from a clone so the handler still gets
 * the body; it only orders the queue (DEL first). A body larger than any shim request is
 * not decoded twice for that: it queues as an ADD would.
 */
async function commandOf(request: Request, size: number): Promise<string | undefined> {
  if (size > SMALL_BODY_BYTES) return undefined;
  try {
    const body = (await request.clone().json()) as { env?: Record<string, unknown> };
    const command = body.env?.CNI_COMMAND;
    return typeof command === "string" ? command : undefined;
  } catch {
    return undefined; // the handler answers a malformed body with its own error
  }
}

function saturated(err: QueueDeadlineError): Response {
  const e = new CniError(ErrorCode.TryAgainLater, "multus daemon is saturated: try again later", err.message);
  return new Response(JSON.stringify(e.toJSON()), { status: 400, headers: { "Content-Type": "application/json" } });
}

/**
 * The answer to a body the budget has no room for, sent before the body is read: 503, which
 * the shim retries (only an answer that nothing ran, as this one, is retried), with the same
 * code 11 as a queue deadline for a client that does not. The connection stays open: Bun
 * discards the rest of the body as it comes, while a close would race the answer (a client
 * still writing got EPIPE before it read the 503).
 */
function overBudget(budget: BodyBudget): Response {
  const e = new CniError(
    ErrorCode.TryAgainLater,
    "multus daemon is saturated: try again later",
    `request bodies pending: ${budget.used} bytes, budget ${budget.limit} (maxPendingRequestBytes)`,
  );
  return new Response(JSON.stringify(e.toJSON()), { status: 503, headers: { "Content-Type": "application/json" } });
}

export interface DaemonServer {
  /** Lets in-flight requests finish within `graceMs` (still answering meanwhile), stops accepting, removes the socket. */
  stop(graceMs: number): Promise<void>;
  readonly inFlight: number;
  /** Requests holding a slot and waiting for one, and the limits (GET /status). */
  queue(): QueueState;
  /** Requests waiting for a connectionLimit slot, by CNI command (the queue-depth gauge). */
  queuedByCommand(): Map<string, number>;
  /** The body budget and the requests the server refused itself (GET /status, metrics). */
  bodies(): BodyBudgetState;
}

export interface BodyBudgetState {
  heldBytes: number;
  /** maxPendingRequestBytes in force (small bodies may use `reserveBytes` more). */
  budgetBytes: number;
  reserveBytes: number;
  /** Requests answered 503 code 11 unread since start: their body did not fit in the budget. */
  refusedOverBudget: number;
  /** Requests answered code 11 since start: no connectionLimit slot within the queue deadline. */
  refusedQueueDeadline: number;
}

export interface QueueState {
  inFlight: number;
  queued: number;
  limit: number;
  deadlineMs: number;
}

/** The socket belongs to a live daemon: it answered, or it accepted a connection and is busy. */
export class SocketInUseError extends Error {
  override name = "SocketInUseError";
}

/**
 * An existing socket dir must be ours and closed to others: in a dir that
 * someone else can write, they could have planted a socket or a link that a
 * shim (running as root) would talk to, or swap ours after we listen. We refuse
 * it rather than chmod it, since whatever they put there is already there.
 * A dir we create ourselves is made 0700.
 */
export async function checkSocketDir(dir: string): Promise<void> {
  const st = await stat(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return undefined;
    throw err;
  });
  if (st === undefined) return;
  const mode = (st.mode & 0o7777).toString(8).padStart(4, "0");
  const uid = process.getuid?.() ?? 0;
  if (!st.isDirectory()) throw new Error(`socket dir ${dir} is not a directory`);
  if (st.uid !== uid) {
    throw new Error(
      `socket dir ${dir} (mode ${mode}) is owned by uid ${st.uid}, not the daemon's uid ${uid}: refusing to serve there`,
    );
  }
  if ((st.mode & 0o022) !== 0) {
    throw new Error(
      `socket dir ${dir} is writable by group or others (mode ${mode}): refusing to serve there; chmod 0700 it or set another socketDir`,
    );
  }
}

/**
 * A socket file nobody listens on is stale (the last daemon was killed): remove
 * it. One that answers, or accepts but does not answer in time (a live daemon
 * that is busy or stopping), belongs to someone else: refuse to take it over.
 * Only a refused connection (no listener) proves the file stale.
 */
export async function claimSocket(socketPath: string, timeoutMs = 1000): Promise<void> {
  await checkSocketDir(dirname(socketPath));
  await mkdir(dirname(socketPath), { recursive: true, mode: 0o700 });
  await chmod(dirname(socketPath), 0o700);
  try {
    const res = await fetch(DAEMON_URL + Endpoint.HEALTHZ, {
      unix: socketPath,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT") return;
    if (code === "ECONNREFUSED") {
      await unlink(socketPath).catch(() => undefined);
      return;
    }
    throw new SocketInUseError(
      `another multus daemon holds ${socketPath}: it accepted a connection but did not answer /healthz (${(err as Error).message}); the socket is left in place`,
    );
  }
  throw new SocketInUseError(`another multus daemon is serving ${socketPath}`);
}

/**
 * Asks our own socket, as a probe or the shim would, whether it answers: a
 * daemon that reports ready must really be reachable at its socket path (a
 * socket dir that a mount hides, a file that vanished). Returns the round trip
 * in ms; throws with the reason otherwise.
 */
export async function selfCheck(socketPath: string, timeoutMs = 5000): Promise<number> {
  const started = performance.now();
  let status: number;
  try {
    const res = await fetch(DAEMON_URL + Endpoint.HEALTHZ, {
      unix: socketPath,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await res.arrayBuffer();
    status = res.status;
  } catch (err) {
    throw new Error(`the daemon's own ${Endpoint.HEALTHZ} over ${socketPath} failed: ${(err as Error).message}`);
  }
  if (status !== 200) throw new Error(`the daemon's own ${Endpoint.HEALTHZ} over ${socketPath} answered ${status}`);
  return performance.now() - started;
}

export async function startServer(opts: ServerOptions): Promise<DaemonServer> {
  await claimSocket(opts.socketPath);
  const admission = new Admission({
    limit: opts.connectionLimit ?? Infinity,
    deadlineMs: opts.queueDeadlineMs ?? DEFAULT_QUEUE_DEADLINE_MS,
  });
  const counter: Counter = { inFlight: 0, overBudget: 0, queueDeadline: 0 };
  const maxRequestBytes = opts.maxRequestBytes ?? MAX_REQUEST_BYTES;
  const budget = new BodyBudget({
    limit: Math.max(maxRequestBytes, opts.maxPendingRequestBytes ?? defaultPendingRequestBytes(maxRequestBytes)),
  });
  const server = Bun.serve({
    unix: opts.socketPath,
    // A CNI request is a config of a few KiB; refuse what could only be a mistake or abuse.
    maxRequestBodySize: maxRequestBytes,
    fetch: createFetch(opts, { admission, counter, budget }),
  });
  await chmod(opts.socketPath, 0o600);

  return {
    get inFlight() {
      return counter.inFlight;
    },
    queue: () => ({
      inFlight: counter.inFlight,
      queued: admission.waiting,
      limit: admission.limit,
      deadlineMs: admission.deadlineMs,
    }),
    queuedByCommand: () => admission.waitingByCommand(),
    bodies: () => ({
      heldBytes: budget.used,
      budgetBytes: budget.limit,
      reserveBytes: budget.reserve,
      refusedOverBudget: counter.overBudget,
      refusedQueueDeadline: counter.queueDeadline,
    }),
    stop: (graceMs: number) => stopServer(server, { graceMs, counter, socketPath: opts.socketPath }),
  };
}

/** Requests in flight, and those the server refused itself, by reason. */
interface Counter {
  inFlight: number;
  overBudget: number;
  queueDeadline: number;
}

/** Probes and /status at once; everything else through admission, counted while in flight. */
function createFetch(
  opts: ServerOptions,
  { admission, counter, budget }: { admission: Admission; counter: Counter; budget: BodyBudget },
): (request: Request, srv: Bun.Server<undefined>) => Promise<Response> {
  const answer = async (request: Request, path: string) => {
    const response = await opts.handle(request);
    opts.onResponse?.(path, request.method, response.status);
    return response;
  };
  const bodyTimeoutMs = opts.bodyTimeoutMs ?? DEFAULT_BODY_TIMEOUT_MS;
  const gcGrowth = opts.gcRssGrowthBytes ?? GC_RSS_GROWTH_BYTES;
  const collectIfGrown = gcOnRssGrowth(gcGrowth);
  return async (received, srv) => {
    // The body's bytes count against the budget from before it is read until the answer is
    // made, whichever way that goes (answered, client gone, body too slow, a throw).
    const hold = budget.open();
    try {
      return await serve(received, srv, hold);
    } finally {
      hold.release();
    }
  };
  async function serve(received: Request, srv: Bun.Server<undefined>, hold: BodyHold): Promise<Response> {
    // The body first, within its own deadline: Bun's idle timeout only sees a silent
    // connection, not one that sends a byte now and then.
    const read = await withBody(received, { ms: bodyTimeoutMs, hold });
    if (read === "over-budget") {
      counter.overBudget++;
      const response = overBudget(budget);
      opts.onCniError?.(ErrorCode.TryAgainLater);
      opts.onResponse?.(new URL(received.url).pathname, received.method, response.status);
      return response;
    }
    if (read instanceof Response) return read;
    const { request, size } = read;
    // A delegate may legitimately take long (Bun's default idle timeout is 10 s); the shim carries the deadline.
    srv.timeout(request, 0);
    const path = new URL(request.url).pathname;
    // Probes and /status never queue behind slow delegates: a busy daemon is not a dead one.
    if (path === Endpoint.HEALTHZ || path === Endpoint.READYZ || path === Endpoint.STATUS) return answer(request, path);
    let release: () => void;
    try {
      release = await admission.acquire(await commandOf(request, size));
    } catch (err) {
      if (!(err instanceof QueueDeadlineError)) throw err;
      counter.queueDeadline++;
      const response = saturated(err);
      opts.onCniError?.(ErrorCode.TryAgainLater);
      opts.onResponse?.(path, request.method, response.status);
      return response;
    }
    counter.inFlight++;
    try {
      return await answer(request, path);
    } finally {
      counter.inFlight--;
      release();
      // setImmediate: the reply is written first, the check and any collection are off its path.
      if (gcGrowth > 0) setImmediate(collectIfGrown);
    }
  }
}

/**
 * The request with its body read in full within `ms`, or a 408 (with Connection: close) for a
 * client that has not sent it all by then, or "over-budget" when the body does not fit in
 * what `hold` may take: a declared Content-Length is taken before a byte is read, a chunked
 * body chunk by chunk as it arrives. Bodies are small (a CNI config); buffering them here is
 * what the handler did anyway.
 */
async function withBody(
  request: Request,
  { ms, hold }: { ms: number; hold: BodyHold },
): Promise<{ request: Request; size: number } | Response | "over-budget"> {
  if (request.method === "GET" || request.method === "HEAD") return { request, size: 0 };
  const declared = request.headers.get("content-length");
  const length = declared === null ? Number.NaN : Number(declared);
  // Bun has refused a Content-Length over maxRequestBytes (413) before we are called.
  if (Number.isSafeInteger(length) && length >= 0 && !hold.grow(length)) return "over-budget";
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<"late">((resolve) => (timer = setTimeout(() => resolve("late"), ms)));
  try {
    const read = Number.isSafeInteger(length) ? request.arrayBuffer() : readCounted(request, hold);
    const body = await Promise.race([read, late]);
    if (body === "over-budget") return body;
    if (body === "late") {
      const e = new CniError(ErrorCode.TryAgainLater, `request body not received within ${ms} ms`);
      return new Response(JSON.stringify(e.toJSON()), {
        status: 408,
        headers: { "Content-Type": "application/json", Connection: "close" },
      });
    }
    return {
      request: new Request(request.url, { method: request.method, headers: request.headers, body }),
      size: body.byteLength,
    };
  } finally {
    clearTimeout(timer);
  }
}

/** A body of no declared length, counted into `hold` as it arrives; "over-budget" (and the rest unread) once it does not fit. */
async function readCounted(request: Request, hold: BodyHold): Promise<ArrayBuffer | "over-budget"> {
  const reader = request.body?.getReader();
  if (reader === undefined) return new ArrayBuffer(0);
  const chunks: Uint8Array[] = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return Bun.concatArrayBuffers(chunks);
    // A hold already released (the body was too slow) takes nothing more either.
    if (!hold.grow(value.byteLength)) {
      await reader.cancel().catch(() => undefined);
      return "over-budget";
    }
    chunks.push(value);
  }
}

/**
 * Still listening while requests finish, so /readyz can answer 500 (the
 * caller flipped readiness) and a DEL can still get through; then close.
 */
async function stopServer(
  server: Bun.Server<undefined>,
  { graceMs, counter, socketPath }: { graceMs: number; counter: { inFlight: number }; socketPath: string },
): Promise<void> {
  const deadline = Date.now() + graceMs;
  while (counter.inFlight > 0 && Date.now() < deadline) await Bun.sleep(20);
  const stopped = server.stop(false);
  while (counter.inFlight > 0 && Date.now() < deadline) await Bun.sleep(20);
  if (counter.inFlight > 0) await server.stop(true);
  // A handler cut at the deadline may still be awaiting its delegate: do not wait for it.
  // The timer is cleared: a pending one would keep the process alive after a prompt stop.
  let timer: ReturnType<typeof setTimeout> | undefined;
  const cut = new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()) + 100)));
  await Promise.race([stopped.catch(() => undefined), cut]);
  clearTimeout(timer);
  await unlink(socketPath).catch(() => undefined);
}
