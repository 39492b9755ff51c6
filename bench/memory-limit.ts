// The DaemonSet's memory limit, derived instead of guessed. In thick mode the
// delegates are the daemon's children, so they are charged to its container's
// memory cgroup: what a burst needs is the daemon's own peak plus
// `connectionLimit` delegates running at once. "Peak" here is the working set
// (anonymous + mapped file pages, sampled): the cgroup's usage also counts page
// cache, which the kernel reclaims before it OOM-kills anything.
//
//   bun run bench/memory-limit.ts [--burst=150] [--limits=256,160,128,96] [--binary=dist/multus]
//
// 1. Derive: the daemon (DaemonSet config and environment, fake API, real
//    bridge/macvlan/host-local delegates in real netns) in a memory cgroup with
//    no limit; a burst of `burst` pods with connectionLimit 1, then with the
//    DaemonSet's connectionLimit L. The working sets give
//      delegatePeak = (ws(limit L) - ws(limit 1)) / (L - 1)
//      daemonPeak   = ws(limit 1) - delegatePeak
//      needed       = daemonPeak + L x delegatePeak
// 2. Check: the same burst in a cgroup of each candidate limit: no OOM kill, no
//    failed pod, the daemon alive.
// Needs root and the cgroup v1 memory controller (or cgroup v2 at /sys/fs/cgroup).
import { mkdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { BINARY } from "../tests/helpers/multus.ts";
import { createCleanup } from "../tests/helpers/netns.ts";
import {
  createHost,
  createWorkdir,
  daemonsetConfig,
  envVariants,
  planHost,
  removeHost,
  runConcurrent,
  startCluster,
  startDaemon,
  sweepStale,
  type Host,
} from "./k8s.ts";

const MiB = 1024 * 1024;

interface Cgroup {
  path: string;
  v2: boolean;
}

async function ownMemoryCgroup(): Promise<Cgroup> {
  const lines = (await readFile("/proc/self/cgroup", "utf8")).trim().split("\n");
  const v1 = lines.map((l) => l.split(":")).find((f) => f[1]?.split(",").includes("memory"));
  if (v1) return { path: join("/sys/fs/cgroup/memory", v1[2]!), v2: false };
  const unified = lines.find((l) => l.startsWith("0::"));
  if (unified) return { path: join("/sys/fs/cgroup", unified.slice(3)), v2: true };
  throw new Error("no memory cgroup found in /proc/self/cgroup");
}

async function createCgroup(parent: Cgroup, name: string, limitBytes?: number): Promise<Cgroup> {
  const cg = { path: join(parent.path, name), v2: parent.v2 };
  await mkdir(cg.path);
  if (limitBytes !== undefined) {
    await writeFile(join(cg.path, cg.v2 ? "memory.max" : "memory.limit_in_bytes"), String(limitBytes));
    // No swap to hide behind: a limit that is too small must show as an OOM kill.
    if (cg.v2) await writeFile(join(cg.path, "memory.swap.max"), "0").catch(() => undefined);
    else await writeFile(join(cg.path, "memory.memsw.limit_in_bytes"), String(limitBytes)).catch(() => undefined);
  }
  return cg;
}

const readNum = async (p: string) => Number((await readFile(p, "utf8")).trim().split(/\s+/)[0]);

async function peakBytes(cg: Cgroup): Promise<number> {
  return readNum(join(cg.path, cg.v2 ? "memory.peak" : "memory.max_usage_in_bytes"));
}

/**
 * What the cgroup cannot give back under pressure: anonymous memory plus file
 * pages mapped into its processes (the executables' text). The peak usage above
 * also counts page cache the kernel reclaims before it OOM-kills, so without a
 * limit it grows with whatever was written (caches, logs) and says little.
 */
async function workingSetBytes(cg: Cgroup): Promise<number> {
  const stat = await readFile(join(cg.path, "memory.stat"), "utf8");
  const field = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(stat)?.[1] ?? 0);
  return cg.v2 ? field("anon") + field("file_mapped") : field("rss") + field("mapped_file");
}

/** Samples the working set every `ms` until stopped; resolves to the largest seen. */
function sampleWorkingSet(cg: Cgroup, ms = 20): { stop(): Promise<number> } {
  let max = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      max = Math.max(max, await workingSetBytes(cg).catch(() => 0));
      await Bun.sleep(ms);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return max;
    },
  };
}

async function oomKills(cg: Cgroup): Promise<number> {
  const text = await readFile(join(cg.path, cg.v2 ? "memory.events" : "memory.oom_control"), "utf8");
  return Number(/oom_kill (\d+)/.exec(text)?.[1] ?? 0);
}

interface Burst {
  connectionLimit: number;
  limitMiB?: number;
  peakMiB: number;
  /** Largest anon + mapped-file charge seen during the burst (sampled every 20 ms). */
  workingSetMiB: number;
  oomKills: number;
  failedPods: number;
  daemonAlive: boolean;
  leftovers: number;
  addP99Ms: number;
  error?: string;
}

/** One daemon in its own cgroup, one burst of ADDs then DELs, all pods in flight. */
async function burst(o: {
  binary: string;
  h: Host;
  parent: Cgroup;
  pods: number;
  connectionLimit: number;
  limitMiB?: number;
}): Promise<Burst> {
  const cleanup = createCleanup();
  try {
    const w = await createWorkdir(o.binary, o.h, "real");
    cleanup.add(() => rm(w.dir, { recursive: true, force: true }));
    const { fake, pods } = await startCluster(o.h, w, { name: "burst", nodePods: o.pods, otherPods: 0, nads: 0 });
    cleanup.add(() => fake.stop());
    const cg = await createCgroup(
      o.parent,
      `multus-burst-${process.pid}-${o.connectionLimit}-${o.limitMiB ?? "none"}`,
      o.limitMiB === undefined ? undefined : o.limitMiB * MiB,
    );
    cleanup.add(() => rmdir(cg.path).catch(() => undefined));
    const env = (await envVariants()).daemonset!;
    // The daemon joins the cgroup before it execs, as in a container: its start-up,
    // its informers' caches and every delegate it runs are charged there.
    const inCgroup = join(w.dir, "multus-in-cgroup");
    // Its executable's pages are dropped from the page cache first, so that the pages
    // the daemon touches are read, and charged, inside the cgroup (as after a node reboot).
    const script = [
      "#!/bin/sh",
      `echo $$ > ${join(cg.path, "cgroup.procs")} || exit 1`,
      `dd if=${w.multus} iflag=nocache count=0 status=none`,
      `exec ${w.multus} "$@"`,
    ];
    await writeFile(inCgroup, `${script.join("\n")}\n`, { mode: 0o755 });
    const d = await startDaemon(
      { ...w, multus: inCgroup },
      { tag: "d", env, fake, config: { connectionLimit: o.connectionLimit } },
    );
    cleanup.add(d.stop);
    // A daemon killed by the OOM killer ends the burst with an error (its /proc entry is gone).
    const sampler = sampleWorkingSet(cg);
    const phase = await runConcurrent(w, d, fake, pods, o.pods).catch((err: Error) => err);
    const workingSetMiB = (await sampler.stop()) / MiB;
    const done = !(phase instanceof Error);
    return {
      connectionLimit: o.connectionLimit,
      limitMiB: o.limitMiB,
      peakMiB: (await peakBytes(cg)) / MiB,
      workingSetMiB,
      oomKills: await oomKills(cg),
      failedPods: done ? phase.add.failures + phase.del.failures : o.pods,
      daemonAlive: d.proc.exitCode === null,
      leftovers: done ? phase.leftovers : -1,
      addP99Ms: done ? phase.add.lat.p99 : Number.NaN,
      ...(!done && { error: phase.message }),
    };
  } finally {
    await cleanup.run();
  }
}

const { values } = parseArgs({
  args: Bun.argv.slice(2),
  options: {
    burst: { type: "string", default: "150" },
    limits: { type: "string", default: "256,160,128,96" },
    binary: { type: "string", default: BINARY },
  },
});
const pods = Number(values.burst);
const limits = values.limits!.split(",").map(Number);
const progress = (l: string) => console.error(`memory-limit: ${l}`);
const dsLimit = Number((await daemonsetConfig()).connectionLimit ?? 16);
const parent = await ownMemoryCgroup();
const h = planHost(pods);
await sweepStale(progress);
await createHost(h);
try {
  const run = (connectionLimit: number, limitMiB?: number) => {
    progress(`burst of ${pods}, connectionLimit ${connectionLimit}, limit ${limitMiB ?? "none"} MiB`);
    return burst({ binary: values.binary!, h, parent, pods, connectionLimit, limitMiB });
  };
  const one = await run(1);
  const full = await run(dsLimit);
  const delegatePeakMiB = Math.max(0, (full.workingSetMiB - one.workingSetMiB) / (dsLimit - 1));
  const daemonPeakMiB = one.workingSetMiB - delegatePeakMiB;
  const neededMiB = daemonPeakMiB + dsLimit * delegatePeakMiB;
  const checks: Burst[] = [];
  for (const limitMiB of limits) checks.push(await run(dsLimit, limitMiB));
  const holding = checks.filter((c) => c.oomKills === 0 && c.failedPods === 0 && c.daemonAlive);
  const result = {
    at: new Date().toISOString(),
    pods,
    connectionLimit: dsLimit,
    derived: {
      daemonPeakMiB,
      delegatePeakMiB,
      neededMiB,
      workingSetAt1MiB: one.workingSetMiB,
      workingSetAtLimitMiB: full.workingSetMiB,
      usagePeakAt1MiB: one.peakMiB,
      usagePeakAtLimitMiB: full.peakMiB,
    },
    smallestHoldingLimitMiB: holding.length ? Math.min(...holding.map((c) => c.limitMiB!)) : undefined,
    checks,
  };
  console.log(JSON.stringify(result, null, 2));
  console.error(
    `memory-limit: daemon ${daemonPeakMiB.toFixed(1)} MiB + ${dsLimit} x delegate ${delegatePeakMiB.toFixed(1)} MiB = ${neededMiB.toFixed(1)} MiB needed`,
  );
  for (const c of checks) {
    const ok = c.oomKills === 0 && c.failedPods === 0 && c.daemonAlive;
    console.error(
      `memory-limit: limit ${c.limitMiB} MiB: usage peak ${c.peakMiB.toFixed(1)}, working set ${c.workingSetMiB.toFixed(1)} MiB, OOM kills ${c.oomKills}, failed pods ${c.failedPods}, daemon ${c.daemonAlive ? "alive" : "DEAD"}: ${ok ? "holds" : "FAILS"}`,
    );
  }
} finally {
  await removeHost(h);
}
