// Finding the pod a request is for, with a bounded deadline, and the UID check.
import { CniError, ErrorCode } from "../cni/errors.ts";
import { kubeFailureError } from "./kube-failure.ts";
import type { MultusDeps, PodInfo } from "./ports.ts";
import { podRefOf, type MultusRequest } from "./request.ts";

/**
 * The pod from the API: undefined when there is no Kubernetes client or the
 * request names no pod (static delegates only), null when it does not exist.
 */
export async function lookupPod(req: MultusRequest, deps: MultusDeps): Promise<PodInfo | null | undefined> {
  const ref = podRefOf(req.pod);
  if (!deps.kube || !ref) return undefined;
  const timeoutMs = req.conf.podLookupTimeoutSeconds * 1000;
  let pod: PodInfo | null;
  try {
    pod = await deps.kube.getPod({ ...ref, uid: req.pod.uid }, { timeoutMs });
  } catch (err) {
    throw kubeFailureError(err, {
      msg: `cannot get pod ${ref.namespace}/${ref.name} from the Kubernetes API`,
      details: `deadline ${timeoutMs} ms`,
    });
  }
  return pod;
}

/** Runtime UID must match the API's unless the pod is static. */
export function checkPodUid(req: MultusRequest, pod: PodInfo): void {
  if (req.pod.uid && !pod.isStatic && pod.uid !== req.pod.uid) {
    throw new CniError(ErrorCode.InvalidConfig, `expected pod UID "${req.pod.uid}" but got "${pod.uid}" from Kube API`);
  }
}
