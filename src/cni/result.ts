// Result shapes per spec generation and conversion through the 1.x hub.
// (Types first; the conversion functions follow them.)

import { goJson } from "../util/go-json.ts";
import * as v from "valibot";
import { CniError, ErrorCode } from "./errors.ts";
import { parseIp } from "./ip.ts";
import { jsonObject, validate } from "./schemas.ts";
import { CURRENT_VERSION, SUPPORTED_VERSIONS } from "./spec.ts";
import { DEFAULT_CONFIG_VERSION, isSupportedVersion, resultGeneration } from "./version.ts";

/** SPEC 1.x "interfaces" entry. */
export interface Interface {
  name: string;
  mac?: string;
  mtu?: number;
  sandbox?: string;
  socketPath?: string;
  pciID?: string;
}
/** SPEC 1.x "ips" entry; `interface` indexes into `interfaces`. */
export interface IPConfig {
  interface?: number;
  address: string;
  gateway?: string;
}
/**
 * `dst` may be missing: plugins print such routes and libcni accepts them
 * (Go leaves the zero IPNet); Multus reads a missing dst with a gateway as a
 * default route (src/multus/gateway.ts).
 */
export interface Route {
  dst?: string;
  gw?: string;
  mtu?: number;
  advmss?: number;
  priority?: number;
  table?: number;
  scope?: number;
}
export interface DNS {
  nameservers?: string[];
  domain?: string;
  search?: string[];
  options?: string[];
}
/** The hub: a result in 1.x form (1.0.0 and 1.1.0 share it). */
export interface Result100 {
  cniVersion: string;
  interfaces?: Interface[];
  ips?: IPConfig[];
  routes?: Route[];
  dns?: DNS;
}

// ---------------------------------------------------------------------------
// Conversion. Like Go's pkg/types/internal/convert.go, every version converts
// through one hub (1.x) instead of every pair: toCurrentResult reads any
// supported version into the hub, convertResult writes the hub as any version.
// Addresses are validated but passed through verbatim (Go re-renders them via
// net.IPNet.String(); we do not re-canonicalise, e.g. upper-case IPv6 stays).

/** 4 or 6 as Go's `IP.To4() != nil` decides (IPv4-mapped IPv6 counts as 4); 0 if not an IP. */
function ipFamily(ip: string): 0 | 4 | 6 {
  const parsed = parseIp(ip); // Go's net.ParseIP (no zones); not node:net, which would slow the shim's start
  return parsed ? (parsed.isV4 ? 4 : 6) : 0;
}

function cidrFamily(s: string): 0 | 4 | 6 {
  const slash = s.lastIndexOf("/");
  if (slash < 0) return 0;
  const ip = s.slice(0, slash);
  const prefix = s.slice(slash + 1);
  const family = ipFamily(ip);
  if (family === 0 || !/^\d{1,3}$/.test(prefix)) return 0;
  return Number(prefix) <= (ip.includes(":") ? 128 : 32) ? family : 0;
}

// Go decodes JSON null like a missing field and "" as a nil net.IP, so both
// are accepted wherever a field is optional.
const Int = v.pipe(v.number(), v.integer("expected an integer"));
const Cidr = v.pipe(
  v.string(),
  v.check((s) => cidrFamily(s) !== 0, "expected an address in CIDR form"),
);
const OptIp = v.nullish(
  v.pipe(
    v.string(),
    v.check((s) => s === "" || ipFamily(s) !== 0, "expected an IP address"),
  ),
);
const OptStr = v.nullish(v.string());
const OptStrs = v.nullish(v.array(v.string()));

// Every object of a result refuses an array (valibot would read one as keys "0", "1", ...):
// Go's decoder fails on an array where a struct goes (UnmarshalTypeError), so libcni refuses
// such a result.
const DnsSchema = jsonObject(
  v.looseObject({ nameservers: OptStrs, domain: OptStr, search: OptStrs, options: OptStrs }),
);
const OptCidr = v.nullish(
  v.pipe(
    v.string(),
    v.check((s) => s === "" || cidrFamily(s) !== 0, "expected an address in CIDR form"),
  ),
);
const RouteSchema = jsonObject(
  v.looseObject({
    dst: OptCidr,
    gw: OptIp,
    mtu: v.nullish(Int),
    advmss: v.nullish(Int),
    priority: v.nullish(Int),
    table: v.nullish(Int),
    scope: v.nullish(Int),
  }),
);
const Interface100Schema = jsonObject(
  v.looseObject({
    name: OptStr,
    mac: OptStr,
    mtu: v.nullish(Int),
    sandbox: OptStr,
    socketPath: OptStr,
    pciID: OptStr,
  }),
);
const IP100Schema = jsonObject(v.looseObject({ interface: v.nullish(Int), address: Cidr, gateway: OptIp }));
const Result100Schema = v.looseObject({
  cniVersion: OptStr,
  interfaces: v.nullish(v.array(Interface100Schema)),
  ips: v.nullish(v.array(IP100Schema)),
  routes: v.nullish(v.array(RouteSchema)),
  dns: v.nullish(DnsSchema),
});
// 0.3.x/0.4.0: interfaces know only name/mac/sandbox; `version` is read and dropped
// (the hub derives it from the address again, as Go's converters do).
const Result040Schema = v.looseObject({
  cniVersion: OptStr,
  interfaces: v.nullish(v.array(jsonObject(v.looseObject({ name: OptStr, mac: OptStr, sandbox: OptStr })))),
  ips: v.nullish(
    v.array(jsonObject(v.looseObject({ version: OptStr, interface: v.nullish(Int), address: Cidr, gateway: OptIp }))),
  ),
  routes: v.nullish(v.array(RouteSchema)),
  dns: v.nullish(DnsSchema),
});
const IPConfig020Schema = jsonObject(
  v.looseObject({ ip: Cidr, gateway: OptIp, routes: v.nullish(v.array(RouteSchema)) }),
);
const Result020Schema = v.looseObject({
  cniVersion: OptStr,
  ip4: v.nullish(IPConfig020Schema),
  ip6: v.nullish(IPConfig020Schema),
  dns: v.nullish(DnsSchema),
});

type Loose<T> = { [K in keyof T]?: T[K] | null };

// The hub keeps what Go's structs would keep: empty strings, zero ints
// (mtu/advmss/priority) and empty lists are "absent"; table/scope are pointers
// in Go, so 0 is kept.
const nonEmpty = (s: unknown): s is string => typeof s === "string" && s !== "";
const nonZero = (n: unknown): n is number => typeof n === "number" && n !== 0;
const isSet = (n: unknown): n is number => typeof n === "number";

/** Which of a struct's optional fields the hub keeps, in Go's field order. */
type KeepRules = Record<string, (value: unknown) => boolean>;
const INTERFACE_FIELDS: KeepRules = {
  mac: nonEmpty,
  mtu: nonZero,
  sandbox: nonEmpty,
  socketPath: nonEmpty,
  pciID: nonEmpty,
};
const ROUTE_FIELDS: KeepRules = {
  dst: nonEmpty,
  gw: nonEmpty,
  mtu: nonZero,
  advmss: nonZero,
  priority: nonZero,
  table: isSet,
  scope: isSet,
};

function keptFields(src: object, rules: KeepRules): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, keep] of Object.entries(rules)) {
    const value = (src as Record<string, unknown>)[key];
    if (keep(value)) out[key] = value;
  }
  return out;
}

function cleanInterface(i: Loose<Interface>): Interface {
  return { name: i.name ?? "", ...keptFields(i, INTERFACE_FIELDS) };
}

function cleanIp(ip: Loose<IPConfig> & { address: string }): IPConfig {
  const out: IPConfig = {} as IPConfig;
  if (isSet(ip.interface)) out.interface = ip.interface;
  out.address = ip.address;
  if (nonEmpty(ip.gateway)) out.gateway = ip.gateway;
  return out;
}

function cleanRoute(r: Loose<Route>): Route {
  return keptFields(r, ROUTE_FIELDS);
}

function cleanDns(d: Loose<DNS> | null | undefined): DNS {
  const out: DNS = {};
  if (!d) return out;
  if (d.nameservers?.length) out.nameservers = [...d.nameservers];
  if (nonEmpty(d.domain)) out.domain = d.domain;
  if (d.search?.length) out.search = [...d.search];
  if (d.options?.length) out.options = [...d.options];
  return out;
}

function buildHub(parts: { interfaces: Interface[]; ips: IPConfig[]; routes: Route[]; dns: DNS }): Result100 {
  const out: Result100 = { cniVersion: CURRENT_VERSION };
  if (parts.interfaces.length) out.interfaces = parts.interfaces;
  if (parts.ips.length) out.ips = parts.ips;
  if (parts.routes.length) out.routes = parts.routes;
  if (Object.keys(parts.dns).length) out.dns = parts.dns;
  return out;
}

/**
 * Any supported version's result (as parsed JSON) -> the 1.x hub, cniVersion
 * "1.1.0". The result's own `cniVersion` wins; libcni tolerates results
 * without one and reads them in the config's version (`fallbackVersion`).
 * Malformed input is code 6 naming the field; an unknown version is code 1.
 */
export function toCurrentResult(raw: unknown, fallbackVersion: string): Result100 {
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) {
    throw new CniError(ErrorCode.DecodeFailure, "failed to decode result", "expected a JSON object");
  }
  const own = (raw as Record<string, unknown>).cniVersion;
  if (own !== undefined && own !== null && typeof own !== "string") {
    throw new CniError(
      ErrorCode.DecodeFailure,
      `invalid result: field "cniVersion": expected string, got ${JSON.stringify(own)}`,
    );
  }
  const version = own || fallbackVersion || DEFAULT_CONFIG_VERSION;
  if (!isSupportedVersion(version)) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `unsupported CNI result version ${JSON.stringify(version)}`,
      `supported: ${SUPPORTED_VERSIONS.join(", ")}`,
    );
  }
  switch (resultGeneration(version)) {
    case "1.x": {
      const r = validate(Result100Schema, raw, ErrorCode.DecodeFailure, "result");
      return buildHub({
        interfaces: (r.interfaces ?? []).map(cleanInterface),
        ips: (r.ips ?? []).map(cleanIp),
        routes: (r.routes ?? []).map(cleanRoute),
        dns: cleanDns(r.dns),
      });
    }
    case "0.4": {
      const r = validate(Result040Schema, raw, ErrorCode.DecodeFailure, "result");
      return buildHub({
        interfaces: (r.interfaces ?? []).map((i) => cleanInterface({ name: i.name, mac: i.mac, sandbox: i.sandbox })),
        ips: (r.ips ?? []).map((ip) => cleanIp({ interface: ip.interface, address: ip.address, gateway: ip.gateway })),
        routes: (r.routes ?? []).map(cleanRoute),
        dns: cleanDns(r.dns),
      });
    }
    case "0.2": {
      // Go's convertFrom02x: ip4 then ip6, each bringing its routes along.
      const r = validate(Result020Schema, raw, ErrorCode.DecodeFailure, "result");
      const ipcs = [r.ip4, r.ip6].filter((c) => c != null);
      return buildHub({
        interfaces: [],
        ips: ipcs.map((c) => cleanIp({ address: c.ip, gateway: c.gateway })),
        routes: ipcs.flatMap((c) => (c.routes ?? []).map(cleanRoute)),
        dns: cleanDns(r.dns),
      });
    }
  }
}

// Wire forms. Field order follows Go's struct order for 0.x; for 1.x Go
// round-trips the struct through a map (to drop an empty dns), which sorts
// every key alphabetically, so we do the same to print identical bytes.

function wireInterface040(i: Interface): Record<string, unknown> {
  const out: Record<string, unknown> = { name: i.name ?? "" };
  if (nonEmpty(i.mac)) out.mac = i.mac;
  if (nonEmpty(i.sandbox)) out.sandbox = i.sandbox;
  return out;
}

function wireDns(d: DNS | undefined): Record<string, unknown> {
  return { ...cleanDns(d) };
}

function sortKeysDeep(x: unknown): unknown {
  if (Array.isArray(x)) return x.map(sortKeysDeep);
  if (typeof x !== "object" || x === null) return x;
  const o = x as Record<string, unknown>;
  return Object.fromEntries(
    Object.keys(o)
      .sort()
      .map((k) => [k, sortKeysDeep(o[k])]),
  );
}

function wire100(r: Result100, version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version };
  if (r.interfaces?.length) out.interfaces = r.interfaces.map(cleanInterface);
  if (r.ips?.length) out.ips = r.ips.map(cleanIp);
  if (r.routes?.length) out.routes = r.routes.map(cleanRoute);
  const dns = cleanDns(r.dns);
  if (Object.keys(dns).length) out.dns = dns;
  return sortKeysDeep(out) as Record<string, unknown>;
}

/** Go's convertTo04x: interfaces lose mtu/socketPath/pciID, IPs gain "version", dns is always printed. */
function wire040(r: Result100, version: string): Record<string, unknown> {
  const out: Record<string, unknown> = { cniVersion: version };
  if (r.interfaces?.length) out.interfaces = r.interfaces.map(wireInterface040);
  if (r.ips?.length) {
    out.ips = r.ips.map((ip) => {
      const o: Record<string, unknown> = { version: ipFamily(cidrIp(ip.address)) === 4 ? "4" : "6" };
      Object.assign(o, cleanIp(ip));
      return o;
    });
  }
  if (r.routes?.length) out.routes = r.routes.map(cleanRoute);
  out.dns = wireDns(r.dns);
  return out;
}

/**
 * Go's 0.4.0 -> 0.2.0 converter: 0.1/0.2 hold one address per family, so the
 * FIRST IPv4 and the FIRST IPv6 address are kept and later ones are dropped
 * silently; routes go to the family of their dst with only dst/gw, and a
 * route whose family has no address is dropped. No address at all cannot be
 * represented, and Go fails then too ("cannot convert: no valid IP addresses").
 */
function wire020(r: Result100, version: string): Record<string, unknown> {
  const byFamily = new Map<4 | 6, { ip: string; gateway?: string; routes: Record<string, unknown>[] }>();
  for (const ip of r.ips ?? []) {
    const family = ipFamily(cidrIp(ip.address)) === 4 ? 4 : 6;
    if (byFamily.has(family)) continue;
    byFamily.set(family, { ip: ip.address, ...(nonEmpty(ip.gateway) ? { gateway: ip.gateway } : {}), routes: [] });
  }
  if (byFamily.size === 0) {
    throw new CniError(
      ErrorCode.IncompatibleVersion,
      `cannot convert result to cniVersion ${version}`,
      "no valid IP addresses (0.1.0/0.2.0 results need at least one)",
    );
  }
  for (const route of r.routes ?? []) {
    // A route without dst (a default route) goes with its gateway's family.
    const probe = route.dst ? cidrIp(route.dst) : route.gw;
    if (!probe) continue;
    const ipc = byFamily.get(ipFamily(probe) === 4 ? 4 : 6);
    ipc?.routes.push({ ...(route.dst ? { dst: route.dst } : {}), ...(nonEmpty(route.gw) ? { gw: route.gw } : {}) });
  }
  const out: Record<string, unknown> = { cniVersion: version };
  for (const family of [4, 6] as const) {
    const ipc = byFamily.get(family);
    if (!ipc) continue;
    const { routes, ...rest } = ipc;
    out[`ip${family}`] = routes.length ? { ...rest, routes } : rest;
  }
  out.dns = wireDns(r.dns);
  return out;
}

function cidrIp(cidr: string): string {
  const slash = cidr.lastIndexOf("/");
  return slash < 0 ? cidr : cidr.slice(0, slash);
}

/**
 * The hub as the wire object of `toVersion` (which also becomes its
 * cniVersion). An empty toVersion means 0.1.0, as libcni reads a config
 * without cniVersion. Code 1 for an unknown version or a result 0.1/0.2
 * cannot hold.
 */
export function convertResult(result: Result100, toVersion: string): Record<string, unknown> {
  const version = toVersion || DEFAULT_CONFIG_VERSION;
  switch (resultGeneration(version)) {
    case "1.x":
      return wire100(result, version);
    case "0.4":
      return wire040(result, version);
    case "0.2":
      return wire020(result, version);
  }
}

/**
 * The result printed when the pod is gone (ADD for a pod that no longer
 * exists must still succeed). Unlike Go's, which prints the 1.x shape under
 * any version, this converts properly and so works for 0.1.0 through 1.1.0.
 */
export function placeholderResult(p: { cniVersion: string; ifname: string; netns: string }): Record<string, unknown> {
  const hub: Result100 = {
    cniVersion: CURRENT_VERSION,
    interfaces: [{ name: p.ifname, sandbox: p.netns }],
    ips: [{ address: "0.0.0.0/0", gateway: "0.0.0.0" }],
  };
  return convertResult(hub, p.cniVersion);
}

/**
 * JSON as Go's json.MarshalIndent(v, "", "    ") prints it: 4-space indent,
 * no trailing newline, and <, >, &, U+2028, U+2029 escaped (Go's HTML-safe
 * default). Those characters can only occur inside JSON strings, so a plain
 * replace on the output is safe.
 */
export function formatCniJson(value: unknown): string {
  return goJson(value, 4);
}
