// The fake API server's public types: what tests pass in and read back.

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
export type ResourceKey =
  | "pods"
  | "pods/status"
  | "nads"
  | "events"
  | "namespaces"
  | "resourceclaims"
  | "resourceslices"
  | "csrs"
  | "csrs/approval"
  | "version"
  | "other";

/** Who a request authenticated as: a bearer token's user, or a client certificate's CN and O's. */
export interface Identity {
  username: string;
  groups: string[];
  uid?: string;
}

export interface RequestLogEntry {
  method: string;
  verb: Verb | string;
  resource: ResourceKey;
  path: string;
  query: string;
  contentType: string | undefined;
  /** The status replied; 0 while none has been (waiting, or dropped). */
  status: number;
  /** The client went away while the request waited (setDelay): it was never served. */
  dropped?: boolean;
  body?: unknown;
  at: number;
  /** Who the request authenticated as (undefined when it did not). */
  user?: Identity;
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
  /**
   * Serve resource.k8s.io/v1 (ResourceClaims, ResourceSlices, its discovery document), as
   * Kubernetes 1.34+ does (default false: 404, as an older API server answers).
   */
  resourceApi?: boolean;
  /** The user of the default token (default: the multus service account). */
  identity?: Identity;
  /** Client certificates the CSR signer issues are valid at most this long (default 3600 s). */
  certLifetimeSeconds?: number;
}

export interface FakeKube {
  readonly url: string;
  readonly port: number;
  /** The same API on a port that also authenticates client certificates (CN user, O groups). */
  readonly certUrl: string;
  readonly caFile: string;
  readonly caPem: string;
  readonly token: string;
  /** Temp dir holding certificates; removed by stop(). */
  readonly dir: string;
  /** Writes a kubeconfig (CA inline as certificate-authority-data, bearer token). */
  writeKubeconfig(path: string, opts?: { caAsFile?: boolean; tokenFile?: string }): string;
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
  /** A resource.k8s.io/v1 ResourceClaim (namespace default "default"), status included. */
  createResourceClaim(obj: KubeObject): KubeObject;
  deleteResourceClaim(namespace: string, name: string): boolean;
  /** A resource.k8s.io/v1 ResourceSlice (cluster-scoped). */
  createResourceSlice(obj: KubeObject): KubeObject;
  /** Turn serving resource.k8s.io/v1 on or off (an API server upgraded, or downgraded). */
  setResourceApi(on: boolean): void;
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
  /** A slow API server: from now on every request (REST, and a watch before its stream opens)
   *  is answered `seconds` late; a request whose client gave up meanwhile is dropped unserved,
   *  as the real one drops a request cancelled while it queued. 0 ends the delay and lets the
   *  waiting requests through at once. */
  setDelay(seconds: number): void;
  failNext(rule: FailRule): void;
  /** Drop every pending failNext rule. */
  clearFailures(): void;
  /** From now on only these bearer tokens pass (a rotation: the old token expired); others get 401. */
  acceptTokens(...tokens: string[]): void;
  /** Accepts one more bearer token, authenticating as `identity` (a bootstrap kubeconfig's node user). */
  addToken(token: string, identity: Identity): void;
  /** A kubeconfig for a further token (addToken) naming certUrl, where the client certificates it leads to work. */
  writeTokenKubeconfig(path: string, token: string): string;

  /** CertificateSigningRequests, by name. */
  getCsr(name: string): KubeObject | undefined;
  csrs(): KubeObject[];
  /** Certificates the signer issued (PEM), oldest first. */
  issuedCertificates(): string[];
  /** From now on, certificates are issued valid for at most this long. */
  setCertLifetime(seconds: number): void;

  counts(): Record<string, number>;
  count(key: string): number;
  requests(): RequestLogEntry[];
  resetCounts(): void;
}
