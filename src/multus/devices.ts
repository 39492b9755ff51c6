// Device IDs from the kubelet's allocation: each
// delegate whose NAD names a resource (k8s.v1.cni.cncf.io/resourceName) takes
// the next unused device ID of that resource, in delegate order; the ID goes
// into the delegate's config as `deviceID` and `pciBusID` (every plugin of a
// list) and, for non-master delegates, into runtimeConfig with a
// CNIDeviceInfoFile path. Device-info files: the device plugin's file for the
// device is copied to that path before ADD, read back after ADD (the plugin
// may have written it instead) for network-status, and removed on DEL.
import { mkdir, readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import { CniError, ErrorCode, toCniError } from "../cni/errors.ts";
import { decodeJsonObject } from "../cni/schemas.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import type { Logger } from "../util/log.ts";
import { delegateFromBytes, type Delegate } from "./delegates.ts";
import { draPodDevices } from "./dra.ts";
import type { DevicePort, PodInfo, ResourcePort } from "./ports.ts";
import { editEachPlugin, injectDeviceId } from "./runtime-config.ts";

export const DEFAULT_DEVICE_INFO_DIR = "/var/run/k8s.cni.cncf.io/devinfo";
const DEVICE_INFO_FILE_MODE = 0o444;

/**
 * Pure: every delegate with a `resourceName` takes the next unused ID of that
 * resource. A resource the pod has no (more) devices of leaves the delegate
 * without a device, as in Go (the plugin then reports what it misses).
 */
export function assignDeviceIds(
  delegates: readonly Delegate[],
  resources: ReadonlyMap<string, readonly string[]>,
): Delegate[] {
  const used = new Map<string, number>();
  return delegates.map((d) => {
    if (!d.resourceName) return d;
    const ids = resources.get(d.resourceName) ?? [];
    const next = used.get(d.resourceName) ?? 0;
    if (next >= ids.length) return d;
    used.set(d.resourceName, next + 1);
    return withDeviceId(d, ids[next]!);
  });
}

/** The delegate with `deviceID` and `pciBusID` in its config (every plugin of a list); bytes and list follow. */
export function withDeviceId(d: Delegate, deviceId: string): Delegate {
  const raw = decodeJsonObject(d.bytes, `configuration of network "${d.name}"`);
  const edited = editEachPlugin(raw, (plugin) => injectDeviceId(plugin, deviceId));
  const bytes = JSON.stringify(edited);
  const spec = delegateFromBytes({ raw: edited, bytes, role: d.role, statusName: d.name });
  return { ...d, list: spec.list, isConfList: spec.isConfList, bytes, deviceId };
}

/**
 * The ADD hook (and DEL's rebuild from the API): asks the kubelet only when
 * some delegate names a resource, and, for a pod with resource claims, the
 * resource.k8s.io API (dra.ts) at the same time; the API's devices follow the
 * kubelet's under the same resource name (as Go main fills the kubelet's map). A failed lookup is
 * code 11 (the kubelet may be restarting, a claim may be gone); with
 * `forgiving` (DEL) it is logged and the delegates go on without devices.
 */
export async function assignPodDevices(opts: {
  delegates: Delegate[];
  pod: PodInfo | undefined;
  devices: DevicePort | undefined;
  resources?: ResourcePort;
  log: Logger;
  forgiving?: boolean;
}): Promise<Delegate[]> {
  const { delegates, pod, devices, log } = opts;
  if (!pod || !(devices || opts.resources) || !delegates.some((d) => d.resourceName)) return delegates;
  let resources: Map<string, string[]>;
  try {
    // Both asked at once; both answers awaited (a failure of one does not cut the other's calls short).
    const [fromKubelet, fromClaims] = await Promise.allSettled([
      devices?.getPodDevices({ uid: pod.uid, namespace: pod.namespace, name: pod.name }),
      opts.resources && draPodDevices({ pod, resources: opts.resources, log }),
    ]);
    if (fromKubelet.status === "rejected") throw fromKubelet.reason;
    if (fromClaims.status === "rejected") throw fromClaims.reason;
    resources = new Map(fromKubelet.value ?? []);
    if (fromClaims.value) mergeDevices(resources, fromClaims.value);
  } catch (err) {
    const e = new CniError(
      ErrorCode.TryAgainLater,
      `failed to get the devices allocated to pod ${pod.namespace}/${pod.name}`,
      toCniError(err).message,
      { cause: err },
    );
    if (!opts.forgiving) throw e;
    log.error(`${e.message}: ${e.details}; deleting without device IDs`);
    return delegates;
  }
  const assigned = assignDeviceIds(delegates, resources);
  for (const d of assigned) {
    if (d.resourceName && !d.deviceId)
      log.verbose(`network "${d.name}": pod has no unused device of resource ${d.resourceName}`);
  }
  return assigned;
}

/** `more` after `into`'s IDs of the same resource, each ID once (new lists: the port's stay as they were). */
function mergeDevices(into: Map<string, string[]>, more: ReadonlyMap<string, readonly string[]>): void {
  for (const [name, ids] of more) {
    const list = into.get(name) ?? [];
    into.set(name, [...list, ...ids.filter((id, i) => !list.includes(id) && ids.indexOf(id) === i)]);
  }
}

// ---------------------------------------------------------------------------
// Device-info files.

/** `<dir>/cni/<delegate name>-<containerID>_<ifname>`, every `/` turned into `-`. */
export function cniDeviceInfoPath(
  dir: string,
  a: { delegateName: string; containerId: string; ifname: string },
): string {
  return join(dir, "cni", `${a.delegateName}-${a.containerId}_${a.ifname}`.replaceAll("/", "-"));
}

/** `<dir>/dp/<resource>-<deviceID>-device.json`, every `/` turned into `-`: where device plugins write. */
export function dpDeviceInfoPath(dir: string, a: { resourceName: string; deviceId: string }): string {
  return join(dir, "dp", `${a.resourceName.replaceAll("/", "-")}-${a.deviceId.replaceAll("/", "-")}-device.json`);
}

/** The CNIDeviceInfoFile path of a delegate (runtimeConfig carries it only when the delegate has a deviceID). */
export function deviceInfoFileFor(opts: { dir?: string; delegate: Delegate; containerId: string }): string {
  return cniDeviceInfoPath(opts.dir ?? DEFAULT_DEVICE_INFO_DIR, {
    delegateName: opts.delegate.name,
    containerId: opts.containerId,
    ifname: opts.delegate.ifname,
  });
}

function infoFileOf(runtimeConfig: Record<string, unknown> | undefined): string | undefined {
  const path = runtimeConfig?.CNIDeviceInfoFile;
  return typeof path === "string" && path !== "" ? path : undefined;
}

/**
 * Before ADD: for each delegate with a resource-map device and a
 * CNIDeviceInfoFile, the device plugin's file is copied there (mode 0444).
 * No device-plugin file, or one that is not a JSON object: nothing is copied
 * (logged; plugins that need no device info are common). Unlike Go, an
 * existing CNI file is replaced, so a retried ADD gets the current device.
 */
export async function copyDeviceInfoFiles(opts: {
  dir?: string;
  entries: ReadonlyArray<{ delegate: Delegate; runtimeConfig?: Record<string, unknown> }>;
  log: Logger;
}): Promise<void> {
  const dir = opts.dir ?? DEFAULT_DEVICE_INFO_DIR;
  for (const { delegate: d, runtimeConfig } of opts.entries) {
    const target = infoFileOf(runtimeConfig);
    if (!target || !d.resourceName || !d.deviceId) continue;
    const source = dpDeviceInfoPath(dir, { resourceName: d.resourceName, deviceId: d.deviceId });
    let text: string;
    try {
      text = await readFile(source, "utf8");
      decodeJsonObject(text, `device-info file ${source}`);
    } catch (err) {
      opts.log.debug(`network "${d.name}": no device info copied from ${source}: ${toCniError(err).message}`);
      continue;
    }
    try {
      await mkdir(join(dir, "cni"), { recursive: true, mode: 0o755 });
      await writeFileAtomic(target, text, DEVICE_INFO_FILE_MODE);
    } catch (err) {
      throw new CniError(ErrorCode.IoFailure, `cannot write device-info file ${target}`, (err as Error).message);
    }
  }
}

/** After ADD: the device-info object in the delegate's CNIDeviceInfoFile, or undefined (no file, not JSON). */
export async function readDeviceInfo(
  runtimeConfig: Record<string, unknown> | undefined,
): Promise<Record<string, unknown> | undefined> {
  const path = infoFileOf(runtimeConfig);
  if (!path) return undefined;
  try {
    return decodeJsonObject(await readFile(path, "utf8"), `device-info file ${path}`);
  } catch {
    return undefined;
  }
}

/** DEL: the delegate's CNIDeviceInfoFile goes. Best effort, as in Go: the file only feeds network-status. */
export async function removeDeviceInfo(
  runtimeConfig: Record<string, unknown> | undefined,
  log?: Logger,
): Promise<void> {
  const path = infoFileOf(runtimeConfig);
  if (!path) return;
  await rm(path, { force: true }).catch((err: Error) =>
    log?.error(`cannot remove device-info file ${path}: ${err.message}`),
  );
}
