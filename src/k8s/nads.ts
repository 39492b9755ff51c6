/** NetworkAttachmentDefinitions: the trimmed shape we keep and live reads. */
import type { KubeHttp } from "./client.ts";
import { isObjectNotFound } from "./errors.ts";
import { readObject } from "./read-object.ts";
import type { Nad, PodRef } from "../ports/kube.ts";
import { asRecord } from "../util/is-record.ts";

export const RESOURCE_NAME_ANNOTATION = "k8s.v1.cni.cncf.io/resourceName";
const NAD_API = "/apis/k8s.cni.cncf.io/v1";

/** All namespaces (list/watch). */
export function nadCollectionPath(): string {
  return `${NAD_API}/network-attachment-definitions`;
}

export function nadPath(ref: PodRef): string {
  const ns = encodeURIComponent(ref.namespace);
  return `${NAD_API}/namespaces/${ns}/network-attachment-definitions/${encodeURIComponent(ref.name)}`;
}

/** Trims a NetworkAttachmentDefinition to Nad (frozen). Never throws. */
export function toNad(obj: unknown): Nad | undefined {
  const o = asRecord(obj);
  const meta = asRecord(o?.metadata);
  if (typeof meta?.name !== "string" || typeof meta.namespace !== "string") return undefined;
  const config = asRecord(o?.spec)?.config;
  const resourceName = asRecord(meta.annotations)?.[RESOURCE_NAME_ANNOTATION];
  return Object.freeze({
    namespace: meta.namespace,
    name: meta.name,
    config: typeof config === "string" ? config : "",
    ...(typeof resourceName === "string" && { resourceName }),
  });
}

/** One live GET (retried on 429/5xx/connection errors within the deadline). null = NotFound. */
export async function readNad(
  http: KubeHttp,
  ref: PodRef,
  opts: { timeoutMs: number; signal?: AbortSignal },
): Promise<Nad | null> {
  // A 404 without a Status is the URL: the NetworkAttachmentDefinition CRD is not installed.
  return readObject(http, {
    path: nadPath(ref),
    kind: "NetworkAttachmentDefinition",
    convert: toNad,
    isMissing: isObjectNotFound,
    ...opts,
  });
}
