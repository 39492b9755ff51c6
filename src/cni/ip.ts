// IP, CIDR and MAC text as Go's `net` package reads and prints it, so that
// what we validate and what we write (network-status `ips`, `gateway`) match
// the Go Multus byte for byte. Pure; no dependencies.

/** A parsed address: 16 bytes, and whether Go's `To4()` is non-nil (IPv4 or IPv4-mapped). */
export interface ParsedIp {
  bytes: Uint8Array;
  isV4: boolean;
}

const V4_IN_V6_PREFIX = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff];

function parseIpv4(s: string): Uint8Array | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    // Go (since 1.17) rejects leading zeros: they used to mean octal elsewhere.
    if (!/^[0-9]{1,3}$/.test(p) || (p.length > 1 && p[0] === "0")) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out[i] = n;
  }
  return out;
}

function parseIpv6(s: string): Uint8Array | undefined {
  if (s.includes("%")) return undefined; // zones are not addresses
  const out = new Uint8Array(16);
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (h: string): string[] => (h === "" ? [] : h.split(":"));
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  const all = [...head, ...tail];
  // An embedded IPv4 address may only be the very last group.
  let v4: Uint8Array | undefined;
  const last = all[all.length - 1];
  if (last?.includes(".")) {
    v4 = parseIpv4(last);
    if (!v4) return undefined;
    if (tail.length > 0) tail.pop();
    else head.pop();
  }
  const words = head.length + tail.length + (v4 ? 2 : 0);
  if (halves.length === 2 ? words > 7 : words !== 8) return undefined;
  const put = (groups: string[], at: number): boolean => {
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return false;
      const n = parseInt(g, 16);
      out[at + 2 * i] = n >> 8;
      out[at + 2 * i + 1] = n & 0xff;
    }
    return true;
  };
  if (!put(head, 0)) return undefined;
  const tailBytes = tail.length * 2 + (v4 ? 4 : 0);
  if (!put(tail, 16 - tailBytes)) return undefined;
  if (v4) out.set(v4, 12);
  return out;
}

function isV4Mapped(b: Uint8Array): boolean {
  return V4_IN_V6_PREFIX.every((x, i) => b[i] === x);
}

/** Go `net.ParseIP`: dotted IPv4 or RFC 4291 IPv6 (no zone); undefined when invalid. */
export function parseIp(s: string): ParsedIp | undefined {
  const v4 = parseIpv4(s);
  if (v4) {
    const bytes = new Uint8Array(16);
    bytes.set(V4_IN_V6_PREFIX);
    bytes.set(v4, 12);
    return { bytes, isV4: true };
  }
  if (!s.includes(":")) return undefined;
  const v6 = parseIpv6(s);
  return v6 ? { bytes: v6, isV4: isV4Mapped(v6) } : undefined;
}

/** Go `net.IP.String()`: dotted IPv4 (also for IPv4-mapped), else RFC 5952 IPv6. */
export function formatIp(ip: ParsedIp): string {
  const b = ip.bytes;
  if (ip.isV4) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((b[i]! << 8) | b[i + 1]!);
  // Longest run of zero words (first one wins); runs of one word stay.
  let bestAt = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return words.map((w) => w.toString(16)).join(":");
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  return `${hex(words.slice(0, bestAt))}::${hex(words.slice(bestAt + bestLen))}`;
}

/** Canonical text of an IP (Go's `String()`), or undefined when `s` is not an IP. */
export function canonicalIp(s: string): string | undefined {
  const ip = parseIp(s);
  return ip ? formatIp(ip) : undefined;
}

export interface ParsedCidr {
  ip: ParsedIp;
  prefixLength: number;
}

/** Go `net.ParseCIDR`: `<ip>/<decimal prefix>`, prefix ≤ 32 for dotted IPv4, ≤ 128 otherwise. */
export function parseCidr(s: string): ParsedCidr | undefined {
  const slash = s.indexOf("/");
  if (slash < 0) return undefined;
  const addr = s.slice(0, slash);
  const len = s.slice(slash + 1);
  const ip = parseIp(addr);
  if (!ip || !/^[0-9]+$/.test(len)) return undefined;
  const prefixLength = Number(len);
  const max = parseIpv4(addr) ? 32 : 128;
  return prefixLength <= max ? { ip, prefixLength } : undefined;
}

/**
 * Go `net.ParseMAC`: IEEE 802 MAC-48, EUI-48, EUI-64 or 20-octet InfiniBand
 * link-layer addresses, written `aa:bb:..`, `aa-bb-..` or `aabb.ccdd...`.
 */
export function isMacAddress(s: string): boolean {
  if (s.length < 14) return false;
  const validCount = (n: number) => n === 6 || n === 8 || n === 20;
  if (s[2] === ":" || s[2] === "-") {
    if ((s.length + 1) % 3 !== 0) return false;
    const n = (s.length + 1) / 3;
    if (!validCount(n)) return false;
    const sep = s[2]!;
    for (let i = 0; i < n; i++) {
      const x = i * 3;
      if (!/^[0-9a-fA-F]{2}$/.test(s.slice(x, x + 2))) return false;
      if (i < n - 1 && s[x + 2] !== sep) return false;
    }
    return true;
  }
  if (s[4] === ".") {
    if ((s.length + 1) % 5 !== 0) return false;
    const n = (2 * (s.length + 1)) / 5;
    if (!validCount(n)) return false;
    for (let x = 0; x < s.length; x += 5) {
      if (!/^[0-9a-fA-F]{4}$/.test(s.slice(x, x + 4))) return false;
      if (x + 4 < s.length && s[x + 4] !== ".") return false;
    }
    return true;
  }
  return false;
}
