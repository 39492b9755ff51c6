// Record mode, the default of `bun run bench`: the figures we track from build
// to build, written as one JSON file (bench/results/latest.json) that
// `--compare <old.json>` holds against an earlier one.
//
// The daemon runs as the DaemonSet runs it (its daemon-config.json and env)
// against the fake API server (tests/helpers/fake-kube.ts), twice: with a
// trivial delegate (a dash script: what multus itself costs) and with real
// ones (bridge + host-local cluster network, a bridge or macvlan NAD with
// host-local). Every pod has its own real netns: ADD refuses a path that is
// not one. Phases, each ADDing its pods and then DELing them through the
// shim: concurrency 1, 8 and 32, then a burst with every pod in flight at
// once. Memory is read from /proc/<pid>/status (RSS total and anonymous), API
// requests from the fake server's counters.
import { rm } from "node:fs/promises";
import { createCleanup } from "../tests/helpers/netns.ts";
import {
  createHost,
  createWorkdir,
  type Delegates,
  envVariants,
  planHost,
  removeHost,
  runConcurrent,
  startCluster,
  startDaemon,
  sweepStale,
  type Host,
  type Phase,
} from "./k8s.ts";
import { measureStartup } from "./local.ts";
import type { BenchMode } from "./mode.ts";
import { type MemStatus, sampleMem, settledMem } from "./proc.ts";
import { isBusy, runInfo } from "./info.ts";
import type { Summary } from "./stats.ts";
import { recordTables, recordTargets } from "./record-report.ts";

/** Bumped when a figure changes meaning; --compare refuses to compare across it. */
export const SCHEMA = 1;
export const PHASES = ["c1", "c8", "c32", "burst"] as const;
export type PhaseName = (typeof PHASES)[number];
export const DELEGATES: Delegates[] = ["trivial", "real"];

export interface Lat {
  n: number;
  p50: number;
  p99: number;
  max: number;
}

export interface PhaseRecord {
  pods: number;
  concurrency: number;
  add: Lat;
  del: Lat;
  addPodsPerSec: number;
  delPodsPerSec: number;
  failures: number;
  firstError?: string;
}

export interface Mem {
  totalKiB: number;
  anonKiB: number;
}

export interface DelegateRecord {
  /** Spawn to /readyz answering (informers listed). */
  readyMs: number;
  phases: Record<PhaseName, PhaseRecord>;
  rss: { rest: Mem; peak: Mem };
  /** API requests per ADD and per DEL, by counter key ("PATCH pods/status", "POST events", ...). */
  apiPerPod: { add: Record<string, number>; del: Record<string, number> };
  /** host-local reservations and cache files left after the DELs (leaks). */
  leftovers: number;
}

export interface RecordSettings {
  quick: boolean;
  shimRuns: number;
  /** Pods per phase; the burst has all of its pods in flight at once. */
  pods: Record<PhaseName, number>;
  otherPods: number;
  nads: number;
  env: string;
}

export interface BenchRecord {
  schema: number;
  at: string;
  commit: string;
  dirty: boolean;
  version: string;
  machine: { cpus: number; cpu: string; kernel: string; bun: string; loadBefore: number; loadAfter: number };
  /** The 1-minute load average was above half the CPUs: latencies are upper bounds. */
  busy: boolean;
  settings: RecordSettings;
  shimStartupMs: Lat;
  delegates: Record<Delegates, DelegateRecord>;
}

const lat = (s: Summary): Lat => ({ n: s.n, p50: s.p50, p99: s.p99, max: s.max });
const mem = (m: MemStatus, peak = false): Mem => ({ totalKiB: peak ? Math.max(m.rss, m.hwm) : m.rss, anonKiB: m.anon });

function phaseRecord(p: Phase, pods: number): PhaseRecord {
  return {
    pods,
    concurrency: p.concurrency,
    add: lat(p.add.lat),
    del: lat(p.del.lat),
    addPodsPerSec: p.add.podsPerSec,
    delPodsPerSec: p.del.podsPerSec,
    failures: p.add.failures + p.del.failures,
    ...((p.add.firstError ?? p.del.firstError) && { firstError: p.add.firstError ?? p.del.firstError }),
  };
}

/** Requests per pod by counter key, over every phase's ADDs (or DELs). */
function perPod(phases: Phase[], half: "add" | "del"): Record<string, number> {
  const sums: Record<string, number> = {};
  let calls = 0;
  for (const p of phases) {
    calls += p[half].lat.n;
    for (const [k, n] of Object.entries(p[half].api)) sums[k] = (sums[k] ?? 0) + n;
  }
  return Object.fromEntries(Object.entries(sums).map(([k, n]) => [k, n / Math.max(1, calls)]));
}

/** One daemon, its own API and workdir, through every phase with one kind of delegate. */
async function runDelegates(
  s: RecordSettings,
  o: { binary: string; h: Host; delegates: Delegates; progress(l: string): void },
): Promise<DelegateRecord> {
  const cleanup = createCleanup();
  try {
    const w = await createWorkdir(o.binary, o.h, o.delegates);
    cleanup.add(() => rm(w.dir, { recursive: true, force: true }));
    const nodePods = Math.max(...Object.values(s.pods));
    const { fake, pods } = await startCluster(o.h, w, { name: "1x", nodePods, otherPods: s.otherPods, nads: s.nads });
    cleanup.add(() => fake.stop());
    const d = await startDaemon(w, { tag: "d", env: (await envVariants())[s.env]!, fake });
    cleanup.add(d.stop);
    o.progress(`[${o.delegates}] daemon ready in ${d.readyMs.toFixed(0)} ms; waiting for its RSS to settle`);
    const rest = await settledMem(d.proc.pid, s.quick ? { minMs: 300, maxMs: 2000 } : {});
    const sampler = sampleMem(d.proc.pid, 10);
    const phases = {} as Record<PhaseName, Phase>;
    for (const name of PHASES) {
      const n = s.pods[name];
      const concurrency = name === "burst" ? n : Number(name.slice(1));
      o.progress(`[${o.delegates}] ${name}: ADD ${n} pods, then DEL them, ${concurrency} in flight`);
      phases[name] = await runConcurrent(w, d, fake, pods.slice(0, n), concurrency);
    }
    const peak = await sampler.stop();
    if (d.proc.exitCode !== null) throw new Error(`the daemon exited with ${d.proc.exitCode}: ${d.output()}`);
    const all = Object.values(phases);
    return {
      readyMs: d.readyMs,
      phases: Object.fromEntries(PHASES.map((k) => [k, phaseRecord(phases[k], s.pods[k])])) as DelegateRecord["phases"],
      rss: { rest: mem(rest), peak: mem(peak, true) },
      apiPerPod: { add: perPod(all, "add"), del: perPod(all, "del") },
      leftovers: all.reduce((a, p) => a + p.leftovers, 0),
    };
  } finally {
    await cleanup.run();
  }
}

export async function runRecord(
  s: RecordSettings,
  o: { binary: string; progress(l: string): void },
): Promise<BenchRecord> {
  const info = runInfo(o.binary);
  const at = new Date().toISOString();
  const h = planHost(Math.max(...Object.values(s.pods)));
  // Ctrl-C or a TERM mid-run: remove the namespaces and links, then go.
  const onSignal = (sig: NodeJS.Signals) => {
    o.progress(`${sig}: cleaning up`);
    void removeHost(h).finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await sweepStale(o.progress);
    await createHost(h);
    const shimStartupMs = await measureShim(o.binary, h, s.shimRuns);
    o.progress(`shim start-up p50 ${shimStartupMs.p50.toFixed(1)} ms`);
    const delegates = {} as Record<Delegates, DelegateRecord>;
    for (const kind of DELEGATES) delegates[kind] = await runDelegates(s, { ...o, h, delegates: kind });
    const { load, ...m } = info;
    const loadAfter = runInfo(o.binary).load;
    return {
      schema: SCHEMA,
      at,
      commit: m.commit,
      dirty: m.dirty,
      version: m.version,
      machine: { cpus: m.cpus, cpu: m.cpu, kernel: m.kernel, bun: m.bun, loadBefore: load, loadAfter },
      busy: isBusy(Math.max(load, loadAfter)),
      settings: s,
      shimStartupMs,
      delegates,
    };
  } finally {
    await removeHost(h);
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** `multus-shim` with CNI_COMMAND=VERSION, as a runtime probes a plugin: spawn to exit. */
async function measureShim(binary: string, h: Host, runs: number): Promise<Lat> {
  const w = await createWorkdir(binary, h, "trivial");
  try {
    const conf = JSON.stringify({ cniVersion: "1.0.0", name: "multus-cni-network", type: "multus-shim" });
    const spec = { cmd: [w.shim], env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", CNI_COMMAND: "VERSION" }, stdin: conf };
    const [row] = await measureStartup([{ name: "multus-shim VERSION", spec }], runs);
    return lat(row!.wall);
  } finally {
    await rm(w.dir, { recursive: true, force: true });
  }
}

const int = (s: unknown, dflt: number) => (typeof s === "string" ? Number.parseInt(s, 10) : dflt);

export function recordSettings(values: Record<string, unknown>, quick: boolean): RecordSettings {
  // --quick: a smoke run (the bench's own test runs it), enough pods that 32 are in flight.
  const pods = (full: number, small: number) => int(values.pods, quick ? small : full);
  return {
    quick,
    shimRuns: int(values.runs, quick ? 5 : 100),
    pods: { c1: pods(100, 4), c8: pods(100, 16), c32: pods(100, 32), burst: int(values.burst, quick ? 40 : 150) },
    otherPods: int(values["other-pods"], quick ? 0 : 1000),
    nads: int(values.nads, quick ? 0 : 500),
    env: "daemonset",
  };
}

export const recordMode: BenchMode = {
  name: "record",
  title: "Record",
  flags: {
    pods: { type: "string" },
    burst: { type: "string" },
    runs: { type: "string" },
    "other-pods": { type: "string" },
    nads: { type: "string" },
  },
  async run({ values, quick, binary, progress }) {
    if (process.getuid?.() !== 0) throw new Error("record mode needs root (network namespaces, links)");
    const s = recordSettings(values, quick);
    const pods = Math.max(...Object.values(s.pods));
    if (pods < 1 || pods > 250) throw new Error("--pods and --burst must be 1..250 (one /24 per network)");
    const record = await runRecord(s, { binary, progress });
    return { tables: recordTables(record), targets: recordTargets(record), settings: { ...s }, record };
  },
};
