// Local mode's report: the tables and target lines for bench/local.ts's figures.
import { cpus } from "node:os";
import type { LocalReport } from "./local.ts";
import { fmtMiB, fmtMs, verdict, type Table } from "./stats.ts";

export const TARGET = { shimStartMs: 15, overheadMs: 10, peakRssMiB: 50 };

export function localTables(r: LocalReport): Table[] {
  const o = r.options;
  const lat = (label: string, l: LocalReport["variants"][number]["seq"]) => [
    label,
    fmtMs(l.add.p50),
    fmtMs(l.add.p99),
    fmtMs(l.del.p50),
    fmtMs(l.del.p99),
    l.pairsPerSec.toFixed(0),
    l.callCpu ? fmtMs(l.callCpu.p50) : "-",
    l.daemonCpuPerPair !== undefined ? fmtMs(l.daemonCpuPerPair) : "-",
    String(l.failures),
  ];
  const latHeaders = [
    "path",
    "ADD p50",
    "ADD p99",
    "DEL p50",
    "DEL p99",
    "pairs/s",
    "proc CPU p50",
    "daemon CPU/pair",
    "failed",
  ];
  const mem = (m: { rss: number; anon: number; file: number }) =>
    `${fmtMiB(m.rss)} (${fmtMiB(m.anon)}/${fmtMiB(m.file)})`;
  return [
    {
      title: `Start-up: wall time from spawn to exit (ms), ${o.startupRuns} runs after 5 warm-up runs`,
      headers: ["command", "min", "p50", "p99", "max", "mean", "CPU p50"],
      rows: r.startup.map(({ name, wall: s, cpu }) => [
        name,
        fmtMs(s.min),
        fmtMs(s.p50),
        fmtMs(s.p99),
        fmtMs(s.max),
        fmtMs(s.mean),
        fmtMs(cpu.p50),
      ]),
      notes: [
        "`multus-shim VERSION`: the shim symlink with CNI_COMMAND=VERSION and its config on stdin.",
        "CPU: user + system time of the process (rusage). Commands run interleaved, one of each per round.",
      ],
    },
    {
      title: `ADD/DEL latency, sequential: ${o.iterations} x (ADD, DEL), ms`,
      headers: latHeaders,
      rows: [
        lat(`delegate alone (${o.delegate})`, r.variants[0]!.delegate.seq),
        ...r.variants.flatMap((v) => [
          lat(`[${v.name}] POST -> daemon, no shim`, v.post),
          lat(`[${v.name}] shim -> daemon`, v.seq),
        ]),
      ],
      notes: [
        "All rows run interleaved (one ADD+DEL pair of each in turn, one daemon per env), so they share the machine's load.",
        "delegate alone: the plugin exec'd by the bench as the daemon would (env + stdin).",
        "POST -> daemon: the shim's request sent from the bench process: daemon work + delegate exec, no shim start-up.",
        "proc CPU: CPU time of each spawned shim or delegate process (ADD and DEL together);",
        "daemon CPU/pair: the daemon's CPU time (all threads, /proc/<pid>/stat) per ADD+DEL pair; not the delegate's.",
      ],
    },
    {
      title: `ADD/DEL latency, ${o.concurrency} concurrent: ${o.concurrency} workers x ${o.perWorker} x (ADD, DEL), ms`,
      headers: latHeaders,
      rows: r.variants.flatMap((v) => [
        lat(`[${v.name}] delegate alone (${o.delegate})`, v.delegate.conc),
        lat(`[${v.name}] shim -> daemon`, v.conc),
      ]),
      notes: [
        `${cpus().length} CPUs: at ${o.concurrency} concurrent, latency is mostly queueing for a CPU.`,
        "The delegate alone runs just before the shim run, with the same concurrency.",
      ],
    },
    {
      title: "Multus overhead: shim -> daemon minus delegate alone, p50 (ms)",
      headers: [
        "daemon env",
        "ADD seq",
        "DEL seq",
        `ADD c${o.concurrency}`,
        `DEL c${o.concurrency}`,
        "in daemon ADD",
        "in daemon DEL",
      ],
      rows: r.variants.map(({ name, seq, conc, post, delegate: d }) => [
        name,
        fmtMs(seq.add.p50 - d.seq.add.p50),
        fmtMs(seq.del.p50 - d.seq.del.p50),
        fmtMs(conc.add.p50 - d.conc.add.p50),
        fmtMs(conc.del.p50 - d.conc.del.p50),
        fmtMs(post.add.p50 - d.seq.add.p50),
        fmtMs(post.del.p50 - d.seq.del.p50),
      ]),
      notes: [
        "in daemon: POST -> daemon (no shim) minus delegate alone, sequential; the rest of the overhead is the shim process.",
      ],
    },
    {
      title: "Daemon memory (MiB; RSS as total (anon/file))",
      headers: [
        "daemon env",
        "ready ms",
        "at rest",
        `peak c${o.concurrency} (sampled)`,
        "VmHWM",
        "after load, settled",
      ],
      rows: r.variants.map((v) => [
        v.name,
        v.readyMs.toFixed(0),
        mem(v.rest),
        mem(v.peak),
        fmtMiB(v.peak.hwm),
        mem(v.afterLoad),
      ]),
      notes: [
        "at rest: after start-up, once RSS stops moving (2 reads 0.5 s apart within 256 KiB).",
        `peak: max of /proc/<pid>/status every 10 ms during the concurrent run; VmHWM is the kernel's lifetime high-water mark.`,
        ...r.variants
          .filter((v) => Object.keys(v.env).length)
          .map(
            (v) =>
              `${v.name}: ${Object.entries(v.env)
                .map(([k, x]) => `${k}=${x}`)
                .join(" ")}`,
          ),
      ],
    },
  ];
}

export function localTargets(r: LocalReport): string[] {
  const shim = r.startup.find((s) => s.name === "multus-shim VERSION")!.wall;
  const lines = [
    `shim start-up p50 ${fmtMs(shim.p50)} ms (target < ${TARGET.shimStartMs}): ${verdict(shim.p50, TARGET.shimStartMs)}`,
  ];
  for (const v of r.variants) {
    const over = v.seq.add.p50 - v.delegate.seq.add.p50;
    const peak = Math.max(v.peak.hwm, v.peak.rss) / 1024;
    lines.push(
      `[${v.name}] multus overhead ADD p50 ${fmtMs(over)} ms (target < ${TARGET.overheadMs}): ${verdict(over, TARGET.overheadMs)}; ` +
        `daemon peak RSS ${peak.toFixed(1)} MiB (target < ${TARGET.peakRssMiB}): ${verdict(peak, TARGET.peakRssMiB)}`,
    );
    if (v.firstError) lines.push(`[${v.name}] FAILURES: first: ${v.firstError.trim().slice(0, 300)}`);
  }
  return lines;
}
