// A/B mode: two builds side by side, their calls alternated, so both see the
// same machine load. Back-to-back runs of one build swing by up to ±15 ms per
// ADD on a shared machine; alternated calls do not.
//
//   bun run bench ab --a <exe> | --a-ref <git rev>   [--b <exe> | --b-ref <git rev>]
//                    [--a-env K=V,K=V] [--b-env K=V] [--rounds N] [--burst N] [--paced N]
//                    [--interval MS] [--other-pods N] [--nads N]
//
// b defaults to --binary (dist/multus, which `bun run bench` rebuilds); a ref is
// built from `git archive <rev>` in a temp dir. Each side gets a fresh copy of
// its executable (a new inode, so neither starts with warmer page cache), its
// own fake API server (tests/helpers/fake-kube.ts) and one daemon with the
// DaemonSet's daemon-config.json and no environment variables unless --a-env /
// --b-env say so. Every pod has two networks (the cluster network and a NAD),
// both a trivial delegate (a dash script): what multus itself costs.
//
// Phases: `rounds` bursts of `burst` ADDs in flight through the shim (then
// their DELs), a at first in even rounds and b in odd; then `paced` ADDs per
// side, one call every `interval` ms alternating a, b, a, b, then their DELs
// the same way. Memory: /proc/<pid>/status at rest and sampled every 10 ms.
// Latency is only ever reported as this side-by-side ratio.
import { mkdir, mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { $ } from "bun";
import type { FakeKube } from "../tests/helpers/fake-kube.ts";
import { createCleanup } from "../tests/helpers/netns.ts";
import { isBusy, runInfo } from "./info.ts";
import {
  type BenchDaemon,
  callCni,
  createHost,
  createWorkdir,
  newContainerId,
  type PodSpec,
  planHost,
  removeHost,
  startCluster,
  startDaemon,
  sweepStale,
  type Workdir,
} from "./k8s.ts";
import type { BenchMode } from "./mode.ts";
import { type MemStatus, readCpuMs, runPool, sampleMem, settledMem } from "./proc.ts";
import { fmtMs, summarize, type Table } from "./stats.ts";

const REPO = resolve(import.meta.dir, "..");

export interface AbSettings {
  rounds: number;
  burst: number;
  paced: number;
  intervalMs: number;
  otherPods: number;
  nads: number;
}

export interface AbSideSpec {
  /** What the table calls it: the path or `ref <rev>`. */
  label: string;
  binary: string;
  env: Record<string, string>;
}

/** One side's figures: latencies in ms, memory in MiB, CPU in ms. */
export interface AbFigures {
  addP50: number;
  addP99: number;
  delP50: number;
  burstAddP50: number;
  burstAddP99: number;
  restRss: number;
  restAnon: number;
  restFile: number;
  peakRss: number;
  peakAnon: number;
  peakFile: number;
  /** The daemon's CPU time from an ADD to the next call to it (events posted after the reply included), mean. */
  daemonCpuPerAdd: number;
  /** The shim process's user + system time per ADD, p50. */
  shimCpuPerAdd: number;
  calls: number;
  failures: number;
}

export interface AbReport {
  schema: 1;
  at: string;
  commit: string;
  machine: { cpus: number; cpu: string; loadBefore: number; loadAfter: number; busy: boolean };
  settings: AbSettings;
  a: AbSideSpec & { version: string; figures: AbFigures; firstError?: string };
  b: AbSideSpec & { version: string; figures: AbFigures; firstError?: string };
  /** b / a per figure. */
  ratio: Record<keyof AbFigures, number>;
}

interface Side {
  spec: AbSideSpec;
  w: Workdir;
  fake: FakeKube;
  pods: PodSpec[];
  d: BenchDaemon;
  burst: number[];
  add: number[];
  del: number[];
  shimCpuAdd: number[];
  daemonCpuAdd: number;
  /** The daemon's CPU time when its last ADD began (NaN when the last call was not an ADD). */
  cpuAtAdd: number;
  failures: number;
  firstError?: string;
}

/** `git archive <rev>` into `dir`, built there with build.ts; returns the executable. */
async function buildRef(rev: string, dir: string, progress: (l: string) => void): Promise<string> {
  const commit = (await $`git -C ${REPO} rev-parse --short ${rev}`.quiet().text()).trim();
  const src = join(dir, `src-${commit}`);
  await mkdir(src, { recursive: true });
  await $`git -C ${REPO} archive ${commit} | tar -x -C ${src}`.quiet();
  await symlink(join(REPO, "node_modules"), join(src, "node_modules"));
  progress(`building ${rev} (${commit}) in ${src}`);
  const proc = Bun.spawn([process.execPath, "run", "build.ts"], {
    cwd: src,
    env: { ...process.env, MULTUS_COMMIT: commit },
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`building ${rev} failed (exit ${code}): ${err}`);
  return join(src, "dist", "multus");
}

/** "K=V,K=V" -> env. */
export function parseEnv(s: unknown): Record<string, string> {
  if (typeof s !== "string" || s === "") return {};
  return Object.fromEntries(
    s.split(",").map((kv) => {
      const i = kv.indexOf("=");
      if (i <= 0) throw new Error(`--a-env/--b-env: "${kv}" is not K=V`);
      return [kv.slice(0, i), kv.slice(i + 1)];
    }),
  );
}

function note(s: Side, what: string, r: { error?: string }): void {
  if (!r.error) return;
  s.failures++;
  s.firstError ??= `${what}: ${r.error}`;
}

/** `burst` ADDs in flight through one side's shim, then their DELs (untimed). */
async function runBurst(s: Side, n: number): Promise<void> {
  const ids = s.pods.slice(0, n).map(newContainerId);
  await runPool(n, n, async (i) => {
    const r = await callCni(s.w, s.d, "shim", s.pods[i]!, "ADD", ids[i]!);
    s.burst.push(r.ms);
    note(s, `burst ADD ${i}`, r);
  });
  await runPool(n, n, async (i) =>
    note(s, `burst DEL ${i}`, await callCni(s.w, s.d, "shim", s.pods[i]!, "DEL", ids[i]!)),
  );
}

/**
 * `n` calls per side, one every `intervalMs`, a and b in turn. The daemon's CPU
 * from one ADD to the next call to it (its events go out after the reply) is
 * counted as that ADD's.
 */
async function runPaced(
  sides: Side[],
  o: { command: "ADD" | "DEL"; ids: string[][]; intervalMs: number },
): Promise<void> {
  const n = o.ids[0]!.length;
  let next = performance.now();
  for (let i = 0; i < n; i++) {
    for (const [k, s] of sides.entries()) {
      const wait = next - performance.now();
      if (wait > 0) await Bun.sleep(wait);
      next += o.intervalMs;
      const cpu = await readCpuMs(s.d.proc.pid);
      if (!Number.isNaN(s.cpuAtAdd)) s.daemonCpuAdd += cpu - s.cpuAtAdd;
      const r = await callCni(s.w, s.d, "shim", s.pods[i]!, o.command, o.ids[k]![i]!);
      s.cpuAtAdd = o.command === "ADD" ? cpu : Number.NaN;
      note(s, `paced ${o.command} ${i}`, r);
      if (o.command === "ADD") {
        s.add.push(r.ms);
        if (r.cpuMs !== undefined) s.shimCpuAdd.push(r.cpuMs);
      } else s.del.push(r.ms);
    }
  }
}

const mib = (kib: number) => kib / 1024;

function figures(s: Side, rest: MemStatus, peak: MemStatus): AbFigures {
  const add = summarize(s.add);
  const burst = summarize(s.burst);
  return {
    addP50: add.p50,
    addP99: add.p99,
    delP50: summarize(s.del).p50,
    burstAddP50: burst.p50,
    burstAddP99: burst.p99,
    restRss: mib(rest.rss),
    restAnon: mib(rest.anon),
    restFile: mib(rest.file),
    peakRss: mib(Math.max(peak.rss, peak.hwm)),
    peakAnon: mib(peak.anon),
    peakFile: mib(peak.file),
    daemonCpuPerAdd: s.daemonCpuAdd / Math.max(1, s.add.length),
    shimCpuPerAdd: summarize(s.shimCpuAdd).p50,
    calls: s.burst.length + s.add.length + s.del.length,
    failures: s.failures,
  };
}

export async function runAb(
  specs: [AbSideSpec, AbSideSpec],
  st: AbSettings,
  progress: (l: string) => void,
): Promise<{ sides: Side[]; rest: MemStatus[]; peak: MemStatus[] }> {
  const h = planHost(Math.max(st.burst, st.paced));
  const cleanup = createCleanup();
  const onSignal = (sig: NodeJS.Signals) => {
    progress(`${sig}: cleaning up`);
    void cleanup.run().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await sweepStale(progress);
    cleanup.add(() => removeHost(h));
    await createHost(h);
    const sides: Side[] = [];
    for (const spec of specs) {
      // createWorkdir copies the executable: a new inode per side, page cache equally warm.
      const w = await createWorkdir(spec.binary, h, "trivial");
      cleanup.add(() => rm(w.dir, { recursive: true, force: true }));
      const nodePods = Math.max(st.burst, st.paced);
      const { fake, pods } = await startCluster(h, w, { name: "ab", nodePods, otherPods: st.otherPods, nads: st.nads });
      cleanup.add(() => fake.stop());
      const d = await startDaemon(w, { tag: "d", env: spec.env, fake });
      cleanup.add(d.stop);
      progress(`[${spec.label}] daemon ready in ${d.readyMs.toFixed(0)} ms`);
      sides.push({
        spec,
        w,
        fake,
        pods,
        d,
        burst: [],
        add: [],
        del: [],
        shimCpuAdd: [],
        daemonCpuAdd: 0,
        cpuAtAdd: Number.NaN,
        failures: 0,
      });
    }
    progress("waiting for both daemons' RSS to settle");
    const rest = await Promise.all(sides.map((s) => settledMem(s.d.proc.pid)));
    const samplers = sides.map((s) => sampleMem(s.d.proc.pid, 10));
    for (let r = 0; r < st.rounds; r++) {
      progress(`round ${r + 1}/${st.rounds}: a burst of ${st.burst} ADDs in flight on each side`);
      for (const s of r % 2 === 0 ? sides : [...sides].reverse()) await runBurst(s, st.burst);
    }
    progress(`${st.paced} paced ADDs per side, one call every ${st.intervalMs} ms, a and b in turn; then the DELs`);
    const ids = sides.map(() => Array.from({ length: st.paced }, newContainerId));
    await runPaced(sides, { command: "ADD", ids, intervalMs: st.intervalMs });
    await runPaced(sides, { command: "DEL", ids, intervalMs: st.intervalMs });
    const peak = await Promise.all(samplers.map((x) => x.stop()));
    for (const s of sides) {
      if (s.d.proc.exitCode !== null)
        throw new Error(`[${s.spec.label}] daemon exited with ${s.d.proc.exitCode}: ${s.d.output()}`);
    }
    return { sides, rest, peak };
  } finally {
    await cleanup.run();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

const ROWS: Array<{ key: keyof AbFigures; name: string; fmt: (v: number) => string }> = [
  { key: "addP50", name: "ADD p50, paced (ms)", fmt: fmtMs },
  { key: "addP99", name: "ADD p99, paced (ms)", fmt: fmtMs },
  { key: "delP50", name: "DEL p50, paced (ms)", fmt: fmtMs },
  { key: "burstAddP50", name: "ADD p50, burst in flight (ms)", fmt: fmtMs },
  { key: "burstAddP99", name: "ADD p99, burst in flight (ms)", fmt: fmtMs },
  { key: "restRss", name: "daemon RSS at rest (MiB)", fmt: (v) => v.toFixed(1) },
  { key: "restAnon", name: "  of it RssAnon", fmt: (v) => v.toFixed(1) },
  { key: "restFile", name: "  of it RssFile", fmt: (v) => v.toFixed(1) },
  { key: "peakRss", name: "daemon peak RSS (MiB)", fmt: (v) => v.toFixed(1) },
  { key: "peakAnon", name: "  peak RssAnon", fmt: (v) => v.toFixed(1) },
  { key: "peakFile", name: "  peak RssFile", fmt: (v) => v.toFixed(1) },
  { key: "daemonCpuPerAdd", name: "daemon CPU per ADD (ms)", fmt: fmtMs },
  { key: "shimCpuPerAdd", name: "shim CPU per ADD, p50 (ms)", fmt: fmtMs },
  { key: "failures", name: "failed calls", fmt: (v) => String(v) },
];

export function abTable(r: AbReport): Table {
  return {
    title: `A/B: a = ${r.a.label}, b = ${r.b.label}`,
    headers: ["figure", "a", "b", "b/a"],
    rows: ROWS.map(({ key, name, fmt }) => [
      name,
      fmt(r.a.figures[key]),
      fmt(r.b.figures[key]),
      Number.isFinite(r.ratio[key]) ? r.ratio[key].toFixed(2) : "-",
    ]),
    notes: [
      `a: ${r.a.version}${Object.keys(r.a.env).length ? `, env ${JSON.stringify(r.a.env)}` : ""}`,
      `b: ${r.b.version}${Object.keys(r.b.env).length ? `, env ${JSON.stringify(r.b.env)}` : ""}`,
      `${r.settings.rounds} bursts of ${r.settings.burst} per side (sides alternated), then ${r.settings.paced} paced ADDs and DELs per side, a call every ${r.settings.intervalMs} ms alternating a and b.`,
      "Two networks per pod, trivial delegates; one daemon and fake API per side; peak RSS is max(VmHWM, sampled VmRSS).",
      "daemon CPU per ADD: /proc/<pid>/stat (10 ms ticks) from an ADD to the next call to that daemon, mean; shim CPU: rusage.",
    ],
  };
}

const int = (s: unknown, dflt: number) => (typeof s === "string" ? Number.parseInt(s, 10) : dflt);

export const abMode: BenchMode = {
  name: "ab",
  title: "A/B mode",
  flags: {
    a: { type: "string" },
    b: { type: "string" },
    "a-ref": { type: "string" },
    "b-ref": { type: "string" },
    "a-env": { type: "string" },
    "b-env": { type: "string" },
    rounds: { type: "string" },
    burst: { type: "string" },
    paced: { type: "string" },
    interval: { type: "string" },
    "other-pods": { type: "string" },
    nads: { type: "string" },
  },
  async run({ values, quick, binary, progress }) {
    if (process.getuid?.() !== 0) throw new Error("ab mode needs root (network namespaces)");
    const st: AbSettings = {
      rounds: int(values.rounds, quick ? 1 : 3),
      burst: int(values.burst, quick ? 8 : 32),
      paced: int(values.paced, quick ? 4 : 100),
      intervalMs: int(values.interval, quick ? 20 : 100),
      otherPods: int(values["other-pods"], quick ? 0 : 1000),
      nads: int(values.nads, quick ? 0 : 500),
    };
    if (st.burst < 1 || st.paced < 1 || Math.max(st.burst, st.paced) > 250)
      throw new Error("--burst and --paced must be 1..250");
    const tmp = await mkdtemp(join(tmpdir(), "multus-bench-ab-"));
    try {
      const side = async (k: "a" | "b"): Promise<AbSideSpec> => {
        const path = values[k];
        const ref = values[`${k}-ref`];
        if (typeof path === "string" && typeof ref === "string") throw new Error(`give --${k} or --${k}-ref, not both`);
        const env = parseEnv(values[`${k}-env`]);
        if (typeof ref === "string")
          return { label: `ref ${ref}`, binary: await buildRef(ref, join(tmp, k), progress), env };
        if (typeof path === "string") return { label: path, binary: resolve(path), env };
        if (k === "a") throw new Error("ab mode needs --a <executable> or --a-ref <git rev>");
        return { label: binary, binary, env };
      };
      const specs: [AbSideSpec, AbSideSpec] = [await side("a"), await side("b")];
      const info = runInfo(specs[1].binary);
      const at = new Date().toISOString();
      const run = await runAb(specs, st, progress);
      const loadAfter = runInfo(specs[1].binary).load;
      const sideReport = (k: 0 | 1) => ({
        ...specs[k],
        version: runInfo(specs[k].binary).version,
        figures: figures(run.sides[k]!, run.rest[k]!, run.peak[k]!),
        ...(run.sides[k]!.firstError && { firstError: run.sides[k]!.firstError }),
      });
      const a = sideReport(0);
      const b = sideReport(1);
      const ratio = Object.fromEntries(
        Object.keys(a.figures).map((k) => {
          const key = k as keyof AbFigures;
          return [key, b.figures[key] / a.figures[key]];
        }),
      ) as AbReport["ratio"];
      const report: AbReport = {
        schema: 1,
        at,
        commit: info.commit,
        machine: {
          cpus: info.cpus,
          cpu: info.cpu,
          loadBefore: info.load,
          loadAfter,
          busy: isBusy(Math.max(info.load, loadAfter)),
        },
        settings: st,
        a,
        b,
        ratio,
      };
      const failed = [a, b].find((x) => x.figures.failures > 0);
      return {
        tables: [abTable(report)],
        targets: failed
          ? [`[${failed.label}] ${failed.figures.failures} failed calls; first: ${failed.firstError}`]
          : [],
        settings: { ...st, a: a.label, b: b.label },
        json: report,
      };
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  },
};
