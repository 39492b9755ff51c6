// Local mode: no Kubernetes. The compiled binary as shim and daemon, one static
// delegate (clusterNetwork) that answers at once, in a temp dir on the real disk.
// Measures start-up, ADD/DEL latency (sequential and concurrent), the multus
// overhead over the delegate's own exec time, and the daemon's memory, for
// each daemon environment variant. One daemon per variant runs side by side:
// the sequential phase interleaves all of them (and the delegate alone), so a
// change in machine load cannot favour the variant that happened to run first.
import { chmod, copyFile, mkdtemp, mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { $, type Subprocess } from "bun";
import { waitForReady } from "../tests/helpers/multus.ts";
import { buildRecordingPlugin } from "../tests/helpers/build-fixtures.ts";
import { readCpuMs, runPool, sampleMem, settledMem, timeExec, type ExecSpec, type MemStatus } from "./proc.ts";
import { summarize, type Summary } from "./stats.ts";
import type { BenchMode } from "./mode.ts";
import { localTables, localTargets } from "./local-report.ts";

/** Daemon environments to compare (the memory tunables of bench/results.md). */
export const VARIANTS: Record<string, Record<string, string>> = {
  default: {},
  "useJIT=0": { BUN_JSC_useJIT: "0" },
  "PURGE_DELAY=0": { MIMALLOC_PURGE_DELAY: "0" },
  "useJIT=0 + PURGE_DELAY=0": { BUN_JSC_useJIT: "0", MIMALLOC_PURGE_DELAY: "0" },
};

export interface LocalOptions {
  /** The compiled multus executable under test. */
  binary: string;
  startupRuns: number;
  /** Sequential ADD+DEL pairs. */
  iterations: number;
  concurrency: number;
  /** ADD+DEL pairs per concurrent worker. */
  perWorker: number;
  variants: string[];
  /** "sh": a dash script; "recorder": the compiled recording test plugin (a Bun executable). */
  delegate: "sh" | "recorder";
  /** Print progress lines to stderr. */
  progress: (line: string) => void;
}

export interface Latency {
  add: Summary;
  del: Summary;
  /** CPU time of the spawned process (shim or delegate) per call, ADD and DEL together. */
  callCpu?: Summary;
  /** The daemon's CPU time per ADD+DEL pair (from /proc/<pid>/stat). */
  daemonCpuPerPair?: number;
  /** ADD+DEL pairs per second of wall time. */
  pairsPerSec: number;
  failures: number;
}

export interface VariantReport {
  name: string;
  env: Record<string, string>;
  readyMs: number;
  rest: MemStatus;
  seq: Latency;
  /** Bench process -> POST /cni over the socket, no shim process: the daemon's own cost plus the delegate. */
  post: Latency;
  conc: Latency;
  /** The delegate exec'd directly, measured alongside (same moments, same concurrency). */
  delegate: { seq: Latency; conc: Latency };
  peak: MemStatus & { samples: number };
  afterLoad: MemStatus;
  firstError?: string;
}

export interface StartupRow {
  name: string;
  wall: Summary;
  /** user + system CPU time of the process. */
  cpu: Summary;
}

export interface LocalReport {
  options: Omit<LocalOptions, "progress">;
  startup: StartupRow[];
  variants: VariantReport[];
}

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// A real, empty netns: ADD checks that the netns exists before a delegate runs.
const NETNS_NAME = `mtbench-local-${process.pid}`;
const NETNS = `/var/run/netns/${NETNS_NAME}`;
const CNI_ARGS = "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=bench";
const RESULT = {
  cniVersion: "1.0.0",
  interfaces: [{ name: "eth0", mac: "0a:58:0a:f4:00:05", sandbox: NETNS }],
  ips: [{ address: "10.244.0.5/24", gateway: "10.244.0.1", interface: 0 }],
};

/** A CNI plugin in dash: drains stdin, prints a fixed result on ADD, nothing else. */
const SH_PLUGIN = `#!/bin/sh
while IFS= read -r _l; do :; done
case "$CNI_COMMAND" in
ADD) printf '%s' '${JSON.stringify(RESULT)}' ;;
VERSION) printf '%s' '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}' ;;
esac
`;

interface Workdir {
  dir: string;
  /** The snapshot of the binary under test. */
  multus: string;
  binDir: string;
  shim: string;
  confPath: string;
  delegateType: string;
  delegateConf: string;
}

/** Where one daemon lives: its socket, its cache, its config. */
interface DaemonDirs {
  socketDir: string;
  cniDir: string;
  configPath: string;
}

async function createWorkdir(binary: string, delegate: LocalOptions["delegate"]): Promise<Workdir> {
  // tmpdir() is on the root filesystem here (ext4): fsyncs cost what they cost on a node.
  const dir = await mkdtemp(join(tmpdir(), "multus-bench-"));
  const binDir = join(dir, "bin");
  await Promise.all([binDir, join(dir, "net.d")].map((d) => mkdir(d, { recursive: true })));
  // A snapshot: other work in the repo may rebuild dist/multus while we measure.
  const multus = join(dir, "multus");
  await copyFile(binary, multus);
  await chmod(multus, 0o755);
  const shim = join(binDir, "multus-shim");
  await symlink(multus, shim);
  let delegateType: string;
  let conf: Record<string, unknown>;
  if (delegate === "sh") {
    delegateType = "static";
    await writeFile(join(binDir, delegateType), SH_PLUGIN);
    await chmod(join(binDir, delegateType), 0o755);
    conf = { cniVersion: "1.0.0", name: "static-net", type: delegateType };
  } else {
    delegateType = "recorder";
    await symlink(await buildRecordingPlugin(), join(binDir, delegateType));
    conf = { cniVersion: "1.0.0", name: "static-net", type: delegateType, result: RESULT };
  }
  const confPath = join(dir, "net.d", "10-static.conf");
  const delegateConf = JSON.stringify(conf);
  await writeFile(confPath, delegateConf);
  return { dir, multus, binDir, shim, confPath, delegateType, delegateConf };
}

async function createDaemonDirs(w: Workdir, index: number): Promise<DaemonDirs> {
  const d: DaemonDirs = {
    socketDir: join(w.dir, `run-${index}`),
    cniDir: join(w.dir, `cache-${index}`),
    configPath: join(w.dir, `daemon-config-${index}.json`),
  };
  await mkdir(d.cniDir, { recursive: true });
  await writeFile(
    d.configPath,
    JSON.stringify({
      socketDir: d.socketDir,
      cniDir: d.cniDir,
      binDir: w.binDir,
      confDir: join(w.dir, "net.d"),
      clusterNetwork: w.confPath,
      multusConfigFile: "",
    }),
  );
  return d;
}

function cniEnv(w: Workdir, command: string, containerId: string): Record<string, string> {
  return {
    PATH,
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: NETNS,
    CNI_IFNAME: "eth0",
    CNI_ARGS,
    CNI_PATH: w.binDir,
  };
}

function shimStdin(socketDir: string): string {
  return JSON.stringify({
    cniVersion: "1.0.0",
    name: "multus-cni-network",
    type: "multus-shim",
    daemonSocketDir: socketDir,
  });
}

/** One CNI call: returns its wall time (and the CPU time of the process it spawned); a failure is counted and the first one kept. */
type Call = (command: "ADD" | "DEL", containerId: string) => Promise<{ ms: number; cpuMs?: number; error?: string }>;

function shimCall(w: Workdir, d: DaemonDirs): Call {
  const stdin = shimStdin(d.socketDir);
  return async (command, id) => {
    const r = await timeExec({ cmd: [w.shim], env: cniEnv(w, command, id), stdin });
    return {
      ms: r.ms,
      cpuMs: r.cpuMs,
      error: r.code === 0 ? undefined : `shim ${command} exit ${r.code}: ${r.stdout}${r.stderr}`,
    };
  };
}

function delegateCall(w: Workdir): Call {
  const exe = join(w.binDir, w.delegateType);
  return async (command, id) => {
    const r = await timeExec({ cmd: [exe], env: cniEnv(w, command, id), stdin: w.delegateConf });
    return {
      ms: r.ms,
      cpuMs: r.cpuMs,
      error: r.code === 0 ? undefined : `delegate ${command} exit ${r.code}: ${r.stdout}${r.stderr}`,
    };
  };
}

/** The request the shim would send, posted from this process: no shim start-up in the figure. */
function postCall(w: Workdir, d: DaemonDirs): Call {
  const config = Buffer.from(shimStdin(d.socketDir)).toString("base64");
  const socket = join(d.socketDir, "multus.sock");
  return async (command, id) => {
    const { PATH: _, ...env } = cniEnv(w, command, id);
    const t0 = performance.now();
    const res = await fetch("http://dummy/cni", {
      unix: socket,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ env, config }),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    return { ms, error: res.status === 200 ? undefined : `POST ${command} ${res.status}: ${text}` };
  };
}

const sum = (xs: number[]) => xs.reduce((x, y) => x + y, 0);

interface Measured {
  call: Call;
  /** The daemon its requests reach (its CPU time is counted per pair). */
  daemonPid?: number;
}

/**
 * `pairs` ADD-then-DEL pairs with `concurrency` workers; every pair has its own
 * container ID. With several calls, each pair index runs them one after the
 * other, so they share whatever the machine's load was at that moment.
 */
async function measurePairs(
  calls: Measured[],
  o: { pairs: number; concurrency: number; tag: string },
): Promise<Array<Latency & { firstError?: string }>> {
  const acc = calls.map(() => ({
    add: [] as number[],
    del: [] as number[],
    cpu: [] as number[],
    failures: 0,
    firstError: undefined as string | undefined,
  }));
  const note = (k: number, r: { cpuMs?: number; error?: string }) => {
    const a = acc[k]!;
    if (r.cpuMs !== undefined) a.cpu.push(r.cpuMs);
    if (r.error) {
      a.failures++;
      a.firstError ??= r.error;
    }
  };
  const pids = [...new Set(calls.map((c) => c.daemonPid).filter((p): p is number => p !== undefined))];
  const cpu0 = new Map(await Promise.all(pids.map(async (p) => [p, await readCpuMs(p)] as const)));
  const t0 = performance.now();
  await runPool(o.concurrency, o.pairs, async (i) => {
    for (const [k, { call }] of calls.entries()) {
      const id = `${o.tag}-${k}-${i}`;
      const a = await call("ADD", id);
      note(k, a);
      acc[k]!.add.push(a.ms);
      const d = await call("DEL", id);
      note(k, d);
      acc[k]!.del.push(d.ms);
    }
  });
  const wallS = (performance.now() - t0) / 1000;
  // A daemon's CPU time is shared by the calls that reached it (shim and POST: the same work inside).
  const cpuPerPair = new Map(
    await Promise.all(
      pids.map(async (p) => {
        const share = calls.filter((c) => c.daemonPid === p).length;
        return [p, ((await readCpuMs(p)) - cpu0.get(p)!) / (o.pairs * share)] as const;
      }),
    ),
  );
  return calls.map((c, k) => {
    const a = acc[k]!;
    return {
      add: summarize(a.add),
      del: summarize(a.del),
      callCpu: a.cpu.length ? summarize(a.cpu) : undefined,
      daemonCpuPerPair: c.daemonPid === undefined ? undefined : cpuPerPair.get(c.daemonPid),
      // Interleaved calls share the wall time: each one's rate comes from its own latencies.
      pairsPerSec: calls.length === 1 ? o.pairs / wallS : (o.pairs * o.concurrency * 1000) / sum([...a.add, ...a.del]),
      failures: a.failures,
      firstError: a.firstError,
    };
  });
}

/**
 * hyperfine-like: 5 warm-up runs, then `runs` rounds in which every command runs
 * once, so a change in machine load hits all of them alike.
 */
export async function measureStartup(
  specs: Array<{ name: string; spec: ExecSpec }>,
  runs: number,
): Promise<StartupRow[]> {
  for (const { spec } of specs) for (let i = 0; i < 5; i++) await timeExec(spec);
  const wall = specs.map(() => [] as number[]);
  const cpu = specs.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [k, { name, spec }] of specs.entries()) {
      const r = await timeExec(spec);
      if (r.code !== 0) throw new Error(`${name}: exit ${r.code}: ${r.stdout}${r.stderr}`);
      wall[k]!.push(r.ms);
      cpu[k]!.push(r.cpuMs);
    }
  }
  return specs.map(({ name }, k) => ({ name, wall: summarize(wall[k]!), cpu: summarize(cpu[k]!) }));
}

/** The Bun runtime's own start-up floor: a compiled hello world, built with build.ts's flags; cached per bun version. */
async function buildHello(): Promise<string> {
  const key = createHash("sha256").update(Bun.version).update("hello-3").digest("hex").slice(0, 12);
  const dir = join(tmpdir(), `multus-bench-hello-${key}`);
  const exe = join(dir, "hello");
  if (await Bun.file(exe).exists()) return exe;
  await mkdir(dir, { recursive: true });
  // Bun.write, not process.stdout: the first touch of a process.std* stream costs ~2 ms by itself.
  await writeFile(join(dir, "hello.ts"), `await Bun.write(Bun.stdout, "hello\\n");\n`);
  const tmpOut = join(dir, `.hello.${process.pid}`);
  const proc = Bun.spawn({
    cmd: [
      process.execPath,
      "build",
      "--compile",
      "--splitting",
      "--minify",
      "--bytecode",
      "--format=esm",
      "--no-compile-autoload-dotenv",
      "--no-compile-autoload-bunfig",
      join(dir, "hello.ts"),
      "--outfile",
      tmpOut,
    ],
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`building the hello-world floor failed: ${err}`);
  await rename(tmpOut, exe);
  return exe;
}

interface BenchDaemon {
  name: string;
  env: Record<string, string>;
  dirs: DaemonDirs;
  proc: Subprocess;
  readyMs: number;
  stop(): Promise<void>;
  stderr(): string;
}

/** `multus daemon -config=...` with exactly `env` (+ PATH); resolves once /readyz answers 200. */
async function startDaemon(w: Workdir, index: number, name: string): Promise<BenchDaemon> {
  const env = VARIANTS[name];
  if (!env) throw new Error(`unknown variant "${name}" (known: ${Object.keys(VARIANTS).join(", ")})`);
  const dirs = await createDaemonDirs(w, index);
  const t0 = performance.now();
  const proc = Bun.spawn([w.multus, "daemon", `-config=${dirs.configPath}`], {
    env: { PATH, ...env },
    stdout: "ignore",
    stderr: "pipe",
  });
  let err = "";
  const reader = (async () => {
    for await (const chunk of proc.stderr) err += new TextDecoder().decode(chunk);
  })();
  const stop = async () => {
    if (proc.exitCode === null) proc.kill("SIGTERM");
    await proc.exited;
    await reader.catch(() => undefined);
  };
  try {
    await waitForReady(join(dirs.socketDir, "multus.sock"), 15_000, proc, () => err);
  } catch (e) {
    await stop();
    throw e;
  }
  return { name, env, dirs, proc, readyMs: performance.now() - t0, stop, stderr: () => err };
}

export async function runLocal(o: LocalOptions): Promise<LocalReport> {
  const w = await createWorkdir(o.binary, o.delegate);
  const daemons: BenchDaemon[] = [];
  await $`ip netns add ${NETNS_NAME}`.quiet();
  try {
    o.progress(`workdir ${w.dir}, delegate "${w.delegateType}" (${o.delegate})`);
    o.progress(`start-up: ${o.startupRuns} runs each`);
    const shimVersion: ExecSpec = {
      cmd: [w.shim],
      env: cniEnv(w, "VERSION", ""),
      stdin: shimStdin(join(w.dir, "run-0")),
    };
    const startup = await measureStartup(
      [
        { name: "/bin/true (spawn floor)", spec: { cmd: ["/bin/true"], env: { PATH } } },
        { name: "compiled Bun hello world (runtime floor)", spec: { cmd: [await buildHello()], env: { PATH } } },
        { name: "multus version", spec: { cmd: [w.multus, "version"], env: { PATH } } },
        { name: "multus-shim VERSION", spec: shimVersion },
        {
          name: `delegate VERSION (${w.delegateType})`,
          spec: { cmd: [join(w.binDir, w.delegateType)], env: cniEnv(w, "VERSION", ""), stdin: w.delegateConf },
        },
      ],
      o.startupRuns,
    );

    for (const [i, name] of o.variants.entries()) {
      daemons.push(await startDaemon(w, i, name));
      o.progress(
        `daemon "${name}": pid ${daemons.at(-1)!.proc.pid}, ready in ${daemons.at(-1)!.readyMs.toFixed(0)} ms`,
      );
    }
    o.progress("waiting for the daemons' RSS to settle");
    const rest = await Promise.all(daemons.map((d) => settledMem(d.proc.pid)));

    const direct: Measured = { call: delegateCall(w) };
    const shims = daemons.map((d): Measured => ({ call: shimCall(w, d.dirs), daemonPid: d.proc.pid }));
    const posts = daemons.map((d): Measured => ({ call: postCall(w, d.dirs), daemonPid: d.proc.pid }));
    await measurePairs(shims, { pairs: 10, concurrency: 1, tag: "warm" });
    o.progress(
      `sequential: ${o.iterations} x (ADD, DEL): the delegate alone, then per daemon POST and shim, interleaved`,
    );
    const [delegateSeq, ...seqs] = await measurePairs([direct, ...daemons.flatMap((_, i) => [posts[i]!, shims[i]!])], {
      pairs: o.iterations,
      concurrency: 1,
      tag: "seq",
    });

    const variants: VariantReport[] = [];
    const pairs = o.concurrency * o.perWorker;
    for (const [i, d] of daemons.entries()) {
      o.progress(
        `concurrent [${d.name}]: ${o.concurrency} workers x ${o.perWorker} x (ADD, DEL): the delegate alone, then through the shim`,
      );
      const [delegateConc] = await measurePairs([direct], { pairs, concurrency: o.concurrency, tag: `direct-c${i}` });
      const sampler = sampleMem(d.proc.pid, 10);
      const [conc] = await measurePairs([shims[i]!], { pairs, concurrency: o.concurrency, tag: `conc${i}` });
      const peak = await sampler.stop();
      const afterLoad = await settledMem(d.proc.pid);
      if (d.proc.exitCode !== null) throw new Error(`daemon "${d.name}" exited with ${d.proc.exitCode}: ${d.stderr()}`);
      const post = seqs[2 * i]!;
      const seq = seqs[2 * i + 1]!;
      const delegateError = delegateSeq!.firstError ?? delegateConc!.firstError;
      if (delegateError) throw new Error(`the delegate failed: ${delegateError}`);
      variants.push({
        name: d.name,
        env: d.env,
        readyMs: d.readyMs,
        rest: rest[i]!,
        seq,
        post,
        conc: conc!,
        peak,
        afterLoad,
        delegate: { seq: delegateSeq!, conc: delegateConc! },
        firstError: [seq, post, conc].find((l) => l?.firstError)?.firstError,
      });
    }
    const { progress: _, ...options } = o;
    return { options, startup, variants };
  } finally {
    await Promise.all(daemons.map((d) => d.stop()));
    await $`ip netns del ${NETNS_NAME}`.nothrow().quiet();
    await rm(w.dir, { recursive: true, force: true });
  }
}

const int = (s: unknown, dflt: number) => (typeof s === "string" ? Number.parseInt(s, 10) : dflt);

export const localMode: BenchMode = {
  name: "local",
  flags: {
    runs: { type: "string" },
    iterations: { type: "string" },
    concurrency: { type: "string" },
    "per-worker": { type: "string" },
    variants: { type: "string" },
    delegate: { type: "string", default: "sh" },
  },
  async run({ values, quick, binary, progress }) {
    if (values.delegate !== "sh" && values.delegate !== "recorder")
      throw new Error(`--delegate must be "sh" or "recorder"`);
    const options: Omit<LocalOptions, "progress"> = {
      binary,
      startupRuns: int(values.runs, quick ? 30 : 100),
      iterations: int(values.iterations, quick ? 50 : 200),
      concurrency: int(values.concurrency, 32),
      perWorker: int(values["per-worker"], quick ? 3 : 10),
      variants: typeof values.variants === "string" ? values.variants.split(",") : Object.keys(VARIANTS),
      delegate: values.delegate,
    };
    for (const v of options.variants) {
      if (!VARIANTS[v]) throw new Error(`unknown variant "${v}" (known: ${Object.keys(VARIANTS).join(", ")})`);
    }
    const report = await runLocal({ ...options, progress });
    const { binary: _, ...settings } = options;
    return { tables: localTables(report), targets: localTargets(report), settings };
  },
};
