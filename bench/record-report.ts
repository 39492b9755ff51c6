// Record mode's report: its tables, the README's figures, a history row for
// results.md, and the new/old ratios of `--compare`.
import { cpus } from "node:os";
import { DELEGATES, PHASES, SCHEMA, type BenchRecord, type DelegateRecord, type Mem } from "./record.ts";
import { fmtMiB, fmtMs, type Table } from "./stats.ts";

const KIND = { trivial: "trivial delegate", real: "real delegates" } as const;
const phaseLabel = (name: string, pods: number) =>
  name === "burst" ? `burst of ${pods}` : `concurrency ${name.slice(1)}`;
const mib = (m: Mem) => `${fmtMiB(m.totalKiB)} (${fmtMiB(m.anonKiB)} anon)`;
const per = (n: number) => n.toFixed(2).replace(/\.?0+$/, "");
const api = (a: Record<string, number>) =>
  Object.entries(a)
    .filter(([, n]) => n > 0)
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([k, n]) => `${k} ${per(n)}`)
    .join(", ") || "none";

export function recordTables(r: BenchRecord): Table[] {
  const lat = DELEGATES.flatMap((kind) =>
    PHASES.map((name) => {
      const p = r.delegates[kind].phases[name];
      return [
        `${KIND[kind]}, ${phaseLabel(name, p.pods)}`,
        String(p.pods),
        ...[p.add, p.del].flatMap((l) => [fmtMs(l.p50), fmtMs(l.p99), fmtMs(l.max)]),
        p.addPodsPerSec.toFixed(1),
        p.delPodsPerSec.toFixed(1),
        String(p.failures),
      ];
    }),
  );
  return [
    {
      title: `Shim start-up: multus-shim VERSION, spawn to exit (ms), ${r.shimStartupMs.n} runs`,
      headers: ["p50", "p99", "max"],
      rows: [[fmtMs(r.shimStartupMs.p50), fmtMs(r.shimStartupMs.p99), fmtMs(r.shimStartupMs.max)]],
    },
    {
      title: "ADD and DEL through the shim (ms), pods/s",
      headers: [
        "delegates, phase",
        "pods",
        "ADD p50",
        "ADD p99",
        "ADD max",
        "DEL p50",
        "DEL p99",
        "DEL max",
        "ADD pods/s",
        "DEL pods/s",
        "failed",
      ],
      rows: lat,
      notes: [
        "Each phase ADDs its pods (each in its own netns) with that many in flight, then DELs them.",
        "trivial: a dash script as cluster network and NAD; real: bridge + host-local as eth0, a bridge or macvlan NAD with host-local as net1.",
        `${cpus().length} CPUs; the daemon runs with the DaemonSet's config (connectionLimit 16): beyond that, requests queue in the daemon.`,
      ],
    },
    {
      title: "Daemon memory (MiB, /proc/<pid>/status: VmRSS, and RssAnon)",
      headers: ["delegates", "ready ms", "at rest", "peak"],
      rows: DELEGATES.map((kind) => {
        const d = r.delegates[kind];
        return [KIND[kind], d.readyMs.toFixed(0), mib(d.rss.rest), mib(d.rss.peak)];
      }),
      notes: ["peak: the larger of VmHWM and VmRSS sampled every 10 ms over all phases; RssAnon sampled."],
    },
    {
      title: "API requests per pod, by verb (the fake API server's counters)",
      headers: ["delegates", "per ADD", "per DEL", "left after DEL"],
      rows: DELEGATES.map((kind) => {
        const d = r.delegates[kind];
        return [KIND[kind], api(d.apiPerPod.add), api(d.apiPerPod.del), String(d.leftovers)];
      }),
    },
  ];
}

export function recordTargets(r: BenchRecord): string[] {
  const lines = [
    r.busy
      ? `taken under load (load average ${r.machine.loadBefore.toFixed(1)} before, ${r.machine.loadAfter.toFixed(1)} after, ${r.machine.cpus} CPUs): latencies are upper bounds`
      : `load average ${r.machine.loadBefore.toFixed(1)} before, ${r.machine.loadAfter.toFixed(1)} after`,
  ];
  for (const kind of DELEGATES) {
    const d = r.delegates[kind];
    const gets = (d.apiPerPod.add["GET pods"] ?? 0) + (d.apiPerPod.add["GET nads"] ?? 0);
    const failed = PHASES.map((p) => d.phases[p]).find((p) => p.failures > 0);
    lines.push(
      `[${kind}] ADD reads no pod or NAD from the API (${per(gets)} GET per pod): ${gets === 0 ? "met" : "MISSED"}; ` +
        `DEL leaves nothing behind (${d.leftovers} left): ${d.leftovers === 0 ? "met" : "MISSED"}`,
    );
    if (failed) lines.push(`[${kind}] FAILURES: first: ${failed.firstError?.trim().slice(0, 300)}`);
  }
  return lines;
}

/** The README's table: the figures of a run, one column per kind of delegate. */
export function readmeTable(r: BenchRecord): string {
  const row = (label: string, f: (d: DelegateRecord) => string) =>
    `| ${label} | ${DELEGATES.map((k) => f(r.delegates[k])).join(" | ")} |`;
  const trio = (l: { p50: number; p99: number; max: number }) => `${fmtMs(l.p50)} / ${fmtMs(l.p99)} / ${fmtMs(l.max)}`;
  const first = r.delegates[DELEGATES[0]!];
  return [
    `Shim start-up (\`multus-shim\` VERSION, spawn to exit): p50 / p99 / max ${trio(r.shimStartupMs)} ms.`,
    "",
    `| figure | ${DELEGATES.map((k) => KIND[k]).join(" | ")} |`,
    `|---|${DELEGATES.map(() => "---").join("|")}|`,
    ...PHASES.flatMap((name) => {
      const label = phaseLabel(name, first.phases[name].pods);
      return [
        row(`ADD p50 / p99 / max, ${label} (ms)`, (d) => trio(d.phases[name].add)),
        row(`DEL p50 / p99 / max, ${label} (ms)`, (d) => trio(d.phases[name].del)),
        row(
          `pods/s ADD / DEL, ${label}`,
          (d) => `${d.phases[name].addPodsPerSec.toFixed(1)} / ${d.phases[name].delPodsPerSec.toFixed(1)}`,
        ),
      ];
    }),
    row("daemon RSS at rest (MiB)", (d) => mib(d.rss.rest)),
    row("daemon RSS peak (MiB)", (d) => mib(d.rss.peak)),
    row("API requests per ADD", (d) => api(d.apiPerPod.add)),
    row("API requests per DEL", (d) => api(d.apiPerPod.del)),
  ].join("\n");
}

/** One line of results.md's history table. */
export function historyRow(r: BenchRecord): string {
  const t = r.delegates.trivial;
  const x = r.delegates.real;
  return `| ${r.at.slice(0, 16).replace("T", " ")} | ${r.commit}${r.dirty ? "+" : ""} | ${r.machine.loadBefore.toFixed(1)}-${r.machine.loadAfter.toFixed(1)} | ${fmtMs(r.shimStartupMs.p50)} | ${fmtMs(t.phases.c1.add.p50)} | ${fmtMs(x.phases.c1.add.p50)} | ${fmtMs(x.phases.burst.add.p99)} | ${x.phases.c32.addPodsPerSec.toFixed(1)} | ${mib(x.rss.rest)} | ${mib(x.rss.peak)} |`;
}

export const HISTORY_HEADER = [
  "| date (UTC) | commit | load before-after | shim start p50 | trivial ADD c1 p50 | real ADD c1 p50 | real burst ADD p99 | real c32 ADD pods/s | real RSS at rest | real RSS peak |",
  "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
].join("\n");

/** Every number in a record under `shimStartupMs` and `delegates`, by its path ("delegates.real.phases.c8.add.p99"). */
export function figures(r: BenchRecord): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (v: unknown, path: string) => {
    if (typeof v === "number") out.set(path, v);
    else if (v && typeof v === "object") for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
  };
  walk({ shimStartupMs: r.shimStartupMs, delegates: r.delegates }, "");
  return out;
}

/** new/old per figure both records have; `n`, pod counts and settings are not figures. */
export function compareRecords(oldR: BenchRecord, newR: BenchRecord): Table {
  if (oldR.schema !== SCHEMA || newR.schema !== SCHEMA)
    throw new Error(`records of schema ${oldR.schema} and ${newR.schema}; this bench reads schema ${SCHEMA}`);
  const old = figures(oldR);
  const skip = /\.(n|pods|concurrency)$/;
  const rows = [...figures(newR)]
    .filter(([k]) => !skip.test(k) && old.has(k))
    .map(([k, v]) => {
      const o = old.get(k)!;
      const ratio = o === 0 ? (v === 0 ? "1.00" : "new") : (v / o).toFixed(2);
      return [k.replace(/^delegates\./, "").replace(".phases.", "."), fmt(o), fmt(v), ratio];
    });
  const notes = [
    `old: ${oldR.at} ${oldR.commit}${oldR.busy ? " (busy)" : ""}; new: ${newR.at} ${newR.commit}${newR.busy ? " (busy)" : ""}.`,
    "pods/s: higher is better; everything else (ms, KiB, requests, failures): lower is better.",
  ];
  if (oldR.settings.quick !== newR.settings.quick) notes.push("One of them is a --quick run: different pod counts.");
  return { title: "new / old", headers: ["figure", "old", "new", "new/old"], rows, notes };
}

const fmt = (v: number) => (Number.isInteger(v) ? String(v) : v.toFixed(v >= 100 ? 0 : 2));
