/**
 * The daemon's Kubernetes client: configuration loading, one HTTPS transport, informers for the
 * node's pods and for NADs, and the KubePort that multus/ uses (pod/NAD lookup, network-status
 * writes, events).
 *
 * Design (memory and control): client-node is used only for what it does well and we would
 * otherwise re-implement — parsing kubeconfig files and producing credentials (tokens, exec
 * plugins, OIDC, client certificates, CA); token files we follow ourselves (token-file.ts). Requests, list/watch and the
 * informer loop are plain `fetch` over a Bun.FetchSession carrying the TLS material.
 * client-node's informers cost more than twice the memory of fetch-based list/watch (bench/results.md,
 * "Costs the code is shaped by"); they also keep full objects in their cache (ours
 * keeps only PodInfo/Nad, so memory stays flat as the cluster grows), stops for good after any
 * error other than 410, and offers no per-request deadline or abort. Our own loop restarts with
 * capped backoff, relists on 410, classifies every failure by HTTP status (errors.ts) and bounds
 * every call by the caller's deadline. There is no client-side QPS limit: the API server's
 * priority-and-fairness is the throttle, and 429s are retried with backoff.
 *
 * client-node is loaded only for a kubeconfig that kubeconfig.ts does not read itself
 * (kubeconfig-client-node.ts): in-cluster and plain token or certificate kubeconfigs do without it.
 */
import { KubeApiError, KubeTimeoutError, KubeTransportError, backoffDelay } from "./errors.ts";
import { sleep } from "../util/sleep.ts";
import { createCredentialSource, type Credentials } from "./credentials.ts";
import { createNodeCertificate, type NodeCertificate } from "./node-certificate.ts";
import { type KubeTarget, tlsFingerprint } from "./kube-target.ts";
import { type InClusterConfig, loadKubeTarget } from "./kubeconfig.ts";
import { createEventRecorder } from "./events.ts";
import { createInformer, type Informer } from "./informers.ts";
import { type KubeObserver, requestLabels } from "./observe.ts";
import { nadCollectionPath, readNad, toNad } from "./nads.ts";
import { patchPodAnnotation, readPod, toPodInfo } from "./pods.ts";
import type { KubePort, Nad, PodInfo, PodRef, ResourcePort } from "../ports/kube.ts";
import { createResourceReader } from "./resources.ts";

export interface KubeLogger {
  error(msg: string): void;
  verbose(msg: string): void;
  debug(msg: string): void;
}

export type { InClusterConfig };

// --- transport ---------------------------------------------------------------------------------

export interface KubeRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  /** Absolute API path, already URL-encoded, e.g. /api/v1/namespaces/ns/pods/name */
  path: string;
  query?: Record<string, string | undefined>;
  /** JSON-encoded when present. */
  body?: unknown;
  /** Default application/json when there is a body. */
  contentType?: string;
}

export interface KubeCallOptions {
  /** Deadline for the whole call, retries included. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Retry while this says yes and time remains (default: never retry). */
  retryIf?: (err: unknown) => boolean;
}

export interface KubeHttp {
  /** One request (with retries as asked), JSON answer. Non-2xx throws KubeApiError; no answer
   *  KubeTransportError; the deadline KubeTimeoutError; the caller's abort its reason. */
  call<T>(req: KubeRequest, opts: KubeCallOptions): Promise<T>;
  /** A streaming request (watch): resolves with the body once headers arrive within `timeoutMs`;
   *  the stream lives until it ends or `signal` aborts. */
  open(req: KubeRequest, opts: { timeoutMs: number; signal: AbortSignal }): Promise<ReadableStream<Uint8Array>>;
  /** Loads credentials and TLS material now (throws when a file is missing or invalid). */
  prepare(): Promise<void>;
  close(): void;
}

const CALL_BACKOFF = { initialMs: 50, maxMs: 1_000 };

type Send = (req: KubeRequest, signal: AbortSignal) => Promise<Response>;
type CredentialSource = ReturnType<typeof createCredentialSource>;

export function createKubeHttp(target: KubeTarget, observer?: KubeObserver): KubeHttp {
  const server = target.server.replace(/\/+$/, "");
  if (target.proxyUrl?.startsWith("socks"))
    throw new Error(`Kubernetes client: SOCKS proxies are not supported (${target.proxyUrl})`);
  const credentials = createCredentialSource({ ...target, server });
  const fetchOnce = createSender(server, credentials);
  const send = observer ? observed(fetchOnce, observer) : fetchOnce;
  return {
    call: <T>(req: KubeRequest, opts: KubeCallOptions) =>
      withRetries(opts, (remainingMs) => callOnce<T>(send, req, remainingMs, opts.signal)),
    open: (req, opts) => openStream(send, req, opts),
    async prepare() {
      await credentials.get();
    },
    close() {
      credentials.close();
    },
  };
}

/** One HTTP exchange with the current credentials; a 401 after a token rotation is retried once. */
function createSender(server: string, credentials: CredentialSource): Send {
  function attempt(req: KubeRequest, creds: Credentials, signal: AbortSignal): Promise<Response> {
    const headers: Record<string, string> = { ...creds.headers, accept: "application/json", "user-agent": "multus" };
    let body: string | undefined;
    if (req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers["content-type"] = req.contentType ?? "application/json";
    }
    return creds.session.fetch(urlOf(server, req), { method: req.method, headers, body, signal });
  }

  return async (req, signal) => {
    const creds = await credentials.get();
    let res = await attempt(req, creds, signal);
    if (res.status === 401) {
      // The token may have rotated before we noticed: re-read the credentials and, when
      // they changed, try once more so the caller never sees the rotation.
      credentials.invalidate();
      const fresh = await credentials.get();
      if (fresh.headers.authorization !== creds.headers.authorization) {
        await res.body?.cancel().catch(() => undefined);
        res = await attempt(req, fresh, signal);
        if (res.status === 401) credentials.invalidate();
      }
    }
    if (res.ok) return res;
    throw await apiErrorOf(req, res);
  };
}

/** One call within `ms` (the caller's signal may end it sooner), decoded as JSON. */
async function callOnce<T>(send: Send, req: KubeRequest, ms: number, signal: AbortSignal | undefined): Promise<T> {
  const deadline = AbortSignal.timeout(Math.max(1, ms));
  const combined = signal ? AbortSignal.any([signal, deadline]) : deadline;
  try {
    const res = await send(req, combined);
    return (await res.json()) as T;
  } catch (err) {
    throw classify(err, req, { signal, deadline, ms });
  }
}

/** A watch: the body once the headers arrive within `timeoutMs`; it then lives until `signal` aborts. */
async function openStream(
  send: Send,
  req: KubeRequest,
  opts: { timeoutMs: number; signal: AbortSignal },
): Promise<ReadableStream<Uint8Array>> {
  const headersDeadline = new AbortController();
  const timer = setTimeout(() => headersDeadline.abort(), opts.timeoutMs);
  const combined = AbortSignal.any([opts.signal, headersDeadline.signal]);
  try {
    const res = await send(req, combined);
    if (!res.body) throw new KubeTransportError(`${req.method} ${req.path}: empty body`, { cause: undefined });
    return res.body;
  } catch (err) {
    throw classify(err, req, { signal: opts.signal, deadline: headersDeadline.signal, ms: opts.timeoutMs });
  } finally {
    clearTimeout(timer);
  }
}

/** `send`, timed for the observer until the answer's headers (a watch's stream is not waited for). */
function observed(
  send: (req: KubeRequest, signal: AbortSignal) => Promise<Response>,
  observer: KubeObserver,
): (req: KubeRequest, signal: AbortSignal) => Promise<Response> {
  return async (req, signal) => {
    const started = performance.now();
    let code = "<error>";
    try {
      const res = await send(req, signal);
      code = String(res.status);
      return res;
    } catch (err) {
      if (err instanceof KubeApiError) code = String(err.status);
      throw err;
    } finally {
      observer.request({ ...requestLabels(req), code, seconds: (performance.now() - started) / 1000 });
    }
  };
}

/** Calls `attempt` with the time left until the call's deadline, retrying while `retryIf` allows and time remains. */
async function withRetries<T>(opts: KubeCallOptions, attempt: (remainingMs: number) => Promise<T>): Promise<T> {
  const end = Date.now() + opts.timeoutMs;
  for (let n = 1; ; n++) {
    try {
      return await attempt(end - Date.now());
    } catch (err) {
      if (opts.signal?.aborted || !opts.retryIf?.(err)) throw err;
      const retryAfter = err instanceof KubeApiError ? (err.retryAfterMs ?? 0) : 0;
      const wait = Math.max(backoffDelay(n, CALL_BACKOFF), retryAfter);
      // give up now rather than sleep past the deadline; the last error says why
      if (Date.now() + wait >= end) throw err;
      await sleep(wait, opts.signal);
      if (opts.signal?.aborted) throw opts.signal.reason;
    }
  }
}

function urlOf(server: string, req: KubeRequest): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) params.set(k, v);
  const qs = params.toString();
  return `${server}${req.path}${qs ? `?${qs}` : ""}`;
}

/** Maps a rejection to our error classes: caller abort, deadline, or no answer. */
function classify(
  err: unknown,
  req: KubeRequest,
  ctx: { signal?: AbortSignal; deadline: AbortSignal; ms: number },
): unknown {
  if (err instanceof KubeApiError) return err;
  if (ctx.signal?.aborted) return ctx.signal.reason ?? err;
  if (ctx.deadline.aborted)
    return new KubeTimeoutError(`${req.method} ${req.path}: no answer within ${ctx.ms} ms`, { cause: err });
  return new KubeTransportError(`${req.method} ${req.path}: ${err instanceof Error ? err.message : String(err)}`, {
    cause: err,
  });
}

async function apiErrorOf(req: KubeRequest, res: Response): Promise<KubeApiError> {
  let reason: string | undefined;
  let message = `${res.status} ${res.statusText}`;
  try {
    const status = (await res.json()) as { kind?: unknown; reason?: unknown; message?: unknown };
    if (typeof status.reason === "string" && status.reason) reason = status.reason;
    if (typeof status.message === "string" && status.message) message = status.message;
  } catch {
    /* not a Status body */
  }
  const retryAfter = Number(res.headers.get("retry-after"));
  return new KubeApiError({
    status: res.status,
    reason,
    message: `${req.method} ${req.path}: ${message}`,
    ...(Number.isFinite(retryAfter) && retryAfter > 0 && { retryAfterMs: retryAfter * 1000 }),
  });
}

// --- the port ----------------------------------------------------------------------------------

/**
 * The KubePort of src/ports/kube.ts, served here: pod and NAD reads come from the informers
 * once synced (a pod only when its UID matches) and are one live GET otherwise, retried on
 * 429/5xx/connection errors within the caller's deadline; network-status is one merge PATCH
 * of pods/<name>/status (409/429/5xx retried, 404 tolerated); events are queued and sent in
 * the background.
 */
export interface KubeClient extends KubePort, ResourcePort {
  /** Starts the informers; resolves once they have listed, or after `syncTimeoutMs`. */
  start(): Promise<void>;
  /** Stops the informers, sends queued events (bounded wait), closes connections. */
  stop(): Promise<void>;
  isSynced(): boolean;
  /** Each informer's state, for GET /status. */
  informers(): InformerState[];
}

export interface InformerState {
  name: string;
  synced: boolean;
  /** Objects in its cache. */
  objects: number;
  /** Unix ms of its last successful list or watch event; undefined before the first list. */
  lastSyncAt?: number;
  /** Times its list/watch failed and was started again. */
  restarts: number;
}

export interface KubeClientOptions {
  kubeconfigPath?: string;
  inCluster?: InClusterConfig;
  /** Without a node name no pod informer runs (pods are read with live GETs only). */
  nodeName?: string;
  logger?: KubeLogger;
  /** start() waits at most this long for the informers' first list (default 20 s). */
  syncTimeoutMs?: number;
  /** Informer restart backoff (default 200 ms doubling up to 30 s). */
  informerBackoff?: { initialMs: number; maxMs: number };
  /** How long stop() lets queued events drain (default 2 s). */
  eventDrainMs?: number;
  /** Told of every API request (the daemon's metrics). */
  observer?: KubeObserver;
  /** Authenticate with a certificate of this node's own instead (needs nodeName; kubeconfigPath and inCluster are then unused). */
  perNodeCertificate?: { bootstrapKubeconfig: string; certDir: string; durationMs: number };
}

const NO_LOG: KubeLogger = { error() {}, verbose() {}, debug() {} };

export async function createKubeClient(opts: KubeClientOptions): Promise<KubeClient> {
  const logger = opts.logger ?? NO_LOG;
  const { http, nodeCertificate } = opts.perNodeCertificate
    ? await connectWithNodeCertificate({
        ...opts.perNodeCertificate,
        nodeName: opts.nodeName,
        logger,
        observer: opts.observer,
      })
    : { http: createKubeHttp(await loadKubeTarget(opts), opts.observer), nodeCertificate: undefined };
  // Fail at start-up, not at the first request, when a CA/cert/token file is missing or bad.
  await http.prepare();
  const { podInformer, nadInformer } = createInformers(opts, http, logger);
  const recorder = createEventRecorder({ http, logger, component: "multus", host: opts.nodeName });
  const keyOf = (ref: PodRef) => `${ref.namespace}/${ref.name}`;

  return {
    // DRA reads are live (no informer): asked only for pods with claims whose NADs name a resource.
    ...createResourceReader(http),

    async getPod(ref, callOpts) {
      if (podInformer?.isSynced()) {
        const hit = podInformer.get(keyOf(ref));
        if (hit && (ref.uid === undefined || ref.uid === hit.uid)) return hit;
      }
      return readPod(http, ref, callOpts);
    },

    async getNad(ref, callOpts) {
      if (nadInformer.isSynced()) {
        const hit = nadInformer.get(keyOf(ref));
        if (hit) return hit;
      }
      return readNad(http, ref, callOpts);
    },

    writePodAnnotation: (ref, annotation, callOpts) => patchPodAnnotation(http, { ref, annotation, ...callOpts }),

    recordEvent(ref, event) {
      recorder.record(ref, event);
    },

    async start() {
      const syncMs = opts.syncTimeoutMs ?? 20_000;
      const informers = [podInformer, nadInformer].filter((i): i is Informer<PodInfo> | Informer<Nad> => !!i);
      for (const i of informers) i.start();
      const synced = await Promise.all(informers.map((i) => i.waitForSync(syncMs)));
      informers.forEach((i, n) => {
        if (!synced[n]) logger.error(`${i.name} informer not synced after ${syncMs} ms; reads fall back to live GETs`);
      });
    },

    async stop() {
      nodeCertificate?.close();
      await Promise.all([podInformer?.stop(), nadInformer.stop(), recorder.stop(opts.eventDrainMs ?? 2_000)]);
      http.close();
    },

    isSynced: () => (podInformer?.isSynced() ?? true) && nadInformer.isSynced(),

    informers: () =>
      [podInformer, nadInformer].flatMap((i) =>
        i ? [{ name: i.name, synced: i.isSynced(), objects: i.size(), ...i.health() }] : [],
      ),
  };
}

export interface NodeCertificateConnection {
  /** Authenticated with the node's certificate (the bootstrap kubeconfig's server and CA). */
  http: KubeHttp;
  /** The bootstrap kubeconfig's server and credentials (its CA is the cluster's). */
  bootstrapTarget: KubeTarget;
  /** Keeps renewing until close() (which also closes the bootstrap transport, not `http`). */
  nodeCertificate: NodeCertificate & { close(): void };
}

/**
 * Go's PerNodeK8sClient: the server and CA of the bootstrap kubeconfig, the user this node's
 * own certificate (node-certificate.ts), obtained with the bootstrap credentials before the
 * first request and renewed in the background. Waits for the certificate (Go: up to 2 min).
 * The daemon's client and `multus kubeconfig-generator` share it.
 */
export async function connectWithNodeCertificate(opts: {
  nodeName: string | undefined;
  bootstrapKubeconfig: string;
  certDir: string;
  durationMs: number;
  logger: KubeLogger;
  observer?: KubeObserver;
}): Promise<NodeCertificateConnection> {
  if (!opts.nodeName) throw new Error("perNodeCertificate needs the node name (MULTUS_NODE_NAME)");
  const bootstrapTarget = await loadKubeTarget({ kubeconfigPath: opts.bootstrapKubeconfig });
  const bootstrap = createKubeHttp(bootstrapTarget, opts.observer);
  let http: KubeHttp | undefined;
  const nodeCertificate = createNodeCertificate({
    nodeName: opts.nodeName,
    certDir: opts.certDir,
    durationMs: opts.durationMs,
    bootstrap,
    renewWith: () => http,
    logger: opts.logger,
  });
  const target: KubeTarget = {
    server: bootstrapTarget.server,
    ...(bootstrapTarget.proxyUrl !== undefined && { proxyUrl: bootstrapTarget.proxyUrl }),
    version: () => nodeCertificate.current()?.version,
    async read() {
      // The bootstrap kubeconfig's CA and server checks; its user is replaced by the pair.
      const { tls } = await bootstrapTarget.read();
      const pair = nodeCertificate.current();
      const withPair: Bun.TLSOptions = { ...tls, cert: pair?.cert, key: pair?.key };
      return { headers: {}, tls: withPair, fingerprint: tlsFingerprint(withPair) };
    },
  };
  http = createKubeHttp(target, opts.observer);
  try {
    await nodeCertificate.start();
  } catch (err) {
    bootstrap.close();
    throw err;
  }
  return {
    http,
    bootstrapTarget,
    nodeCertificate: Object.assign(nodeCertificate, {
      close() {
        nodeCertificate.stop();
        bootstrap.close();
      },
    }),
  };
}

/** The NAD informer, and the pod informer when the node is known (it watches only this node's pods). */
function createInformers(
  opts: KubeClientOptions,
  http: KubeHttp,
  logger: KubeLogger,
): { podInformer?: Informer<PodInfo>; nadInformer: Informer<Nad> } {
  const backoff = opts.informerBackoff ?? { initialMs: 200, maxMs: 30_000 };
  const podInformer = opts.nodeName
    ? createInformer({
        name: "pods",
        http,
        logger,
        backoff,
        path: "/api/v1/pods",
        fieldSelector: `spec.nodeName=${opts.nodeName}`,
        toItem: toPodInfo,
      })
    : undefined;
  const nadInformer = createInformer<Nad>({
    name: "network-attachment-definitions",
    http,
    logger,
    backoff,
    path: nadCollectionPath(),
    toItem: toNad,
  });
  return { podInformer, nadInformer };
}
