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
 * CertificateSigningRequests (certificates.k8s.io/v1, fake-kube/csrs.ts): created as the API
 * server creates them (request checked, requester filled in), /approval and /status
 * subresources, approved kube-apiserver-client requests signed by the fake's CA for at most
 * `certLifetimeSeconds`. Client certificates that CA signed authenticate (CN user, O groups) on
 * the second port, `certUrl`; every request records who it authenticated as (`user`).
 *
 * Resources: core v1 pods (+ /status), namespaces, events; events.k8s.io/v1 events;
 * k8s.cni.cncf.io/v1 network-attachment-definitions; `/version`; with `resourceApi`,
 * resource.k8s.io/v1 resourceclaims and resourceslices and their discovery document
 * (`/apis/resource.k8s.io/v1`), else 404 for all three as an API server before 1.34 answers.
 *
 * It runs on node:https rather than Bun.serve: Bun.serve sends no response headers for a
 * streaming body until its first chunk, while the real API server flushes a watch's headers at
 * once (client-node's Watch waits for them before reading events). `flushHeaders()` does that.
 *
 * Tests change cluster state with the controls below (they act on the server's store and produce
 * the same watch events an API call would) or through the API itself, and observe the client
 * through request counters (`counts()`, keys like "GET pods", "LIST nads", "WATCH pods",
 * "PATCH pods/status", "POST events") and a raw request log.
 *
 * This file composes the parts in fake-kube/: store.ts (objects, resourceVersions, history),
 * watch.ts (watch streams), router.ts (REST, auth, injected failures, counters), patch.ts
 * (merge and JSON patch), certs.ts (TLS material, kubeconfig, in-cluster files).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import { type AddressInfo, connect, type Socket } from "node:net";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createTls, type Tls, writeInClusterEnv, writeKubeconfig } from "./fake-kube/certs.ts";
import { createCsrSigner } from "./fake-kube/csrs.ts";
import { createRouter, type RequestState } from "./fake-kube/router.ts";
import { clone } from "./fake-kube/status.ts";
import {
  createStore,
  type FakeStore,
  keyOf,
  nadFromInput,
  podFromInput,
  recordedEvents,
  STORE_INFO,
} from "./fake-kube/store.ts";
import type { FakeKube, FakeKubeOptions, Identity } from "./fake-kube/types.ts";
import { createWatchHub, type WatchHub } from "./fake-kube/watch.ts";

export type {
  DownMode,
  FailRule,
  FakeKube,
  FakeKubeOptions,
  Identity,
  InClusterFiles,
  KubeObject,
  NadInput,
  ObjectMeta,
  PodInput,
  RecordedEvent,
  RequestLogEntry,
  ResourceKey,
  Verb,
} from "./fake-kube/types.ts";

export async function startFakeKube(opts: FakeKubeOptions = {}): Promise<FakeKube> {
  const dir = mkdtempSync(join(tmpdir(), "fake-kube-"));
  const tls = createTls(dir);
  const token = opts.token ?? `fake-${crypto.randomUUID()}`;
  const watches = createWatchHub();
  const store = createStore({ historySize: opts.historySize ?? 1000, onChange: (c) => watches.notify(c) });
  const state: RequestState = {
    failRules: [],
    counters: {},
    log: [],
    tokens: [token],
    resourceApi: opts.resourceApi ?? false,
    identities: new Map(),
    defaultIdentity: opts.identity ?? {
      username: "system:serviceaccount:kube-system:multus",
      groups: ["system:serviceaccounts", "system:serviceaccounts:kube-system", "system:authenticated"],
    },
  };
  const signer = createCsrSigner({
    dir,
    caFile: tls.caFile,
    caKeyFile: tls.caKeyFile,
    lifetimeSeconds: opts.certLifetimeSeconds ?? 3600,
  });
  const routed: { front?: CertFront } = {};
  const onRequest = createRouter({
    store,
    watches,
    state,
    signer,
    peerIdentity: (req) => routed.front?.identity(req),
    clientGone: (req) => routed.front?.clientGone(req) ?? false,
  });
  const listener = await createListener({ tls, port: opts.port ?? 0, onRequest });
  const front = await createCertFront({ tls, onRequest });
  routed.front = front;
  const { port } = listener;
  const url = `https://127.0.0.1:${port}`;
  const certUrl = `https://127.0.0.1:${front.port}`;
  const both: Listener = {
    port,
    open: async () => void (await Promise.all([listener.open(), front.open()])),
    close: async () => void (await Promise.all([listener.close(), front.close()])),
  };
  const outage = createOutage({ state, watches, listener: both });
  let bookmarkTimer: ReturnType<typeof setInterval> | undefined;

  const fake: FakeKube = {
    url,
    port,
    caFile: tls.caFile,
    caPem: tls.caPem,
    token,
    dir,
    writeKubeconfig: (path, o = {}) => writeKubeconfig(path, { url, token, tls, ...o }),
    certUrl,
    writeTokenKubeconfig: (path, other) => writeKubeconfig(path, { url: certUrl, token: other, tls }),
    inClusterEnv: (target, o = {}) =>
      writeInClusterEnv(target, { token, caPem: tls.caPem, port, namespace: o.namespace }),
    async stop() {
      if (bookmarkTimer) clearInterval(bookmarkTimer);
      fake.setDelay(0);
      watches.endAll("end");
      outage.release();
      await Promise.all([listener.close(), front.shutdown()]);
      rmSync(dir, { recursive: true, force: true });
    },
    ...objectControls(store),
    ...watchControls(store, watches),
    setDown: (down, mode = "refuse") => (down ? outage.begin(mode) : outage.end()),
    ...requestControls(state),
    setResourceApi(on) {
      state.resourceApi = on;
    },
    addToken(other, identity) {
      state.tokens = [...state.tokens, other];
      state.identities.set(other, identity);
    },
    getCsr: (name) => {
      const o = store.maps.csrs.get(name);
      return o && clone(o);
    },
    csrs: () => [...store.maps.csrs.values()].map(clone),
    issuedCertificates: () => signer.issued.slice(),
    setCertLifetime(seconds) {
      signer.lifetimeSeconds = seconds;
    },
  };
  if (opts.bookmarkIntervalMs !== undefined)
    bookmarkTimer = setInterval(() => fake.sendBookmarks(), opts.bookmarkIntervalMs);
  return fake;
}

/** The HTTPS server, which an outage in "refuse" mode closes and its end opens again on the same port. */
interface Listener {
  readonly port: number;
  /** Listens again on `port` unless listening. */
  open(): Promise<void>;
  /** Closes the server and drops every connection; a no-op when closed. */
  close(): Promise<void>;
}

async function createListener(o: {
  tls: Tls;
  port: number;
  onRequest: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}): Promise<Listener> {
  const listen = (onPort: number): Promise<Server> => {
    const srv = createServer({ key: o.tls.key, cert: o.tls.cert }, (req, res) => void o.onRequest(req, res));
    srv.requestTimeout = 0;
    srv.timeout = 0;
    return new Promise((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(onPort, "127.0.0.1", () => resolve(srv));
    });
  };
  let server: Server | undefined = await listen(o.port);
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    async open() {
      if (!server) server = await listen(port);
    },
    async close() {
      const srv = server;
      server = undefined;
      if (!srv) return;
      await new Promise<void>((resolve) => {
        srv.close(() => resolve());
        srv.closeAllConnections();
      });
    },
  };
}

/** The client-certificate port: its listener, who each of its requests authenticated as, and its full stop. */
interface CertFront extends Listener {
  /** The valid client certificate's user of the connection `req` came on. */
  identity(req: IncomingMessage): Identity | undefined;
  /** The client closed the connection `req` came on (the HTTP side may not have seen it yet). */
  clientGone(req: IncomingMessage): boolean;
  shutdown(): Promise<void>;
}

/**
 * A second port that accepts client certificates: TLS in front of a plain HTTP server. Bun's
 * node:https server does not tell a handler which client certificate was presented (no
 * getPeerCertificate); its node:tls server does. Each TLS connection is piped to one
 * connection of the HTTP server, and the certificate's CN and O's are kept by that
 * connection's local port. A certificate the fake's CA did not sign, or one expired, is not
 * taken (node checked the chain and the dates: `authorized`). Tokens work here too. The
 * main port stays a plain node:https server, whose close of an abandoned request is seen
 * at once (the piping adds a turn of the event loop to that).
 */
async function createCertFront(o: {
  tls: Tls;
  onRequest: (req: IncomingMessage, res: ServerResponse) => Promise<void>;
}): Promise<CertFront> {
  const identities = new Map<number, Identity>();
  /** Local ports of the piped connections whose TLS side is still open. */
  const open = new Set<number>();
  const fronted = new WeakSet<IncomingMessage>();
  const http = createHttpServer((req, res) => {
    fronted.add(req);
    void o.onRequest(req, res);
  });
  http.requestTimeout = 0;
  http.timeout = 0;
  await new Promise<void>((resolve) => http.listen(0, "127.0.0.1", () => resolve()));
  const httpPort = (http.address() as AddressInfo).port;
  const sockets = new Set<Socket>();

  const listen = (onPort: number): Promise<TlsServer> => {
    const srv = createTlsServer(
      { key: o.tls.key, cert: o.tls.cert, ca: [o.tls.caPem], requestCert: true, rejectUnauthorized: false },
      (outer) => {
        const subject = outer.authorized
          ? (outer.getPeerCertificate()?.subject as { CN?: string; O?: string | string[] } | undefined)
          : undefined;
        const inner = connect(httpPort, "127.0.0.1");
        let innerPort: number | undefined;
        sockets.add(outer);
        sockets.add(inner);
        outer.pause();
        inner.once("connect", () => {
          innerPort = inner.localPort!;
          open.add(innerPort);
          if (subject?.CN) {
            const orgs = subject.O === undefined ? [] : Array.isArray(subject.O) ? subject.O : [subject.O];
            identities.set(innerPort, { username: subject.CN, groups: [...orgs, "system:authenticated"] });
          }
          outer.pipe(inner);
          inner.pipe(outer);
          outer.resume();
        });
        const done = () => {
          if (innerPort !== undefined) {
            identities.delete(innerPort);
            open.delete(innerPort);
          }
          sockets.delete(outer);
          sockets.delete(inner);
          outer.destroy();
          inner.destroy();
        };
        outer.on("close", done).on("error", done);
        inner.on("close", done).on("error", done);
      },
    );
    return new Promise((resolve, reject) => {
      srv.once("error", reject);
      srv.listen(onPort, "127.0.0.1", () => resolve(srv));
    });
  };
  let server: TlsServer | undefined = await listen(0);
  const port = (server.address() as AddressInfo).port;
  async function close(): Promise<void> {
    const srv = server;
    server = undefined;
    if (!srv) return;
    await new Promise<void>((resolve) => {
      srv.close(() => resolve());
      for (const s of sockets) s.destroy();
      sockets.clear();
    });
  }
  const portOf = (req: IncomingMessage) => (fronted.has(req) ? req.socket.remotePort : undefined);
  return {
    port,
    identity: (req) => {
      const p = portOf(req);
      return p === undefined ? undefined : identities.get(p);
    },
    clientGone: (req) => {
      const p = portOf(req);
      return fronted.has(req) && (p === undefined || !open.has(p));
    },
    async open() {
      if (!server) server = await listen(port);
    },
    close,
    async shutdown() {
      await close();
      await new Promise<void>((resolve) => {
        http.close(() => resolve());
        http.closeAllConnections();
      });
    },
  };
}

/** setDown: "refuse" closes the listener, "503" answers ServiceUnavailable, "hang" holds requests. */
function createOutage({ state, watches, listener }: { state: RequestState; watches: WatchHub; listener: Listener }) {
  let releaseHung: (() => void) | undefined;
  const release = () => {
    releaseHung?.();
    state.hung = undefined;
    releaseHung = undefined;
  };
  return {
    async begin(mode: NonNullable<RequestState["downMode"]>) {
      state.downMode = mode;
      if (mode === "refuse") {
        watches.endAll("error");
        await listener.close();
      } else if (mode === "503") watches.endAll("error");
      else state.hung = new Promise<void>((resolve) => (releaseHung = resolve));
    },
    async end() {
      const was = state.downMode;
      state.downMode = undefined;
      if (was === "hang") release();
      await listener.open();
    },
    /** Lets hung requests go (at stop). */
    release: () => releaseHung?.(),
  };
}

function objectControls(store: FakeStore) {
  const get = (name: "pods" | "nads", namespace: string, key: string) => {
    const o = store.maps[name].get(keyOf(namespace, key));
    return o && clone(o);
  };
  return {
    createPod: (input) => store.create(STORE_INFO.pods, undefined, podFromInput(input)),
    updatePod: (namespace, name, mutate) => store.mutate("pods", { namespace, name }, mutate),
    deletePod: (namespace, name) => store.tryDelete("pods", namespace, name),
    getPod: (namespace, name) => get("pods", namespace, name),
    createNad: (input) => store.create(STORE_INFO.nads, undefined, nadFromInput(input)),
    updateNad: (namespace, name, mutate) => store.mutate("nads", { namespace, name }, mutate),
    deleteNad: (namespace, name) => store.tryDelete("nads", namespace, name),
    getNad: (namespace, name) => get("nads", namespace, name),
    createNamespace: (name) => store.create(STORE_INFO.namespaces, undefined, { metadata: { name } }),
    createResourceClaim: (obj) => store.create(STORE_INFO.resourceclaims, undefined, obj),
    deleteResourceClaim: (namespace, name) => store.tryDelete("resourceclaims", namespace, name),
    createResourceSlice: (obj) => store.create(STORE_INFO.resourceslices, undefined, obj),
    events: () => recordedEvents(store),
  } satisfies Partial<FakeKube>;
}

function watchControls(store: FakeStore, watches: WatchHub) {
  return {
    resourceVersion: () => store.rv(),
    compact: () => store.compact(),
    expireWatches: () => watches.expireAll(),
    cutWatches: (mode = "end") => watches.endAll(mode),
    sendBookmarks: () => watches.sendBookmarks(store.rv()),
    openWatches: (resource) => watches.count(resource),
  } satisfies Partial<FakeKube>;
}

function requestControls(state: RequestState) {
  let endDelay: (() => void) | undefined;
  return {
    setDelay(seconds) {
      endDelay?.();
      endDelay = undefined;
      state.delay = undefined;
      if (seconds <= 0) return;
      const over = new Promise<void>((resolve) => (endDelay = resolve));
      state.delay = { ms: seconds * 1000, over };
    },
    failNext(rule) {
      state.failRules.push({ ...rule, remaining: rule.times ?? 1 });
    },
    clearFailures() {
      state.failRules = [];
    },
    acceptTokens(...tokens) {
      state.tokens = tokens;
    },
    counts: () => ({ ...state.counters }),
    count: (key) => state.counters[key] ?? 0,
    requests: () => state.log.slice(),
    resetCounts() {
      state.counters = {};
      state.log = [];
    },
  } satisfies Partial<FakeKube>;
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
