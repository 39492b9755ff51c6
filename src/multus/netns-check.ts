// Before the first delegate of an ADD runs: the pod's netns must be a network
// namespace we can open. A netns that is gone (the sandbox died) otherwise
// surfaces as the first plugin's error, after IPAM may already have run, and
// Go Multus refuses it up front too (ns.GetNS in its cmdAdd).
import { statfsSync } from "node:fs";
import { join } from "node:path";
import { CniError, ErrorCode } from "../cni/errors.ts";

/** statfs f_type of nsfs (bind-mounted /var/run/netns/x, /proc/<pid>/ns/net) and of procfs (older kernels). */
const NSFS_MAGIC = 0x6e736673;
const PROC_SUPER_MAGIC = 0x9fa0;

/**
 * Throws code 999 `failed to open netns "<path>"` (the words plugins and Go
 * Multus use) when `netns` does not exist or is not a network namespace. In
 * chroot mode the path is the host's, as the chrooted delegates see it.
 */
export async function checkNetns(netns: string, chrootDir?: string): Promise<void> {
  const onHost = netnsOnHost(netns, chrootDir);
  let type: number;
  try {
    // Synchronous: a statfs of a nsfs mount is microseconds, an async one a thread-pool trip.
    type = Number(statfsSync(onHost).type);
  } catch (err) {
    throw new CniError(ErrorCode.Internal, `failed to open netns "${netns}"`, (err as Error).message);
  }
  if (type !== NSFS_MAGIC && type !== PROC_SUPER_MAGIC) {
    throw new CniError(
      ErrorCode.Internal,
      `failed to open netns "${netns}"`,
      `${netns} is not a network namespace (filesystem type 0x${type.toString(16)})`,
    );
  }
}

function netnsOnHost(netns: string, chrootDir: string | undefined): string {
  return chrootDir ? join(chrootDir, netns) : netns;
}

/**
 * Every interface name the ADD will create must be free in the pod's netns
 * (Go Multus's validateIfName), so a clash fails before any delegate runs
 * instead of half-way, after earlier delegates attached and got rolled back.
 */
export function checkIfnamesFree(o: {
  netns: string;
  chrootDir?: string;
  ifnames: readonly string[];
  existingLinks?: (path: string, names: readonly string[]) => string[];
}): void {
  if (!o.existingLinks || o.ifnames.length === 0) return;
  let taken: string[];
  try {
    taken = o.existingLinks(netnsOnHost(o.netns, o.chrootDir), o.ifnames);
  } catch (err) {
    throw new CniError(ErrorCode.Internal, `failed to open netns "${o.netns}"`, (err as Error).message);
  }
  if (taken.length > 0) {
    throw new CniError(
      ErrorCode.Internal,
      `validateIfName: interface name ${taken[0]} already exists`,
      `in netns ${o.netns}: ${taken.join(", ")}`,
    );
  }
}
