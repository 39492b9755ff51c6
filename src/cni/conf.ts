// Network configuration lists and the runtime operations on them, modelled on
// containernetworking/cni libcni (conf.go; api.go buildOneConfig,
// injectRuntimeConfig, Add/Check/Del/GC/GetStatus NetworkList, result cache).
// Every plugin's raw JSON is kept: a plugin gets its original object plus the
// overlays (name, cniVersion, prevResult, runtimeConfig), never a stripped view.
import { isRecord } from "../util/is-record.ts";
import { formatCniArgs } from "./args.ts";
import { deleteCachedResult, readCachedResult, writeCachedResult, cachedResultPath } from "./cache.ts";
import { CniError, ErrorCode, toCniError } from "./errors.ts";
import { execPlugin, type PluginRunner } from "./invoke.ts";
import { convertResult, toCurrentResult, type Result100 } from "./result.ts";
import { ConfListSchema, NetConfSchema, decodeJsonObject, validate } from "./schemas.ts";
import { ATTACHMENTS_KEY, CURRENT_VERSION, VALID_ATTACHMENTS_KEY, type CniCommand } from "./spec.ts";
import { compareVersions, configVersion, parseVersion, versionAtLeast } from "./version.ts";

export interface NetworkConfigList {
  name: string;
  /** The version every plugin is called with (`cniVersions` resolved; missing means 0.1.0). */
  cniVersion: string;
  disableCheck: boolean;
  disableGC: boolean;
  /** Raw plugin JSON objects, in order. */
  plugins: Record<string, unknown>[];
  /** The raw list JSON (what the result cache stores as `config`). */
  raw: Record<string, unknown>;
}

/** One attachment's request values (libcni RuntimeConf). */
export interface RuntimeConf {
  containerId: string;
  netns: string;
  ifname: string;
  /** CNI_ARGS as pairs, in order. */
  args: Array<[string, string]>;
  /**
   * Offered to plugins as `runtimeConfig`, filtered by each plugin's declared
   * capabilities (libcni's CapabilityArgs; the result cache keeps that name).
   */
  runtimeConfig: Record<string, unknown>;
}

/** How plugins are found and run. */
export interface CniRuntime {
  binDirs: readonly string[];
  /** Results are cached under `<cacheDir>/results`. */
  cacheDir: string;
  /** Deadline of each plugin invocation. */
  timeoutMs: number;
  /** Bound on each of a plugin's stdout and stderr (execPlugin's default when unset). */
  maxOutputBytes?: number;
  chrootDir?: string;
  baseEnv?: Record<string, string>;
  /** Defaults to execPlugin; tests inject their own. */
  run?: PluginRunner;
  onStderr?: (text: string) => void;
}

/** A GC attachment as the wire spells it (SPEC "GC"). */
export interface GcAttachment {
  containerID: string;
  ifname: string;
}

// ---------------------------------------------------------------------------
// Loading

/** A `.conflist` (bytes or text) as a list (libcni ConfListFromBytes). */
export function confListFromBytes(bytes: Uint8Array | string): NetworkConfigList {
  return confListFromRaw(decodeJsonObject(bytes, "network configuration list"));
}

/** Wraps one plugin conf as a single-plugin list (libcni ConfListFromConf). */
export function confListFromConf(conf: Record<string, unknown>): NetworkConfigList {
  validate(NetConfSchema, conf, ErrorCode.InvalidConfig, "network configuration");
  const raw: Record<string, unknown> = { name: conf.name ?? "", cniVersion: conf.cniVersion ?? "", plugins: [conf] };
  return confListFromRaw(raw);
}

/** Validates a list's JSON (already decoded) into a list. */
export function confListFromRaw(raw: Record<string, unknown>): NetworkConfigList {
  // disableCheck/disableGC are read below with libcni's leniency ("true"/"false" strings).
  const view = { ...raw, disableCheck: undefined, disableGC: undefined };
  validate(ConfListSchema, view, ErrorCode.InvalidConfig, "network configuration list");
  return {
    name: raw.name as string,
    cniVersion: resolveListVersion(raw),
    disableCheck: readBool(raw, "disableCheck"),
    disableGC: readBool(raw, "disableGC"),
    plugins: (raw.plugins as Record<string, unknown>[]).slice(),
    raw,
  };
}

/** libcni: the highest of `cniVersions` (+ `cniVersion`) not newer than ours, else `cniVersion`. */
function resolveListVersion(raw: Record<string, unknown>): string {
  const declared = configVersion(raw);
  if (raw.cniVersions === undefined) return declared;
  if (!Array.isArray(raw.cniVersions) || raw.cniVersions.some((x) => typeof x !== "string")) {
    throw new CniError(
      ErrorCode.InvalidConfig,
      `invalid network configuration list: field "cniVersions": expected an array of strings`,
    );
  }
  const candidates = [...(raw.cniVersions as string[])];
  if (typeof raw.cniVersion === "string" && raw.cniVersion !== "") candidates.push(raw.cniVersion);
  for (const c of candidates) parseVersion(c); // malformed -> code 1
  const usable = candidates.filter((c) => compareVersions(c, CURRENT_VERSION) <= 0);
  usable.sort(compareVersions);
  return usable.at(-1) ?? declared;
}

/** A list's boolean as libcni reads it: a bool, or the string true/false in any case. */
export function readBool(raw: Record<string, unknown>, key: string): boolean {
  const v = raw[key];
  if (v === undefined || v === null) return false;
  if (typeof v === "boolean") return v;
  if (typeof v === "string") {
    const s = v.toLowerCase();
    if (s === "true") return true;
    if (s === "false") return false;
    throw new CniError(
      ErrorCode.InvalidConfig,
      `error parsing configuration list: invalid value ${JSON.stringify(v)} for ${key}`,
    );
  }
  throw new CniError(ErrorCode.InvalidConfig, `error parsing configuration list: invalid type ${typeof v} for ${key}`);
}

// ---------------------------------------------------------------------------
// Building a plugin's stdin

/**
 * libcni buildOneConfig: the plugin's raw JSON with the list's name and
 * cniVersion, the previous result (when there is one), and `runtimeConfig`
 * holding only the capability args the plugin declares as true.
 */
export function buildPluginConfig(
  list: NetworkConfigList,
  plugin: Record<string, unknown>,
  prevResult: unknown,
  rc: RuntimeConf,
): Record<string, unknown> {
  const out: Record<string, unknown> = { ...plugin, name: list.name, cniVersion: list.cniVersion };
  if (prevResult !== undefined && prevResult !== null) out.prevResult = prevResult;
  const offered: Record<string, unknown> = {};
  const caps = plugin.capabilities;
  if (isRecord(caps)) {
    for (const [cap, declared] of Object.entries(caps)) {
      if (declared === true && Object.hasOwn(rc.runtimeConfig, cap)) offered[cap] = rc.runtimeConfig[cap];
    }
  }
  if (Object.keys(offered).length > 0) out.runtimeConfig = offered;
  return out;
}

/**
 * A plugin's (or the cache's) result as the next plugin gets it: validated;
 * passed on as printed when it is already in the list's version (a missing
 * cniVersion means the list's, as libcni's fixupResultVersion reads it),
 * converted through the 1.x hub otherwise (libcni GetAsVersion).
 */
function asListVersion(list: NetworkConfigList, raw: unknown): Record<string, unknown> {
  const obj = raw === null ? {} : raw;
  const hub = toCurrentResult(obj, list.cniVersion); // validates; throws code 6 / 1
  const own = (obj as Record<string, unknown>).cniVersion;
  const version = typeof own === "string" && own !== "" ? own : list.cniVersion;
  if (version === list.cniVersion) return { ...(obj as Record<string, unknown>), cniVersion: version };
  return convertResult(hub, list.cniVersion);
}

// ---------------------------------------------------------------------------
// Operations

/**
 * ADD through the list in order, each plugin getting the previous one's result
 * (in the list's version) as prevResult. The final result is cached and
 * returned in the 1.x hub form.
 */
export async function addNetworkList(rt: CniRuntime, list: NetworkConfigList, rc: RuntimeConf): Promise<Result100> {
  let prev: Record<string, unknown> | undefined;
  for (const plugin of list.plugins) {
    const out = await invoke(rt, "ADD", plugin, buildPluginConfig(list, plugin, prev, rc), rc);
    if (out === undefined) {
      throw new CniError(
        ErrorCode.DecodeFailure,
        `failed to unmarshal raw result`,
        `plugin ${describePlugin(plugin)} printed nothing on ADD`,
      );
    }
    prev = asListVersion(list, out);
  }
  const hub = toCurrentResult(prev ?? {}, list.cniVersion);
  await writeCachedResult(rt.cacheDir, {
    networkName: list.name,
    containerId: rc.containerId,
    ifName: rc.ifname,
    netns: rc.netns,
    config: JSON.stringify(list.raw),
    cniArgs: rc.args,
    capabilityArgs: rc.runtimeConfig,
    result: prev,
  });
  return hub;
}

/**
 * CHECK every plugin with the cached ADD result as prevResult. Refused below
 * 0.4.0; nothing to do when the list sets disableCheck; a missing cache entry
 * is an error (the plugins could only fail without it).
 */
export async function checkNetworkList(rt: CniRuntime, list: NetworkConfigList, rc: RuntimeConf): Promise<void> {
  if (!versionAtLeast(list.cniVersion, "0.4.0")) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `configuration version ${JSON.stringify(list.cniVersion)} does not support the CHECK command`,
    );
  }
  if (list.disableCheck) return;
  const key = cacheKey(list, rc);
  const cached = await readCachedResult(rt.cacheDir, key);
  if (!cached?.result) {
    throw new CniError(
      ErrorCode.IoFailure,
      `failed to get network ${JSON.stringify(list.name)} cached result`,
      `no cached result at ${cachedResultPath(rt.cacheDir, key)}`,
    );
  }
  const prev = asListVersion(list, cached.result);
  for (const plugin of list.plugins) {
    await invoke(rt, "CHECK", plugin, buildPluginConfig(list, plugin, prev, rc), rc);
  }
}

/**
 * DEL in reverse order. From 0.4.0 on the cached result is prevResult when
 * there is one (an unreadable entry is dropped, as libcni does). The entry is
 * removed once every plugin has succeeded; a failure stops and keeps it.
 */
export async function delNetworkList(rt: CniRuntime, list: NetworkConfigList, rc: RuntimeConf): Promise<void> {
  const key = cacheKey(list, rc);
  let prev: Record<string, unknown> | undefined;
  if (versionAtLeast(list.cniVersion, "0.4.0")) {
    try {
      const cached = await readCachedResult(rt.cacheDir, key);
      if (cached?.result) prev = asListVersion(list, cached.result);
    } catch {
      await deleteCachedResult(rt.cacheDir, key).catch(() => undefined);
      prev = undefined;
    }
  }
  for (const plugin of [...list.plugins].reverse()) {
    await invoke(rt, "DEL", plugin, buildPluginConfig(list, plugin, prev, rc), rc);
  }
  await deleteCachedResult(rt.cacheDir, key);
}

/**
 * GC (spec 1.1.0): every plugin gets the list's name and version plus the
 * valid attachments under `cni.dev/valid-attachments` and, as libcni does for
 * plugins written against an earlier spec draft, `cni.dev/attachments`.
 * Skipped below 1.1.0 or with disableGC. All plugins are called; the first
 * error is thrown (the others are its `cause`).
 */
export async function gcNetworkList(
  rt: CniRuntime,
  list: NetworkConfigList,
  validAttachments: GcAttachment[],
): Promise<void> {
  if (list.disableGC || !versionAtLeast(list.cniVersion, "1.1.0")) return;
  const attachments = validAttachments.map((a) => ({ containerID: a.containerID, ifname: a.ifname }));
  const errors: CniError[] = [];
  for (const plugin of list.plugins) {
    const conf = {
      ...plugin,
      name: list.name,
      cniVersion: list.cniVersion,
      [VALID_ATTACHMENTS_KEY]: attachments,
      [ATTACHMENTS_KEY]: attachments,
    };
    try {
      await invoke(rt, "GC", plugin, conf, undefined);
    } catch (err) {
      errors.push(toCniError(err));
    }
  }
  throwFirst(errors);
}

/** STATUS (spec 1.1.0) to each plugin in order; the first error is thrown unchanged. No-op below 1.1.0. */
export async function statusNetworkList(rt: CniRuntime, list: NetworkConfigList): Promise<void> {
  if (!versionAtLeast(list.cniVersion, "1.1.0")) return;
  for (const plugin of list.plugins) {
    await invoke(rt, "STATUS", plugin, { ...plugin, name: list.name, cniVersion: list.cniVersion }, undefined);
  }
}

// ---------------------------------------------------------------------------

function invoke(
  rt: CniRuntime,
  command: CniCommand,
  plugin: Record<string, unknown>,
  conf: Record<string, unknown>,
  rc: RuntimeConf | undefined,
): Promise<unknown> {
  const run = rt.run ?? execPlugin;
  return run({
    command,
    pluginType: typeof plugin.type === "string" ? plugin.type : "",
    binDirs: rt.binDirs,
    stdin: JSON.stringify(conf),
    cniEnv: rc ? { containerId: rc.containerId, netns: rc.netns, ifname: rc.ifname, args: formatCniArgs(rc.args) } : {},
    baseEnv: rt.baseEnv,
    timeoutMs: rt.timeoutMs,
    maxOutputBytes: rt.maxOutputBytes,
    chrootDir: rt.chrootDir,
    onStderr: rt.onStderr,
  });
}

function cacheKey(list: NetworkConfigList, rc: RuntimeConf) {
  return { networkName: list.name, containerId: rc.containerId, ifName: rc.ifname };
}

function describePlugin(plugin: Record<string, unknown>): string {
  const name = typeof plugin.name === "string" && plugin.name !== "" ? ` name=${JSON.stringify(plugin.name)}` : "";
  return `type=${JSON.stringify(plugin.type)}${name}`;
}

function throwFirst(errors: CniError[]): void {
  const [first, ...rest] = errors;
  if (!first) return;
  if (rest.length === 0) throw first;
  throw new CniError(first.code, first.msg, first.details, { cause: new AggregateError(errors) });
}
