// Requests to the fake server: bearer-token auth, injected failures and outages, the
// request log and counters, then REST on the store: list with `fieldSelector`,
// `labelSelector`, `limit`/`continue`; GET/POST/PUT/DELETE; PATCH on pods, pods/status and
// NADs; `watch=true` handed to the watch hub. Errors are Status objects.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { CsrSigner } from "./csrs.ts";
import { applyPatch } from "./patch.ts";
import { clone, HttpError, statusBody } from "./status.ts";
import { type FakeStore, parseSelectors, RESOURCES, type ResourceInfo, selectedEntries } from "./store.ts";
import type { DownMode, FailRule, Identity, KubeObject, RequestLogEntry, ResourceKey, Verb } from "./types.ts";
import type { WatchHub } from "./watch.ts";

interface Route {
  info: ResourceInfo;
  namespace: string | undefined;
  name: string | undefined;
  subresource: string | undefined;
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
}

/** What the test controls change about how requests are answered, and what they read back. */
export interface RequestState {
  failRules: Array<FailRule & { remaining: number }>;
  counters: Record<string, number>;
  log: RequestLogEntry[];
  /** Bearer tokens accepted now (acceptTokens); any other gets 401 with a Status, as a real API server answers an expired or unknown token. */
  tokens: string[];
  /** Who each accepted token is; a token without an entry is `defaultIdentity`. */
  identities: Map<string, Identity>;
  defaultIdentity: Identity;
  downMode?: DownMode;
  /** While down in "hang" mode: requests wait for this. */
  hung?: Promise<void>;
  /** While slow (setDelay): each request waits `ms`, or until `over` resolves (the delay ended). */
  delay?: { ms: number; over: Promise<void> };
  /** Whether resource.k8s.io/v1 is served (Kubernetes 1.34+); off, its URLs are 404. */
  resourceApi: boolean;
}

export interface RouterDeps {
  store: FakeStore;
  watches: WatchHub;
  state: RequestState;
  signer: CsrSigner;
  /** The client certificate's user of the connection `req` came on, if it presented a valid one. */
  peerIdentity(req: IncomingMessage): Identity | undefined;
  /** The client closed the connection `req` came on. */
  clientGone(req: IncomingMessage): boolean;
}

export function createRouter(deps: RouterDeps): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const url = new URL(req.url ?? "/", "https://fake-kube");
    const method = req.method ?? "GET";
    const r = route(url.pathname, deps.state.resourceApi);
    const verb = verbOf(method, r, url);
    const contentType = req.headers["content-type"];
    const entry = logRequest(deps.state, { method, verb, resource: resourceKeyOf(r, url.pathname), url, contentType });
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
    const { state } = deps;
    if (state.downMode === "hang" && state.hung) await state.hung;
    if (state.delay) {
      // Before the reply, "close" means the client went away (timed out, aborted).
      let gone = false;
      res.once("close", () => (gone = true));
      await waitDelay(state.delay);
      // The client timed out and closed the connection: nothing is done on its behalf.
      if (gone || req.socket.destroyed || res.destroyed || deps.clientGone(req)) {
        entry.dropped = true;
        return;
      }
    }
    if (state.downMode === "503")
      return reply(statusReply(503, "the server is currently unable to handle the request"));
    const user = deps.peerIdentity(req) ?? tokenIdentity(req, state);
    if (!user) return reply(statusReply(401, "Unauthorized"));
    entry.user = user;
    const injected = injectedFailure(state, entry);
    if (injected) return reply(injected);

    if (url.pathname === "/version" && method === "GET")
      return reply({
        status: 200,
        body: { major: "1", minor: "33", gitVersion: "v1.33.0-fake", platform: "linux/amd64" },
      });
    if (url.pathname === RESOURCE_API && method === "GET" && deps.state.resourceApi)
      return reply({ status: 200, body: RESOURCE_API_DISCOVERY });
    if (!r) return reply(statusReply(404, "the server could not find the requested resource"));
    try {
      if (verb === "WATCH") {
        entry.status = 200;
        return deps.watches.open(deps.store, watchRequestOf(r, url), res);
      }
      if (r.info.store === "csrs" && method !== "GET" && method !== "DELETE")
        return reply(serveCsr(deps, { method, r, text, user, entry }));
      return reply(serve(deps.store, { method, r, url, text, contentType, entry }));
    } catch (err) {
      if (err instanceof HttpError) return reply(statusReply(err.status, err.message, err.reason));
      return reply(statusReply(500, `fake-kube: ${(err as Error).message}`));
    }
  };
}

/** The user of the bearer token, when it is accepted now. */
function tokenIdentity(req: IncomingMessage, state: RequestState): Identity | undefined {
  const token = state.tokens.find((t) => req.headers.authorization === `Bearer ${t}`);
  return token === undefined ? undefined : (state.identities.get(token) ?? state.defaultIdentity);
}

/**
 * Writes to CertificateSigningRequests: create (checked and filled as the API server does),
 * update of the object (its status is kept), /approval (conditions only) and /status; an
 * approval of a request of the kube-apiserver-client signer is signed right after.
 */
function serveCsr(
  deps: RouterDeps,
  q: { method: string; r: Route; text: string; user: Identity; entry: RequestLogEntry },
): Reply {
  const { store, signer } = deps;
  const { info, name, subresource } = q.r;
  const body = asObject(parseJson(q.text));
  q.entry.body = body;
  if (q.method === "POST") {
    if (name !== undefined) throw new HttpError(405, "POST is not allowed on a named resource");
    signer.admit(body, q.user);
    return { status: 201, body: store.create(info, undefined, body) };
  }
  if (q.method !== "PUT" || name === undefined) throw new HttpError(405, `method ${q.method} not allowed`);
  const stored = store.existing(info, undefined, name);
  const next = clone(stored);
  const wantRv = body.metadata?.resourceVersion;
  if (wantRv) next.metadata.resourceVersion = wantRv;
  let toSign = false;
  if (subresource === "approval") toSign = signer.approve(next, body);
  else if (subresource === "status") next.status = body.status;
  else {
    next.metadata = { ...body.metadata, resourceVersion: next.metadata.resourceVersion };
    next.spec = stored.spec; // spec is immutable; status only through the subresources
  }
  const updated = store.update(info, { namespace: undefined, name, next, subresource });
  if (toSign)
    queueMicrotask(() => {
      const current = store.maps.csrs.get(name);
      if (!current) return;
      const signed = clone(current);
      signer.sign(signed);
      store.update(info, { namespace: undefined, name, next: signed, subresource: "status" });
    });
  return { status: 200, body: updated };
}

function waitDelay(delay: { ms: number; over: Promise<void> }): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const slept = new Promise<void>((resolve) => (timer = setTimeout(resolve, delay.ms)));
  return Promise.race([slept, delay.over]).finally(() => clearTimeout(timer));
}

function logRequest(
  state: RequestState,
  r: { method: string; verb: Verb | string; resource: ResourceKey; url: URL; contentType: string | undefined },
): RequestLogEntry {
  const entry: RequestLogEntry = {
    method: r.method,
    verb: r.verb,
    resource: r.resource,
    path: r.url.pathname,
    query: r.url.search,
    contentType: r.contentType,
    status: 0,
    at: Date.now(),
  };
  state.log.push(entry);
  if (state.log.length > 10_000) state.log.shift();
  const counterKey = `${r.verb} ${r.resource}`;
  state.counters[counterKey] = (state.counters[counterKey] ?? 0) + 1;
  return entry;
}

/** The reply of the first failNext rule this request matches (using the rule up), if any. */
function injectedFailure(state: RequestState, entry: RequestLogEntry): Reply | undefined {
  const rule = state.failRules.find(
    (f) =>
      f.remaining > 0 &&
      (f.verb === undefined || f.verb === entry.verb || f.verb === entry.method) &&
      (f.path === undefined || (typeof f.path === "string" ? f.path === entry.resource : f.path.test(entry.path))),
  );
  if (!rule) return undefined;
  rule.remaining--;
  state.failRules = state.failRules.filter((f) => f.remaining > 0);
  const headers = rule.retryAfterSeconds !== undefined ? { "retry-after": String(rule.retryAfterSeconds) } : undefined;
  return statusReply(rule.status, `injected failure ${rule.status}`, undefined, headers);
}

/** Everything but a watch, on a routed resource. */
function serve(
  store: FakeStore,
  q: { method: string; r: Route; url: URL; text: string; contentType: string | undefined; entry: RequestLogEntry },
): Reply {
  let body: unknown;
  if (q.method === "POST" || q.method === "PUT" || q.method === "PATCH") {
    body = parseJson(q.text);
    q.entry.body = body;
  }
  if (q.method === "PATCH")
    return patch(store, { contentType: (q.contentType ?? "").split(";")[0]!.trim(), body }, q.r);
  return handle(store, { method: q.method, body }, q.r, q.url);
}

const RESOURCE_API = "/apis/resource.k8s.io/v1";
const READ_VERBS = ["get", "list", "watch"];
const WRITE_VERBS = ["create", "delete", "deletecollection", "patch", "update"];
/** The discovery document of resource.k8s.io/v1, trimmed to the resources served here. */
const RESOURCE_API_DISCOVERY = {
  kind: "APIResourceList",
  apiVersion: "v1",
  groupVersion: "resource.k8s.io/v1",
  resources: [
    {
      name: "resourceclaims",
      singularName: "resourceclaim",
      namespaced: true,
      kind: "ResourceClaim",
      verbs: [...READ_VERBS, ...WRITE_VERBS],
    },
    {
      name: "resourceclaims/status",
      singularName: "",
      namespaced: true,
      kind: "ResourceClaim",
      verbs: ["get", "patch", "update"],
    },
    {
      name: "resourceslices",
      singularName: "resourceslice",
      namespaced: false,
      kind: "ResourceSlice",
      verbs: [...READ_VERBS, ...WRITE_VERBS],
    },
  ],
};

function route(pathname: string, resourceApi: boolean): Route | undefined {
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
  if (group === "resource.k8s.io" && (!resourceApi || parts[2] !== "v1")) return undefined;
  if (info.namespaced !== (namespace !== undefined) && name !== undefined) return undefined;
  if (!info.namespaced && namespace !== undefined) return undefined;
  const allowed =
    (info.store === "pods" && subresource === "status") ||
    (info.store === "csrs" && (subresource === "status" || subresource === "approval"));
  if (subresource !== undefined && !allowed) return undefined;
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
  if (r.info.store === "csrs") return r.subresource === "approval" ? "csrs/approval" : "csrs";
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

const statusReply = (code: number, message: string, reason?: string, headers?: Record<string, string>): Reply => ({
  status: code,
  body: statusBody(code, message, reason),
  headers,
});

function watchRequestOf(r: Route, url: URL) {
  return {
    store: r.info.store,
    counterKey: r.info.counterKey,
    namespace: r.namespace,
    selector: parseSelectors(url.searchParams.get("fieldSelector"), url.searchParams.get("labelSelector")),
    resourceVersion: url.searchParams.get("resourceVersion"),
    bookmarks: url.searchParams.get("allowWatchBookmarks") === "true",
    timeoutSeconds: Number(url.searchParams.get("timeoutSeconds") ?? "0"),
  };
}

function list(store: FakeStore, r: Route, url: URL): Reply {
  const selector = parseSelectors(url.searchParams.get("fieldSelector"), url.searchParams.get("labelSelector"));
  const all = selectedEntries(store, { store: r.info.store, namespace: r.namespace, selector });
  let listRv = store.rv();
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
    body: { kind: `${r.info.kind}List`, apiVersion: r.info.apiVersion, metadata, items: page.map(([, o]) => clone(o)) },
  };
}

function handle(store: FakeStore, { method, body }: { method: string; body: unknown }, r: Route, url: URL): Reply {
  const { info, namespace, name, subresource } = r;
  switch (method) {
    case "GET":
      if (name === undefined) return list(store, r, url);
      return { status: 200, body: clone(store.existing(info, namespace, name)) };
    case "POST":
      if (name !== undefined) throw new HttpError(405, "POST is not allowed on a named resource");
      return { status: 201, body: store.create(info, namespace, asObject(body)) };
    case "PUT": {
      if (name === undefined) throw new HttpError(405, "PUT needs a name");
      const obj = asObject(body);
      if (obj.metadata?.name !== undefined && obj.metadata.name !== name)
        throw new HttpError(400, "the name of the object does not match the name on the URL");
      return { status: 200, body: store.update(info, { namespace, name, next: obj, subresource }) };
    }
    case "DELETE":
      if (name === undefined) throw new HttpError(405, "DELETE collection is not supported");
      return { status: 200, body: store.remove(info, namespace, name) };
    default:
      throw new HttpError(405, `method ${method} not allowed`);
  }
}

function patch(store: FakeStore, p: { contentType: string; body: unknown }, r: Route): Reply {
  const { info, namespace, name, subresource } = r;
  if (name === undefined) throw new HttpError(405, "PATCH needs a name");
  const old = store.existing(info, namespace, name);
  const obj = asObject(applyPatch(old, p));
  // a resourceVersion in the patch is a precondition; without one the patch applies to the latest
  const patchRv =
    p.body !== null && typeof p.body === "object" && !Array.isArray(p.body)
      ? (p.body as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion
      : undefined;
  obj.metadata = { ...(obj.metadata ?? {}) };
  if (patchRv === undefined) obj.metadata.resourceVersion = old.metadata.resourceVersion;
  return { status: 200, body: store.update(info, { namespace, name, next: obj, subresource }) };
}
