// The pod's network selection annotations as a list of
// selection elements, and the namespace rules that apply to them.
// Pure: strings in, plain objects out, CniError (code 7) on anything invalid.
//
// Deliberately stricter than Go Multus:
// - an empty comma item (`a,,b`, a trailing comma) is an error naming its position;
// - names, namespaces and interface names are validated in BOTH forms (Go checks
//   them only in the comma form), and an interface name follows the kernel's rules
//   (also not `.`/`..`, no `:`);
// - a JSON element that is not an object (e.g. `null`), an empty `name`, a port
//   mapping without `hostPort`/`containerPort`, a non-integer port or rate, and an
//   empty `default-route` entry are errors instead of zero values or a crash;
// - a value that is empty or only whitespace means "no networks" (Go turns it into
//   one element with an empty name), and a default-network annotation naming no
//   network is no override (Go reads `networks[0]` of an empty list).
import * as v from "valibot";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { isRecord } from "../util/is-record.ts";
import { formatIssuePath } from "../cni/schemas.ts";
import { ifnameProblem } from "../cni/args.ts";
import { isMacAddress, parseCidr, parseIp } from "../cni/ip.ts";
import { isJsonTooDeep, MAX_JSON_DEPTH } from "../util/json-depth.ts";

export interface PortMapping {
  hostPort: number;
  containerPort: number;
  protocol?: string;
  hostIP?: string;
}
export interface Bandwidth {
  ingressRate?: number;
  ingressBurst?: number;
  egressRate?: number;
  egressBurst?: number;
}
export interface NetworkSelection {
  name: string;
  namespace: string;
  interface?: string;
  ips?: string[];
  mac?: string;
  infinibandGuid?: string;
  portMappings?: PortMapping[];
  bandwidth?: Bandwidth;
  deviceId?: string;
  cniArgs?: Record<string, unknown>;
  /** Present (even `[]`) when the element has `default-route`. */
  defaultRoute?: string[];
}

/** Kubernetes DNS-1123 label, as Multus checks names and namespaces. */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const GO_PREFIX = "parsePodNetworkAnnotation";

// ---------------------------------------------------------------------------
// JSON element schema. Go's encoding/json matches keys case-insensitively
// (an exact match first), lets the last duplicate win, leaves a field at its
// zero value on `null` and ignores unknown keys; `goStruct` does the same
// before valibot checks the shapes.

function foldGoKeys(input: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const canonical = keys.includes(key) ? key : keys.find((k) => k.toLowerCase() === key.toLowerCase());
    if (canonical === undefined || value === null) continue;
    out[canonical] = value;
  }
  return out;
}

function goStruct<const E extends v.ObjectEntries>(entries: E) {
  const keys = Object.keys(entries);
  return v.pipe(
    v.custom<Record<string, unknown>>(isRecord, "must be an object"),
    v.transform((o) => foldGoKeys(o, keys)),
    v.object(entries, "must be an object"),
  );
}

const str = () => v.string("must be a string");
const int = () => v.pipe(v.number("must be a number"), v.integer("must be an integer"));
const list = <S extends v.GenericSchema>(item: S) => v.array(item, "must be a list");

const PortMappingSchema = goStruct({
  hostPort: int(),
  containerPort: int(),
  protocol: v.optional(str()),
  hostIP: v.optional(str()),
});

const BandwidthSchema = goStruct({
  ingressRate: v.optional(int()),
  ingressBurst: v.optional(int()),
  egressRate: v.optional(int()),
  egressBurst: v.optional(int()),
});

/** One element of the JSON form, keys as Go Multus spells them. */
export const SelectionElementSchema = goStruct({
  name: v.optional(str()),
  namespace: v.optional(str()),
  ips: v.optional(list(str())),
  mac: v.optional(str()),
  "infiniband-guid": v.optional(str()),
  interface: v.optional(str()),
  interfaceRequest: v.optional(str()),
  portMappings: v.optional(list(PortMappingSchema)),
  bandwidth: v.optional(BandwidthSchema),
  deviceID: v.optional(str()),
  "cni-args": v.optional(v.custom<Record<string, unknown>>(isRecord, "must be an object")),
  "default-route": v.optional(list(str())),
});
export type SelectionElement = v.InferOutput<typeof SelectionElementSchema>;

// ---------------------------------------------------------------------------
// Errors: msg names the annotation, the element (0-based, as in the JSON list
// or the comma-separated list) and the field, after Go Multus' wording when Go
// rejects the same input.

type Label = "networks" | "default-network";

/**
 * Where Go Multus rejects the same input, the message begins with Go's words
 * (what users grep for in kubelet logs and alerts) and our precise location follows.
 */
function invalid(label: Label, where: string, problem: string, goWords?: string): CniError {
  const ours = `invalid ${label} annotation: ${where}${problem}`;
  return new CniError(ErrorCode.InvalidConfig, goWords ? `${goWords} (${ours})` : ours);
}

function elementError(label: Label, index: number, field: string | undefined, problem: string, goWords?: string) {
  return invalid(label, `element ${index}: ${field === undefined ? "" : `field "${field}": `}`, problem, goWords);
}

// ---------------------------------------------------------------------------
// Checks shared by both forms.

interface Raw {
  name: string;
  namespace: string;
  ifname: string;
  /** Go would reject the name/namespace/ifname too (comma form only). */
  goChecksNames: boolean;
}

function checkNames(label: Label, index: number, raw: Raw): void {
  const goMismatch = (x: string) =>
    raw.goChecksNames
      ? `${GO_PREFIX}: parsePodNetworkObjectName: Failed to parse: one or more items did not match comma-delimited format (must consist of lower case alphanumeric characters). Must start and end with an alphanumeric character), mismatch @ '${x}'`
      : undefined;
  if (raw.name === "") throw elementError(label, index, "name", "must not be empty");
  if (!DNS1123_LABEL.test(raw.name)) {
    throw elementError(
      label,
      index,
      "name",
      `${JSON.stringify(raw.name)} is not a valid network name: must be lower-case alphanumerics and '-', starting and ending with an alphanumeric`,
      goMismatch(raw.name),
    );
  }
  if (raw.namespace !== "" && !DNS1123_LABEL.test(raw.namespace)) {
    throw elementError(
      label,
      index,
      "namespace",
      `${JSON.stringify(raw.namespace)} is not a valid namespace: must be lower-case alphanumerics and '-', starting and ending with an alphanumeric`,
      goMismatch(raw.namespace),
    );
  }
  if (raw.ifname !== "") {
    const problem = ifnameProblem(raw.ifname);
    if (problem) {
      const go =
        raw.goChecksNames && (new TextEncoder().encode(raw.ifname).length > 15 || /[ \t\n\v\f\r/]/.test(raw.ifname))
          ? `${GO_PREFIX}: parsePodNetworkObjectName: Failed to parse interface name: must be less than 15 chars and not contain '/' or spaces. interface name '${raw.ifname}'`
          : undefined;
      throw elementError(
        label,
        index,
        "interface",
        `invalid interface name ${JSON.stringify(raw.ifname)}: ${problem}`,
        go,
      );
    }
  }
}

function checkIps(label: Label, index: number, ips: readonly string[]): void {
  ips.forEach((ip, i) => {
    const field = `ips[${i}]`;
    if (ip.includes("/")) {
      if (!parseCidr(ip)) {
        throw elementError(
          label,
          index,
          field,
          `${JSON.stringify(ip)} is not a valid CIDR`,
          `failed to parse CIDR ${JSON.stringify(ip)}: invalid CIDR address: ${ip}`,
        );
      }
    } else if (!parseIp(ip)) {
      throw elementError(
        label,
        index,
        field,
        `${JSON.stringify(ip)} is not an IP address`,
        `failed to parse IP address ${JSON.stringify(ip)}`,
      );
    }
  });
}

function checkDefaultRoute(label: Label, index: number, gateways: readonly string[]): void {
  gateways.forEach((gw, i) => {
    if (!parseIp(gw)) {
      throw elementError(
        label,
        index,
        `default-route[${i}]`,
        `${JSON.stringify(gw)} is not an IP address`,
        `${GO_PREFIX}: failed to parse pod Network Attachment Selection Annotation JSON format: invalid IP address: ${gw}`,
      );
    }
  });
}

// ---------------------------------------------------------------------------
// The two forms.

/** `text` split at `sep`, which may stand in it once at most (Go's parsePodNetworkObjectName). */
function splitAtMostOnce(text: string, sep: string, where: { label: Label; index: number; item: string }): string[] {
  const parts = text.split(sep);
  if (parts.length <= 2) return parts;
  throw elementError(
    where.label,
    where.index,
    undefined,
    `${JSON.stringify(where.item)} has more than one '${sep}'`,
    `${GO_PREFIX}: parsePodNetworkObjectName: Invalid network object (failed at '${sep}')`,
  );
}

function parseCommaItem(label: Label, index: number, item: string, defaultNamespace: string): NetworkSelection {
  if (item === "") throw elementError(label, index, undefined, "empty item (a doubled or trailing comma?)");
  const where = { label, index, item };
  const slash = splitAtMostOnce(item, "/", where);
  const namespace = slash.length === 2 ? slash[0]!.trim() : "";
  const at = splitAtMostOnce(slash[slash.length - 1]!, "@", where);
  const name = at[0]!.trim();
  const ifname = at.length === 2 ? at[1]!.trim() : "";
  checkNames(label, index, { name, namespace, ifname, goChecksNames: true });
  const out: NetworkSelection = { name, namespace: namespace || defaultNamespace };
  if (ifname) out.interface = ifname;
  return out;
}

function parseJsonElement(label: Label, index: number, raw: unknown, defaultNamespace: string): NetworkSelection {
  const parsed = v.safeParse(SelectionElementSchema, raw);
  if (!parsed.success) {
    const issue = parsed.issues[0];
    const problem = issue.received === "undefined" ? "is required" : issue.message;
    throw elementError(label, index, formatIssuePath(issue.path) || undefined, problem);
  }
  const e = parsed.output;
  const name = e.name ?? "";
  const namespace = e.namespace ?? "";
  // `interfaceRequest` is the pre-3.2 spelling, used only when `interface` is empty.
  const ifname = e.interface || e.interfaceRequest || "";
  checkNames(label, index, { name, namespace, ifname, goChecksNames: false });
  if (e.ips) checkIps(label, index, e.ips);
  if (e.mac && !isMacAddress(e.mac)) {
    throw elementError(
      label,
      index,
      "mac",
      `${JSON.stringify(e.mac)} is not a MAC address`,
      `${GO_PREFIX}: failed to mac: address ${e.mac}: invalid MAC address`,
    );
  }
  const guid = e["infiniband-guid"];
  if (guid && !isMacAddress(guid)) {
    throw elementError(
      label,
      index,
      "infiniband-guid",
      `${JSON.stringify(guid)} is not an InfiniBand GUID`,
      `${GO_PREFIX}: failed to validate infiniband GUID: address ${guid}: invalid MAC address`,
    );
  }
  if (e["default-route"]) checkDefaultRoute(label, index, e["default-route"]);

  const out: NetworkSelection = { name, namespace: namespace || defaultNamespace };
  if (ifname) out.interface = ifname;
  if (e.ips) out.ips = [...e.ips];
  if (e.mac) out.mac = e.mac;
  if (guid) out.infinibandGuid = guid;
  if (e.portMappings) {
    out.portMappings = e.portMappings.map((p) => {
      const m: PortMapping = { hostPort: p.hostPort, containerPort: p.containerPort };
      if (p.protocol) m.protocol = p.protocol;
      if (p.hostIP) m.hostIP = p.hostIP;
      return m;
    });
  }
  if (e.bandwidth) out.bandwidth = { ...e.bandwidth };
  if (e.deviceID) out.deviceId = e.deviceID;
  if (e["cni-args"]) out.cniArgs = e["cni-args"];
  if (e["default-route"]) out.defaultRoute = [...e["default-route"]];
  return out;
}

/**
 * With `onElementError`, a bad element is handed to it and left out instead of
 * thrown, so every bad element can be reported (multus validate); an annotation
 * that is not even a list still throws.
 */
function parseAnnotation(
  label: Label,
  annotation: string | undefined,
  defaultNamespace: string,
  onElementError?: (err: CniError) => void,
): NetworkSelection[] {
  const each = <T>(items: T[], parse: (item: T, i: number) => NetworkSelection): NetworkSelection[] =>
    items.flatMap((item, i) => {
      if (!onElementError) return [parse(item, i)];
      try {
        return [parse(item, i)];
      } catch (err) {
        if (!(err instanceof CniError)) throw err;
        onElementError(err);
        return [];
      }
    });
  if (annotation === undefined || annotation.trim() === "") return [];
  if (/[[{"]/.test(annotation)) {
    // Decodable, but past what JSON.stringify and our walks take (util/json-depth.ts).
    if (isJsonTooDeep(annotation)) {
      throw invalid(
        label,
        "",
        `nested more than ${MAX_JSON_DEPTH} levels deep`,
        `${GO_PREFIX}: failed to parse pod Network Attachment Selection Annotation JSON format`,
      );
    }
    let raw: unknown;
    try {
      raw = JSON.parse(annotation);
    } catch (err) {
      throw invalid(
        label,
        "",
        `not valid JSON: ${(err as Error).message}`,
        `${GO_PREFIX}: failed to parse pod Network Attachment Selection Annotation JSON format`,
      );
    }
    if (!Array.isArray(raw)) {
      throw invalid(
        label,
        "",
        "the JSON form must be a list of network selection objects",
        `${GO_PREFIX}: failed to parse pod Network Attachment Selection Annotation JSON format`,
      );
    }
    return each(raw, (element, i) => parseJsonElement(label, i, element, defaultNamespace));
  }
  return each(annotation.split(","), (item, i) => parseCommaItem(label, i, item.trim(), defaultNamespace));
}

/**
 * `k8s.v1.cni.cncf.io/networks`: absent or blank → no networks.
 * A value containing `[`, `{` or `"` is the JSON form (a list of objects),
 * otherwise comma-separated `[<namespace>/]<name>[@<ifname>]` items.
 * Elements without a namespace get `defaultNamespace` (the pod's).
 */
export function parseNetworkSelections(annotation: string | undefined, defaultNamespace: string): NetworkSelection[] {
  return parseAnnotation("networks", annotation, defaultNamespace);
}

/** parseNetworkSelections that goes on past a bad element: the good ones, and one error per bad element. */
export function parseNetworkSelectionsEach(
  annotation: string | undefined,
  defaultNamespace: string,
): { selections: NetworkSelection[]; errors: CniError[] } {
  const errors: CniError[] = [];
  const selections = parseAnnotation("networks", annotation, defaultNamespace, (err) => errors.push(err));
  return { selections, errors };
}

/**
 * `v1.multus-cni.io/default-network`: same syntax, namespace
 * defaulting to `multusNamespace`, at most one element. Undefined when absent,
 * blank or empty (no override).
 */
export function parseDefaultNetworkAnnotation(
  annotation: string | undefined,
  multusNamespace: string,
): NetworkSelection | undefined {
  const selections = parseAnnotation("default-network", annotation, multusNamespace);
  if (selections.length > 1) {
    throw invalid(
      "default-network",
      "",
      `names ${selections.length} networks, at most one is allowed`,
      `tryLoadK8sPodDefaultNetwork: more than one default network is specified: ${annotation}`,
    );
  }
  return selections[0];
}

/**
 * The namespaces a pod may reference across isolation: the comma list of
 * `globalNamespaces` (items trimmed) when set, which then REPLACES the
 * implicit `default`; `["default"]` when unset.
 */
export function allowedGlobalNamespaces(globalNamespaces: string): string[] {
  if (globalNamespaces === "") return ["default"];
  return globalNamespaces.split(",").map((ns) => ns.trim());
}

/**
 * Namespace isolation, for the networks annotation only: with
 * `enabled`, every selection must target the pod's own namespace or one of the
 * allowed global namespaces.
 */
export function checkNamespaceIsolation(opts: {
  podNamespace: string;
  selections: NetworkSelection[];
  enabled: boolean;
  globalNamespaces: string;
}): void {
  if (!opts.enabled) return;
  const allowed = allowedGlobalNamespaces(opts.globalNamespaces);
  opts.selections.forEach((sel, i) => {
    if (sel.namespace === opts.podNamespace || allowed.includes(sel.namespace)) return;
    throw new CniError(
      ErrorCode.InvalidConfig,
      `GetNetworkDelegates: namespace isolation enabled, annotation violates permission, pod is in namespace ${opts.podNamespace} but refers to target namespace ${sel.namespace}`,
      `networks annotation element ${i} (${sel.namespace}/${sel.name}); allowed besides the pod's own: ${allowed.join(", ")}`,
    );
  });
}

/**
 * Namespace isolation for the default-network override, which Go does not
 * check (it resolves the override wherever it points): with `enabled`, the
 * override must target the pod's own namespace, an allowed global namespace,
 * or multusNamespace, where an unqualified override is looked up and where the
 * admin keeps the cluster's default networks (clusterNetwork and
 * defaultNetworks, which come from the config and are not checked at all).
 */
export function checkDefaultNetworkIsolation(opts: {
  podNamespace: string;
  override: NetworkSelection | undefined;
  enabled: boolean;
  globalNamespaces: string;
  multusNamespace: string;
}): void {
  const sel = opts.override;
  if (!opts.enabled || sel === undefined) return;
  const allowed = [...allowedGlobalNamespaces(opts.globalNamespaces), opts.multusNamespace];
  if (sel.namespace === opts.podNamespace || allowed.includes(sel.namespace)) return;
  throw new CniError(
    ErrorCode.InvalidConfig,
    `namespace isolation enabled, the default-network annotation violates permission, pod is in namespace ${opts.podNamespace} but refers to target namespace ${sel.namespace}`,
    `${sel.namespace}/${sel.name}; allowed besides the pod's own: ${allowed.join(", ")}`,
  );
}

/** Is `namespace` one of `systemNamespaces`? (Compared with the pod's namespace, never its name.) */
export function isSystemNamespace(namespace: string, systemNamespaces: readonly string[]): boolean {
  return systemNamespaces.includes(namespace);
}
