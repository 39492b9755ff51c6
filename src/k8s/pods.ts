/** Pods: the trimmed shape we keep, live reads, and annotation writes. */
import type { PodAnnotation, PodInfo, PodRef } from "../ports/kube.ts";
import { asRecord } from "../util/is-record.ts";
import type { KubeHttp } from "./client.ts";
import { isConflict, isNotFound, isRetryable } from "./errors.ts";
import { readObject } from "./read-object.ts";

/** Set by the kubelet; anything but "api" marks a static pod (its UID differs from the API's). */
export const CONFIG_SOURCE_ANNOTATION = "kubernetes.io/config.source";
/** Annotations never kept in memory: large and of no use to Multus. */
const DROPPED_ANNOTATIONS = new Set(["kubectl.kubernetes.io/last-applied-configuration"]);

export function podPath(ref: PodRef): string {
  return `/api/v1/namespaces/${encodeURIComponent(ref.namespace)}/pods/${encodeURIComponent(ref.name)}`;
}

/** Trims a Pod object to PodInfo (frozen: the cache hands out shared objects). Never throws. */
export function toPodInfo(obj: unknown): PodInfo | undefined {
  const meta = asRecord(asRecord(obj)?.metadata);
  const name = meta?.name;
  const namespace = meta?.namespace;
  if (typeof name !== "string" || typeof namespace !== "string") return undefined;
  // fromEntries defines each key as its own property: assigning would drop a key
  // "__proto__" (it sets the prototype instead).
  const annotations: Record<string, string> = Object.fromEntries(
    Object.entries(asRecord(meta?.annotations) ?? {}).filter(
      (e): e is [string, string] => typeof e[1] === "string" && !DROPPED_ANNOTATIONS.has(e[0]),
    ),
  );
  const source = annotations[CONFIG_SOURCE_ANNOTATION];
  const info: PodInfo = {
    namespace,
    name,
    uid: typeof meta?.uid === "string" ? meta.uid : "",
    annotations: Object.freeze(annotations),
    isStatic: source !== undefined && source !== "api",
  };
  const nodeName = asRecord(asRecord(obj)?.spec)?.nodeName;
  if (typeof nodeName === "string" && nodeName !== "") info.nodeName = nodeName;
  const status = asRecord(asRecord(obj)?.status);
  const extended = extendedClaimOf(status?.extendedResourceClaimStatus);
  if (extended) info.extendedResourceClaimStatus = extended;
  const claims = status?.resourceClaimStatuses;
  if (Array.isArray(claims)) {
    info.resourceClaimStatuses = Object.freeze(
      claims.flatMap((c) => {
        const r = asRecord(c);
        if (typeof r?.name !== "string") return [];
        return [
          Object.freeze({
            name: r.name,
            ...(typeof r.resourceClaimName === "string" && { resourceClaimName: r.resourceClaimName }),
          }),
        ];
      }),
    ) as PodInfo["resourceClaimStatuses"];
  }
  return Object.freeze(info);
}

/** status.extendedResourceClaimStatus, trimmed (frozen); undefined without a claim name. */
function extendedClaimOf(v: unknown): PodInfo["extendedResourceClaimStatus"] {
  const r = asRecord(v);
  if (typeof r?.resourceClaimName !== "string") return undefined;
  const mappings = Array.isArray(r.requestMappings) ? r.requestMappings : [];
  return Object.freeze({
    resourceClaimName: r.resourceClaimName,
    requestMappings: Object.freeze(
      mappings.flatMap((m) => {
        const x = asRecord(m);
        if (typeof x?.resourceName !== "string" || typeof x.requestName !== "string") return [];
        const containerName = typeof x.containerName === "string" ? x.containerName : "";
        return [Object.freeze({ containerName, resourceName: x.resourceName, requestName: x.requestName })];
      }),
    ) as Array<{ containerName: string; resourceName: string; requestName: string }>,
  });
}

/** One live GET (retried on 429/5xx/connection errors within the deadline). null = NotFound. */
export async function readPod(
  http: KubeHttp,
  ref: PodRef,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<PodInfo | null> {
  return readObject(http, { path: podPath(ref), kind: "Pod", convert: toPodInfo, isMissing: isNotFound, ...opts });
}

/**
 * One merge PATCH of pods/<name>/status setting one annotation: no GET first,
 * no resourceVersion (so no conflict on concurrent writers). Retried on 409/429/5xx/connection
 * errors within the deadline; 404 (the pod is gone) is success.
 */
export async function patchPodAnnotation(
  http: KubeHttp,
  opts: { ref: PodRef; annotation: PodAnnotation; timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const { ref, annotation, ...callOpts } = opts;
  try {
    await http.call(
      {
        method: "PATCH",
        path: `${podPath(ref)}/status`,
        body: { metadata: { annotations: { [annotation.key]: annotation.value } } },
        contentType: "application/merge-patch+json",
      },
      { ...callOpts, retryIf: (err) => isConflict(err) || isRetryable(err) },
    );
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
}
