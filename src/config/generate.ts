// The auto-generated 00-multus.conf: primary CNI conf + daemon
// config -> the shim's conf, byte for byte what the Go daemon writes for the
// same inputs (fixed key set and order, Go's compact JSON). Pure: reading,
// watching and writing files is watch.ts's business.
//
// daemonSocketDir: the Go daemon decodes its config file into the generated
// struct, so the file carries `daemonSocketDir` only when the daemon config
// has that very key; `socketDir` is never copied. That is right for the
// reference DaemonSet, whose socketDir `/host/run/multus/` is a container path
// for the host's /run/multus/, which is the shim's default. We do the same:
// a daemon whose socket the shim cannot reach at /run/multus/ sets
// `daemonSocketDir` to the path as the host sees it.
import { CniError, ErrorCode } from "../cni/errors.ts";
import { compareVersions, parseVersion } from "../cni/version.ts";
import { goJson } from "../util/go-json.ts";
import { isRecord } from "../util/is-record.ts";

export const MULTUS_CONF_FILE = "00-multus.conf";
export const MULTUS_NETWORK_NAME = "multus-cni-network";
export const MULTUS_SHIM_TYPE = "multus-shim";
/** Discovery skips our own output (and anything named like it). */
export const MULTUS_CONF_PREFIX = "00-multus";

/** The primary (cluster network) conf: where it lives and its JSON as read. */
export interface PrimaryConf {
  path: string;
  raw: Record<string, unknown>;
}

const CHECK_INTRODUCED = "0.4.0";

/**
 * g.1 without the waiting: the first `.conf`/`.conflist` name in byte order,
 * skipping `00-multus*` (`.json` is not considered, as in Go).
 */
export function pickPrimaryConfName(names: readonly string[]): string | undefined {
  const candidates = names.filter(
    (n) => !n.startsWith(MULTUS_CONF_PREFIX) && (n.endsWith(".conf") || n.endsWith(".conflist")),
  );
  candidates.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))); // Go's sort.Strings: byte order
  return candidates[0];
}

/**
 * g.3: with a top-level version of 0.4.0 or newer (CHECK exists) the primary
 * must be 0.4.0 or newer too. Messages are Go's.
 */
export function checkVersionCompatibility(topLevel: string | undefined, primary: Record<string, unknown>): void {
  if (topLevel === undefined || !isVersion(topLevel)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      "couldn't get top level cni version",
      topLevel === undefined
        ? "the daemon configuration has no cniVersion"
        : `invalid version ${JSON.stringify(topLevel)}`,
    );
  }
  if (compareVersions(topLevel, CHECK_INTRODUCED) < 0) return;
  const delegate = primary.cniVersion;
  if (typeof delegate !== "string")
    throw new CniError(ErrorCode.IncompatibleVersion, "couldn't get cni version of delegate");
  if (!isVersion(delegate)) {
    throw new CniError(ErrorCode.IncompatibleVersion, `invalid cni version of delegate ${JSON.stringify(delegate)}`);
  }
  if (compareVersions(delegate, CHECK_INTRODUCED) < 0) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `delegate cni version is ${delegate} while top level cni version is ${topLevel}`,
    );
  }
}

function isVersion(v: string): boolean {
  try {
    parseVersion(v);
    return true;
  } catch {
    return false;
  }
}

/**
 * Capabilities set to true in the primary: those of its plugins when it is a
 * list with plugins, else its own top-level ones (Go's setCapabilities).
 */
export function enabledCapabilities(primary: Record<string, unknown>): string[] {
  const plugins = Array.isArray(primary.plugins) && primary.plugins.length > 0 ? primary.plugins : [primary];
  const out = new Set<string>();
  for (const plugin of plugins) {
    const caps = isRecord(plugin) ? plugin.capabilities : undefined;
    if (!isRecord(caps)) continue;
    for (const [name, on] of Object.entries(caps)) if (on === true) out.add(name);
  }
  return [...out];
}

/** g.2 `forceCNIVersion`: the primary with its `cniVersion` replaced (same object when already equal). */
export function forcePrimaryVersion(raw: Record<string, unknown>, cniVersion: string): Record<string, unknown> {
  return raw.cniVersion === cniVersion ? raw : { ...raw, cniVersion };
}

/**
 * 00-multus.conf for `primary` under the daemon config `daemon` (its raw keys,
 * command-line overrides included). Throws a CniError when the versions do
 * not fit or overrideNetworkName finds no name.
 */
export function generateMultusConf(primary: PrimaryConf, daemon: Record<string, unknown>): string {
  const cniVersion = str(daemon.cniVersion);
  if (cniVersion === undefined) {
    throw new CniError(
      ErrorCode.InvalidConfig,
      'the CNI version is a mandatory parameter when multusConfigFile is "auto"',
      "set cniVersion in the daemon configuration (or -cni-version)",
    );
  }
  checkVersionCompatibility(cniVersion, primary.raw);

  let name = MULTUS_NETWORK_NAME;
  const overrideName = daemon.overrideNetworkName === true;
  if (overrideName) {
    const primaryName = primary.raw.name;
    if (typeof primaryName !== "string" || primaryName === "") {
      throw new CniError(
        ErrorCode.InvalidConfig,
        "could not override the network name",
        `the primary CNI configuration ${primary.path} does not feature the network name`,
      );
    }
    name = primaryName;
  }

  // Go's struct order; empty and false fields are left out (omitempty).
  const out: Record<string, unknown> = {};
  put(out, "binDir", str(daemon.binDir));
  put(out, "capabilities", capabilitiesOf(daemon, primary.raw));
  out.cniVersion = cniVersion;
  put(out, "logFile", str(daemon.logFile));
  put(out, "logLevel", str(daemon.logLevel));
  put(out, "logToStderr", daemon.logToStderr === true ? true : undefined);
  put(out, "logOptions", logOptionsOf(daemon.logOptions));
  // Ours: the shims write the daemon's log file in the daemon's format.
  put(out, "logFormat", str(daemon.logFormat));
  out.name = name;
  put(out, "clusterNetwork", primary.path);
  put(out, "namespaceIsolation", daemon.namespaceIsolation === true ? true : undefined);
  put(out, "globalNamespaces", str(daemon.globalNamespaces));
  // readinessindicatorfile, cniConfigDir, multusConfigFile, multusMasterCNI,
  // multusAutoconfigDir and forceCNIVersion are the daemon's business: never written.
  out.type = str(daemon.type) ?? MULTUS_SHIM_TYPE;
  put(out, "cniDir", str(daemon.cniDir));
  put(out, "auxiliaryCNIChainName", str(daemon.auxiliaryCNIChainName));
  put(out, "daemonSocketDir", str(daemon.daemonSocketDir));
  put(out, "overrideNetworkName", overrideName ? true : undefined);
  return goJson(out);
}

/** The daemon config's own capabilities (as given), then every capability the primary enables; keys sorted like a Go map. */
function capabilitiesOf(
  daemon: Record<string, unknown>,
  primary: Record<string, unknown>,
): Record<string, boolean> | undefined {
  const caps: Record<string, boolean> = {};
  if (isRecord(daemon.capabilities)) {
    for (const [k, on] of Object.entries(daemon.capabilities)) if (typeof on === "boolean") caps[k] = on;
  }
  for (const k of enabledCapabilities(primary)) caps[k] = true;
  const keys = Object.keys(caps).sort();
  if (keys.length === 0) return undefined;
  return Object.fromEntries(keys.map((k) => [k, caps[k]!]));
}

/** Go's LogOptions struct: four pointer fields, in this order, absent ones left out. */
function logOptionsOf(value: unknown): Record<string, unknown> | undefined {
  if (!isRecord(value)) return undefined;
  const out: Record<string, unknown> = {};
  for (const k of ["maxAge", "maxSize", "maxBackups"]) if (typeof value[k] === "number") out[k] = value[k];
  if (typeof value.compress === "boolean") out.compress = value.compress;
  return out;
}

function put(out: Record<string, unknown>, key: string, value: unknown): void {
  if (value !== undefined) out[key] = value;
}

function str(value: unknown): string | undefined {
  return typeof value === "string" && value !== "" ? value : undefined;
}
