// What the Multus core needs from outside, as plain data. src/k8s returns
// objects of these shapes (structural typing); the core never imports it.
import type { NetworkConfigList } from "../cni/conf.ts";
import type { KeyedLock } from "../util/keyed-lock.ts";
import type { Logger } from "../util/log.ts";

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
export interface KubePort {
  /**
   * null: the pod does not exist. With `uid` (the runtime's K8S_POD_UID) a
   * cached pod of another UID (deleted and recreated under the same name) is
   * not trusted: the API is asked.
   */
  getPod(ref: PodRef & { uid?: string }, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<PodInfo | null>;
  /** null: the NAD does not exist. */
  getNad(ref: PodRef, opts: { timeoutMs: number; signal?: AbortSignal }): Promise<Nad | null>;
  writeNetworkStatus(ref: PodRef, value: string, opts: { timeoutMs: number }): Promise<void>;
  /** Fire-and-forget: never throws, never delays the caller. */
  recordEvent(ref: PodRef & { uid?: string }, event: KubeEvent): void;
}

/** Device IDs allocated to a pod, by resource name (kubelet PodResources or checkpoint). */
export interface DevicePort {
  getPodDevices(pod: { uid: string; namespace: string; name: string }): Promise<Map<string, string[]>>;
}

/** Everything a command needs; built by the composition root, per process. */
export interface MultusDeps {
  log: Logger;
  kube?: KubePort;
  devices?: DevicePort;
  /** Delegates run chrooted here when set (daemon config). */
  chrootDir?: string;
  /** Base environment handed to delegates (PATH and friends), chosen on purpose. */
  delegateBaseEnv: Record<string, string>;
  /** Where device-info files live (`dp/` from device plugins, `cni/` ours); default /var/run/k8s.cni.cncf.io/devinfo. */
  deviceInfoDir?: string;
  /** Extra plugin dirs after binDir (e.g. the process CNI_PATH in thin mode). */
  extraBinDirs?: readonly string[];
  /** The names among `names` that exist in the netns at `path` (the daemon asks the kernel; absent: not checked). */
  existingLinks?(path: string, names: readonly string[]): string[];
  /** Runs one container's work at a time (the daemon); GC takes it for each stale container it deletes. */
  locks?: KeyedLock;
}

export type { NetworkConfigList };
