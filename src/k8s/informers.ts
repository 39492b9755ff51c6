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

export interface Informer<T> {
  readonly name: string;
  start(): void;
  stop(): Promise<void>;
  get(key: string): T | undefined;
  size(): number;
  isSynced(): boolean;
  /** true once the first list completed; false when `timeoutMs` passes first (or on stop). */
  waitForSync(timeoutMs: number): Promise<boolean>;
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

export function createInformer<T>(o: InformerOptions<T>): Informer<T> {
  const pageSize = o.pageSize ?? 500;
  const requestTimeoutMs = o.requestTimeoutMs ?? 60_000;
  const watchTimeoutSeconds = o.watchTimeoutSeconds ?? (() => 300 + Math.floor(Math.random() * 300));
  let store = new Map<string, T>();
  let rv: string | undefined;
  let synced = false;
  let stopped = false;
  let loop: Promise<void> | undefined;
  const stopCtl = new AbortController();
  const waiters = new Set<() => void>();

  function markSynced() {
    if (synced) return;
    synced = true;
    for (const w of waiters) w();
  }

  function put(obj: unknown) {
    const key = keyOf(obj as WatchEvent["object"]);
    if (key === undefined) return;
    const item = o.toItem(obj);
    if (item === undefined) store.delete(key);
    else store.set(key, item);
  }

  async function list(): Promise<void> {
    const next = new Map<string, T>();
    let cont: string | undefined;
    let listRv: string | undefined;
    do {
      const page = await o.http.call<ListBody>(
        {
          method: "GET",
          path: o.path,
          query: { fieldSelector: o.fieldSelector, limit: String(pageSize), continue: cont },
        },
        { timeoutMs: requestTimeoutMs, signal: stopCtl.signal },
      );
      for (const obj of page.items ?? []) {
        const key = keyOf(obj as WatchEvent["object"]);
        const item = key === undefined ? undefined : o.toItem(obj);
        if (key !== undefined && item !== undefined) next.set(key, item);
      }
      const c = page.metadata?.continue;
      cont = typeof c === "string" && c !== "" ? c : undefined;
      const r = page.metadata?.resourceVersion;
      listRv = typeof r === "string" && r !== "" ? r : listRv;
    } while (cont !== undefined);
    if (listRv === undefined) throw new Error(`list ${o.path}: the answer carries no resourceVersion`);
    store = next;
    rv = listRv;
    o.logger.debug(`${o.name} informer: listed ${next.size} objects at resourceVersion ${listRv}`);
    markSynced();
  }

  function apply(ev: WatchEvent): void {
    const obj = ev.object;
    switch (ev.type) {
      case "ADDED":
      case "MODIFIED":
        put(obj);
        break;
      case "DELETED": {
        const key = keyOf(obj);
        if (key !== undefined) store.delete(key);
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
        throw new Error(`watch ${o.path}: unknown event type ${String(ev.type)}`);
    }
    const r = obj?.metadata?.resourceVersion;
    if (typeof r === "string" && r !== "") rv = r;
  }

  /** Runs one watch until the stream ends; returns how many events it applied. */
  async function watch(): Promise<number> {
    const timeoutSeconds = watchTimeoutSeconds();
    const ctl = new AbortController();
    const onStop = () => ctl.abort();
    stopCtl.signal.addEventListener("abort", onStop, { once: true });
    let expired = false;
    const guard = setTimeout(
      () => {
        expired = true;
        ctl.abort();
      },
      timeoutSeconds * 1000 + WATCH_GRACE_MS,
    );
    let events = 0;
    try {
      const body = await o.http.open(
        {
          method: "GET",
          path: o.path,
          query: {
            watch: "true",
            resourceVersion: rv,
            allowWatchBookmarks: "true",
            timeoutSeconds: String(timeoutSeconds),
            fieldSelector: o.fieldSelector,
          },
        },
        { timeoutMs: requestTimeoutMs, signal: ctl.signal },
      );
      const reader = body.pipeThrough(new TextDecoderStream()).getReader();
      let buffered = "";
      try {
        for (;;) {
          let chunk: Awaited<ReturnType<typeof reader.read>>;
          try {
            chunk = await reader.read();
          } catch (err) {
            if (ctl.signal.aborted) return events;
            throw new KubeTransportError(`watch ${o.path}: stream failed`, { cause: err });
          }
          if (chunk.done) break;
          buffered += chunk.value;
          for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
            const line = buffered.slice(0, nl).trim();
            buffered = buffered.slice(nl + 1);
            if (line === "") continue;
            apply(JSON.parse(line) as WatchEvent);
            events++;
          }
        }
      } finally {
        reader.cancel().catch(() => {});
      }
      return events;
    } catch (err) {
      if (expired || stopped) return events;
      throw err;
    } finally {
      clearTimeout(guard);
      stopCtl.signal.removeEventListener("abort", onStop);
    }
  }

  async function run(): Promise<void> {
    let failures = 0;
    while (!stopped) {
      let delay = 0;
      try {
        if (rv === undefined) {
          await list();
          failures = 0;
        }
        const started = Date.now();
        const events = await watch();
        if (events > 0 || Date.now() - started >= SHORT_WATCH_MS) failures = 0;
        else {
          delay = backoffDelay(++failures, o.backoff);
          o.logger.debug(`${o.name} informer: very short watch; resuming in ${delay} ms`);
        }
      } catch (err) {
        if (stopped) break;
        if (isGone(err) && rv !== undefined) {
          o.logger.verbose(`${o.name} informer: resourceVersion ${rv} expired, relisting`);
          rv = undefined;
          continue;
        }
        delay = backoffDelay(++failures, o.backoff);
        o.logger.error(`${o.name} informer: ${describeKubeError(err)}; retrying in ${delay} ms`);
      }
      if (delay > 0) await sleep(delay, stopCtl.signal);
    }
  }

  return {
    name: o.name,
    start() {
      if (loop || stopped) return;
      loop = run().catch((err: unknown) => o.logger.error(`${o.name} informer stopped: ${describeKubeError(err)}`));
    },
    async stop() {
      stopped = true;
      stopCtl.abort();
      for (const w of waiters) w();
      await loop;
    },
    get: (key) => store.get(key),
    size: () => store.size,
    isSynced: () => synced,
    waitForSync(timeoutMs) {
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
