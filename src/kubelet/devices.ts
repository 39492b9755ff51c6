// Device IDs allocated to a pod, by resource name: from the
// kubelet PodResources API when its socket file exists, else from the device
// manager checkpoint. Structurally a multus/ports.ts DevicePort.
//
// Order: container by container as the kubelet reports them, and within one
// container (one checkpoint entry) the IDs sorted and each ID once. The kubelet
// builds each container's list from a map, so without sorting the order changes
// from call to call. v4.3.0 sorted the whole pod's list per resource; upstream
// reverted that (multus-cni#1540) because it breaks the container <-> device
// pairing of multi-container pods, and sorts per container instead (#1539).
//
// DRA through the kubelet (Go v4.1-v4.3): a container's DynamicResources
// count as one more resource per claim, keyed by the claim's name, whose IDs
// are the part after `=` of each CDI device name ("vendor.com/class=ID"); a
// name without exactly one `=` is skipped, as Go does. They follow the
// container's device-plugin devices. A claim shared by several containers is
// reported for each; its IDs are listed once.
import { exists } from "../util/exists.ts";
import { DEFAULT_CHECKPOINT_FILE, readCheckpoint, type CheckpointEntry } from "./checkpoint.ts";
import { DEFAULT_POD_RESOURCES_SOCKET, listPodResources, type PodResources } from "./pod-resources.ts";

export interface DevicePortOptions {
  /** Default /var/lib/kubelet/pod-resources/kubelet.sock. */
  podResourcesSocket?: string;
  /** Default /var/lib/kubelet/device-plugins/kubelet_internal_checkpoint. */
  checkpointFile?: string;
  /** gRPC connect and call deadline each (default 10 s). */
  timeoutMs?: number;
  maxMessageBytes?: number;
}

export interface PodIdentity {
  uid: string;
  namespace: string;
  name: string;
}

export interface KubeletDevicePort {
  getPodDevices(pod: PodIdentity): Promise<Map<string, string[]>>;
}

export function createDevicePort(opts: DevicePortOptions = {}): KubeletDevicePort {
  const socket = opts.podResourcesSocket ?? DEFAULT_POD_RESOURCES_SOCKET;
  const checkpointFile = opts.checkpointFile ?? DEFAULT_CHECKPOINT_FILE;
  return {
    async getPodDevices(pod) {
      if (await exists(socket)) {
        const pods = await listPodResources({
          socketPath: socket,
          timeoutMs: opts.timeoutMs,
          maxMessageBytes: opts.maxMessageBytes,
        });
        return podDevicesFromList(pods, pod);
      }
      return podDevicesFromCheckpoint(await readCheckpoint(checkpointFile), pod.uid);
    },
  };
}

/** The devices of the pod named namespace/name in a List reply (the API carries no UID). */
export function podDevicesFromList(
  pods: readonly PodResources[],
  pod: { namespace: string; name: string },
): Map<string, string[]> {
  const groups: Array<{ resourceName: string; deviceIds: string[] }> = [];
  for (const p of pods) {
    if (p.name !== pod.name || p.namespace !== pod.namespace) continue;
    for (const c of p.containers) {
      // One container may list a resource several times (one entry per device and NUMA node).
      const byResource = new Map<string, string[]>();
      for (const d of c.devices)
        byResource.set(d.resourceName, [...(byResource.get(d.resourceName) ?? []), ...d.deviceIds]);
      for (const [resourceName, deviceIds] of byResource) groups.push({ resourceName, deviceIds });
      for (const r of c.dynamicResources)
        groups.push({ resourceName: r.claimName, deviceIds: r.cdiDevices.flatMap(cdiDeviceId) });
    }
  }
  return collect(groups);
}

/** The device ID in a CDI device name "vendor.com/class=ID"; none unless there is exactly one `=`. */
export function cdiDeviceId(name: string): string[] {
  const parts = name.split("=");
  return parts.length === 2 ? [parts[1]!] : [];
}

/** The devices of the pod with this UID in checkpoint entries. */
export function podDevicesFromCheckpoint(entries: readonly CheckpointEntry[], podUid: string): Map<string, string[]> {
  return collect(entries.filter((e) => e.podUid === podUid));
}

/** Groups in order; each group's IDs sorted; an ID seen before is not repeated. */
function collect(groups: ReadonlyArray<{ resourceName: string; deviceIds: readonly string[] }>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const g of groups) {
    const list = out.get(g.resourceName) ?? [];
    for (const id of [...new Set(g.deviceIds)].sort()) if (!list.includes(id)) list.push(id);
    out.set(g.resourceName, list);
  }
  return out;
}
