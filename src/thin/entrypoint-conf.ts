// What the thin DaemonSet's entrypoint writes: the kubeconfig of the thin
// plugin and 00-multus.conf (or 00-multus.conflist for CNI 1.0.0 and newer),
// byte for byte the text Go's thin_entrypoint renders from its templates for
// the same inputs: the same indentation, the optional lines in the same order,
// the primary conf re-encoded as Go encodes a decoded map (keys sorted,
// compact, HTML-safe). Pure: reading and writing files is entrypoint.ts's.
import { versionAtLeast } from "../cni/version.ts";
import { goJson, sortKeysDeep } from "../util/go-json.ts";
import { isRecord } from "../util/is-record.ts";

/** Go's names: files starting with this are ours and never a primary. */
export const THIN_CONF_PREFIX = "00-multus.conf";
export const THIN_CONF_FILE = "00-multus.conf";
export const THIN_CONFLIST_FILE = "00-multus.conflist";
export const THIN_KUBECONFIG = "multus.d/multus.kubeconfig";
const LOG_LEVELS = ["debug", "error", "panic", "verbose"];

/** The flags that shape the generated conf (Go's option names). */
export interface ThinConfOptions {
  cniVersion: string;
  forceCniVersion: boolean;
  overrideNetworkName: boolean;
  namespaceIsolation: boolean;
  globalNamespaces: string;
  multusLogToStderr: boolean;
  multusLogLevel: string;
  multusLogFile: string;
  additionalBinDir: string;
  multusCniConfDir: string;
  readinessIndicatorFile: string;
  multusKubeconfigFileHost: string;
}

/** Go's message for a log level it does not know ("" means no logLevel line). */
export function checkLogLevel(level: string): string {
  const lower = level.toLowerCase();
  if (lower === "" || LOG_LEVELS.includes(lower)) return lower;
  throw new Error(
    `Log levels should be one of: debug/verbose/error/panic, did not understand: ${JSON.stringify(level)}`,
  );
}

/**
 * The conf for the primary at `path` (its decoded JSON `raw`): file name and
 * text. Go writes the conflist only for exactly "1.0.0"; we take any version
 * from 1.0.0 on, as a runtime needs a list there.
 */
export function renderThinConf(
  o: ThinConfOptions,
  primary: { path: string; raw: Record<string, unknown> },
): { name: string; text: string } {
  const master = { ...primary.raw };
  const cniVersion = chooseVersion(o, primary.path, master);
  let networkName = "multus-cni-network";
  if (o.overrideNetworkName) {
    if (typeof master.name !== "string")
      throw new Error(`cannot get name in master CNI config file ${JSON.stringify(primary.path)}`);
    networkName = master.name;
  }
  const lines = optionalLines(o, masterCapabilities(primary.path, master));
  // Go pastes these three in unquoted: a `"` or `\` in one breaks the file (or adds keys).
  // JSON-escaped they are the same bytes for every ordinary value, and safe for the rest.
  const data = {
    cniVersion: jsonEscape(cniVersion),
    networkName: jsonEscape(networkName),
    lines: lines.map((l) => `\n        ${l},`).join(""),
    kubeconfig: jsonEscape(o.multusKubeconfigFileHost),
    master: goJson(sortKeysDeep(master)),
  };
  return isList(cniVersion)
    ? { name: THIN_CONFLIST_FILE, text: conflistTemplate(data) }
    : { name: THIN_CONF_FILE, text: confTemplate(data) };
}

/** A string's JSON form without its quotes. */
function jsonEscape(s: string): string {
  return JSON.stringify(s).slice(1, -1);
}

function isList(cniVersion: string): boolean {
  try {
    return versionAtLeast(cniVersion, "1.0.0");
  } catch {
    return false; // not x.y.z: Go's check ("1.0.0" exactly) says no too
  }
}

/** The master's version, unless --force-cni-version; a --cni-version that differs is Go's error. */
function chooseVersion(o: ThinConfOptions, path: string, master: Record<string, unknown>): string {
  if (!("cniVersion" in master))
    throw new Error(`cannot get cniVersion in master CNI config file ${JSON.stringify(path)}`);
  if (o.forceCniVersion) {
    master.cniVersion = o.cniVersion;
    return o.cniVersion;
  }
  if (typeof master.cniVersion !== "string")
    throw new Error(`cniVersion in master CNI config file ${JSON.stringify(path)} is not a string`);
  if (o.cniVersion !== "" && master.cniVersion !== o.cniVersion) {
    throw new Error(
      `Multus cni version is ${JSON.stringify(o.cniVersion)} while master plugin cni version is ${JSON.stringify(master.cniVersion)}`,
    );
  }
  return master.cniVersion;
}

/**
 * Go's gathering: every capability of every plugin of a list (a later plugin's
 * value wins), else the conf's own; false values are kept. Keys sorted (a Go map).
 */
function masterCapabilities(path: string, master: Record<string, unknown>): Record<string, boolean> {
  const sources = "plugins" in master ? master.plugins : [master];
  if (!Array.isArray(sources))
    throw new Error(`'plugins' in master CNI config file ${JSON.stringify(path)} is not a list`);
  const caps: Record<string, boolean> = {};
  for (const plugin of sources) {
    const c = isRecord(plugin) ? plugin.capabilities : undefined;
    if (c === undefined) continue;
    if (!isRecord(c))
      throw new Error(`capabilities in master CNI config file ${JSON.stringify(path)} is not an object`);
    for (const [k, on] of Object.entries(c)) {
      if (typeof on !== "boolean")
        throw new Error(
          `capability ${JSON.stringify(k)} in master CNI config file ${JSON.stringify(path)} is not a bool`,
        );
      caps[k] = on;
    }
  }
  return sortKeysDeep(caps) as Record<string, boolean>;
}

/** The template's optional lines, in its order, each `"key": value` (Go's %q is JSON quoting for these). */
function optionalLines(o: ThinConfOptions, caps: Record<string, boolean>): string[] {
  const q = (s: string) => JSON.stringify(s);
  const level = checkLogLevel(o.multusLogLevel);
  const lines: Array<string | false> = [
    Object.keys(caps).length > 0 && `"capabilities": ${goJson(caps)}`,
    o.namespaceIsolation && `"namespaceIsolation": true`,
    o.globalNamespaces !== "" && `"globalNamespaces": ${q(o.globalNamespaces)}`,
    !o.multusLogToStderr && `"logToStderr": false`,
    level !== "" && `"logLevel": ${q(level)}`,
    o.multusLogFile !== "" && `"logFile": ${q(o.multusLogFile)}`,
    o.additionalBinDir !== "" && `"binDir": ${q(o.additionalBinDir)}`,
    o.multusCniConfDir !== "" && `"cniConf": ${q(o.multusCniConfDir)}`,
    o.readinessIndicatorFile !== "" && `"readinessindicatorfile": ${q(o.readinessIndicatorFile)}`,
  ];
  return lines.filter((l): l is string => l !== false);
}

interface TemplateData {
  cniVersion: string;
  networkName: string;
  lines: string;
  kubeconfig: string;
  master: string;
}

// Go's templates; version, name and kubeconfig come in escaped (see renderThinConf).
function conflistTemplate(d: TemplateData): string {
  return `{
    "cniVersion": "${d.cniVersion}",
    "name": "${d.networkName}",
    "plugins": [ {
        "type": "multus",${d.lines}
        "kubeconfig": "${d.kubeconfig}",
        "delegates": [
            ${d.master}
        ]
    }]
}
`;
}

function confTemplate(d: TemplateData): string {
  return `{
        "cniVersion": "${d.cniVersion}",
        "name": "${d.networkName}",
        "type": "multus",${d.lines}
        "kubeconfig": "${d.kubeconfig}",
        "delegates": [
                ${d.master}
        ]
}
`;
}

/** Where the API server is and how to trust it: the pod's env and service account. */
export interface KubeconfigInput {
  protocol: string;
  host: string;
  port: string;
  token: string;
  /** The CA file's bytes; absent with --skip-tls-verify. */
  ca?: Uint8Array;
}

/**
 * Go's kubeconfig template. Go brackets every host (`https://[10.96.0.1]:443`),
 * which Go's client accepts and a WHATWG URL parser (the thin plugin's) rejects,
 * so only an IPv6 address is bracketed here.
 */
export function renderKubeconfig(k: KubeconfigInput): string {
  const host = k.host.includes(":") ? `[${k.host}]` : k.host;
  const tls =
    k.ca === undefined
      ? "insecure-skip-tls-verify: true"
      : `certificate-authority-data: ${Buffer.from(k.ca).toString("base64")}`;
  return `# Kubeconfig file for Multus CNI plugin.
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${k.protocol || "https"}://${host}:${k.port}
    ${tls}
users:
- name: multus
  user:
    token: "${k.token}"
contexts:
- name: multus-context
  context:
    cluster: local
    user: multus
current-context: multus-context
`;
}
