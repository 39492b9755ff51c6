// The leak audit every fault case ends with: what a node would be left holding
// after the fault and the runtime's retries. Each finding names what leaked, so
// a failing case says what to look at.
import { $ } from "bun";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { listDir, storeIps, type BridgeNet } from "../helpers/e2e.ts";

export interface AuditScope {
  cniDir: string;
  /** host-local networks (name, dataDir) and, for bridges, their bridge; prefix: the /24's first three octets. */
  networks: Array<Pick<BridgeNet, "name" | "dataDir" | "prefix"> & { bridge?: string }>;
  /** Every container ID of the case starts with this: an orphan process carries it in CNI_CONTAINERID. */
  containerTag: string;
  /** Containers that are meant to be attached still (their cache files and leases are expected). */
  attached?: readonly string[];
  /** Tombstones expected in cniDir/tombstones (file names); default none. */
  tombstones?: readonly string[];
}

/** Everything left behind, as readable lines; empty means clean. */
export async function auditLeaks(scope: AuditScope): Promise<string[]> {
  const found: string[] = [];
  const attached = new Set(scope.attached ?? []);
  for (const net of scope.networks) {
    const ips = await storeIps(net.dataDir, net.name);
    if (ips.length > attached.size * 1) found.push(`host-local leases of ${net.name}: ${ips.join(" ")}`);
    if (net.bridge) {
      const ports = await bridgePorts(net.bridge);
      if (ports.length > attached.size) found.push(`interfaces on bridge ${net.bridge}: ${ports.join(" ")}`);
    }
  }
  found.push(...(await hostAddressesIn(scope.networks)));
  found.push(...(await cacheLeftovers(scope.cniDir, attached)));
  const stones = await listDir(join(scope.cniDir, "tombstones"));
  const expected = new Set(scope.tombstones ?? []);
  const extra = stones.filter((s) => !expected.has(s));
  if (extra.length > 0) found.push(`tombstones: ${extra.join(" ")}`);
  const missing = [...expected].filter((s) => !stones.includes(s));
  if (missing.length > 0) found.push(`expected tombstones missing: ${missing.join(" ")}`);
  found.push(...(await orphanProcesses(scope.containerTag)));
  return found;
}

/** Delegate caches, result caches and temp files in cniDir of containers not meant to be attached. */
async function cacheLeftovers(cniDir: string, attached: ReadonlySet<string>): Promise<string[]> {
  const found: string[] = [];
  const top = (await listDir(cniDir)).filter((f) => f !== "results" && f !== "tombstones");
  const temp = [...top, ...(await listDir(join(cniDir, "results")))].filter((f) => f.endsWith(".tmp"));
  if (temp.length > 0) found.push(`temp files: ${temp.join(" ")}`);
  const caches = top.filter((f) => !f.endsWith(".tmp") && !attached.has(f));
  if (caches.length > 0) found.push(`delegate caches: ${caches.join(" ")}`);
  const results = (await listDir(join(cniDir, "results"))).filter(
    (f) => !f.endsWith(".tmp") && ![...attached].some((id) => f.includes(`-${id}-`)),
  );
  if (results.length > 0) found.push(`result caches: ${results.join(" ")}`);
  for (const f of caches) {
    const text = await readFile(join(cniDir, f), "utf8").catch(() => "");
    if (text !== "" && !isJson(text)) found.push(`corrupt delegate cache: ${f}`);
  }
  return found;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

async function bridgePorts(bridge: string): Promise<string[]> {
  const out = await $`ip -o link show master ${bridge}`.nothrow().quiet().text();
  return out
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(":")[1]!.trim().split("@")[0]!);
}

/**
 * Host interfaces other than the networks' bridges holding an address in one of their
 * subnets: the host side of a ptp veth, say, that outlived its pod.
 */
async function hostAddressesIn(networks: AuditScope["networks"]): Promise<string[]> {
  const out = await $`ip -o -4 addr show`.nothrow().quiet().text();
  const found: string[] = [];
  for (const line of out.split("\n").filter(Boolean)) {
    const [, dev, , , cidr] = line.split(/\s+/);
    for (const net of networks) {
      if (dev !== net.bridge && cidr?.startsWith(`${net.prefix}.`)) found.push(`host interface ${dev} holds ${cidr}`);
    }
  }
  return found;
}

/** Processes (plugins and their children) started for one of the case's containers, still running. */
export async function orphanProcesses(containerTag: string): Promise<string[]> {
  const found: string[] = [];
  const needle = `CNI_CONTAINERID=${containerTag}`;
  for (const pid of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    const environ = await readFile(`/proc/${pid}/environ`, "latin1").catch(() => "");
    if (!environ.split("\0").some((kv) => kv.startsWith(needle))) continue;
    const stat = await readFile(`/proc/${pid}/stat`, "latin1").catch(() => "");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    if (state === "Z" || state === "") continue;
    const cmd = (await readFile(`/proc/${pid}/cmdline`, "latin1").catch(() => "")).split("\0").join(" ");
    found.push(`process ${pid} still running: ${cmd.trim()}`);
  }
  return found;
}
