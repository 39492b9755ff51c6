// The shapes the Multus core and the Kubernetes layer exchange, declared once.
// src/k8s returns objects of these shapes and src/multus consumes them; both
// import this module for types only, so neither depends on the other's code.

export interface PodRef {
  namespace: string;
  name: string;
}
export interface PodInfo {
  namespace: string;
  name: string;
  uid: string;
  annotations: Record<string, string>;
  /** kubernetes.io/config.source present and not "api": exempt from the UID check. */
  isStatic: boolean;
  /** spec.nodeName, when the pod is bound. */
  nodeName?: string;
  /** status.resourceClaimStatuses: the pod's DRA claims (resourceClaimName absent: none was needed). */
  resourceClaimStatuses?: Array<{ name: string; resourceClaimName?: string }>;
  /** status.extendedResourceClaimStatus: the claim the scheduler made for extended resources backed by DRA. */
  extendedResourceClaimStatus?: {
    resourceClaimName: string;
    requestMappings: Array<{ containerName: string; resourceName: string; requestName: string }>;
  };
}
export interface Nad {
  namespace: string;
  name: string;
  /** spec.config; "" when absent. */
  config: string;
  /** Annotation k8s.v1.cni.cncf.io/resourceName. */
  resourceName?: string;
}
export interface KubeEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}
/**
 * What a KubePort failure carries besides its message: whether a retry can help, and the
 * API's HTTP status when there was an answer. src/k8s sets these on what it throws.
 */
export interface KubeFailure {
  readonly transient: boolean;
  readonly status?: number;
  readonly reason?: string;
}
/** One device a ResourceClaim was allocated (status.allocation.devices.results[]). */
export interface ClaimDeviceResult {
  request: string;
  driver: string;
  pool: string;
  device: string;
}
/** A resource.k8s.io/v1 ResourceClaim, trimmed to its allocation. */
export interface ResourceClaimInfo {
  namespace: string;
  name: string;
  /** status.allocation.devices.results; undefined when the claim has no device allocation. */
  results?: ClaimDeviceResult[];
}
/**
 * A device a ResourceSlice publishes, with the two attributes Multus reads
 * (string values of k8s.cni.cncf.io/deviceID and k8s.cni.cncf.io/resourceName).
 */
export interface SliceDevice {
  driver: string;
  pool: string;
  device: string;
  deviceId?: string;
  resourceName?: string;
}

/** The resource.k8s.io/v1 reads DRA needs (Kubernetes 1.34+). */
export interface ResourcePort {
  /** Whether the API server serves resource.k8s.io/v1 (false: it does not, e.g. before Kubernetes 1.34). */
  servesResourceApi(opts: { timeoutMs: number; signal?: AbortSignal }): Promise<boolean>;
  /** null: the claim does not exist. */
  getResourceClaim(ref: PodRef, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<ResourceClaimInfo | null>;
  /** The devices of the ResourceSlices of `driver` on `nodeName` (every node when absent). */
  listSliceDevices(
    sel: { nodeName?: string; driver: string },
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<SliceDevice[]>;
}

export interface PodAnnotation {
  key: string;
  value: string;
}

export interface KubePort {
  /**
   * null: the pod does not exist. With `uid` (the runtime's K8S_POD_UID) a
   * cached pod of another UID (deleted and recreated under the same name) is
   * not trusted: the API is asked.
   */
  getPod(ref: PodRef & { uid?: string }, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<PodInfo | null>;
  /** null: the NAD does not exist. */
  getNad(ref: PodRef, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Nad | null>;
  /** Sets one annotation of the pod (Multus says which: k8s/ knows no annotation of its own). */
  writePodAnnotation(ref: PodRef, annotation: PodAnnotation, opts: { timeoutMs: number }): Promise<void>;
  /** Fire-and-forget: never throws, never delays the caller. */
  recordEvent(ref: PodRef & { uid?: string }, event: KubeEvent): void;
}
