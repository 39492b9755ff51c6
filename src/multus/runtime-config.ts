// Per-delegate runtimeConfig (capability args, as libcni injects them) and the overlays
// Multus puts into a delegate's own config. Pure; inputs are never mutated.
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { DelegateRole } from "./delegates.ts";
import type { Bandwidth, NetworkSelection } from "./selection.ts";

/** The capability args Multus itself understands and may set per network. */
export const MULTUS_RUNTIME_KEYS = [
  "portMappings",
  "bandwidth",
  "ips",
  "mac",
  "infinibandGUID",
  "deviceID",
  "CNIDeviceInfoFile",
] as const;

function isEmpty(x: unknown): boolean {
  return x === undefined || x === null || x === "" || (Array.isArray(x) && x.length === 0);
}

/** Go's BandwidthEntry has no omitempty: all four numbers are always sent. */
function fullBandwidth(b: Bandwidth): Required<Bandwidth> {
  return {
    ingressRate: b.ingressRate ?? 0,
    ingressBurst: b.ingressBurst ?? 0,
    egressRate: b.egressRate ?? 0,
    egressBurst: b.egressBurst ?? 0,
  };
}

/**
 * The runtimeConfig handed to one delegate. Starts from the Multus-level
 * `runtimeConfig` the runtime sent; every delegate but the cluster network then takes its
 * network's `portMappings`, `bandwidth`, `ips` (present, even `[]`, replaces
 * the runtime's), `mac`, `infinibandGUID` and `deviceID` (the resource-map
 * device `deviceId`, else the selection's `deviceID`). The cluster network never gets
 * per-network values. Whenever the result has a `deviceID`, `CNIDeviceInfoFile`
 * is set to `deviceInfoFile` (when given). Empty values are left out, as Go
 * leaves them out of the capability args.
 *
 * Deliberately unlike Go, keys of the runtime's runtimeConfig that Multus does
 * not understand (`dns`, `aliases`, `cgroupPath`, `io.kubernetes.cri.pod-annotations`,
 * ...) are kept instead of silently dropped: a delegate only receives the ones
 * it declares in `capabilities`, so this lets chained plugins get what the
 * runtime meant for them.
 */
export function composeRuntimeConfig(opts: {
  base?: Record<string, unknown>;
  selection?: NetworkSelection;
  role: DelegateRole;
  deviceId?: string;
  deviceInfoFile?: string;
}): Record<string, unknown> {
  const out: Record<string, unknown> = structuredClone(opts.base ?? {});
  if (opts.role !== "cluster") {
    const sel = opts.selection;
    if (sel?.portMappings !== undefined) out.portMappings = structuredClone(sel.portMappings);
    if (sel?.bandwidth !== undefined) out.bandwidth = fullBandwidth(sel.bandwidth);
    if (sel?.ips !== undefined) out.ips = [...sel.ips];
    if (sel?.mac) out.mac = sel.mac;
    if (sel?.infinibandGuid) out.infinibandGUID = sel.infinibandGuid;
    const deviceId = opts.deviceId || sel?.deviceId;
    if (deviceId) out.deviceID = deviceId;
  }
  if (!isEmpty(out.deviceID) && opts.deviceInfoFile) out.CNIDeviceInfoFile = opts.deviceInfoFile;
  for (const key of MULTUS_RUNTIME_KEYS) {
    if (isEmpty(out[key])) delete out[key];
  }
  return out;
}

function objectField(config: Record<string, unknown>, key: string, where: string): Record<string, unknown> {
  const value = config[key];
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw new CniError(ErrorCode.InvalidConfig, `cannot add cni-args: ${where} is not an object`);
  }
  return value as Record<string, unknown>;
}

/**
 * `cni-args` of a selection merged into `args.cni` of one plugin config,
 * overriding keys it already has. Returns a new object; `plugin` is not
 * touched. A non-object `args` or `args.cni` is a config error (Go panics).
 */
export function mergeCniArgsIntoConfig(
  plugin: Record<string, unknown>,
  cniArgs: Record<string, unknown>,
): Record<string, unknown> {
  const args = objectField(plugin, "args", `"args"`);
  const cni = objectField(args, "cni", `"args.cni"`);
  return { ...plugin, args: { ...args, cni: { ...cni, ...cniArgs } } };
}

/** A resource-map device for one plugin config: `deviceID` and `pciBusID`. */
export function injectDeviceId(plugin: Record<string, unknown>, deviceId: string): Record<string, unknown> {
  return { ...plugin, deviceID: deviceId, pciBusID: deviceId };
}

/**
 * Applies `edit` to a single config, or to every plugin of a conflist (a
 * config with a `plugins` list), returning a new object either way.
 */
export function editEachPlugin(
  config: Record<string, unknown>,
  edit: (plugin: Record<string, unknown>) => Record<string, unknown>,
): Record<string, unknown> {
  const plugins = config.plugins;
  if (!Array.isArray(plugins)) return edit(config);
  return {
    ...config,
    plugins: plugins.map((p, i) => {
      if (typeof p !== "object" || p === null || Array.isArray(p)) {
        throw new CniError(ErrorCode.InvalidConfig, `conflist plugin ${i} is not an object`);
      }
      return edit(p as Record<string, unknown>);
    }),
  };
}
