// Scale mode: does the daemon's memory stay flat as the cluster grows? Each
// step is a fresh fake API (tests/helpers/fake-kube.ts) holding `otherPods`
// pods on ten other nodes and `nads` NADs (plus the burst's pods on this
// node), and a fresh daemon with the DaemonSet's daemon-config.json and no
// environment variables. Per step: RSS once the informers have listed and it
// stops moving, a burst of `burst` ADDs in flight through the shim (then their
// DELs; two networks per pod, trivial delegates), RSS once it settles again,
// and the peak sampled every 10 ms over the burst.
//
//   bun run bench scale [--steps=100:10,1000:100,10000:1000] [--burst=32] [--rounds=2]
//
// The pod informer lists and watches only this node's pods (fieldSelector
// spec.nodeName), so pods elsewhere should cost nothing; NADs are all held,
// trimmed to name, namespace, config and resource name. With --rounds=2 the
// steps run forward then backward, so drift on a shared machine does not read
// as growth; the targets use each step's median.
import { rm } from "node:fs/promises";
import { createCleanup } from "../tests/helpers/netns.ts";
import {
  callCni,
  createHost,
  createWorkdir,
  newContainerId,
  planHost,
  removeHost,
  startCluster,
  startDaemon,
  sweepStale,
} from "./k8s.ts";
import type { BenchMode } from "./mode.ts";
import { type MemStatus, runPool, sampleMem, settledMem } from "./proc.ts";
import type { Table } from "./stats.ts";

export interface ScaleStep {
  otherPods: number;
  nads: number;
}

/** One step's figures, memory in MiB. */
export interface ScaleRun extends ScaleStep {
  round: number;
  /** JSON size of what the API holds, MB. */
  apiMB: number;
  readyMs: number;
  rest: { rss: number; anon: number; file: number };
  afterBurst: { rss: number; anon: number; file: number };
  peak: { rss: number; anon: number };
  failures: number;
  firstError?: string;
}

const mib = (m: MemStatus) => ({ rss: m.rss / 1024, anon: m.anon / 1024, file: m.file / 1024 });

async function runStep(
  o: ScaleStep & { binary: string; burst: number; round: number },
  h: ReturnType<typeof planHost>,
): Promise<ScaleRun> {
  const cleanup = createCleanup();
  try {
    // createWorkdir copies the executable: a new inode per step.
    const w = await createWorkdir(o.binary, h, "trivial");
    cleanup.add(() => rm(w.dir, { recursive: true, force: true }));
    const { fake, pods, cluster } = await startCluster(h, w, {
      name: "scale",
      nodePods: o.burst,
      otherPods: o.otherPods,
      nads: o.nads,
    });
    cleanup.add(() => fake.stop());
    const d = await startDaemon(w, { tag: "d", env: {}, fake });
    cleanup.add(d.stop);
    const rest = await settledMem(d.proc.pid);
    const sampler = sampleMem(d.proc.pid, 10);
    const ids = pods.map(newContainerId);
    let failures = 0;
    let firstError: string | undefined;
    const note = (what: string, r: { error?: string }) => {
      if (!r.error) return;
      failures++;
      firstError ??= `${what}: ${r.error}`;
    };
    await runPool(o.burst, o.burst, async (i) =>
      note(`ADD ${i}`, await callCni(w, d, "shim", pods[i]!, "ADD", ids[i]!)),
    );
    await runPool(o.burst, o.burst, async (i) =>
      note(`DEL ${i}`, await callCni(w, d, "shim", pods[i]!, "DEL", ids[i]!)),
    );
    const peak = await sampler.stop();
    const after = await settledMem(d.proc.pid);
    if (d.proc.exitCode !== null) throw new Error(`daemon exited with ${d.proc.exitCode}: ${d.output()}`);
    return {
      otherPods: o.otherPods,
      nads: o.nads,
      round: o.round,
      apiMB: (cluster.podBytes + cluster.nadBytes) / 1e6,
      readyMs: d.readyMs,
      rest: mib(rest),
      afterBurst: mib(after),
      peak: { rss: Math.max(peak.rss, peak.hwm) / 1024, anon: peak.anon / 1024 },
      failures,
      ...(firstError && { firstError }),
    };
  } finally {
    await cleanup.run();
  }
}

export function parseSteps(s: string): ScaleStep[] {
  return s.split(",").map((t) => {
    const m = /^(\d+):(\d+)$/.exec(t.trim());
    if (!m) throw new Error(`--steps: "${t}" is not PODS:NADS`);
    return { otherPods: Number(m[1]), nads: Number(m[2]) };
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

type Figure = "restRss" | "restAnon" | "afterRss" | "afterAnon" | "peakRss" | "peakAnon";
const FIGURES: Array<{ key: Figure; name: string; get(r: ScaleRun): number }> = [
  { key: "restRss", name: "RSS at rest", get: (r) => r.rest.rss },
  { key: "restAnon", name: "RssAnon at rest", get: (r) => r.rest.anon },
  { key: "afterRss", name: "RSS after the burst, settled", get: (r) => r.afterBurst.rss },
  { key: "afterAnon", name: "RssAnon after the burst, settled", get: (r) => r.afterBurst.anon },
  { key: "peakRss", name: "peak RSS", get: (r) => r.peak.rss },
  { key: "peakAnon", name: "peak RssAnon", get: (r) => r.peak.anon },
];

/** Per step, the median of its rounds. */
export function stepMedians(runs: ScaleRun[], steps: ScaleStep[]): Array<ScaleStep & Record<Figure, number>> {
  return steps.map((st) => {
    const mine = runs.filter((r) => r.otherPods === st.otherPods && r.nads === st.nads);
    return {
      ...st,
      ...(Object.fromEntries(FIGURES.map((f) => [f.key, median(mine.map(f.get))])) as Record<Figure, number>),
    };
  });
}

const f1 = (v: number) => v.toFixed(1);
/** "Flat": within 2 MB. */
const FLAT_MIB = 2e6 / 2 ** 20;

export function scaleTable(runs: ScaleRun[], burst: number): Table {
  return {
    title: "Daemon memory as the cluster grows (MiB; RSS as total (anon/file))",
    headers: [
      "pods elsewhere",
      "NADs",
      "round",
      "API JSON MB",
      "ready ms",
      "at rest",
      `after a burst of ${burst}, settled`,
      "peak (anon)",
      "failed",
    ],
    rows: runs.map((r) => [
      String(r.otherPods),
      String(r.nads),
      String(r.round + 1),
      r.apiMB.toFixed(1),
      r.readyMs.toFixed(0),
      `${f1(r.rest.rss)} (${f1(r.rest.anon)}/${f1(r.rest.file)})`,
      `${f1(r.afterBurst.rss)} (${f1(r.afterBurst.anon)}/${f1(r.afterBurst.file)})`,
      `${f1(r.peak.rss)} (${f1(r.peak.anon)})`,
      String(r.failures),
    ]),
    notes: [
      `Each row: a fresh fake API (those pods on ten other nodes, those NADs, ${burst} pods here) and a fresh daemon (DaemonSet config, no environment variables).`,
      "at rest: once /readyz answers and RSS stops moving (2 reads 0.5 s apart within 256 KiB); peak: max(VmHWM, VmRSS sampled every 10 ms) over the burst.",
      `burst: ${burst} ADDs in flight through the shim, then their DELs; two networks per pod, trivial delegates.`,
    ],
  };
}

export function scaleTargets(runs: ScaleRun[], steps: ScaleStep[]): string[] {
  const med = stepMedians(runs, steps);
  const lo = med[0]!;
  const hi = med[med.length - 1]!;
  const out = FIGURES.filter((f) => f.key !== "peakRss" && f.key !== "peakAnon").map((f) => {
    const values = med.map((m) => m[f.key]);
    const spread = Math.max(...values) - Math.min(...values);
    return `${f.name}, ${lo.otherPods} pods / ${lo.nads} NADs -> ${hi.otherPods} / ${hi.nads}: ${values.map(f1).join(" -> ")} MiB (spread ${f1(spread)} MiB; target within 2 MB = ${f1(FLAT_MIB)} MiB): ${spread <= FLAT_MIB ? "met" : "MISSED"}`;
  });
  const failed = runs.find((r) => r.failures > 0);
  if (failed)
    out.push(`${failed.failures} failed calls at ${failed.otherPods}/${failed.nads}; first: ${failed.firstError}`);
  return out;
}

const int = (s: unknown, dflt: number) => (typeof s === "string" ? Number.parseInt(s, 10) : dflt);

export const scaleMode: BenchMode = {
  name: "scale",
  title: "Scale mode",
  flags: {
    steps: { type: "string" },
    burst: { type: "string" },
    rounds: { type: "string" },
  },
  async run({ values, quick, binary, progress }) {
    if (process.getuid?.() !== 0) throw new Error("scale mode needs root (network namespaces)");
    const steps = parseSteps(
      typeof values.steps === "string" ? values.steps : quick ? "100:10,1000:100" : "100:10,1000:100,10000:1000",
    );
    const burst = int(values.burst, quick ? 8 : 32);
    const rounds = int(values.rounds, quick ? 1 : 2);
    const h = planHost(burst);
    await sweepStale(progress);
    await createHost(h);
    const runs: ScaleRun[] = [];
    try {
      for (let round = 0; round < rounds; round++) {
        for (const st of round % 2 === 0 ? steps : [...steps].reverse()) {
          progress(`round ${round + 1}/${rounds}: ${st.otherPods} pods elsewhere, ${st.nads} NADs`);
          const r = await runStep({ ...st, binary, burst, round }, h);
          progress(
            `  at rest ${f1(r.rest.rss)} (anon ${f1(r.rest.anon)}), after the burst ${f1(r.afterBurst.rss)} (anon ${f1(r.afterBurst.anon)}), peak ${f1(r.peak.rss)} MiB`,
          );
          runs.push(r);
        }
      }
    } finally {
      await removeHost(h);
    }
    runs.sort((a, b) => a.otherPods - b.otherPods || a.nads - b.nads || a.round - b.round);
    return {
      tables: [scaleTable(runs, burst)],
      targets: scaleTargets(runs, steps),
      settings: { steps, burst, rounds },
      json: { schema: 1, at: new Date().toISOString(), burst, rounds, runs, medians: stepMedians(runs, steps) },
    };
  },
};
