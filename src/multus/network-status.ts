// The `k8s.v1.cni.cncf.io/network-status` annotation: entries
// built from each delegate's 1.x result, and the exact text Go Multus writes
// (json.MarshalIndent per entry, joined by "," inside "[" "]").
import type { DNS, Result100 } from "../cni/result.ts";
import { isDefaultRouteDst } from "./gateway.ts";
import { canonicalIp } from "../cni/ip.ts";

export interface NetworkStatus {
  name: string;
  interface?: string;
  ips?: string[];
  mac?: string;
  mtu?: number;
  default?: boolean;
  dns: DNS;
  "device-info"?: unknown;
  gateway?: string[];
}

/** An IP as Go's `IP.String()` prints it, without prefix length. */
function plainIp(address: string): string {
  const ip = address.split("/")[0]!;
  return canonicalIp(ip) ?? ip;
}

function copyDns(dns: DNS | undefined): DNS {
  const out: DNS = {};
  if (dns?.nameservers?.length) out.nameservers = [...dns.nameservers];
  if (dns?.domain) out.domain = dns.domain;
  if (dns?.search?.length) out.search = [...dns.search];
  if (dns?.options?.length) out.options = [...dns.options];
  return out;
}

/** Gateways of the default routes (dst 0.0.0.0/0, ::/0, ::0/0 or none), canonical. */
function defaultGateways(result: Result100): string[] {
  const out: string[] = [];
  for (const route of result.routes ?? []) {
    // Go prints a missing gw as "<nil>"; we leave it out.
    if (isDefaultRouteDst(route.dst) && route.gw) out.push(plainIp(route.gw));
  }
  return out;
}

/** An entry with its fields in Go's order and empty ones left out. */
function entry(fields: Omit<NetworkStatus, "device-info"> & { deviceInfo?: unknown }): NetworkStatus {
  const out: NetworkStatus = { name: fields.name } as NetworkStatus;
  if (fields.interface) out.interface = fields.interface;
  if (fields.ips?.length) out.ips = fields.ips;
  if (fields.mac) out.mac = fields.mac;
  if (fields.mtu) out.mtu = fields.mtu;
  if (fields.default) out.default = true;
  out.dns = fields.dns;
  if (fields.deviceInfo !== undefined && fields.deviceInfo !== null) out["device-info"] = fields.deviceInfo;
  if (fields.gateway?.length) out.gateway = fields.gateway;
  return out;
}

/**
 * The network-status entries of one delegate (Go's CreateNetworkStatuses).
 *
 * - Exactly one interface: one entry; interface, mac and mtu from it if it has
 *   a `sandbox`; every IP; `default` = `isDefault`.
 * - Several interfaces: one entry per sandbox interface, IPs placed by their
 *   `interface` index (IPs without an index go to the LAST sandbox entry, IPs
 *   pointing at a host interface are dropped), every entry gets all default-route
 *   gateways and the DNS. For the master, `default` goes to the interface of the
 *   first IP that has a gateway and an index, else to the first sandbox interface.
 *
 * Deliberate differences from Go:
 * - no sandbox interface at all (zero interfaces, or only host-side ones) but
 *   some IPs: one entry without interface fields (name, ips, default, dns,
 *   device-info, gateway); Go writes no entry, so the pod's status silently
 *   loses a network that has addresses. No interfaces and no IPs: no entry.
 * - for the master, when the first gateway IP points at a host-side interface,
 *   the first sandbox interface gets `default` (Go marks none).
 */
export function buildNetworkStatus(opts: {
  name: string;
  result: Result100;
  isDefault: boolean;
  deviceInfo?: unknown;
}): NetworkStatus[] {
  const { name, result, isDefault, deviceInfo } = opts;
  const interfaces = result.interfaces ?? [];
  const ips = result.ips ?? [];
  const dns = copyDns(result.dns);
  const gateway = defaultGateways(result);
  const sandboxIdx = interfaces.flatMap((iface, i) => (iface.sandbox ? [i] : []));

  if (interfaces.length === 1 || (sandboxIdx.length === 0 && ips.length > 0)) {
    const iface = sandboxIdx.length > 0 ? interfaces[sandboxIdx[sandboxIdx.length - 1]!] : undefined;
    return [
      entry({
        name,
        interface: iface?.name,
        ips: ips.map((ip) => plainIp(ip.address)),
        mac: iface?.mac,
        mtu: iface?.mtu,
        default: isDefault,
        dns,
        deviceInfo,
        gateway,
      }),
    ];
  }
  if (sandboxIdx.length === 0) return [];

  let defaultIdx = -1;
  if (isDefault) {
    const gwIp = ips.find((ip) => ip.gateway && ip.interface !== undefined);
    defaultIdx = gwIp && sandboxIdx.includes(gwIp.interface!) ? gwIp.interface! : sandboxIdx[0]!;
  }
  const ipsByIface = new Map<number, string[]>(sandboxIdx.map((i) => [i, []]));
  const lastSandbox = sandboxIdx[sandboxIdx.length - 1]!;
  for (const ip of ips) {
    const target = ip.interface === undefined ? lastSandbox : ip.interface;
    ipsByIface.get(target)?.push(plainIp(ip.address));
  }
  return sandboxIdx.map((i) => {
    const iface = interfaces[i]!;
    return entry({
      name,
      interface: iface.name,
      ips: ipsByIface.get(i),
      mac: iface.mac,
      mtu: iface.mtu,
      default: i === defaultIdx,
      dns: structuredClone(dns),
      deviceInfo,
      gateway: [...gateway],
    });
  });
}

// ---------------------------------------------------------------------------
// Go encoding/json text.

/** A JSON string as Go writes it: HTML-safe (<, >, & escaped), U+2028/9 escaped, lone surrogates as U+FFFD. */
function goString(s: string): string {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        out += s[i]! + s[i + 1]!;
        i++;
        continue;
      }
    }
    if (c >= 0xd800 && c <= 0xdfff) out += "\\ufffd";
    else if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += "\\\\";
    else if (c === 0x0a) out += "\\n";
    else if (c === 0x0d) out += "\\r";
    else if (c === 0x09) out += "\\t";
    else if (c === 0x08) out += "\\b";
    else if (c === 0x0c) out += "\\f";
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26 || c === 0x2028 || c === 0x2029) {
      out += `\\u${c.toString(16).padStart(4, "0")}`;
    } else out += s[i];
  }
  return `${out}"`;
}

/** json.MarshalIndent(value, prefix "", indent "    ") for plain JSON data, keys in insertion order. */
function goMarshalIndent(value: unknown, depth = 0): string {
  const pad = "    ".repeat(depth);
  const inner = "    ".repeat(depth + 1);
  if (value === null || value === undefined) return "null";
  if (typeof value === "string") return goString(value);
  if (typeof value === "number") return Number.isFinite(value) ? String(value) : "null";
  if (typeof value === "boolean") return value ? "true" : "false";
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    return `[\n${value.map((x) => inner + goMarshalIndent(x, depth + 1)).join(",\n")}\n${pad}]`;
  }
  if (typeof value === "object") {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return "{}";
    return `{\n${entries.map(([k, x]) => `${inner}${goString(k)}: ${goMarshalIndent(x, depth + 1)}`).join(",\n")}\n${pad}}`;
  }
  return "null";
}

/** An entry with Go's field order and omitempty rules, whatever order `s` has. */
function ordered(s: NetworkStatus): Record<string, unknown> {
  return entry({
    name: s.name,
    interface: s.interface,
    ips: s.ips,
    mac: s.mac,
    mtu: s.mtu,
    default: s.default,
    dns: copyDns(s.dns),
    deviceInfo: s["device-info"],
    gateway: s.gateway,
  }) as unknown as Record<string, unknown>;
}

/**
 * The annotation value, byte for byte as Go Multus writes it: each entry
 * pretty-printed with a 4-space indent, entries joined by "," inside "[" "]".
 * `device-info` is written with its keys in the order given (Go re-orders them
 * into its DeviceInfo struct order and drops keys it does not know).
 */
export function formatNetworkStatus(list: NetworkStatus[]): string {
  return `[${list.map((s) => goMarshalIndent(ordered(s))).join(",")}]`;
}
