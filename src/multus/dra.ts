// DRA through the API, as Go main does it (Kubernetes 1.34+, resource.k8s.io/v1):
// for each ResourceClaim of the pod (status.resourceClaimStatuses), every
// allocated device (status.allocation.devices.results[]) is looked up in the
// ResourceSlices of its driver on the pod's node; a device that publishes the
// attributes k8s.cni.cncf.io/deviceID and k8s.cni.cncf.io/resourceName adds
// that device ID to the resource named by the second, the name a NAD's
// k8s.v1.cni.cncf.io/resourceName gives.
//
// Go's rules, kept: a claim that does not exist, or has no device allocation,
// is an error; a device found in no slice, or without either attribute, is
// skipped (a pod may hold a GPU claim beside its network claim). The claim the
// scheduler makes for extended resources backed by DRA
// (status.extendedResourceClaimStatus) is checked strictly: each request
// mapping must be allocated, and each of its devices must be in a slice and
// publish a resourceName equal to the mapping's. An API server that does not
// serve resource.k8s.io/v1 is no error: the kubelet's view stands alone.
import type { Logger } from "../util/log.ts";
import type { ClaimDeviceResult, PodInfo, ResourceClaimInfo, ResourcePort, SliceDevice } from "./ports.ts";

/** The whole DRA lookup of one request is bounded by this, as in Go. */
export const DRA_TIMEOUT_MS = 20_000;

/** Whether the pod has anything for the DRA lookup to read. */
export function hasResourceClaims(pod: PodInfo): boolean {
  return !!pod.extendedResourceClaimStatus || !!pod.resourceClaimStatuses?.some((c) => c.resourceClaimName);
}

/**
 * Device IDs by resource name from the pod's ResourceClaims, in allocation
 * order, each ID once per resource; undefined when the pod has no claims or
 * the API server does not serve resource.k8s.io/v1. Throws on a missing or
 * unallocated claim, a failed API call, and a broken extended-resource mapping.
 */
export async function draPodDevices(opts: {
  pod: PodInfo;
  resources: ResourcePort;
  log: Logger;
  timeoutMs?: number;
}): Promise<Map<string, string[]> | undefined> {
  const { pod, resources, log } = opts;
  if (!hasResourceClaims(pod)) return undefined;
  const deadline = Date.now() + (opts.timeoutMs ?? DRA_TIMEOUT_MS);
  const callOpts = () => ({ timeoutMs: Math.max(1, deadline - Date.now()) });
  if (!(await resources.servesResourceApi(callOpts()))) {
    log.debug(`pod ${pod.namespace}/${pod.name} has resource claims, but the API serves no resource.k8s.io/v1`);
    return undefined;
  }
  const lookup = createLookup({ pod, resources, callOpts });
  const out = new Map<string, string[]>();
  for (const status of pod.resourceClaimStatuses ?? []) {
    if (!status.resourceClaimName) continue; // no claim was needed for this entry
    const claimName = status.resourceClaimName;
    const results = await lookup.allocation(claimName);
    let mapped = 0;
    for (const r of results) {
      const dev = await lookup.device(r);
      const where = `claim ${claimName} (driver=${r.driver} pool=${r.pool} device=${r.device})`;
      if (!dev?.deviceId) {
        log.verbose(`DRA: skipping ${where}: no ResourceSlice device with a k8s.cni.cncf.io/deviceID`);
        continue;
      }
      if (!dev.resourceName) {
        log.verbose(`DRA: skipping ${where}: no k8s.cni.cncf.io/resourceName (only devices published for CNI map)`);
        continue;
      }
      add(out, dev.resourceName, dev.deviceId);
      mapped++;
    }
    if (mapped === 0 && results.length > 0) log.verbose(`DRA: claim ${claimName} gave no device for CNI`);
  }
  if (pod.extendedResourceClaimStatus) await addExtended(out, pod.extendedResourceClaimStatus, lookup);
  return out;
}

type Lookup = ReturnType<typeof createLookup>;

/** Claims and slices read once per request: a claim by name, a driver's slices on the node. */
function createLookup(o: { pod: PodInfo; resources: ResourcePort; callOpts: () => { timeoutMs: number } }) {
  const claims = new Map<string, ResourceClaimInfo>();
  const drivers = new Map<string, Map<string, SliceDevice>>();
  const deviceKey = (d: { driver: string; pool: string; device: string }) => `${d.driver}/${d.pool}/${d.device}`;
  return {
    /** The claim's allocated devices; throws when it does not exist or is not allocated. */
    async allocation(name: string): Promise<ClaimDeviceResult[]> {
      let claim = claims.get(name);
      if (!claim) {
        const got = await o.resources.getResourceClaim({ namespace: o.pod.namespace, name }, o.callOpts());
        if (!got) throw new Error(`resource claim ${o.pod.namespace}/${name} not found`);
        claim = got;
        claims.set(name, claim);
      }
      if (!claim.results) throw new Error(`claim ${name} has no device allocation`);
      return claim.results;
    },
    /** The slice device an allocation names (of its driver, on the pod's node); undefined when no slice has it. */
    async device(r: ClaimDeviceResult): Promise<SliceDevice | undefined> {
      let devices = drivers.get(r.driver);
      if (!devices) {
        const listed = await o.resources.listSliceDevices({ nodeName: o.pod.nodeName, driver: r.driver }, o.callOpts());
        devices = new Map(listed.map((d) => [deviceKey(d), d]));
        drivers.set(r.driver, devices);
      }
      return devices.get(deviceKey(r));
    },
  };
}

/** The extended-resource claim: each mapping's devices under the mapping's resourceName, strictly. */
async function addExtended(
  out: Map<string, string[]>,
  ext: NonNullable<PodInfo["extendedResourceClaimStatus"]>,
  lookup: Lookup,
): Promise<void> {
  const claimName = ext.resourceClaimName;
  const results = await lookup.allocation(claimName);
  for (const m of ext.requestMappings) {
    const mine = results.filter((r) => r.request === m.requestName);
    if (mine.length === 0) throw new Error(`request ${m.requestName} not found in claim ${claimName}`);
    for (const r of mine) {
      const dev = await lookup.device(r);
      if (!dev?.deviceId)
        throw new Error(
          `device ${r.device} not found for claim resource ${r.driver}/${r.pool} in any matching resource slice`,
        );
      if (!dev.resourceName)
        throw new Error(
          `device ${r.device} missing required attribute k8s.cni.cncf.io/resourceName (must match NAD k8s.v1.cni.cncf.io/resourceName and extended mapping "${m.resourceName}")`,
        );
      if (dev.resourceName !== m.resourceName)
        throw new Error(
          `device ${r.device}: k8s.cni.cncf.io/resourceName is "${dev.resourceName}" but extended resource mapping for request "${m.requestName}" is "${m.resourceName}"`,
        );
      add(out, m.resourceName, dev.deviceId);
    }
  }
}

function add(out: Map<string, string[]>, resourceName: string, id: string): void {
  const list = out.get(resourceName) ?? [];
  if (!list.includes(id)) list.push(id);
  out.set(resourceName, list);
}
