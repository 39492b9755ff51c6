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
  resourceClaimStatuses?: Array<{ name: string; resourceClaimName?: string }>;
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
