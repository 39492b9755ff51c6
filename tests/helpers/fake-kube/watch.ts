// Watch streams: newline-delimited {"type","object"} events after the given resourceVersion,
// replayed from the store's bounded history (an RV older than the history gets an ERROR event
// carrying a 410 Expired Status, as the real watch cache does); no RV or "0" starts with
// synthetic ADDED events. Field selectors apply to transitions: an object leaving the
// selection is DELETED for that watcher.
import type { ServerResponse } from "node:http";
import { type Change, type FakeStore, type Selector, type StoreName, STORE_INFO, selectedEntries } from "./store.ts";
import { clone, statusBody } from "./status.ts";
import type { KubeObject, ResourceKey } from "./types.ts";

interface Watcher {
  store: StoreName;
  counterKey: ResourceKey;
  namespace: string | undefined;
  selector: Selector;
  bookmarks: boolean;
  send(line: unknown): void;
  end(mode: "end" | "error"): void;
}

/** What one watch request asked for. */
export interface WatchRequest {
  store: StoreName;
  counterKey: ResourceKey;
  namespace: string | undefined;
  selector: Selector;
  /** The `resourceVersion` parameter; null when absent. */
  resourceVersion: string | null;
  bookmarks: boolean;
  timeoutSeconds: number;
}

export interface WatchHub {
  /** Streams a watch on `res`: headers are flushed at once, as the real API server does. */
  open(store: FakeStore, req: WatchRequest, res: ServerResponse): void;
  /** A change in the store, to every watch that sees it. */
  notify(c: Change): void;
  /** Ends every open watch; returns how many there were. */
  endAll(mode: "end" | "error"): number;
  /** An ERROR 410 Expired event to every open watch, then its end. */
  expireAll(): number;
  sendBookmarks(rv: number): void;
  count(resource?: ResourceKey): number;
}

export function createWatchHub(): WatchHub {
  const watchers = new Set<Watcher>();
  return {
    open(store, req, res) {
      const w = streamTo(res, req, () => watchers.delete(w));
      if (replay(store, req, w)) watchers.add(w);
    },
    notify(c) {
      for (const w of watchers) {
        if (w.store !== c.store) continue;
        const ev = eventFor(w, c);
        if (ev) w.send(ev);
      }
    },
    endAll(mode) {
      const n = watchers.size;
      for (const w of [...watchers]) w.end(mode);
      return n;
    },
    expireAll() {
      const n = watchers.size;
      for (const w of [...watchers]) {
        w.send({ type: "ERROR", object: statusBody(410, "too old resource version", "Expired") });
        w.end("end");
      }
      return n;
    },
    sendBookmarks(rv) {
      for (const w of watchers) {
        if (!w.bookmarks) continue;
        const info = STORE_INFO[w.store];
        w.send({
          type: "BOOKMARK",
          object: { kind: info.kind, apiVersion: info.apiVersion, metadata: { resourceVersion: String(rv) } },
        });
      }
    },
    count: (resource) => [...watchers].filter((w) => resource === undefined || w.counterKey === resource).length,
  };
}

/** A watcher writing to `res`; `onFinish` runs once, when it ends or the client goes away. */
function streamTo(res: ServerResponse, req: WatchRequest, onFinish: () => void): Watcher {
  res.writeHead(200, { "content-type": "application/json", "cache-control": "no-cache" });
  res.flushHeaders();
  let open = true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const finish = () => {
    open = false;
    onFinish();
    if (timer) clearTimeout(timer);
  };
  const w: Watcher = {
    store: req.store,
    counterKey: req.counterKey,
    namespace: req.namespace,
    selector: req.selector,
    bookmarks: req.bookmarks,
    send(line) {
      if (open) res.write(`${JSON.stringify(line)}\n`);
    },
    end(mode) {
      if (!open) return;
      finish();
      if (mode === "error") res.destroy();
      else res.end();
    },
  };
  res.on("close", finish);
  if (req.timeoutSeconds > 0) timer = setTimeout(() => w.end("end"), req.timeoutSeconds * 1000);
  return w;
}

/** Sends what the watch has missed since its RV (or everything, as ADDED); false when the RV is too old. */
function replay(store: FakeStore, req: WatchRequest, w: Watcher): boolean {
  const rvParam = req.resourceVersion;
  if (rvParam && rvParam !== "0") {
    const from = Number(rvParam);
    if (!Number.isInteger(from) || from < store.compactedThrough()) {
      w.send({
        type: "ERROR",
        object: statusBody(410, `too old resource version: ${rvParam} (${store.compactedThrough()})`, "Expired"),
      });
      w.end("end");
      return false;
    }
    for (const c of store.history) {
      if (c.rv <= from || c.store !== req.store) continue;
      const ev = eventFor(w, c);
      if (ev) w.send(ev);
    }
  } else {
    for (const [, o] of selectedEntries(store, req)) w.send({ type: "ADDED", object: clone(o) });
  }
  return true;
}

/** The event `w` sees for a change: its type depends on whether the object was and is in the watch's scope. */
function eventFor(w: Watcher, c: Change): { type: string; object: KubeObject } | undefined {
  const inScope = (o: KubeObject | undefined) =>
    o !== undefined && (w.namespace === undefined || o.metadata.namespace === w.namespace) && w.selector.matches(o);
  const now = c.type !== "DELETED" && inScope(c.object);
  const before = c.type === "DELETED" ? inScope(c.object) : inScope(c.previous);
  let type: string | undefined;
  if (c.type === "ADDED") type = now ? "ADDED" : undefined;
  else if (c.type === "DELETED") type = before ? "DELETED" : undefined;
  else if (now && before) type = "MODIFIED";
  else if (now) type = "ADDED";
  else if (before) type = "DELETED";
  return type ? { type, object: clone(c.object) } : undefined;
}
