// Local mode: no Kubernetes. The compiled binary as shim and daemon, one static
// delegate (clusterNetwork) that answers at once, in a temp dir on the real disk.
// Measures start-up, ADD/DEL latency (sequential and concurrent), the multus
// overhead over the delegate's own exec time, and the daemon's memory, for
// each daemon environment variant.
import { chmod, copyFile, mkdtemp, mkdir, rename, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import type { Subprocess } from "bun";
import { waitForReady } from "../tests/helpers/multus.ts";
import { buildRecordingPlugin } from "../tests/helpers/build-fixtures.ts";
import { readCpuMs, runPool, sampleMem, settledMem, timeExec, type ExecSpec, type MemStatus } from "./proc.ts";
import { summarize, type Summary } from "./stats.ts";

/** Daemon environments to compare (ENVIRONMENT.md, "Memory"). */
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
  delegate: { seq: Latency; conc: Latency };
  variants: VariantReport[];
}

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NETNS = "/var/run/netns/bench";
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
  socketDir: string;
  cniDir: string;
  confPath: string;
  delegateType: string;
  delegateConf: string;
}

async function createWorkdir(binary: string, delegate: LocalOptions["delegate"]): Promise<Workdir> {
  // tmpdir() is on the root filesystem here (ext4): fsyncs cost what they cost on a node.
  const dir = await mkdtemp(join(tmpdir(), "multus-bench-"));
  const binDir = join(dir, "bin");
  const socketDir = join(dir, "run");
  const cniDir = join(dir, "cache");
  await Promise.all([binDir, socketDir, cniDir, join(dir, "net.d")].map((d) => mkdir(d, { recursive: true })));
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
  return { dir, multus, binDir, shim, socketDir, cniDir, confPath, delegateType, delegateConf };
}

function cniEnv(w: Workdir, command: string, containerId: string): Record<string, string> {
  return {
    PATH, CNI_COMMAND: command, CNI_CONTAINERID: containerId, CNI_NETNS: NETNS,
    CNI_IFNAME: "eth0", CNI_ARGS, CNI_PATH: w.binDir,
  };
}

function shimStdin(w: Workdir): string {
  return JSON.stringify({ cniVersion: "1.0.0", name: "multus-cni-network", type: "multus-shim", daemonSocketDir: w.socketDir });
}

/** One CNI call: returns its wall time (and the CPU time of the process it spawned); a failure is counted and the first one kept. */
type Call = (command: "ADD" | "DEL", containerId: string) => Promise<{ ms: number; cpuMs?: number; error?: string }>;

function shimCall(w: Workdir): Call {
  const stdin = shimStdin(w);
  return async (command, id) => {
    const r = await timeExec({ cmd: [w.shim], env: cniEnv(w, command, id), stdin });
    return { ms: r.ms, cpuMs: r.cpuMs, error: r.code === 0 ? undefined : `shim ${command} exit ${r.code}: ${r.stdout}${r.stderr}` };
  };
}

function delegateCall(w: Workdir): Call {
  const exe = join(w.binDir, w.delegateType);
  return async (command, id) => {
    const r = await timeExec({ cmd: [exe], env: cniEnv(w, command, id), stdin: w.delegateConf });
    return { ms: r.ms, cpuMs: r.cpuMs, error: r.code === 0 ? undefined : `delegate ${command} exit ${r.code}: ${r.stdout}${r.stderr}` };
  };
}

/** The request the shim would send, posted from this process: no shim start-up in the figure. */
function postCall(w: Workdir): Call {
  const config = Buffer.from(shimStdin(w)).toString("base64");
  const socket = join(w.socketDir, "multus.sock");
  return async (command, id) => {
    const { PATH: _, ...env } = cniEnv(w, command, id);
    const t0 = performance.now();
    const res = await fetch("http://dummy/cni", {
      unix: socket, method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ env, config }),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    return { ms, error: res.status === 200 ? undefined : `POST ${command} ${res.status}: ${text}` };
  };
}

/** `pairs` ADD-then-DEL pairs with `concurrency` workers; every pair has its own container ID. */
async function measurePairs(
  call: Call, o: { pairs: number; concurrency: number; tag: string; daemonPid?: number },
): Promise<Latency & { firstError?: string }> {
  const add: number[] = [];
  const del: number[] = [];
  const cpu: number[] = [];
  let failures = 0;
  let firstError: string | undefined;
  const note = (r: { cpuMs?: number; error?: string }) => {
    if (r.cpuMs !== undefined) cpu.push(r.cpuMs);
    if (r.error) {
      failures++;
      firstError ??= r.error;
    }
  };
  const cpu0 = o.daemonPid ? await readCpuMs(o.daemonPid) : 0;
  const t0 = performance.now();
  await runPool(o.concurrency, o.pairs, async (i) => {
    const id = `${o.tag}-${i}`;
    const a = await call("ADD", id);
    note(a);
    add.push(a.ms);
    const d = await call("DEL", id);
    note(d);
    del.push(d.ms);
  });
  const wallS = (performance.now() - t0) / 1000;
  const daemonCpuPerPair = o.daemonPid ? ((await readCpuMs(o.daemonPid)) - cpu0) / o.pairs : undefined;
  return {
    add: summarize(add), del: summarize(del), callCpu: cpu.length ? summarize(cpu) : undefined, daemonCpuPerPair,
    pairsPerSec: o.pairs / wallS, failures, firstError,
  };
}

/**
 * hyperfine-like: 5 warm-up runs, then `runs` rounds in which every command runs
 * once, so a change in machine load hits all of them alike.
 */
async function measureStartup(specs: Array<{ name: string; spec: ExecSpec }>, runs: number): Promise<StartupRow[]> {
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
  const key = createHash("sha256").update(Bun.version).update("hello-2").digest("hex").slice(0, 12);
  const dir = join(tmpdir(), `multus-bench-hello-${key}`);
  const exe = join(dir, "hello");
  if (await Bun.file(exe).exists()) return exe;
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "hello.ts"), `process.stdout.write("hello\\n");\n`);
  const tmpOut = join(dir, `.hello.${process.pid}`);
  const proc = Bun.spawn({
    cmd: [process.execPath, "build", "--compile", "--splitting", "--minify", "--bytecode", "--format=esm",
      "--no-compile-autoload-dotenv", "--no-compile-autoload-bunfig", join(dir, "hello.ts"), "--outfile", tmpOut],
    stdout: "pipe", stderr: "pipe",
  });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`building the hello-world floor failed: ${err}`);
  await rename(tmpOut, exe);
  return exe;
}

interface BenchDaemon {
  proc: Subprocess;
  stop(): Promise<void>;
  stderr(): string;
}

/** `multus daemon -config=<dir>/daemon-config.json` with exactly `env` (+ PATH); resolves once /readyz answers 200. */
async function startDaemon(w: Workdir, env: Record<string, string>): Promise<BenchDaemon> {
  const configPath = join(w.dir, "daemon-config.json");
  await writeFile(configPath, JSON.stringify({
    socketDir: w.socketDir, cniDir: w.cniDir, binDir: w.binDir, confDir: join(w.dir, "net.d"),
    clusterNetwork: w.confPath, multusConfigFile: "",
  }));
  const proc = Bun.spawn([w.multus, "daemon", `-config=${configPath}`], { env: { PATH, ...env }, stdout: "ignore", stderr: "pipe" });
  let err = "";
  const reader = (async () => {
    for await (const chunk of proc.stderr) err += new TextDecoder().decode(chunk);
  })();
  const daemon: BenchDaemon = {
    proc,
    stderr: () => err,
    async stop() {
      if (proc.exitCode === null) proc.kill("SIGTERM");
      await proc.exited;
      await reader.catch(() => undefined);
    },
  };
  try {
    await waitForReady(join(w.socketDir, "multus.sock"), 15_000, proc, () => err);
  } catch (e) {
    await daemon.stop();
    throw e;
  }
  return daemon;
}

async function measureVariant(w: Workdir, name: string, o: LocalOptions): Promise<VariantReport> {
  const env = VARIANTS[name];
  if (!env) throw new Error(`unknown variant "${name}" (known: ${Object.keys(VARIANTS).join(", ")})`);
  const t0 = performance.now();
  const daemon = await startDaemon(w, env);
  const readyMs = performance.now() - t0;
  const pid = daemon.proc.pid;
  try {
    o.progress(`  [${name}] daemon pid ${pid} ready in ${readyMs.toFixed(0)} ms; waiting for RSS to settle`);
    const rest = await settledMem(pid);
    const tag = name.replace(/[^A-Za-z0-9]+/g, "_");

    await measurePairs(shimCall(w), { pairs: 10, concurrency: 1, tag: `warm-${tag}` });
    o.progress(`  [${name}] sequential: ${o.iterations} x (ADD, DEL) through the shim`);
    const seq = await measurePairs(shimCall(w), { pairs: o.iterations, concurrency: 1, tag: `seq-${tag}`, daemonPid: pid });
    o.progress(`  [${name}] sequential: ${o.iterations} x (ADD, DEL) posted to the socket (no shim)`);
    const post = await measurePairs(postCall(w), { pairs: o.iterations, concurrency: 1, tag: `post-${tag}`, daemonPid: pid });

    const pairs = o.concurrency * o.perWorker;
    o.progress(`  [${name}] concurrent: ${o.concurrency} workers x ${o.perWorker} x (ADD, DEL) through the shim`);
    const sampler = sampleMem(pid, 10);
    const conc = await measurePairs(shimCall(w), { pairs, concurrency: o.concurrency, tag: `conc-${tag}`, daemonPid: pid });
    const peak = await sampler.stop();
    const afterLoad = await settledMem(pid);
    if (daemon.proc.exitCode !== null) throw new Error(`daemon exited with ${daemon.proc.exitCode}: ${daemon.stderr()}`);
    return {
      name, env, readyMs, rest, seq, post, conc, peak, afterLoad,
      firstError: seq.firstError ?? post.firstError ?? conc.firstError,
    };
  } finally {
    await daemon.stop();
  }
}

export async function runLocal(o: LocalOptions): Promise<LocalReport> {
  const w = await createWorkdir(o.binary, o.delegate);
  try {
    o.progress(`workdir ${w.dir}, delegate "${w.delegateType}" (${o.delegate})`);
    o.progress(`start-up: ${o.startupRuns} runs each`);
    const shimVersion: ExecSpec = { cmd: [w.shim], env: { ...cniEnv(w, "VERSION", ""), CNI_CONTAINERID: "" }, stdin: shimStdin(w) };
    const startup = await measureStartup([
      { name: "/bin/true (spawn floor)", spec: { cmd: ["/bin/true"], env: { PATH } } },
      { name: "compiled Bun hello world (runtime floor)", spec: { cmd: [await buildHello()], env: { PATH } } },
      { name: "multus version", spec: { cmd: [w.multus, "version"], env: { PATH } } },
      { name: "multus-shim VERSION", spec: shimVersion },
      { name: `delegate VERSION (${w.delegateType})`,
        spec: { cmd: [join(w.binDir, w.delegateType)], env: cniEnv(w, "VERSION", ""), stdin: w.delegateConf } },
    ], o.startupRuns);

    o.progress(`delegate alone: ${o.iterations} x (ADD, DEL) sequential, ${o.concurrency} x ${o.perWorker} concurrent`);
    const dSeq = await measurePairs(delegateCall(w), { pairs: o.iterations, concurrency: 1, tag: "direct" });
    const dConc = await measurePairs(delegateCall(w), { pairs: o.concurrency * o.perWorker, concurrency: o.concurrency, tag: "direct-c" });
    if (dSeq.firstError ?? dConc.firstError) throw new Error(`the delegate failed: ${dSeq.firstError ?? dConc.firstError}`);

    const variants: VariantReport[] = [];
    for (const name of o.variants) {
      o.progress(`daemon variant "${name}"`);
      variants.push(await measureVariant(w, name, o));
      await rm(w.cniDir, { recursive: true, force: true });
      await mkdir(w.cniDir);
    }
    const { progress: _, ...options } = o;
    return { options, startup, delegate: { seq: dSeq, conc: dConc }, variants };
  } finally {
    await rm(w.dir, { recursive: true, force: true });
  }
}
