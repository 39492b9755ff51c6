// Real network namespaces and links for end-to-end tests; every name is random
// and everything made is removed by cleanup(), even after a failure.
import { $ } from "bun";

export interface NetnsFixture {
  name: string;
  path: string;
  /** Links in `ns` (brief). */
  links(): Promise<string[]>;
  /** IPv4/IPv6 addresses (CIDR) on `ifname` inside the namespace. */
  addrs(ifname: string): Promise<string[]>;
  routes(family: 4 | 6): Promise<string>;
}

export function randomSuffix(len = 6): string {
  return Math.random()
    .toString(36)
    .slice(2, 2 + len)
    .padEnd(len, "0");
}

export async function createNetns(prefix = "mt"): Promise<NetnsFixture> {
  const name = `${prefix}-${randomSuffix(8)}`;
  await $`ip netns add ${name}`.quiet();
  return {
    name,
    path: `/var/run/netns/${name}`,
    async links() {
      const out = await $`ip -n ${name} -o link show`.nothrow().quiet().text();
      return out
        .split("\n")
        .filter(Boolean)
        .map((l) => l.split(":")[1]!.trim().split("@")[0]!);
    },
    async addrs(ifname: string) {
      const out = await $`ip -n ${name} -j addr show dev ${ifname}`.nothrow().quiet().text();
      if (!out.trim()) return [];
      const parsed = JSON.parse(out) as Array<{
        addr_info: Array<{ local: string; prefixlen: number; scope: string }>;
      }>;
      return parsed.flatMap((l) =>
        l.addr_info.filter((a) => a.scope !== "link").map((a) => `${a.local}/${a.prefixlen}`),
      );
    },
    async routes(family: 4 | 6) {
      return $`ip -n ${name} -${family} route show`.nothrow().quiet().text();
    },
  };
}

export async function deleteNetns(name: string): Promise<void> {
  await $`ip netns del ${name}`.nothrow().quiet();
}

/** A veth pair in the host namespace; `a` is up (a macvlan parent). */
export async function createVethPair(prefix = "mv"): Promise<{ a: string; b: string }> {
  const s = randomSuffix(5);
  const a = `${prefix}${s}a`;
  const b = `${prefix}${s}b`;
  await $`ip link add ${a} type veth peer name ${b}`.quiet();
  await $`ip link set ${a} up`.quiet();
  return { a, b };
}

export async function deleteLink(name: string): Promise<void> {
  await $`ip link del ${name}`.nothrow().quiet();
}

export async function linkExists(name: string, netns?: string): Promise<boolean> {
  const r = netns
    ? await $`ip -n ${netns} link show ${name}`.nothrow().quiet()
    : await $`ip link show ${name}`.nothrow().quiet();
  return r.exitCode === 0;
}

export interface Cleanup {
  add(fn: () => Promise<unknown> | unknown): void;
  run(): Promise<void>;
}

/** Collects cleanup steps and runs them all (in reverse), ignoring failures. */
export function createCleanup(): Cleanup {
  const steps: Array<() => Promise<unknown> | unknown> = [];
  return {
    add: (fn) => void steps.push(fn),
    async run() {
      while (steps.length) {
        const fn = steps.pop()!;
        try {
          await fn();
        } catch {
          // keep cleaning
        }
      }
    },
  };
}
