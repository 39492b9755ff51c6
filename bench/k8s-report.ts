// Kubernetes mode's report: tables and target lines for bench/k8s.ts's figures.
import { cpus } from "node:os";
import type { ApiCounts, DaemonRun, Half, K8sReport, Phase } from "./k8s.ts";
import { fmtMiB, fmtMs, verdict, type Table } from "./stats.ts";
import { TARGET } from "./local-report.ts";

/** Within this much, 1x and 1/10 of the API count as the same memory. */
const FLAT_MIB = 2;
const MAIN_KEYS = ["GET pods", "GET nads", "PATCH pods/status", "POST events"];

const label = (r: DaemonRun) => `${r.env}, API ${r.cluster.name}`;
const mem = (m: { rss: number; anon: number; file: number }) =>
  `${fmtMiB(m.rss)} (${fmtMiB(m.anon)}/${fmtMiB(m.file)})`;
const perPod = (n: number, pods: number) => (n / pods).toFixed(2).replace(/\.00$/, "");
const total = (api: ApiCounts) => Object.values(api).reduce((a, b) => a + b, 0);
const others = (api: ApiCounts, pods: number) =>
  Object.entries(api)
    .filter(([k]) => !MAIN_KEYS.includes(k))
    .map(([k, n]) => `${k} ${perPod(n, pods)}`)
    .join(", ") || "-";
const phases = (r: DaemonRun): Array<[string, Phase]> => [
  ["seq", r.seq],
  ...(r.post ? [["POST seq", r.post] as [string, Phase]] : []),
  [`c${r.conc.concurrency}`, r.conc],
];
const kb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

export function k8sTables(rep: K8sReport): Table[] {
  const o = rep.options;
  const lat = (r: DaemonRun, name: string, p: Phase) => [
    `[${label(r)}] ${name === "seq" ? "sequential" : name === "POST seq" ? "POST -> daemon, no shim, sequential" : `${p.concurrency} concurrent`}`,
    fmtMs(p.add.lat.p50),
    fmtMs(p.add.lat.p99),
    fmtMs(p.del.lat.p50),
    fmtMs(p.del.lat.p99),
    p.add.podsPerSec.toFixed(1),
    p.del.podsPerSec.toFixed(1),
    fmtMs(p.add.shimCpu.p50),
    fmtMs(p.add.daemonCpuPerPod),
    fmtMs(p.del.daemonCpuPerPod),
    String(p.add.failures + p.del.failures),
    String(p.leftovers),
  ];
  const api = (r: DaemonRun, name: string, p: Phase) => {
    const n = r.cluster.nodePods;
    const a = p.add.api;
    return [
      `[${label(r)}] ${name}`,
      ...MAIN_KEYS.map((k) => perPod(a[k] ?? 0, n)),
      others(a, n),
      perPod(total(p.del.api), n),
    ];
  };
  const first = rep.runs[0];
  return [
    {
      title: `Kubernetes: ADD/DEL of ${o.pods} pods through the shim, real delegates (ms)`,
      headers: [
        "daemon, API",
        "ADD p50",
        "ADD p99",
        "DEL p50",
        "DEL p99",
        "ADD pods/s",
        "DEL pods/s",
        "shim CPU ADD",
        "daemon CPU/ADD",
        "daemon CPU/DEL",
        "failed",
        "left",
      ],
      rows: [
        [
          "delegates alone, sequential",
          fmtMs(rep.delegates.add.p50),
          fmtMs(rep.delegates.add.p99),
          fmtMs(rep.delegates.del.p50),
          fmtMs(rep.delegates.del.p99),
          (1000 / rep.delegates.add.mean).toFixed(1),
          (1000 / rep.delegates.del.mean).toFixed(1),
          "-",
          "-",
          "-",
          String(rep.delegates.failures),
          "-",
        ],
        ...rep.runs.flatMap((r) => [...(r.post ? [lat(r, "POST seq", r.post)] : []), lat(r, "seq", r.seq)]),
        ...rep.runs.map((r) => lat(r, "conc", r.conc)),
      ],
      notes: [
        "Each pod: cluster network (bridge + host-local conflist) as eth0 and one NAD as net1 (bridge + host-local, or macvlan on a veth), in its own netns.",
        "sequential: per pod ADD then DEL; the delegates alone and every daemon (all running side by side, each with its own API) take turns pod by pod, so they share the machine's load.",
        `concurrent: ADD every pod with ${o.concurrency} workers, then DEL every pod; one daemon at a time. The shim's stdin is the 00-multus.conf the daemon wrote.`,
        "delegates alone: bridge (eth0) then the pod's NAD plugin (net1) exec'd by the bench with the config and env the daemon gives them; no multus.",
        "POST -> daemon: the shim's request sent from the bench process over the socket: the daemon's work + delegates, no shim process.",
        "daemon CPU: the daemon's own CPU time per pod (/proc/<pid>/stat), not its delegates'. left: host-local IPs and cache files after the DELs.",
        `${cpus().length} CPUs: at ${o.concurrency} concurrent, latency is mostly queueing (connectionLimit 16 from the DaemonSet's config).`,
      ],
    },
    {
      title: "Kubernetes: API requests per pod, by verb (the fake API server's counters)",
      headers: ["daemon, API, phase", ...MAIN_KEYS.map((k) => `ADD ${k}`), "ADD other", "DEL all"],
      rows: rep.runs.flatMap((r) => phases(r).map(([name, p]) => api(r, name, p))),
      notes: [
        "Events are posted after the reply (one AddedInterface per interface): sequential, each ADD's are awaited before its DEL; concurrent, counted once the counters stop moving.",
        ...(first
          ? [
              `Start-up (spawn to ready): ${Object.entries(first.startApi)
                .map(([k, n]) => `${k} ${n}`)
                .join(", ")}; ` + `pod list query \`${decodeURIComponent(first.podListQuery)}\`.`,
            ]
          : []),
      ],
    },
    {
      title: "Kubernetes: daemon memory vs API size (MiB; RSS as total (anon/file))",
      headers: [
        "daemon, API",
        "pods (here)",
        "NADs",
        "API JSON",
        "ready ms",
        "at rest",
        "peak (sampled)",
        "VmHWM",
        "after load, settled",
      ],
      rows: rep.runs.map((r) => [
        label(r),
        `${r.cluster.nodePods + r.cluster.otherPods} (${r.cluster.nodePods})`,
        String(Math.max(r.cluster.nads, 10)),
        `${kb(r.cluster.podBytes + r.cluster.nadBytes)} (${kb(r.cluster.nodePodBytes)} here)`,
        r.readyMs.toFixed(0),
        mem(r.rest),
        mem(r.peak),
        fmtMiB(r.peak.hwm),
        mem(r.afterLoad),
      ]),
      notes: [
        "at rest: once /readyz answers (informers listed) and RSS stops moving. peak: max of /proc/<pid>/status every 20 ms over both phases.",
        "API 1/10: 10x fewer pods and NADs in the API, the same pods on this node (a node's pods are bounded by its capacity, the cluster is not).",
        ...Object.entries(Object.fromEntries(rep.runs.map((r) => [r.env, r.envVars]))).map(
          ([name, env]) =>
            `${name}: ${
              Object.entries(env)
                .map(([k, v]) => `${k}=${v}`)
                .join(" ") || "no tunables"
            }`,
        ),
      ],
    },
  ];
}

export function k8sTargets(rep: K8sReport): string[] {
  const lines: string[] = [];
  const halves = rep.runs.flatMap((r) => phases(r).map(([name, p]) => ({ r, name, p })));
  const addOk = (h: Half, pods: number) =>
    (h.api["GET pods"] ?? 0) === 0 &&
    (h.api["GET nads"] ?? 0) === 0 &&
    (h.api["PATCH pods/status"] ?? 0) === pods - h.failures;
  const badAdd = halves.filter(({ r, p }) => !addOk(p.add, r.cluster.nodePods));
  lines.push(
    `ADD: no GET of pod or NAD and exactly 1 PATCH pods/status per pod in every run and phase: ${badAdd.length ? `MISSED (${badAdd.map(({ r, name }) => `${label(r)} ${name}`).join("; ")})` : "met"}`,
  );
  const badDel = halves.filter(({ p }) => total(p.del.api) !== 0);
  lines.push(
    `DEL: no API request: ${badDel.length ? `MISSED (${badDel.map(({ r, name, p }) => `${label(r)} ${name}: ${JSON.stringify(p.del.api)}`).join("; ")})` : "met"}`,
  );
  const scoped = rep.runs.every((r) => decodeURIComponent(r.podListQuery).includes("fieldSelector=spec.nodeName="));
  lines.push(
    `pod informer lists and watches only this node's pods (fieldSelector spec.nodeName): ${scoped ? "met" : "MISSED"}`,
  );
  for (const env of [...new Set(rep.runs.map((r) => r.env))]) {
    const big = rep.runs.find((r) => r.env === env && r.cluster.name === "1x");
    const small = rep.runs.find((r) => r.env === env && r.cluster.name !== "1x");
    if (big) {
      const over = big.seq.add.lat.p50 - rep.delegates.add.p50;
      const inDaemon = big.post
        ? `; in the daemon (POST, no shim) ${fmtMs(big.post.add.lat.p50 - rep.delegates.add.p50)} ADD, ${fmtMs(big.post.del.lat.p50 - rep.delegates.del.p50)} DEL`
        : "";
      lines.push(
        `[${env}] multus overhead p50 ADD ${fmtMs(over)} ms, DEL ${fmtMs(big.seq.del.lat.p50 - rep.delegates.del.p50)} ms (sequential through the shim minus the delegates alone; ADD target < ${TARGET.overheadMs}): ${verdict(over, TARGET.overheadMs)}${inDaemon}`,
      );
      const peak = Math.max(big.peak.hwm, big.peak.rss) / 1024;
      lines.push(
        `[${env}] daemon peak RSS ${peak.toFixed(1)} MiB with ${big.cluster.nodePods + big.cluster.otherPods} pods and ${big.cluster.nads} NADs in the API (target < ${TARGET.peakRssMiB}): ${verdict(peak, TARGET.peakRssMiB)}`,
      );
    }
    if (big && small) {
      const dRest = (big.rest.rss - small.rest.rss) / 1024;
      const dPeak = (Math.max(big.peak.hwm, big.peak.rss) - Math.max(small.peak.hwm, small.peak.rss)) / 1024;
      const flat = Math.abs(dRest) < FLAT_MIB && Math.abs(dPeak) < FLAT_MIB;
      lines.push(
        `[${env}] RSS, API 1/10 -> 1x (10x the objects): at rest ${fmtMiB(small.rest.rss)} -> ${fmtMiB(big.rest.rss)} (${dRest >= 0 ? "+" : ""}${dRest.toFixed(1)}), ` +
          `peak ${fmtMiB(Math.max(small.peak.hwm, small.peak.rss))} -> ${fmtMiB(Math.max(big.peak.hwm, big.peak.rss))} (${dPeak >= 0 ? "+" : ""}${dPeak.toFixed(1)}) MiB; flat within ${FLAT_MIB} MiB: ${flat ? "met" : "MISSED"}`,
      );
    }
  }
  for (const { r, name, p } of halves) {
    const err = p.add.firstError ?? p.del.firstError;
    if (err)
      lines.push(
        `[${label(r)}] ${name} FAILURES (${p.add.failures} ADD, ${p.del.failures} DEL); first: ${err.trim().slice(0, 300)}`,
      );
    if (p.leftovers) lines.push(`[${label(r)}] ${name}: ${p.leftovers} IPs/cache files left after DEL`);
  }
  return lines;
}
