// Bounds on what a pod's annotations may ask of the daemon, checked before any
// NAD is read or any delegate runs: a networks annotation is written by whoever
// may create pods, and each network it names costs API reads, a plugin process,
// an interface and an IP. The API server caps all annotations of an object at
// 256 KiB together; these bounds are the daemon's own and configurable.
import { CniError, ErrorCode } from "../cni/errors.ts";

export interface PodLimits {
  /** Largest networks or default-network annotation, in bytes (UTF-8). */
  maxAnnotationBytes: number;
  /** Most delegates one pod may get: the cluster network, defaultNetworks and the annotation's networks. */
  maxDelegatesPerPod: number;
}

/** Refuses an annotation longer than maxAnnotationBytes, naming the annotation and both sizes. */
export function checkAnnotationSize(key: string, value: string | undefined, limits: PodLimits): void {
  if (value === undefined) return;
  const bytes = Buffer.byteLength(value, "utf8");
  if (bytes <= limits.maxAnnotationBytes) return;
  throw new CniError(
    ErrorCode.InvalidConfig,
    `annotation ${key} is ${bytes} bytes, more than maxAnnotationBytes (${limits.maxAnnotationBytes})`,
  );
}

/** Refuses a pod whose networks would make more than maxDelegatesPerPod delegates. */
export function checkDelegateCount(o: { selected: number; fixed: number; limits: PodLimits }): void {
  const total = o.selected + o.fixed;
  if (total <= o.limits.maxDelegatesPerPod) return;
  throw new CniError(
    ErrorCode.InvalidConfig,
    `the pod's networks annotation names ${o.selected} networks: with the ${o.fixed} of the configuration that is ${total} delegates, more than maxDelegatesPerPod (${o.limits.maxDelegatesPerPod})`,
  );
}
