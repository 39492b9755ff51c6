// Interface names inside the pod: which delegate gets which
// name. What a name may look like is cni/args.ts's ifnameProblem.
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { DelegateRole } from "./delegates.ts";

/**
 * One interface name per delegate, in delegate order: an explicit request
 * (`@ifname` / `interface`) wins; otherwise the cluster network gets the request's
 * CNI_IFNAME and every other delegate `net<i>`, `i` being its index in the
 * full list (the cluster network is 0, so the first extra network is `net1`).
 * Two delegates ending up with one name is a config error (code 7), caught
 * here instead of as a half-done ADD.
 */
export function assignIfnames(opts: {
  requestIfname: string;
  delegates: Array<{ role: DelegateRole; requested?: string }>;
}): string[] {
  const names = opts.delegates.map((d, i) => {
    if (d.requested) return d.requested;
    if (d.role === "cluster") return opts.requestIfname;
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
