// Interface names inside the pod (REFERENCE f.5): which delegate gets which
// name, and what a name may look like.
import { CniError, ErrorCode } from "../cni/errors.ts";

/** Linux IFNAMSIZ - 1: the longest name the kernel accepts, in bytes. */
export const MAX_IFNAME_BYTES = 15;

/**
 * Why `name` cannot be a Linux interface name, or undefined when it can. Same
 * rules as the kernel's dev_valid_name(): non-empty, at most 15 bytes, not `.`
 * or `..`, no `/`, `:` or whitespace. (Go Multus checks only length, `/` and
 * whitespace, and only in the comma form of the annotation.)
 */
export function ifnameProblem(name: string): string | undefined {
  if (name === "") return "must not be empty";
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > MAX_IFNAME_BYTES) return `is ${bytes} bytes long, the limit is ${MAX_IFNAME_BYTES}`;
  if (name === "." || name === "..") return `must not be "." or ".."`;
  if (/[\s/:]/.test(name)) return "must not contain whitespace, '/' or ':'";
  return undefined;
}

export function isValidIfname(name: string): boolean {
  return ifnameProblem(name) === undefined;
}

/**
 * One interface name per delegate, in delegate order: an explicit request
 * (`@ifname` / `interface`) wins; otherwise the master gets the request's
 * CNI_IFNAME and every other delegate `net<i>`, `i` being its index in the
 * full list (the master is 0, so the first extra network is `net1`).
 * Two delegates ending up with one name is a config error (code 7), caught
 * here instead of as a half-done ADD.
 */
export function assignIfnames(opts: {
  requestIfname: string;
  delegates: Array<{ isMaster: boolean; requested?: string }>;
}): string[] {
  const names = opts.delegates.map((d, i) => {
    if (d.requested) return d.requested;
    if (d.isMaster) return opts.requestIfname;
    return `net${i}`;
  });
  const seen = new Map<string, number>();
  names.forEach((name, i) => {
    const first = seen.get(name);
    if (first !== undefined) {
      throw new CniError(
        ErrorCode.InvalidConfig,
        `interface name "${name}" is assigned to more than one network`,
        `delegates ${first} and ${i} both use "${name}"; request distinct names with <network>@<ifname> or "interface"`,
      );
    }
    seen.set(name, i);
  });
  return names;
}
