/**
 * resource.k8s.io/v1 reads for DRA (Kubernetes 1.34+): whether the group is
 * served (discovery), one ResourceClaim, and the devices of a driver's
 * ResourceSlices on a node, each trimmed to what Multus reads.
 */
import type { ClaimDeviceResult, PodRef, ResourceClaimInfo, ResourcePort, SliceDevice } from "../ports/kube.ts";
import { asRecord } from "../util/is-record.ts";
import type { KubeHttp } from "./client.ts";
import { isNotFound, isObjectNotFound, isRetryable } from "./errors.ts";
import { readObject } from "./read-object.ts";

const RESOURCE_API = "/apis/resource.k8s.io/v1";
/** The two device attributes a DRA driver publishes for Multus (string values). */
export const DEVICE_ID_ATTRIBUTE = "k8s.cni.cncf.io/deviceID";
export const RESOURCE_NAME_ATTRIBUTE = "k8s.cni.cncf.io/resourceName";
/** An API server that does not serve the group is asked again after this long (it may have been upgraded). */
const ABSENT_RECHECK_MS = 5 * 60_000;

export function resourceClaimPath(ref: PodRef): string {
  const ns = encodeURIComponent(ref.namespace);
  return `${RESOURCE_API}/namespaces/${ns}/resourceclaims/${encodeURIComponent(ref.name)}`;
}

export function resourceSlicesPath(): string {
  return `${RESOURCE_API}/resourceslices`;
}

/** A ResourceClaim trimmed to its allocation (frozen); undefined when it is not one. Never throws. */
export function toResourceClaim(obj: unknown): ResourceClaimInfo | undefined {
  const o = asRecord(obj);
  const meta = asRecord(o?.metadata);
  if (typeof meta?.name !== "string" || typeof meta.namespace !== "string") return undefined;
  const results = asRecord(asRecord(asRecord(o?.status)?.allocation)?.devices)?.results;
  const claim: ResourceClaimInfo = { namespace: meta.namespace, name: meta.name };
  if (Array.isArray(results)) {
    claim.results = results.flatMap((r): ClaimDeviceResult[] => {
      const x = asRecord(r);
      const [request, driver, pool, device] = [x?.request, x?.driver, x?.pool, x?.device];
      if (typeof driver !== "string" || typeof pool !== "string" || typeof device !== "string") return [];
      return [{ request: typeof request === "string" ? request : "", driver, pool, device }];
    });
  }
  return Object.freeze(claim);
}

/** The devices of a ResourceSlice, each with the string values of the two Multus attributes. Never throws. */
export function toSliceDevices(obj: unknown): SliceDevice[] {
  const spec = asRecord(asRecord(obj)?.spec);
  const driver = spec?.driver;
  const pool = asRecord(spec?.pool)?.name;
  if (typeof driver !== "string" || typeof pool !== "string" || !Array.isArray(spec?.devices)) return [];
  return spec.devices.flatMap((d): SliceDevice[] => {
    const dev = asRecord(d);
    if (typeof dev?.name !== "string") return [];
    const attrs = asRecord(dev.attributes);
    const text = (key: string) => {
      const v = asRecord(attrs?.[key])?.string;
      return typeof v === "string" ? v : undefined;
    };
    const deviceId = text(DEVICE_ID_ATTRIBUTE);
    const resourceName = text(RESOURCE_NAME_ATTRIBUTE);
    return [
      {
        driver,
        pool,
        device: dev.name,
        ...(deviceId !== undefined && { deviceId }),
        ...(resourceName !== undefined && { resourceName }),
      },
    ];
  });
}

/** The ResourcePort over `http`. Discovery answers are remembered (served: for good; absent: ABSENT_RECHECK_MS). */
export function createResourceReader(http: KubeHttp, now: () => number = Date.now): ResourcePort {
  let served: boolean | undefined;
  let checkedAt = 0;
  return {
    async servesResourceApi(opts) {
      if (served === true || (served === false && now() - checkedAt < ABSENT_RECHECK_MS)) return served;
      try {
        // Discovery: every authenticated user may read it (system:discovery), no grant needed.
        const list = await http.call<unknown>({ method: "GET", path: RESOURCE_API }, { ...opts, retryIf: isRetryable });
        const names = new Set(
          (Array.isArray(asRecord(list)?.resources) ? (asRecord(list)!.resources as unknown[]) : []).map(
            (r) => asRecord(r)?.name,
          ),
        );
        served = names.has("resourceclaims") && names.has("resourceslices");
      } catch (err) {
        if (!isNotFound(err)) throw err;
        served = false;
      }
      checkedAt = now();
      return served;
    },

    getResourceClaim: (ref, opts) =>
      readObject(http, {
        path: resourceClaimPath(ref),
        kind: "ResourceClaim",
        convert: toResourceClaim,
        isMissing: isObjectNotFound,
        ...opts,
      }),

    async listSliceDevices(sel, opts) {
      // The server-side field selectors the ResourceSlice API supports; without a node, all nodes.
      const fieldSelector = !sel.nodeName
        ? undefined
        : sel.driver
          ? `spec.nodeName=${sel.nodeName},spec.driver=${sel.driver}`
          : `spec.nodeName=${sel.nodeName}`;
      const list = await http.call<unknown>(
        { method: "GET", path: resourceSlicesPath(), query: { fieldSelector } },
        { ...opts, retryIf: isRetryable },
      );
      const items = asRecord(list)?.items;
      if (!Array.isArray(items)) throw new Error(`GET ${resourceSlicesPath()}: the answer is not a ResourceSliceList`);
      return items.flatMap(toSliceDevices);
    },
  };
}
