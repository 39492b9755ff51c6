// Telling Kubernetes what was attached: the network-status annotation (one
// PATCH, awaited: the pod must not start without it) and events (queued by
// the client, off the request's critical path).
import { kubeFailureError } from "./kube-failure.ts";
import { toCniError } from "../cni/errors.ts";
import { buildNetworkStatus, formatNetworkStatus } from "./network-status.ts";
import { isSystemNamespace } from "./selection.ts";
import type { MultusDeps, PodInfo } from "./ports.ts";
import type { MultusRequest } from "./request.ts";
import type { Attached } from "./delegates.ts";

export const NETWORK_STATUS_ANNOTATION = "k8s.v1.cni.cncf.io/network-status";

export async function reportAttachments(
  req: MultusRequest,
  deps: MultusDeps,
  pod: PodInfo,
  attached: Attached[],
): Promise<void> {
  const kube = deps.kube;
  if (!kube) return;
  const ref = { namespace: pod.namespace, name: pod.name };
  const statuses = attached.flatMap((a) =>
    buildNetworkStatus({
      name: a.delegate.name,
      result: a.result,
      isDefault: a.delegate.role === "cluster",
      deviceInfo: a.deviceInfo,
    }),
  );
  if (statuses.length > 0 && !isSystemNamespace(pod.namespace, req.conf.systemNamespaces)) {
    try {
      const annotation = { key: NETWORK_STATUS_ANNOTATION, value: formatNetworkStatus(statuses) };
      await kube.writePodAnnotation(ref, annotation, { timeoutMs: req.conf.apiTimeoutSeconds * 1000 });
      deps.observer?.networkStatusWrite(true);
    } catch (err) {
      deps.observer?.networkStatusWrite(false);
      throw kubeFailureError(err, {
        msg: `failed to write ${NETWORK_STATUS_ANNOTATION} of pod ${pod.namespace}/${pod.name}`,
      });
    }
  }
  for (const { delegate, result } of attached) {
    if (!result.interfaces?.length && !result.ips?.length) continue;
    const ips = (result.ips ?? []).map((ip) => ip.address).join(",");
    const from = delegate.name ? ` from ${delegate.name}` : "";
    kube.recordEvent(
      { ...ref, uid: pod.uid },
      { type: "Normal", reason: "AddedInterface", message: `Add ${delegate.ifname} [${ips}]${from}` },
    );
  }
}

export function reportNoNetwork(deps: MultusDeps, pod: PodInfo, err: unknown): void {
  deps.kube?.recordEvent(
    { namespace: pod.namespace, name: pod.name, uid: pod.uid },
    { type: "Warning", reason: "NoNetworkFound", message: toCniError(err).message },
  );
}
