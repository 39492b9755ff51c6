// The DaemonSet's memory limit, derived instead of guessed. In thick mode the
// delegates are the daemon's children, so they are charged to its container's
// memory cgroup: what a burst needs is the daemon's own peak plus
// `connectionLimit` requests in flight, each with its delegates.
//
//   bun run bench/memory-limit.ts [--burst=150] [--limits=64,56,48] [--rounds=2] [--binary=dist/multus]
//
// What is measured: the cgroup's working set, memory.stat `rss` (anonymous) +
// `mapped_file` (file pages mapped into its processes: the executables' text),
// sampled every 20 ms. Not memory.usage_in_bytes / max_usage_in_bytes: they also
// count page cache (cache files, host-local's files, logs), which grows with
// whatever was written and which the kernel reclaims before it OOM-kills
// anything; under a limit they just reach the limit. Not the processes' RSS
// summed either: 16 bridge processes would count the same text 16 times, the
// cgroup pays it once.
//
// A file page is charged to the cgroup that first brought it into the page
// cache, and stays charged there (to the parent once that cgroup is gone). So
// before each burst every executable the cgroup runs (the daemon's copy, bridge,
// host-local, macvlan) is written back and dropped from the page cache (`sync
// FILE`, `dd iflag=nocache`; fincore checks what is left): each burst pays its
// own text, as after a node reboot. Without that the first burst paid the
// delegates' text and the later ones did not, which is how a working set at
// connectionLimit 1 came out above the one at 16. After a burst the cgroup is
// emptied (memory.force_empty) before it is removed. Shared libraries (libc,
// ld.so) stay mapped by the rest of the machine and are charged elsewhere.
//
// 1. Derive: the daemon (DaemonSet config and environment, fake API, real
//    bridge/macvlan/host-local delegates in real netns) in a memory cgroup with
//    no limit; a burst of `burst` pods with connectionLimit 1, then with the
//    DaemonSet's connectionLimit L, `rounds` times (1, L, then L, 1, ...). The
//    largest working set per connectionLimit gives
//      perRequest  = (ws(L) - ws(1)) / (L - 1)   one more request in flight: its
//                                                delegates and the daemon's share
//      daemonPeak  = ws(1) - perRequest
//      needed      = daemonPeak + L x perRequest
// 2. Check: the same burst in a cgroup of each candidate limit: no OOM kill, no
//    failed pod, no failed probe, the daemon alive.
// During every burst the DaemonSet's exec probes (`multus probe`) run in the
// cgroup too, two at once every second.
// Needs root and the cgroup v1 memory controller (or cgroup v2 at /sys/fs/cgroup).
import { mkdir, readFile, rm, rmdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { $ } from "bun";
import { BINARY } from "../tests/helpers/multus.ts";
import { settledMem } from "./proc.ts";
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
const PLUGIN_DIR = "/usr/lib/cni";
/** What the real delegates of bench/k8s.ts exec: bridge + host-local (eth0), bridge or macvlan + host-local (net1). */
const DELEGATES = ["bridge", "host-local", "macvlan"];

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

interface CgroupMem {
  /** Anonymous memory (v1 `rss`, v2 `anon`). */
  anon: number;
  /** File pages mapped into its processes (v1 `mapped_file`, v2 `file_mapped`). */
  mapped: number;
  /** Page cache charged to it, mapped or not (v1 `cache`, v2 `file`). */
  cache: number;
}

async function readCgroupMem(cg: Cgroup): Promise<CgroupMem> {
  const stat = await readFile(join(cg.path, "memory.stat"), "utf8");
  const field = (name: string) => Number(new RegExp(`^${name} (\\d+)$`, "m").exec(stat)?.[1] ?? 0);
  return cg.v2
    ? { anon: field("anon"), mapped: field("file_mapped"), cache: field("file") }
    : { anon: field("rss"), mapped: field("mapped_file"), cache: field("cache") };
}

/** Samples memory.stat every `ms` until stopped; the largest working set (anon + mapped) seen and its parts then. */
function sampleWorkingSet(cg: Cgroup, ms = 20): { stop(): Promise<CgroupMem & { maxAnon: number }> } {
  let max: CgroupMem = { anon: 0, mapped: 0, cache: 0 };
  let maxAnon = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const m = await readCgroupMem(cg).catch(() => undefined);
      if (m) {
        if (m.anon + m.mapped > max.anon + max.mapped) max = m;
        maxAnon = Math.max(maxAnon, m.anon);
      }
      await Bun.sleep(ms);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { ...max, maxAnon };
    },
  };
}

/**
 * The daemon's file-backed pages, split by whether the burst touched them (its
 * Referenced bits were cleared at the start, /proc/<pid>/clear_refs). Resident
 * pages it did not touch are the first the kernel reclaims under a limit: its
 * executable maps ~40 MB and pages in what start-up ran, much of it never again.
 */
async function daemonFilePages(pid: number): Promise<{ rss: number; referenced: number }> {
  const smaps = await readFile(`/proc/${pid}/smaps`, "utf8");
  let rss = 0;
  let referenced = 0;
  let file = false;
  for (const line of smaps.split("\n")) {
    const header = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (header) {
      file = header[1]!.startsWith("/");
      continue;
    }
    if (!file) continue;
    const m = /^(Rss|Referenced):\s+(\d+) kB/.exec(line);
    if (m?.[1] === "Rss") rss += Number(m[2]) * 1024;
    else if (m) referenced += Number(m[2]) * 1024;
  }
  return { rss, referenced };
}

/**
 * Writes each file back and drops it from the page cache, so that its pages are
 * read, and charged, by whoever runs it next; returns the bytes still resident
 * (pages mapped by a process elsewhere cannot be dropped).
 */
async function uncache(files: string[]): Promise<number> {
  let left = 0;
  for (const f of files) {
    await $`sync ${f}`.quiet();
    await $`dd if=${f} iflag=nocache count=0 status=none`.quiet();
    const out = await $`fincore --bytes --noheadings --output RES ${f}`.nothrow().quiet().text();
    left += Number(out.trim()) || 0;
  }
  return left;
}

/** Major page faults of the cgroup's processes so far: pages read from disk, text the kernel had evicted included. */
async function majorFaults(cg: Cgroup): Promise<number> {
  const stat = await readFile(join(cg.path, "memory.stat"), "utf8");
  return Number(/^pgmajfault (\d+)$/m.exec(stat)?.[1] ?? 0);
}

async function oomKills(cg: Cgroup): Promise<number> {
  const text = await readFile(join(cg.path, cg.v2 ? "memory.events" : "memory.oom_control"), "utf8");
  return Number(/oom_kill (\d+)/.exec(text)?.[1] ?? 0);
}

interface Burst {
  connectionLimit: number;
  limitMiB?: number;
  /** memory.max_usage_in_bytes (v2 memory.peak): page cache included. */
  usagePeakMiB: number;
  /** anon + mapped-file charge once the daemon is ready and its RSS settled, before the burst. */
  restMiB: number;
  /** Largest anon + mapped-file charge seen during the burst (sampled every 20 ms), and its parts then. */
  workingSetMiB: number;
  /** workingSetMiB less the daemon's file pages the burst did not touch: what the burst needs resident. */
  hotWorkingSetMiB: number;
  /** The daemon's file pages resident after the burst, and of them those it touched during the burst. */
  daemonFileMiB: number;
  daemonFileTouchedMiB: number;
  anonMiB: number;
  mappedMiB: number;
  /** Page cache charged at that moment (mapped or not). */
  cacheMiB: number;
  /** Largest anonymous charge seen. */
  maxAnonMiB: number;
  /** Bytes of the executables still in the page cache before the burst (should be 0). */
  residentBeforeMiB: number;
  /** Major faults during the burst: with a limit, more than without means text evicted and read again. */
  majorFaults: number;
  /** `multus probe` runs in the cgroup during the burst (healthz and readyz at once, every second), and those that failed. */
  probes: number;
  failedProbes: number;
  oomKills: number;
  failedPods: number;
  daemonAlive: boolean;
  leftovers: number;
  addP99Ms: number;
  error?: string;
}

/**
 * The DaemonSet's exec probes run in the container's cgroup too (`multus probe`,
 * liveness and readiness every 10 s each, so two may overlap): here both at once
 * every second during the burst, more often than the kubelet would.
 */
function probeEverySecond(inCgroup: string, socket: string): { stop(): Promise<{ runs: number; failed: number }> } {
  let runs = 0;
  let failed = 0;
  let running = true;
  const probe = async (endpoint: string) => {
    const p = Bun.spawn([inCgroup, "probe", "--socket", socket, "--endpoint", endpoint], {
      stdout: "ignore",
      stderr: "ignore",
    });
    runs++;
    if ((await p.exited) !== 0) failed++;
  };
  const loop = (async () => {
    while (running) {
      await Promise.all([probe("healthz"), probe("readyz"), Bun.sleep(1000)]);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      return { runs, failed };
    },
  };
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
    // Its charges would otherwise move to the parent, page cache and all.
    cleanup.add(async () => {
      await writeFile(join(cg.path, "memory.force_empty"), "0").catch(() => undefined);
      await rmdir(cg.path).catch(() => undefined);
    });
    const env = (await envVariants()).daemonset!;
    // The daemon joins the cgroup before it execs, as in a container: its start-up,
    // its informers' caches and every delegate it runs are charged there.
    const inCgroup = join(w.dir, "multus-in-cgroup");
    const script = ["#!/bin/sh", `echo $$ > ${join(cg.path, "cgroup.procs")} || exit 1`, `exec ${w.multus} "$@"`];
    await writeFile(inCgroup, `${script.join("\n")}\n`, { mode: 0o755 });
    // Every executable the cgroup runs is dropped from the page cache, so that the
    // pages it touches are read, and charged, inside it (as after a node reboot).
    const residentBefore = await uncache([w.multus, ...DELEGATES.map((d) => join(PLUGIN_DIR, d))]);
    const d = await startDaemon(
      { ...w, multus: inCgroup },
      { tag: "d", env, fake, config: { connectionLimit: o.connectionLimit } },
    );
    cleanup.add(d.stop);
    // A daemon killed by the OOM killer ends the burst with an error (its /proc entry is gone).
    await settledMem(d.proc.pid);
    const rest = await readCgroupMem(cg);
    await writeFile(`/proc/${d.proc.pid}/clear_refs`, "1");
    const faults0 = await majorFaults(cg);
    const sampler = sampleWorkingSet(cg);
    const probes = probeEverySecond(inCgroup, join(d.socketDir, "multus.sock"));
    const phase = await runConcurrent(w, d, fake, pods, o.pods).catch((err: Error) => err);
    const probed = await probes.stop();
    const ws = await sampler.stop();
    const faults = (await majorFaults(cg)) - faults0;
    const file = await daemonFilePages(d.proc.pid).catch(() => ({ rss: 0, referenced: 0 }));
    const done = !(phase instanceof Error);
    return {
      connectionLimit: o.connectionLimit,
      limitMiB: o.limitMiB,
      usagePeakMiB: (await peakBytes(cg)) / MiB,
      restMiB: (rest.anon + rest.mapped) / MiB,
      workingSetMiB: (ws.anon + ws.mapped) / MiB,
      hotWorkingSetMiB: (ws.anon + ws.mapped - (file.rss - file.referenced)) / MiB,
      daemonFileMiB: file.rss / MiB,
      daemonFileTouchedMiB: file.referenced / MiB,
      anonMiB: ws.anon / MiB,
      mappedMiB: ws.mapped / MiB,
      cacheMiB: ws.cache / MiB,
      maxAnonMiB: ws.maxAnon / MiB,
      residentBeforeMiB: residentBefore / MiB,
      majorFaults: faults,
      probes: probed.runs,
      failedProbes: probed.failed,
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
    limits: { type: "string", default: "64,56,48" },
    rounds: { type: "string", default: "2" },
    binary: { type: "string", default: BINARY },
    json: { type: "string" },
  },
});
const pods = Number(values.burst);
const limits = values.limits!.split(",").filter(Boolean).map(Number);
const rounds = Number(values.rounds);
const progress = (l: string) => console.error(`memory-limit: ${l}`);
const dsLimit = Number((await daemonsetConfig()).connectionLimit ?? 16);
const parent = await ownMemoryCgroup();
const h = planHost(pods);
const f1 = (v: number) => v.toFixed(1);
const describe = (c: Burst) =>
  `at rest ${f1(c.restMiB)} MiB, touched ${f1(c.hotWorkingSetMiB)} MiB (daemon file pages ${f1(c.daemonFileMiB)}, touched ${f1(c.daemonFileTouchedMiB)}), working set ${f1(c.workingSetMiB)} MiB (anon ${f1(c.anonMiB)}, mapped ${f1(c.mappedMiB)}; page cache then ${f1(c.cacheMiB)}), usage peak ${f1(c.usagePeakMiB)}, ${f1(c.residentBeforeMiB)} MiB of the executables left in the page cache before`;
await sweepStale(progress);
await createHost(h);
try {
  const run = async (connectionLimit: number, limitMiB?: number) => {
    progress(`burst of ${pods}, connectionLimit ${connectionLimit}, limit ${limitMiB ?? "none"} MiB`);
    const b = await burst({ binary: values.binary!, h, parent, pods, connectionLimit, limitMiB });
    progress(`  ${describe(b)}; OOM kills ${b.oomKills}, failed pods ${b.failedPods}`);
    return b;
  };
  const derivation: Burst[] = [];
  for (let r = 0; r < rounds; r++) {
    for (const l of r % 2 === 0 ? [1, dsLimit] : [dsLimit, 1]) derivation.push(await run(l));
  }
  const largest = (l: number) =>
    Math.max(...derivation.filter((b) => b.connectionLimit === l).map((b) => b.hotWorkingSetMiB));
  const ws1 = largest(1);
  const wsL = largest(dsLimit);
  const perRequestMiB = Math.max(0, (wsL - ws1) / (dsLimit - 1));
  const daemonPeakMiB = ws1 - perRequestMiB;
  const neededMiB = daemonPeakMiB + dsLimit * perRequestMiB;
  const checks: Burst[] = [];
  for (const limitMiB of limits) checks.push(await run(dsLimit, limitMiB));
  const holds = (c: Burst) => c.oomKills === 0 && c.failedPods === 0 && c.failedProbes === 0 && c.daemonAlive;
  const holding = checks.filter(holds);
  const result = {
    at: new Date().toISOString(),
    pods,
    connectionLimit: dsLimit,
    rounds,
    derived: {
      restMiB: Math.max(...derivation.map((b) => b.restMiB)),
      daemonPeakMiB,
      perRequestMiB,
      neededMiB,
      workingSetAt1MiB: ws1,
      workingSetAtLimitMiB: wsL,
    },
    smallestHoldingLimitMiB: holding.length ? Math.min(...holding.map((c) => c.limitMiB!)) : undefined,
    derivation,
    checks,
  };
  const text = JSON.stringify(result, null, 2);
  console.log(text);
  if (values.json) await writeFile(values.json, `${text}\n`);
  for (const b of derivation)
    progress(
      `connectionLimit ${b.connectionLimit}, no limit: ${describe(b)}, ${b.majorFaults} major faults, ADD p99 ${b.addP99Ms.toFixed(0)} ms`,
    );
  progress(
    `daemon ${f1(daemonPeakMiB)} MiB + ${dsLimit} x ${f1(perRequestMiB)} MiB per request in flight = ${f1(neededMiB)} MiB needed`,
  );
  for (const c of checks) {
    progress(
      `limit ${c.limitMiB} MiB: ${describe(c)}, ${c.majorFaults} major faults, ADD p99 ${c.addP99Ms.toFixed(0)} ms, probes failed ${c.failedProbes}/${c.probes}, OOM kills ${c.oomKills}, failed pods ${c.failedPods}, daemon ${c.daemonAlive ? "alive" : "DEAD"}: ${holds(c) ? "holds" : "FAILS"}`,
    );
  }
} finally {
  await removeHost(h);
}
