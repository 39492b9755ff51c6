// The fake server's objects: one global resourceVersion counter, every object carrying the RV
// of its last change, and a bounded history of changes that watches replay. Mutations are
// shared by the API and the test controls, so both produce the same watch events.
import { clone, HttpError } from "./status.ts";
import type { KubeObject, NadInput, PodInput, RecordedEvent, ResourceKey } from "./types.ts";

export type StoreName =
  | "pods"
  | "nads"
  | "namespaces"
  | "events"
  | "events.k8s.io"
  | "resourceclaims"
  | "resourceslices"
  | "csrs";

export interface ResourceInfo {
  store: StoreName;
  kind: string;
  apiVersion: string;
  namespaced: boolean;
  counterKey: ResourceKey;
}

/** By `<group>/<plural>` (core group: empty). */
export const RESOURCES: Record<string, ResourceInfo> = {
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
  "certificates.k8s.io/certificatesigningrequests": {
    store: "csrs",
    kind: "CertificateSigningRequest",
    apiVersion: "certificates.k8s.io/v1",
    namespaced: false,
    counterKey: "csrs",
  },
  "k8s.cni.cncf.io/network-attachment-definitions": {
    store: "nads",
    kind: "NetworkAttachmentDefinition",
    apiVersion: "k8s.cni.cncf.io/v1",
    namespaced: true,
    counterKey: "nads",
  },
  // resource.k8s.io/v1 (Kubernetes 1.34+): served only while the fake's resourceApi is on.
  "resource.k8s.io/resourceclaims": {
    store: "resourceclaims",
    kind: "ResourceClaim",
    apiVersion: "resource.k8s.io/v1",
    namespaced: true,
    counterKey: "resourceclaims",
  },
  "resource.k8s.io/resourceslices": {
    store: "resourceslices",
    kind: "ResourceSlice",
    apiVersion: "resource.k8s.io/v1",
    namespaced: false,
    counterKey: "resourceslices",
  },
};

export const STORE_INFO: Record<StoreName, ResourceInfo> = {
  pods: RESOURCES["/pods"]!,
  events: RESOURCES["/events"]!,
  namespaces: RESOURCES["/namespaces"]!,
  "events.k8s.io": RESOURCES["events.k8s.io/events"]!,
  nads: RESOURCES["k8s.cni.cncf.io/network-attachment-definitions"]!,
  resourceclaims: RESOURCES["resource.k8s.io/resourceclaims"]!,
  resourceslices: RESOURCES["resource.k8s.io/resourceslices"]!,
  csrs: RESOURCES["certificates.k8s.io/certificatesigningrequests"]!,
};

export type EventType = "ADDED" | "MODIFIED" | "DELETED";

export interface Change {
  rv: number;
  store: StoreName;
  type: EventType;
  object: KubeObject;
  previous: KubeObject | undefined;
}

export interface Selector {
  matches(obj: KubeObject): boolean;
}

export interface FakeStore {
  readonly maps: Record<StoreName, Map<string, KubeObject>>;
  /** Oldest first; compact() empties it. */
  readonly history: Change[];
  /** Current global resourceVersion. */
  rv(): number;
  /** Watches may resume from any RV >= this; older ones get 410. */
  compactedThrough(): number;
  compact(): void;
  create(info: ResourceInfo, namespace: string | undefined, body: KubeObject): KubeObject;
  /** The stored object itself (not a copy); 404 when there is none. */
  existing(info: ResourceInfo, namespace: string | undefined, name: string): KubeObject;
  update(info: ResourceInfo, u: Update): KubeObject;
  remove(info: ResourceInfo, namespace: string | undefined, name: string): KubeObject;
  /** A test control: `mutate` edits a copy; no change, no new RV. */
  mutate(store: StoreName, at: { namespace: string; name: string }, mutate: (o: KubeObject) => void): KubeObject;
  /** A test control: false when there is nothing to delete. */
  tryDelete(store: StoreName, namespace: string, name: string): boolean;
}

export interface Update {
  namespace: string | undefined;
  name: string;
  next: KubeObject;
  subresource: string | undefined;
}

interface State {
  rv: number;
  compactedThrough: number;
  history: Change[];
  historySize: number;
  maps: Record<StoreName, Map<string, KubeObject>>;
  onChange(c: Change): void;
}

export function createStore(opts: { historySize: number; onChange(c: Change): void }): FakeStore {
  const s: State = {
    rv: 100,
    compactedThrough: 100,
    history: [],
    historySize: opts.historySize,
    maps: {
      pods: new Map(),
      nads: new Map(),
      namespaces: new Map(),
      events: new Map(),
      "events.k8s.io": new Map(),
      resourceclaims: new Map(),
      resourceslices: new Map(),
      csrs: new Map(),
    },
    onChange: opts.onChange,
  };
  return {
    maps: s.maps,
    history: s.history,
    rv: () => s.rv,
    compactedThrough: () => s.compactedThrough,
    compact() {
      s.history.length = 0;
      s.compactedThrough = s.rv;
    },
    create: (info, namespace, body) => createObject(s, info, { namespace, body }),
    existing: (info, namespace, name) => existing(s, info, namespace, name),
    update: (info, u) => updateObject(s, info, u),
    remove: (info, namespace, name) => deleteObject(s, info, namespace, name),
    mutate: (store, at, mutate) => mutateObject(s, { store, ...at, mutate }),
    tryDelete(store, namespace, name) {
      if (!s.maps[store].has(keyOf(namespace, name))) return false;
      deleteObject(s, STORE_INFO[store], namespace, name);
      return true;
    },
  };
}

export function keyOf(namespace: string | undefined, name: string): string {
  return namespace === undefined ? name : `${namespace}/${name}`;
}

const isEvents = (store: StoreName) => store === "events" || store === "events.k8s.io";

/** A new RV for the change, into the bounded history, then to the watches. */
function record(s: State, change: Omit<Change, "rv">): number {
  const entry: Change = { ...change, rv: ++s.rv };
  entry.object.metadata.resourceVersion = String(entry.rv);
  s.history.push(entry);
  while (s.history.length > s.historySize) {
    const dropped = s.history.shift();
    if (dropped) s.compactedThrough = dropped.rv;
  }
  s.onChange(entry);
  return entry.rv;
}

function createObject(
  s: State,
  info: ResourceInfo,
  { namespace, body }: { namespace: string | undefined; body: KubeObject },
): KubeObject {
  const obj = clone(body);
  if (obj.metadata === null || typeof obj.metadata !== "object") obj.metadata = {};
  const meta = obj.metadata;
  if (!meta.name && meta.generateName) meta.name = meta.generateName + Math.random().toString(36).slice(2, 7);
  if (!meta.name) throw new HttpError(422, `${info.kind} "": name or generateName is required`);
  if (info.namespaced) {
    if (meta.namespace !== undefined && namespace !== undefined && meta.namespace !== namespace)
      throw new HttpError(400, "the namespace of the provided object does not match the namespace sent on the request");
    meta.namespace = namespace ?? meta.namespace ?? "default";
  } else delete meta.namespace;
  const key = keyOf(info.namespaced ? meta.namespace : undefined, meta.name);
  const store = s.maps[info.store];
  if (store.has(key))
    throw new HttpError(409, `${info.kind.toLowerCase()}s "${meta.name}" already exists`, "AlreadyExists");
  fillDefaults(info, obj);
  store.set(key, obj);
  if (isEvents(info.store)) {
    meta.resourceVersion = String(++s.rv); // events are not watched here; keep them out of the history
    while (store.size > 1000) store.delete(store.keys().next().value as string);
  } else record(s, { store: info.store, type: "ADDED", object: obj, previous: undefined });
  return clone(obj);
}

/** What the API server sets on create: kind, apiVersion, uid, creationTimestamp, a pod's spec and status. */
function fillDefaults(info: ResourceInfo, obj: KubeObject): void {
  const meta = obj.metadata;
  obj.kind = info.kind;
  obj.apiVersion = info.apiVersion;
  meta.uid ??= crypto.randomUUID();
  meta.creationTimestamp ??= new Date().toISOString().replace(/\.\d+Z$/, "Z");
  if (info.store === "pods") {
    obj.spec ??= { containers: [{ name: "c", image: "pause" }] };
    obj.status ??= { phase: "Pending" };
  }
  if (info.store === "namespaces") obj.status ??= { phase: "Active" };
}

function existing(s: State, info: ResourceInfo, namespace: string | undefined, name: string): KubeObject {
  const obj = s.maps[info.store].get(keyOf(info.namespaced ? namespace : undefined, name));
  if (!obj) throw new HttpError(404, `${info.kind.toLowerCase()}s "${name}" not found`);
  return obj;
}

function updateObject(s: State, info: ResourceInfo, { namespace, name, next, subresource }: Update): KubeObject {
  const old = existing(s, info, namespace, name);
  checkPreconditions(info, { name, old, next });
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
  s.maps[info.store].set(keyOf(info.namespaced ? namespace : undefined, name), obj);
  record(s, { store: info.store, type: "MODIFIED", object: obj, previous: old });
  return clone(obj);
}

/** metadata.resourceVersion and metadata.uid in an update are preconditions: 409 when they differ. */
function checkPreconditions(
  info: ResourceInfo,
  { name, old, next }: { name: string; old: KubeObject; next: KubeObject },
): void {
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
}

function deleteObject(s: State, info: ResourceInfo, namespace: string | undefined, name: string): KubeObject {
  const old = existing(s, info, namespace, name);
  const key = keyOf(info.namespaced ? namespace : undefined, name);
  s.maps[info.store].delete(key);
  const gone = clone(old);
  if (isEvents(info.store)) gone.metadata.resourceVersion = String(++s.rv);
  else record(s, { store: info.store, type: "DELETED", object: gone, previous: old });
  return clone(gone);
}

function mutateObject(
  s: State,
  m: { store: StoreName; namespace: string; name: string; mutate: (o: KubeObject) => void },
): KubeObject {
  const old = existing(s, STORE_INFO[m.store], m.namespace, m.name);
  const obj = clone(old);
  m.mutate(obj);
  obj.metadata.resourceVersion = old.metadata.resourceVersion;
  if (JSON.stringify(obj) === JSON.stringify(old)) return clone(old);
  s.maps[m.store].set(keyOf(m.namespace, m.name), obj);
  record(s, { store: m.store, type: "MODIFIED", object: obj, previous: old });
  return clone(obj);
}

/** The objects of one resource in `namespace` (all when undefined) that `selector` matches, by key. */
export function selectedEntries(
  store: FakeStore,
  q: { store: StoreName; namespace: string | undefined; selector: Selector },
): Array<[string, KubeObject]> {
  return [...store.maps[q.store].entries()]
    .filter(([, o]) => (q.namespace === undefined || o.metadata.namespace === q.namespace) && q.selector.matches(o))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function getField(obj: unknown, path: string): string {
  let cur: unknown = obj;
  for (const part of path.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur === undefined || cur === null ? "" : String(cur);
}

/** `fieldSelector` (=, ==, != on dotted paths) and `labelSelector` (also `key` and `!key`); 400 when malformed. */
export function parseSelectors(fieldSelector: string | null, labelSelector: string | null): Selector {
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

export function podFromInput(input: PodInput | KubeObject): KubeObject {
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
}

export function nadFromInput(input: NadInput | KubeObject): KubeObject {
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
}

/** Both event APIs' objects, in the one shape tests compare. */
export function recordedEvents(store: FakeStore): RecordedEvent[] {
  const out: RecordedEvent[] = [];
  for (const [name, api] of [
    ["events", "v1"],
    ["events.k8s.io", "events.k8s.io/v1"],
  ] as const) {
    for (const o of store.maps[name].values()) {
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
}
