// What the Multus core needs from outside, as plain data: the Kubernetes shapes
// (src/ports/kube.ts, shared with src/k8s) and the rest of its dependencies.
import type { NetworkConfigList } from "../cni/conf.ts";
import type { KeyedLock } from "../util/keyed-lock.ts";
import type { Logger } from "../util/log.ts";
import type { TombstonePort } from "./tombstones.ts";

export type {
  ClaimDeviceResult,
  PodRef,
  PodInfo,
  PodAnnotation,
  Nad,
  KubeEvent,
  KubeFailure,
  KubePort,
  ResourceClaimInfo,
  ResourcePort,
  SliceDevice,
} from "../ports/kube.ts";
import type { KubePort, ResourcePort } from "../ports/kube.ts";

/** Device IDs allocated to a pod, by resource name (kubelet PodResources or checkpoint). */
export interface DevicePort {
  getPodDevices(pod: { uid: string; namespace: string; name: string }): Promise<Map<string, string[]>>;
}

/** One plugin run as the observer hears of it: after it ended, whatever the outcome. */
export interface DelegateCall {
  /** The plugin's `type` as configured. */
  pluginType: string;
  command: string;
  seconds: number;
  ok: boolean;
}

/**
 * What the core tells whoever watches it (the daemon's metrics when metricsPort
 * is set). Plain calls, nothing awaited: an observer must never slow or fail a request.
 */
export interface MultusObserver {
  delegateCall(call: DelegateCall): void;
  /** One attempt to write a pod's network-status annotation, and whether it succeeded. */
  networkStatusWrite(ok: boolean): void;
}

/** Everything a command needs; built by the composition root, per process. */
export interface MultusDeps {
  log: Logger;
  kube?: KubePort;
  devices?: DevicePort;
  /** DRA through the API (resource.k8s.io/v1 ResourceClaims and ResourceSlices); absent: the kubelet's view only. */
  resources?: ResourcePort;
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
  /** The daemon's tombstone replayer: a DEL whose plugin is not installed and whose netns is gone records one (absent: DEL fails). */
  tombstones?: TombstonePort;
  /** Told of every plugin run and network-status write (metrics); absent: nobody is told. */
  observer?: MultusObserver;
}

export type { NetworkConfigList };
