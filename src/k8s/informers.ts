/**
 * A list/watch informer over plain HTTP (see client.ts for why not client-node's).
 *
 * - lists in pages, then watches from the list's resourceVersion with bookmarks;
 * - a watch that ends (server timeout, cut connection) resumes from the last seen RV;
 * - 410 Gone / ERROR Expired (the RV left the server's history) → relist, replacing the cache;
 * - any other failure → log and retry with capped exponential backoff, forever, until stop();
 * - the cache holds only what `toItem` keeps (PodInfo, Nad), keyed by namespace/name.
 */
import type { KubeHttp, KubeLogger } from "./client.ts";
import { type Backoff, KubeApiError, KubeTransportError, backoffDelay, describeKubeError, isGone } from "./errors.ts";
import { sleep } from "../util/sleep.ts";
import { isRecord } from "../util/is-record.ts";

export interface Informer<T> {
  readonly name: string;
  start(): void;
  stop(): Promise<void>;
  get(key: string): T | undefined;
  size(): number;
  isSynced(): boolean;
  /** true once the first list completed; false when `timeoutMs` passes first (or on stop). */
  waitForSync(timeoutMs: number): Promise<boolean>;
  /** For metrics and GET /status: is the loop getting through, and how often did it start again. */
  health(): Health;
}

export interface Health {
  /** Unix ms of the last successful list or watch event (bookmarks included). */
  lastSyncAt?: number;
  /** Failed lists or watches (an error, a 410 relist, a watch that ended at once), each followed by a new start. */
  restarts: number;
}

export interface InformerOptions<T> {
  /** For logs, e.g. "pods". */
  name: string;
  http: KubeHttp;
  logger: KubeLogger;
  /** Collection path, e.g. /api/v1/pods */
  path: string;
  fieldSelector?: string;
  /** Trims an API object to what we keep; undefined = ignore the object. Must not throw. */
  toItem(obj: unknown): T | undefined;
  /** Told of every object kept, listed or changed (the CSR approver's work queue). Must not throw. */
  onItem?(key: string, item: T): void;
  backoff: Backoff;
  /** Items per list page (default 500). */
  pageSize?: number;
  /** Deadline for one list page and for a watch's response headers (default 60 s). */
  requestTimeoutMs?: number;
  /** Server-side watch duration in seconds (default random 300–600, like client-go). */
  watchTimeoutSeconds?: () => number;
}

interface WatchEvent {
  type?: unknown;
  object?: {
    metadata?: { name?: unknown; namespace?: unknown; resourceVersion?: unknown };
    code?: unknown;
    reason?: unknown;
    message?: unknown;
  };
}

interface ListBody {
  metadata?: { resourceVersion?: unknown; continue?: unknown };
  items?: unknown[];
}

/** A watch shorter than this that delivered nothing counts as a failure (backoff), as in client-go. */
const SHORT_WATCH_MS = 1_000;
/** Client-side guard on top of the server's timeoutSeconds, for half-open connections. */
const WATCH_GRACE_MS = 30_000;

function keyOf(obj: WatchEvent["object"]): string | undefined {
  const name = obj?.metadata?.name;
  const ns = obj?.metadata?.namespace;
  if (typeof name !== "string") return undefined;
  return typeof ns === "string" && ns !== "" ? `${ns}/${name}` : name;
}

/** The options with their defaults filled in. */
type Resolved<T> = InformerOptions<T> &
  Required<Pick<InformerOptions<T>, "pageSize" | "requestTimeoutMs" | "watchTimeoutSeconds">>;

/** What the loop keeps between list and watch: the trimmed objects and the resourceVersion to resume from. */
interface Cache<T> {
  store: Map<string, T>;
  /** undefined: (re)list before the next watch. */
  rv?: string;
  health: Health;
}

export function createInformer<T>(o: InformerOptions<T>): Informer<T> {
  const opts: Resolved<T> = {
    ...o,
    pageSize: o.pageSize ?? 500,
    requestTimeoutMs: o.requestTimeoutMs ?? 60_000,
    watchTimeoutSeconds: o.watchTimeoutSeconds ?? (() => 300 + Math.floor(Math.random() * 300)),
  };
  const cache: Cache<T> = { store: new Map(), health: { restarts: 0 } };
  const stopCtl = new AbortController();
  const sync = createSyncGate();
  let loop: Promise<void> | undefined;
  return {
    name: o.name,
    start() {
      if (loop || stopCtl.signal.aborted) return;
      loop = run(opts, { cache, sync, signal: stopCtl.signal }).catch((err: unknown) =>
        o.logger.error(`${o.name} informer stopped: ${describeKubeError(err)}`),
      );
    },
    async stop() {
      stopCtl.abort();
      sync.wake();
      await loop;
    },
    get: (key) => cache.store.get(key),
    size: () => cache.store.size,
    health: () => ({ ...cache.health }),
    isSynced: sync.isOpen,
    waitForSync: sync.wait,
  };
}

/** "Synced" once the first list completed; waiters wake then, at their timeout, or on stop. */
function createSyncGate() {
  let synced = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of waiters) w();
  };
  return {
    isOpen: () => synced,
    open() {
      if (synced) return;
      synced = true;
      wake();
    },
    wake,
    wait(timeoutMs: number): Promise<boolean> {
      if (synced) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = () => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve(synced);
        };
        const timer = setTimeout(done, timeoutMs);
        waiters.add(done);
      });
    },
  };
}

/** List (when there is no resourceVersion to resume from), watch, repeat; until `signal` aborts. */
async function run<T>(
  o: Resolved<T>,
  { cache, sync, signal }: { cache: Cache<T>; sync: ReturnType<typeof createSyncGate>; signal: AbortSignal },
): Promise<void> {
  let failures = 0;
  while (!signal.aborted) {
    let delay = 0;
    const progress: WatchProgress = { events: 0 };
    try {
      if (cache.rv === undefined) {
        Object.assign(cache, await list(o, signal));
        cache.health.lastSyncAt = Date.now();
        o.logger.debug(`${o.name} informer: listed ${cache.store.size} objects at resourceVersion ${cache.rv}`);
        sync.open();
        failures = 0;
      }
      const started = Date.now();
      const events = await watch({ o, cache, stopSignal: signal, progress });
      if (events > 0 || Date.now() - started >= SHORT_WATCH_MS) failures = 0;
      else {
        cache.health.restarts++;
        delay = backoffDelay(++failures, o.backoff);
        o.logger.debug(`${o.name} informer: very short watch; resuming in ${delay} ms`);
      }
    } catch (err) {
      if (signal.aborted) break;
      cache.health.restarts++;
      if (isGone(err) && cache.rv !== undefined) {
        o.logger.verbose(`${o.name} informer: resourceVersion ${cache.rv} expired, relisting`);
        cache.rv = undefined;
        continue;
      }
      // A watch that ran healthy before it broke ends the streak: this failure is the first
      // of a new outage. Counting on from the last outage would make each one take longer
      // to recover from than the one before, up to the 30 s cap.
      if (wasHealthy(progress)) failures = 0;
      delay = backoffDelay(++failures, o.backoff);
      o.logger.error(`${o.name} informer: ${describeKubeError(err)}; retrying in ${delay} ms`);
    }
    if (delay > 0) await sleep(delay, signal);
  }
}

/** Lists every page; the result replaces the cache only once the last page arrived. */
async function list<T>(o: Resolved<T>, signal: AbortSignal): Promise<Required<Omit<Cache<T>, "health">>> {
  const next = new Map<string, T>();
  let cont: string | undefined;
  let listRv: string | undefined;
  do {
    const answer = await o.http.call<unknown>(
      {
        method: "GET",
        path: o.path,
        query: { fieldSelector: o.fieldSelector, limit: String(o.pageSize), continue: cont },
      },
      { timeoutMs: o.requestTimeoutMs, signal },
    );
    const page = asListBody(answer, o.path);
    for (const obj of page.items ?? []) {
      const key = keyOf(obj as WatchEvent["object"]);
      const item = key === undefined ? undefined : o.toItem(obj);
      if (key !== undefined && item !== undefined) {
        next.set(key, item);
        o.onItem?.(key, item);
      }
    }
    const c = page.metadata?.continue;
    cont = typeof c === "string" && c !== "" ? c : undefined;
    const r = page.metadata?.resourceVersion;
    listRv = typeof r === "string" && r !== "" ? r : listRv;
  } while (cont !== undefined);
  if (listRv === undefined) throw new Error(`list ${o.path}: the answer carries no resourceVersion`);
  return { store: next, rv: listRv };
}

/** The answer to a list, checked for the shape read from it (an API or proxy may answer anything). */
function asListBody(answer: unknown, path: string): ListBody {
  if (!isRecord(answer)) throw new Error(`list ${path}: the answer is not a list object`);
  // null is Go's encoding of an empty slice.
  if (answer.items !== undefined && answer.items !== null && !Array.isArray(answer.items)) {
    throw new Error(`list ${path}: the answer's "items" is not a list`);
  }
  return answer as ListBody;
}

/** One line of a watch stream as an event; a line that is none is an error naming the path. */
function parseWatchEvent(line: string, path: string): WatchEvent {
  let ev: unknown;
  try {
    ev = JSON.parse(line);
  } catch {
    throw new Error(`watch ${path}: a line that is not JSON: ${JSON.stringify(line.slice(0, 100))}`);
  }
  if (!isRecord(ev)) throw new Error(`watch ${path}: an event that is not an object: ${line.slice(0, 100)}`);
  return ev as WatchEvent;
}

/** How far one watch got, kept when it ends with an error. */
interface WatchProgress {
  /** When the API accepted the watch. */
  openedAt?: number;
  events: number;
}

function wasHealthy(p: WatchProgress): boolean {
  return p.openedAt !== undefined && (p.events > 0 || Date.now() - p.openedAt >= SHORT_WATCH_MS);
}

/** Runs one watch from `cache.rv` until the stream ends; returns how many events it applied. */
async function watch<T>({
  o,
  cache,
  stopSignal,
  progress,
}: {
  o: Resolved<T>;
  cache: Cache<T>;
  stopSignal: AbortSignal;
  progress: WatchProgress;
}): Promise<number> {
  const timeoutSeconds = o.watchTimeoutSeconds();
  const ctl = new AbortController();
  const onStop = () => ctl.abort();
  stopSignal.addEventListener("abort", onStop, { once: true });
  let expired = false;
  const guard = setTimeout(
    () => {
      expired = true;
      ctl.abort();
    },
    timeoutSeconds * 1000 + WATCH_GRACE_MS,
  );
  try {
    const query = {
      watch: "true",
      resourceVersion: cache.rv,
      allowWatchBookmarks: "true",
      timeoutSeconds: String(timeoutSeconds),
      fieldSelector: o.fieldSelector,
    };
    const body = await o.http.open(
      { method: "GET", path: o.path, query },
      { timeoutMs: o.requestTimeoutMs, signal: ctl.signal },
    );
    progress.openedAt = Date.now();
    await readLines(body, {
      path: o.path,
      signal: ctl.signal,
      onLine(line) {
        apply(o, cache, parseWatchEvent(line, o.path));
        cache.health.lastSyncAt = Date.now();
        progress.events++;
      },
    });
    return progress.events;
  } catch (err) {
    if (expired || stopSignal.aborted) return progress.events;
    throw err;
  } finally {
    clearTimeout(guard);
    stopSignal.removeEventListener("abort", onStop);
  }
}

/** Feeds each non-empty line of a newline-delimited stream to `onLine`; returns quietly when `signal` aborted the read. */
async function readLines(
  body: ReadableStream<Uint8Array>,
  { path, signal, onLine }: { path: string; signal: AbortSignal; onLine(line: string): void },
): Promise<void> {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = "";
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        if (signal.aborted) return;
        throw new KubeTransportError(`watch ${path}: stream failed`, { cause: err });
      }
      if (chunk.done) return;
      buffered += chunk.value;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (line !== "") onLine(line);
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** One watch event into the cache; an ERROR event (410 Expired among them) throws. */
function apply<T>(o: Resolved<T>, cache: Cache<T>, ev: WatchEvent): void {
  const obj = ev.object;
  switch (ev.type) {
    case "ADDED":
    case "MODIFIED": {
      const key = keyOf(obj);
      if (key === undefined) break;
      const item = o.toItem(obj);
      if (item === undefined) cache.store.delete(key);
      else {
        cache.store.set(key, item);
        o.onItem?.(key, item);
      }
      break;
    }
    case "DELETED": {
      const key = keyOf(obj);
      if (key !== undefined) cache.store.delete(key);
      break;
    }
    case "BOOKMARK":
      break;
    case "ERROR":
      throw new KubeApiError({
        status: typeof obj?.code === "number" ? obj.code : 500,
        reason: typeof obj?.reason === "string" ? obj.reason : undefined,
        message: `watch ${o.path}: ${typeof obj?.message === "string" ? obj.message : "error event"}`,
      });
    default:
      // JSON.stringify: String() of an object whose toString is not a function throws a TypeError.
      throw new Error(`watch ${o.path}: unknown event type ${JSON.stringify(ev.type)?.slice(0, 100)}`);
  }
  const r = obj?.metadata?.resourceVersion;
  if (typeof r === "string" && r !== "") cache.rv = r;
}
