// `default-route` (Go Multus's gateway filter): at most one default gateway per family
// across the pod, and the result edits that go with moving the default route.
// The netns route changes and the libcni cache rewrite are the caller's; this
// file decides, on plain data.
//
// Deliberate difference 8: `0.0.0.0/0`, `::/0` and `::0/0` (any spelling of the
// zero address with prefix 0, or no dst at all) are all default routes; Go's
// cache rewrite only matched the strings `0.0.0.0/0` and `::0/0`.
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { Result100, Route } from "../cni/result.ts";
import { canonicalIp, parseIp } from "../cni/ip.ts";

export const ECMP_MESSAGE = "multus does not support ECMP for default-route";

/**
 * Is `dst` a default-route destination? Missing/empty, or the zero address
 * (IPv4 or IPv6, any spelling) with prefix length 0. A bare zero address
 * without a prefix counts too. (Go's network-status code also counts zero
 * addresses with a non-zero prefix such as `0.0.0.0/8`; those are not default
 * routes and we do not.)
 */
export function isDefaultRouteDst(dst: string | undefined): boolean {
  if (dst === undefined || dst === "") return true;
  const slash = dst.indexOf("/");
  const addr = slash < 0 ? dst : dst.slice(0, slash);
  if (slash >= 0 && !/^0+$/.test(dst.slice(slash + 1))) return false;
  const ip = parseIp(addr);
  if (!ip) return false;
  const b = ip.bytes;
  return ip.isV4 ? b[12] === 0 && b[13] === 0 && b[14] === 0 && b[15] === 0 : b.every((x) => x === 0);
}

function familyOf(ip: string): 4 | 6 {
  const parsed = parseIp(ip);
  if (!parsed) {
    throw new CniError(ErrorCode.InvalidConfig, `default-route: ${JSON.stringify(ip)} is not an IP address`);
  }
  // Like Go's To4(): an IPv4-mapped IPv6 address is an IPv4 gateway.
  return parsed.isV4 ? 4 : 6;
}

/** Which families a `default-route` list asks for. */
export function gatewayFamilies(gateways: readonly string[]): { v4: boolean; v6: boolean } {
  const families = gateways.map(familyOf);
  return { v4: families.includes(4), v6: families.includes(6) };
}

/**
 * Every delegate's `default-route` request (undefined: none) together may name
 * at most one IPv4 and one IPv6 gateway; more is ECMP, which Multus does not
 * support (code 7).
 */
export function checkEcmp(requests: Array<string[] | undefined>): void {
  let v4 = 0;
  let v6 = 0;
  for (const request of requests) {
    for (const gw of request ?? []) {
      if (familyOf(gw) === 4) v4++;
      else v6++;
    }
  }
  if (v4 > 1 || v6 > 1) {
    throw new CniError(
      ErrorCode.InvalidConfig,
      ECMP_MESSAGE,
      `the pod's default-route requests name ${v4} IPv4 and ${v6} IPv6 gateways; at most one of each is allowed`,
    );
  }
}

/**
 * Go Multus' gateway-filter flags, as its CheckGatewayConfig sets them: only
 * when some delegate of the pod has a `default-route` (even an empty one), and
 * then a delegate filters a family's gateway unless its own request names a
 * gateway of that family. Without any request both stay false. A Go daemon
 * reading our cache after a rollback sees what it would have written.
 */
export function gatewayFilterFlags(requests: Array<string[] | undefined>): Array<{ v4: boolean; v6: boolean }> {
  const anyRequest = requests.some((r) => r !== undefined);
  return requests.map((request) => {
    if (!anyRequest) return { v4: false, v6: false };
    const asked = gatewayFamilies(request ?? []);
    return { v4: !asked.v4, v6: !asked.v6 };
  });
}

function routeFamily(route: Route): 4 | 6 | undefined {
  const probe = route.dst || route.gw;
  if (!probe) return undefined;
  const ip = parseIp(probe.split("/")[0]!);
  return ip ? (ip.isV4 ? 4 : 6) : undefined;
}

/**
 * A copy of `result` with its default routes edited: those of a family not
 * kept are removed, and when `gateways` is non-empty every default route is
 * replaced by one `{dst, gw}` per listed gateway (`0.0.0.0/0` or `::/0`).
 * A default route whose family cannot be told (no dst, no gw) goes as soon as
 * either family goes. `routes` is dropped when nothing is left, as Go does.
 *
 * The caller derives the flags from f.17: when any delegate of the pod carries
 * `default-route`, a delegate keeps a family only if its own list names a
 * gateway of that family (see `gatewayFamilies`); `[]` therefore keeps none.
 */
export function rewriteDefaultRoutes(
  result: Result100,
  opts: { keepV4: boolean; keepV6: boolean; gateways: string[] },
): Result100 {
  const replace = opts.gateways.length > 0;
  const keep = (route: Route): boolean => {
    if (!isDefaultRouteDst(route.dst)) return true;
    if (replace) return false;
    const family = routeFamily(route);
    if (family === 4) return opts.keepV4;
    if (family === 6) return opts.keepV6;
    return opts.keepV4 && opts.keepV6;
  };
  const routes: Route[] = structuredClone((result.routes ?? []).filter(keep));
  for (const gw of opts.gateways) {
    const family = familyOf(gw);
    routes.push({ dst: family === 4 ? "0.0.0.0/0" : "::/0", gw: canonicalIp(gw)! });
  }
  const out = structuredClone(result);
  if (routes.length > 0) out.routes = routes;
  else delete out.routes;
  return out;
}
