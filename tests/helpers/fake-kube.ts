/**
 * A fake Kubernetes API server for tests. It speaks the real REST and watch protocol over HTTPS
 * with bearer-token auth, so clients run their real code paths:
 *
 * - one global resourceVersion counter; every object carries the RV of its last change;
 * - list: `{kind, apiVersion, metadata:{resourceVersion, continue?}, items}` with `fieldSelector`,
 *   `labelSelector`, `limit`/`continue`;
 * - `watch=true`: newline-delimited `{"type","object"}` events after the given resourceVersion,
 *   replayed from a bounded history (an RV older than the history gets an ERROR event carrying a
 *   410 Expired Status, as the real watch cache does); no RV or "0" starts with synthetic ADDED
 *   events; field selectors are applied to transitions (an object leaving the selection is
 *   DELETED for that watcher); BOOKMARKs when `allowWatchBookmarks=true`; `timeoutSeconds`;
 * - GET/POST/PUT/DELETE on pods and NADs; PATCH (merge, strategic treated as merge, JSON patch)
 *   on pods, pods/status and NADs; `metadata.resourceVersion` preconditions give 409;
 * - errors are `Status` objects (kind Status, apiVersion v1, status Failure, reason, code).
 *
 * Resources: core v1 pods (+ /status), namespaces, events; events.k8s.io/v1 events;
 * k8s.cni.cncf.io/v1 network-attachment-definitions; `/version`.
 *
 * It runs on node:https rather than Bun.serve: Bun.serve sends no response headers for a
 * streaming body until its first chunk, while the real API server flushes a watch's headers at
 * once (client-node's Watch waits for them before reading events). `flushHeaders()` does that.
 *
 * Tests change cluster state with the controls below (they act on the server's store and produce
 * the same watch events an API call would) or through the API itself, and observe the client
 * through request counters (`counts()`, keys like "GET pods", "LIST nads", "WATCH pods",
 * "PATCH pods/status", "POST events") and a raw request log.
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";

export type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata: ObjectMeta;
  [key: string]: unknown;
};

export interface ObjectMeta {
  name?: string;
  generateName?: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  creationTimestamp?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  [key: string]: unknown;
}

/** Logical verbs used by the counters: GET/LIST/WATCH for reads, HTTP methods otherwise. */
export type Verb = "GET" | "LIST" | "WATCH" | "POST" | "PUT" | "PATCH" | "DELETE";

/** Counter resource keys. Both event APIs count as "events". */
export type ResourceKey = "pods" | "pods/status" | "nads" | "events" | "namespaces" | "version" | "other";

export interface RequestLogEntry {
  method: string;
  verb: Verb | string;
  resource: ResourceKey;
  path: string;
  query: string;
  contentType: string | undefined;
  status: number;
  body?: unknown;
  at: number;
}

export interface FailRule {
  /** Logical verb (GET, LIST, WATCH, PATCH, ...) or HTTP method; any when omitted. */
  verb?: string;
  /** A string is compared with the counter resource key ("pods", "pods/status", "nads",
   *  "events", "namespaces"); a RegExp is tested against the URL path. Any when omitted. */
  path?: string | RegExp;
  status: number;
  /** How many matching requests fail (default 1). */
  times?: number;
  /** Sent as Retry-After (seconds), e.g. with 429. */
  retryAfterSeconds?: number;
}

export type DownMode = "refuse" | "503" | "hang";

export interface PodInput {
  namespace?: string;
  name: string;
  uid?: string;
  nodeName?: string;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  status?: Record<string, unknown>;
}

export interface NadInput {
  namespace?: string;
  name: string;
  /** spec.config; omitted from the object when undefined. */
  config?: string;
  /** Sets the k8s.v1.cni.cncf.io/resourceName annotation. */
  resourceName?: string;
  annotations?: Record<string, string>;
}

export interface RecordedEvent {
  api: "v1" | "events.k8s.io/v1";
  namespace: string;
  name: string;
  type: string | undefined;
  reason: string | undefined;
  message: string | undefined;
  involved: { kind?: string; namespace?: string; name?: string; uid?: string } | undefined;
  component: string | undefined;
  object: KubeObject;
}

export interface InClusterFiles {
  host: string;
  port: string;
  tokenFile: string;
  caFile: string;
  namespaceFile: string;
  /** What a pod would see in its environment. */
  env: { KUBERNETES_SERVICE_HOST: string; KUBERNETES_SERVICE_PORT: string };
}

export interface FakeKubeOptions {
  /** Bearer token clients must send (default: random). */
  token?: string;
  /** Watch history kept for replay; older RVs get 410 (default 1000 changes). */
  historySize?: number;
  /** Send a BOOKMARK to watches that asked for them every this many ms (default: never). */
  bookmarkIntervalMs?: number;
  /** TCP port on 127.0.0.1 (default 0: any free one). */
  port?: number;
}

export interface FakeKube {
  readonly url: string;
  readonly port: number;
  readonly caFile: string;
  readonly caPem: string;
  readonly token: string;
  /** Temp dir holding certificates; removed by stop(). */
  readonly dir: string;
  /** Writes a kubeconfig (CA inline as certificate-authority-data, bearer token). */
  writeKubeconfig(path: string, opts?: { caAsFile?: boolean }): string;
  /** Writes token, ca.crt and namespace into `dir` the way a pod sees them. */
  inClusterEnv(dir: string, opts?: { namespace?: string }): InClusterFiles;
  stop(): Promise<void>;

  createPod(input: PodInput | KubeObject): KubeObject;
  updatePod(namespace: string, name: string, mutate: (pod: KubeObject) => void): KubeObject;
  deletePod(namespace: string, name: string): boolean;
  getPod(namespace: string, name: string): KubeObject | undefined;
  createNad(input: NadInput | KubeObject): KubeObject;
  updateNad(namespace: string, name: string, mutate: (nad: KubeObject) => void): KubeObject;
  deleteNad(namespace: string, name: string): boolean;
  getNad(namespace: string, name: string): KubeObject | undefined;
  createNamespace(name: string): KubeObject;
  events(): RecordedEvent[];

  /** Current global resourceVersion. */
  resourceVersion(): number;
  /** Forget the whole watch history: a watch from any RV older than now gets 410. */
  compact(): void;
  /** Send an ERROR 410 Expired event to every open watch and end it. */
  expireWatches(): number;
  /** End every open watch stream ("end": clean end of the chunked body; "error": abort it). */
  cutWatches(mode?: "end" | "error"): number;
  /** Send a BOOKMARK now to every watch that allowed bookmarks. */
  sendBookmarks(): void;
  /** Open watch streams, optionally only those of one resource key. */
  openWatches(resource?: ResourceKey): number;

  /** "refuse": stop listening and drop every connection (ECONNREFUSED) until setDown(false);
   *  "503": answer ServiceUnavailable and cut watches; "hang": hold requests until setDown(false). */
  setDown(down: boolean, mode?: DownMode): Promise<void>;
  failNext(rule: FailRule): void;
  /** Drop every pending failNext rule. */
  clearFailures(): void;

  counts(): Record<string, number>;
  count(key: string): number;
  requests(): RequestLogEntry[];
  resetCounts(): void;
}

// ---------------------------------------------------------------------------------------------

type StoreName = "pods" | "nads" | "namespaces" | "events" | "events.k8s.io";

interface ResourceInfo {
  store: StoreName;
  kind: string;
  apiVersion: string;
  namespaced: boolean;
  counterKey: ResourceKey;
}

const RESOURCES: Record<string, ResourceInfo> = {
  "/pods": { store: "pods", kind: "Pod", apiVersion: "v1", namespaced: true, counterKey: "pods" },
  "/events": { store: "events", kind: "Event", apiVersion: "v1", namespaced: true, counterKey: "events" },
  "/namespaces": {
    store: "namespaces",
    kind: "Namespace",
    apiVersion: "v1",
    namespaced: false,
    counterKey: "namespaces",
  },
  "events.k8s.io/events": {
    store: "events.k8s.io",
    kind: "Event",
    apiVersion: "events.k8s.io/v1",
    namespaced: true,
    counterKey: "events",
  },
  "k8s.cni.cncf.io/network-attachment-definitions": {
    store: "nads",
    kind: "NetworkAttachmentDefinition",
    apiVersion: "k8s.cni.cncf.io/v1",
    namespaced: true,
    counterKey: "nads",
  },
};

const STORE_INFO: Record<StoreName, ResourceInfo> = {
  pods: RESOURCES["/pods"]!,
  events: RESOURCES["/events"]!,
  namespaces: RESOURCES["/namespaces"]!,
  "events.k8s.io": RESOURCES["events.k8s.io/events"]!,
  nads: RESOURCES["k8s.cni.cncf.io/network-attachment-definitions"]!,
};

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Gone",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

type EventType = "ADDED" | "MODIFIED" | "DELETED";

interface Change {
  rv: number;
  store: StoreName;
  type: EventType;
  object: KubeObject;
  previous: KubeObject | undefined;
}

interface Route {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

interface Selector {
  matches(obj: KubeObject): boolean;
}

interface Watcher {
  store: StoreName;
  counterKey: ResourceKey;
  namespace: string | undefined;
  selector: Selector;
  bookmarks: boolean;
  send(line: unknown): void;
  end(mode: "end" | "error"): void;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string = REASONS[status] ?? "Unknown",
  ) {
    super(message);
  }
}

function statusBody(code: number, message: string, reason = REASONS[code] ?? "Unknown") {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
}

const clone = <T>(v: T): T => structuredClone(v);

function keyOf(namespace: string | undefined, name: string): string {
  return namespace === undefined ? name : `${namespace}/${name}`;
}

function getField(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? "" : String(cur);
}

function parseSelectors(fieldSelector: string | null, labelSelector: string | null): Selector {
  const tests: Array<(o: KubeObject) => boolean> = [];
  for (const term of (fieldSelector ?? "").split(",").filter((t) => t.trim() !== "")) {
    const m = /^\s*([^!=\s]+)\s*(==|!=|=)\s*(.*?)\s*$/.exec(term);
    if (!m) throw new HttpError(400, `invalid field selector: ${term}`);
    const [, field, op, value] = m as unknown as [string, string, string, string];
    tests.push((o) => (getField(o, field) === value) === (op !== "!="));
  }
  for (const term of (labelSelector ?? "").split(",").filter((t) => t.trim() !== "")) {
    const m = /^\s*(!?)([^!=\s]+)\s*(?:(==|!=|=)\s*(.*?))?\s*$/.exec(term);
    if (!m) throw new HttpError(400, `invalid label selector: ${term}`);
    const [, not, label, op, value] = m as unknown as [string, string, string, string | undefined, string];
    tests.push((o) => {
      const labels = o.metadata.labels ?? {};
      if (op === undefined) return label in labels !== (not === "!");
      return (labels[label] === value) === (op !== "!=");
    });
  }
  return { matches: (o) => tests.every((t) => t(o)) };
}

// --- patches -----------------------------------------------------------------------------------

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== "object" || Array.isArray(patch)) return clone(patch);
  const out: Record<string, unknown> =
    target !== null && typeof target === "object" && !Array.isArray(target)
      ? { ...(target as Record<string, unknown>) }
      : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (k === "$patch" || k.startsWith("$setElementOrder/") || k.startsWith("$deleteFromPrimitiveList/")) continue;
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

function pointerParts(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new HttpError(422, `invalid JSON pointer ${pointer}`);
  return pointer
    .slice(1)
    .split("/")
    .map((p) => p.replaceAll("~1", "/").replaceAll("~0", "~"));
}

function jsonPatch(doc: unknown, ops: unknown): unknown {
  if (!Array.isArray(ops)) throw new HttpError(400, "JSON patch must be an array");
  let root = clone(doc);
  const parentOf = (path: string): [Record<string, unknown> | unknown[], string] => {
    const parts = pointerParts(path);
    const last = parts.pop();
    if (last === undefined) throw new HttpError(422, "cannot address the document root");
    let cur: unknown = root;
    for (const p of parts) {
      if (cur === null || typeof cur !== "object") throw new HttpError(422, `path ${path} not found`);
      cur = (cur as Record<string, unknown>)[p];
    }
    if (cur === null || typeof cur !== "object") throw new HttpError(422, `path ${path} not found`);
    return [cur as Record<string, unknown> | unknown[], last];
  };
  const read = (path: string): unknown => {
    let cur: unknown = root;
    for (const p of pointerParts(path)) {
      if (cur === null || typeof cur !== "object" || !(p in (cur as object)))
        throw new HttpError(422, `path ${path} not found`);
      cur = (cur as Record<string, unknown>)[p];
    }
    return cur;
  };
  const add = (path: string, value: unknown) => {
    if (path === "") {
      root = clone(value);
      return;
    }
    const [parent, key] = parentOf(path);
    if (Array.isArray(parent)) {
      const i = key === "-" ? parent.length : Number(key);
      if (!Number.isInteger(i) || i < 0 || i > parent.length) throw new HttpError(422, `bad index in ${path}`);
      parent.splice(i, 0, clone(value));
    } else parent[key] = clone(value);
  };
  const remove = (path: string) => {
    const [parent, key] = parentOf(path);
    if (Array.isArray(parent)) {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= parent.length) throw new HttpError(422, `bad index in ${path}`);
      parent.splice(i, 1);
    } else {
      if (!(key in parent)) throw new HttpError(422, `path ${path} not found`);
      delete parent[key];
    }
  };
  for (const raw of ops) {
    const op = raw as { op?: string; path?: string; from?: string; value?: unknown };
    const path = op.path ?? "";
    switch (op.op) {
      case "add":
        add(path, op.value);
        break;
      case "remove":
        remove(path);
        break;
      case "replace":
        read(path);
        if (path === "") root = clone(op.value);
        else {
          remove(path);
          add(path, op.value);
        }
        break;
      case "move": {
        const v = read(op.from ?? "");
        remove(op.from ?? "");
        add(path, v);
        break;
      }
      case "copy":
        add(path, read(op.from ?? ""));
        break;
      case "test":
        if (JSON.stringify(read(path)) !== JSON.stringify(op.value))
          throw new HttpError(422, `test operation failed at ${path}`);
        break;
      default:
        throw new HttpError(400, `unknown JSON patch op ${String(op.op)}`);
    }
  }
  return root;
}

// --- certificates ------------------------------------------------------------------------------

function openssl(args: string[], cwd: string): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
}

function generateCertificates(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "2",
      "-subj",
      "/CN=fake-kube-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=fake-kube"], dir);
  writeFileSync(
    join(dir, "server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.crt",
      "-days",
      "2",
      "-extfile",
      "server.ext",
    ],
    dir,
  );
  return { caFile: join(dir, "ca.crt"), certFile: join(dir, "server.crt"), keyFile: join(dir, "server.key") };
}

// ---------------------------------------------------------------------------------------------

export async function startFakeKube(opts: FakeKubeOptions = {}): Promise<FakeKube> {
  const dir = mkdtempSync(join(tmpdir(), "fake-kube-"));
  const { caFile, certFile, keyFile } = generateCertificates(dir);
  const caPem = readFileSync(caFile, "utf8");
  const tlsCert = readFileSync(certFile, "utf8");
  const tlsKey = readFileSync(keyFile, "utf8");
  const token = opts.token ?? `fake-${crypto.randomUUID()}`;
  const historySize = opts.historySize ?? 1000;

  let rv = 100;
  /** Watches may resume from any RV >= this; older ones get 410. */
  let compactedThrough = rv;
  const history: Change[] = [];
  const stores: Record<StoreName, Map<string, KubeObject>> = {
    pods: new Map(),
    nads: new Map(),
    namespaces: new Map(),
    events: new Map(),
    "events.k8s.io": new Map(),
  };
  const watchers = new Set<Watcher>();
  let failRules: Array<FailRule & { remaining: number }> = [];
  let counters: Record<string, number> = {};
  let log: RequestLogEntry[] = [];
  let downMode: DownMode | undefined;
  let releaseHung: (() => void) | undefined;
  let hung: Promise<void> | undefined;
  const _encoder = new TextEncoder();

  // --- store mutations (shared by the API and the controls) ---

  function record(change: Omit<Change, "rv">): number {
    const entry: Change = { ...change, rv: ++rv };
    entry.object.metadata.resourceVersion = String(entry.rv);
    history.push(entry);
    while (history.length > historySize) {
      const dropped = history.shift();
      if (dropped) compactedThrough = dropped.rv;
    }
    for (const w of watchers) {
      if (w.store !== entry.store) continue;
      const ev = eventFor(w, entry);
      if (ev) w.send(ev);
    }
    return entry.rv;
  }

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

  function createObject(info: ResourceInfo, namespace: string | undefined, body: KubeObject): KubeObject {
    const obj = clone(body);
    if (obj.metadata === null || typeof obj.metadata !== "object") obj.metadata = {};
    const meta = obj.metadata;
    if (!meta.name && meta.generateName) meta.name = meta.generateName + Math.random().toString(36).slice(2, 7);
    if (!meta.name) throw new HttpError(422, `${info.kind} "": name or generateName is required`);
    if (info.namespaced) {
      if (meta.namespace !== undefined && namespace !== undefined && meta.namespace !== namespace)
        throw new HttpError(
          400,
          "the namespace of the provided object does not match the namespace sent on the request",
        );
      meta.namespace = namespace ?? meta.namespace ?? "default";
    } else delete meta.namespace;
    const key = keyOf(info.namespaced ? meta.namespace : undefined, meta.name);
    const store = stores[info.store];
    if (store.has(key))
      throw new HttpError(409, `${info.kind.toLowerCase()}s "${meta.name}" already exists`, "AlreadyExists");
    obj.kind = info.kind;
    obj.apiVersion = info.apiVersion;
    meta.uid ??= crypto.randomUUID();
    meta.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, "Z");
    if (info.store === "pods") {
      obj.spec ??= { containers: [{ name: "c", image: "pause" }] };
      obj.status ??= { phase: "Pending" };
    }
    if (info.store === "namespaces") obj.status ??= { phase: "Active" };
    store.set(key, obj);
    if (info.store === "events" || info.store === "events.k8s.io") {
      meta.resourceVersion = String(++rv); // events are not watched here; keep them out of the history
      while (store.size > 1000) store.delete(store.keys().next().value as string);
    } else record({ store: info.store, type: "ADDED", object: obj, previous: undefined });
    return clone(obj);
  }

  function existing(info: ResourceInfo, namespace: string | undefined, name: string): KubeObject {
    const obj = stores[info.store].get(keyOf(info.namespaced ? namespace : undefined, name));
    if (!obj) throw new HttpError(404, `${info.kind.toLowerCase()}s "${name}" not found`);
    return obj;
  }

  function updateObject(
    info: ResourceInfo,
    namespace: string | undefined,
    name: string,
    next: KubeObject,
    subresource: string | undefined,
  ): KubeObject {
    const old = existing(info, namespace, name);
    const wantRv = next.metadata?.resourceVersion;
    if (wantRv !== undefined && wantRv !== "" && wantRv !== old.metadata.resourceVersion)
      throw new HttpError(
        409,
        `Operation cannot be fulfilled on ${info.kind.toLowerCase()}s "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      );
    const wantUid = next.metadata?.uid;
    if (wantUid !== undefined && wantUid !== old.metadata.uid)
      throw new HttpError(
        409,
        `Precondition failed: UID in precondition: ${wantUid}, UID in object meta: ${old.metadata.uid}`,
      );
    const obj = clone(next);
    obj.metadata = { ...(obj.metadata ?? {}) };
    for (const k of ["name", "namespace", "uid", "creationTimestamp"] as const) {
      if (old.metadata[k] === undefined) delete obj.metadata[k];
      else obj.metadata[k] = old.metadata[k];
    }
    obj.kind = info.kind;
    obj.apiVersion = info.apiVersion;
    if (info.store === "pods") {
      // pods/status changes status and metadata only; the main resource never changes status
      if (subresource === "status") obj.spec = clone(old.spec);
      else obj.status = clone(old.status);
    }
    obj.metadata.resourceVersion = old.metadata.resourceVersion;
    if (JSON.stringify(obj) === JSON.stringify(old)) return clone(old); // no-op: no new RV, no event
    stores[info.store].set(keyOf(info.namespaced ? namespace : undefined, name), obj);
    record({ store: info.store, type: "MODIFIED", object: obj, previous: old });
    return clone(obj);
  }

  function deleteObject(info: ResourceInfo, namespace: string | undefined, name: string): KubeObject {
    const old = existing(info, namespace, name);
    const key = keyOf(info.namespaced ? namespace : undefined, name);
    stores[info.store].delete(key);
    const gone = clone(old);
    if (info.store === "events" || info.store === "events.k8s.io") gone.metadata.resourceVersion = String(++rv);
    else record({ store: info.store, type: "DELETED", object: gone, previous: old });
    return clone(gone);
  }

  // --- routing ---

  function route(pathname: string): Route | undefined {
    const parts = pathname
      .split("/")
      .filter((p) => p !== "")
      .map(decodeURIComponent);
    let group: string;
    let rest: string[];
    if (parts[0] === "api" && parts[1] === "v1") {
      group = "";
      rest = parts.slice(2);
    } else if (parts[0] === "apis" && parts.length >= 3) {
      group = parts[1]!;
      rest = parts.slice(3);
    } else return undefined;
    let namespace: string | undefined;
    if (rest[0] === "namespaces" && rest.length >= 3) {
      namespace = rest[1];
      rest = rest.slice(2);
    }
    const [plural, name, subresource, ...extra] = rest;
    if (plural === undefined || extra.length > 0) return undefined;
    const info = RESOURCES[`${group}/${plural}`];
    if (!info) return undefined;
    if (info.namespaced !== (namespace !== undefined) && name !== undefined) return undefined;
    if (!info.namespaced && namespace !== undefined) return undefined;
    if (subresource !== undefined && !(info.store === "pods" && subresource === "status")) return undefined;
    return { info, namespace, name, subresource };
  }

  function verbOf(method: string, r: Route | undefined, url: URL): Verb | string {
    if (method === "GET" && r && r.name === undefined) {
      const w = url.searchParams.get("watch");
      return w === "true" || w === "1" ? "WATCH" : "LIST";
    }
    return method;
  }

  function resourceKeyOf(r: Route | undefined, pathname: string): ResourceKey {
    if (!r) return pathname === "/version" ? "version" : "other";
    return r.subresource === "status" ? "pods/status" : r.info.counterKey;
  }

  function readBody(req: IncomingMessage): Promise<string> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
      req.on("error", reject);
    });
  }

  function parseJson(text: string): unknown {
    try {
      return JSON.parse(text);
    } catch {
      throw new HttpError(400, "request body is not valid JSON");
    }
  }

  function asObject(body: unknown): KubeObject {
    if (body === null || typeof body !== "object" || Array.isArray(body))
      throw new HttpError(400, "request body must be a JSON object");
    return body as KubeObject;
  }

  interface Reply {
    status: number;
    body: unknown;
    headers?: Record<string, string>;
  }

  const statusReply = (code: number, message: string, reason?: string, headers?: Record<string, string>): Reply => ({
    status: code,
    body: statusBody(code, message, reason),
    headers,
  });

  function list(r: Route, url: URL): Reply {
    const selector = parseSelectors(url.searchParams.get("fieldSelector"), url.searchParams.get("labelSelector"));
    const all = [...stores[r.info.store].entries()]
      .filter(([, o]) => (r.namespace === undefined || o.metadata.namespace === r.namespace) && selector.matches(o))
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    let listRv = rv;
    let start = 0;
    const cont = url.searchParams.get("continue");
    if (cont) {
      try {
        const parsed = JSON.parse(Buffer.from(cont, "base64url").toString()) as { rv: number; after: string };
        listRv = parsed.rv;
        start = all.findIndex(([k]) => k > parsed.after);
        if (start < 0) start = all.length;
      } catch {
        throw new HttpError(400, "invalid continue token");
      }
    }
    const limit = Number(url.searchParams.get("limit") ?? "0");
    const page = limit > 0 ? all.slice(start, start + limit) : all.slice(start);
    const metadata: Record<string, unknown> = { resourceVersion: String(listRv) };
    const lastKey = page.at(-1)?.[0];
    if (limit > 0 && start + page.length < all.length && lastKey !== undefined) {
      metadata.continue = Buffer.from(JSON.stringify({ rv: listRv, after: lastKey })).toString("base64url");
      metadata.remainingItemCount = all.length - start - page.length;
    }
    return {
      status: 200,
      body: {
        kind: `${r.info.kind}List`,
        apiVersion: r.info.apiVersion,
        metadata,
        items: page.map(([, o]) => clone(o)),
      },
    };
  }

  /** Streams a watch on `res`: headers are flushed at once, as the real API server does. */
  function watch(r: Route, url: URL, res: ServerResponse): void {
    const selector = parseSelectors(url.searchParams.get("fieldSelector"), url.searchParams.get("labelSelector"));
    const rvParam = url.searchParams.get("resourceVersion");
    const bookmarks = url.searchParams.get("allowWatchBookmarks") === "true";
    const timeoutSeconds = Number(url.searchParams.get("timeoutSeconds") ?? "0");
    res.writeHead(200, { "content-type": "application/json", "cache-control": "no-cache" });
    res.flushHeaders();
    let open = true;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const finish = () => {
      open = false;
      watchers.delete(w);
      if (timer) clearTimeout(timer);
    };
    const w: Watcher = {
      store: r.info.store,
      counterKey: r.info.counterKey,
      namespace: r.namespace,
      selector,
      bookmarks,
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
    if (rvParam && rvParam !== "0") {
      const from = Number(rvParam);
      if (!Number.isInteger(from) || from < compactedThrough) {
        w.send({
          type: "ERROR",
          object: statusBody(410, `too old resource version: ${rvParam} (${compactedThrough})`, "Expired"),
        });
        w.end("end");
        return;
      }
      for (const c of history) {
        if (c.rv <= from || c.store !== r.info.store) continue;
        const ev = eventFor(w, c);
        if (ev) w.send(ev);
      }
    } else {
      const initial = [...stores[r.info.store].entries()]
        .filter(([, o]) => (r.namespace === undefined || o.metadata.namespace === r.namespace) && selector.matches(o))
        .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [, o] of initial) w.send({ type: "ADDED", object: clone(o) });
    }
    watchers.add(w);
    if (timeoutSeconds > 0) timer = setTimeout(() => w.end("end"), timeoutSeconds * 1000);
  }

  function handle(method: string, body: unknown, r: Route, url: URL): Reply {
    const { info, namespace, name, subresource } = r;
    switch (method) {
      case "GET":
        if (name === undefined) return list(r, url);
        return { status: 200, body: clone(existing(info, namespace, name)) };
      case "POST":
        if (name !== undefined) throw new HttpError(405, "POST is not allowed on a named resource");
        return { status: 201, body: createObject(info, namespace, asObject(body)) };
      case "PUT": {
        if (name === undefined) throw new HttpError(405, "PUT needs a name");
        const obj = asObject(body);
        if (obj.metadata?.name !== undefined && obj.metadata.name !== name)
          throw new HttpError(400, "the name of the object does not match the name on the URL");
        return { status: 200, body: updateObject(info, namespace, name, obj, subresource) };
      }
      case "DELETE":
        if (name === undefined) throw new HttpError(405, "DELETE collection is not supported");
        return { status: 200, body: deleteObject(info, namespace, name) };
      default:
        throw new HttpError(405, `method ${method} not allowed`);
    }
  }

  function patch(type: string, patchBody: unknown, r: Route): Reply {
    const { info, namespace, name, subresource } = r;
    if (name === undefined) throw new HttpError(405, "PATCH needs a name");
    const old = existing(info, namespace, name);
    let next: unknown;
    if (type === "application/merge-patch+json" || type === "application/strategic-merge-patch+json")
      next = mergePatch(clone(old), patchBody);
    else if (type === "application/json-patch+json") next = jsonPatch(old, patchBody);
    else
      throw new HttpError(
        415,
        "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json",
      );
    const obj = asObject(next);
    // a resourceVersion in the patch is a precondition; without one the patch applies to the latest
    const patchRv =
      patchBody !== null && typeof patchBody === "object" && !Array.isArray(patchBody)
        ? (patchBody as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion
        : undefined;
    obj.metadata = { ...(obj.metadata ?? {}) };
    if (patchRv === undefined) obj.metadata.resourceVersion = old.metadata.resourceVersion;
    return { status: 200, body: updateObject(info, namespace, name, obj, subresource) };
  }

  async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://fake-kube");
    const method = req.method ?? "GET";
    const r = route(url.pathname);
    const verb = verbOf(method, r, url);
    const resource = resourceKeyOf(r, url.pathname);
    const contentType = req.headers["content-type"];
    const entry: RequestLogEntry = {
      method,
      verb,
      resource,
      path: url.pathname,
      query: url.search,
      contentType,
      status: 0,
      at: Date.now(),
    };
    log.push(entry);
    if (log.length > 10_000) log.shift();
    const counterKey = `${verb} ${resource}`;
    counters[counterKey] = (counters[counterKey] ?? 0) + 1;
    const reply = (x: Reply) => {
      entry.status = x.status;
      if (res.destroyed) return;
      res.writeHead(x.status, { "content-type": "application/json", ...x.headers });
      res.end(JSON.stringify(x.body));
    };

    let text = "";
    try {
      text = await readBody(req);
    } catch {
      return;
    }
    if (downMode === "hang" && hung) await hung;
    if (downMode === "503") return reply(statusReply(503, "the server is currently unable to handle the request"));
    if (req.headers.authorization !== `Bearer ${token}`) return reply(statusReply(401, "Unauthorized"));

    const rule = failRules.find(
      (f) =>
        f.remaining > 0 &&
        (f.verb === undefined || f.verb === verb || f.verb === method) &&
        (f.path === undefined || (typeof f.path === "string" ? f.path === resource : f.path.test(url.pathname))),
    );
    if (rule) {
      rule.remaining--;
      failRules = failRules.filter((f) => f.remaining > 0);
      const headers =
        rule.retryAfterSeconds !== undefined ? { "retry-after": String(rule.retryAfterSeconds) } : undefined;
      return reply(statusReply(rule.status, `injected failure ${rule.status}`, undefined, headers));
    }

    if (url.pathname === "/version" && method === "GET")
      return reply({
        status: 200,
        body: { major: "1", minor: "33", gitVersion: "v1.33.0-fake", platform: "linux/amd64" },
      });
    if (!r) return reply(statusReply(404, "the server could not find the requested resource"));
    try {
      if (verb === "WATCH") {
        entry.status = 200;
        return watch(r, url, res);
      }
      let body: unknown;
      if (method === "POST" || method === "PUT" || method === "PATCH") {
        body = parseJson(text);
        entry.body = body;
      }
      if (method === "PATCH") return reply(patch((contentType ?? "").split(";")[0]!.trim(), body, r));
      return reply(handle(method, body, r, url));
    } catch (err) {
      if (err instanceof HttpError) return reply(statusReply(err.status, err.message, err.reason));
      return reply(statusReply(500, `fake-kube: ${(err as Error).message}`));
    }
  }

  function listen(onPort: number): Promise<Server> {
    const srv = createServer({ key: tlsKey, cert: tlsCert }, (req, res) => void onRequest(req, res));
    srv.requestTimeout = 0;
    srv.timeout = 0;
    return new Promise((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(onPort, "127.0.0.1", () => resolve(srv));
    });
  }

  function close(srv: Server): Promise<void> {
    return new Promise((resolve) => {
      srv.close(() => resolve());
      srv.closeAllConnections();
    });
  }

  let server: Server | undefined = await listen(opts.port ?? 0);
  const port = (server.address() as AddressInfo).port;
  const url = `https://127.0.0.1:${port}`;
  let bookmarkTimer: ReturnType<typeof setInterval> | undefined;

  // --- controls ---

  const endAll = (mode: "end" | "error") => {
    const n = watchers.size;
    for (const w of [...watchers]) w.end(mode);
    return n;
  };

  const podFromInput = (input: PodInput | KubeObject): KubeObject => {
    if ("metadata" in input) return input as KubeObject;
    const p = input as PodInput;
    return {
      metadata: {
        name: p.name,
        namespace: p.namespace ?? "default",
        ...(p.uid !== undefined && { uid: p.uid }),
        ...(p.annotations !== undefined && { annotations: p.annotations }),
        ...(p.labels !== undefined && { labels: p.labels }),
      },
      spec: { ...(p.nodeName !== undefined && { nodeName: p.nodeName }), containers: [{ name: "c", image: "pause" }] },
      ...(p.status !== undefined && { status: p.status }),
    };
  };

  const nadFromInput = (input: NadInput | KubeObject): KubeObject => {
    if ("metadata" in input) return input as KubeObject;
    const n = input as NadInput;
    const annotations = {
      ...n.annotations,
      ...(n.resourceName !== undefined && { "k8s.v1.cni.cncf.io/resourceName": n.resourceName }),
    };
    return {
      metadata: {
        name: n.name,
        namespace: n.namespace ?? "default",
        ...(Object.keys(annotations).length > 0 && { annotations }),
      },
      spec: n.config === undefined ? {} : { config: n.config },
    };
  };

  const mutateWith = (store: StoreName, namespace: string, name: string, mutate: (o: KubeObject) => void) => {
    const old = existing(STORE_INFO[store], namespace, name);
    const obj = clone(old);
    mutate(obj);
    obj.metadata.resourceVersion = old.metadata.resourceVersion;
    if (JSON.stringify(obj) === JSON.stringify(old)) return clone(old);
    stores[store].set(keyOf(namespace, name), obj);
    record({ store, type: "MODIFIED", object: obj, previous: old });
    return clone(obj);
  };

  const tryDelete = (store: StoreName, namespace: string, name: string) => {
    if (!stores[store].has(keyOf(namespace, name))) return false;
    deleteObject(STORE_INFO[store], namespace, name);
    return true;
  };

  const fake: FakeKube = {
    url,
    port,
    caFile,
    caPem,
    token,
    dir,

    writeKubeconfig(path, o = {}) {
      const cluster = o.caAsFile
        ? `    certificate-authority: ${JSON.stringify(caFile)}`
        : `    certificate-authority-data: ${Buffer.from(caPem).toString("base64")}`;
      const text = [
        "apiVersion: v1",
        "kind: Config",
        "clusters:",
        "- name: fake",
        "  cluster:",
        `    server: ${url}`,
        cluster,
        "users:",
        "- name: fake-user",
        "  user:",
        `    token: ${JSON.stringify(token)}`,
        "contexts:",
        "- name: fake",
        "  context:",
        "    cluster: fake",
        "    user: fake-user",
        "current-context: fake",
        "",
      ].join("\n");
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, text, { mode: 0o600 });
      return path;
    },

    inClusterEnv(target, o = {}) {
      mkdirSync(target, { recursive: true });
      const tokenFile = join(target, "token");
      const caPath = join(target, "ca.crt");
      const namespaceFile = join(target, "namespace");
      writeFileSync(tokenFile, token, { mode: 0o600 });
      writeFileSync(caPath, caPem);
      writeFileSync(namespaceFile, o.namespace ?? "kube-system");
      return {
        host: "127.0.0.1",
        port: String(port),
        tokenFile,
        caFile: caPath,
        namespaceFile,
        env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(port) },
      };
    },

    async stop() {
      if (bookmarkTimer) clearInterval(bookmarkTimer);
      endAll("end");
      releaseHung?.();
      if (server) await close(server);
      server = undefined;
      rmSync(dir, { recursive: true, force: true });
    },

    createPod: (input) => createObject(STORE_INFO.pods, undefined, podFromInput(input)),
    updatePod: (namespace, name, mutate) => mutateWith("pods", namespace, name, mutate),
    deletePod: (namespace, name) => tryDelete("pods", namespace, name),
    getPod: (namespace, name) => {
      const o = stores.pods.get(keyOf(namespace, name));
      return o && clone(o);
    },
    createNad: (input) => createObject(STORE_INFO.nads, undefined, nadFromInput(input)),
    updateNad: (namespace, name, mutate) => mutateWith("nads", namespace, name, mutate),
    deleteNad: (namespace, name) => tryDelete("nads", namespace, name),
    getNad: (namespace, name) => {
      const o = stores.nads.get(keyOf(namespace, name));
      return o && clone(o);
    },
    createNamespace: (name) => createObject(STORE_INFO.namespaces, undefined, { metadata: { name } }),

    events() {
      const out: RecordedEvent[] = [];
      for (const [store, api] of [
        ["events", "v1"],
        ["events.k8s.io", "events.k8s.io/v1"],
      ] as const) {
        for (const o of stores[store].values()) {
          const e = o as KubeObject & Record<string, any>;
          const involved = api === "v1" ? e.involvedObject : e.regarding;
          out.push({
            api,
            namespace: o.metadata.namespace ?? "",
            name: o.metadata.name ?? "",
            type: e.type,
            reason: e.reason,
            message: api === "v1" ? e.message : e.note,
            involved,
            component: api === "v1" ? (e.source?.component ?? e.reportingComponent) : e.reportingController,
            object: clone(o),
          });
        }
      }
      return out;
    },

    resourceVersion: () => rv,
    compact() {
      history.length = 0;
      compactedThrough = rv;
    },
    expireWatches() {
      const n = watchers.size;
      for (const w of [...watchers]) {
        w.send({ type: "ERROR", object: statusBody(410, "too old resource version", "Expired") });
        w.end("end");
      }
      return n;
    },
    cutWatches: (mode = "end") => endAll(mode),
    sendBookmarks() {
      for (const w of watchers) {
        if (!w.bookmarks) continue;
        const info = STORE_INFO[w.store];
        w.send({
          type: "BOOKMARK",
          object: { kind: info.kind, apiVersion: info.apiVersion, metadata: { resourceVersion: String(rv) } },
        });
      }
    },
    openWatches: (resource) => [...watchers].filter((w) => resource === undefined || w.counterKey === resource).length,

    async setDown(down, mode = "refuse") {
      if (down) {
        downMode = mode;
        if (mode === "refuse") {
          endAll("error");
          if (server) await close(server);
          server = undefined;
        } else if (mode === "503") endAll("error");
        else hung = new Promise<void>((resolve) => (releaseHung = resolve));
        return;
      }
      const was = downMode;
      downMode = undefined;
      if (was === "hang") {
        releaseHung?.();
        hung = undefined;
        releaseHung = undefined;
      }
      if (!server) server = await listen(port);
    },

    failNext(rule) {
      failRules.push({ ...rule, remaining: rule.times ?? 1 });
    },
    clearFailures() {
      failRules = [];
    },

    counts: () => ({ ...counters }),
    count: (key) => counters[key] ?? 0,
    requests: () => log.slice(),
    resetCounts() {
      counters = {};
      log = [];
    },
  };

  if (opts.bookmarkIntervalMs !== undefined)
    bookmarkTimer = setInterval(() => fake.sendBookmarks(), opts.bookmarkIntervalMs);
  return fake;
}

/** Deadline-bounded polling: resolves with the first truthy value of `check`, else throws. */
export async function until<T>(
  check: () => T | Promise<T>,
  what: string,
  opts: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const end = Date.now() + (opts.timeoutMs ?? 5_000);
  let lastError: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > end)
      throw new Error(`timed out waiting for ${what}`, lastError === undefined ? undefined : { cause: lastError });
    await Bun.sleep(opts.intervalMs ?? 10);
  }
}
