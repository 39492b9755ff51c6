// Drives the compiled binary: a daemon process with a config in a temp dir,
// and shim invocations with the CNI env and stdin, as a runtime would.
import { mkdtemp, mkdir, writeFile, symlink, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import type { Subprocess } from "bun";

export const BINARY = resolve(import.meta.dir, "../../dist/multus");

export interface ShimRun {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
  json(): any;
}

export interface DaemonHandle {
  dir: string;
  socketDir: string;
  configPath: string;
  proc: Subprocess;
  stderr(): string;
  stop(signal?: NodeJS.Signals | number): Promise<number>;
}

/** A temp dir for one test, with bin/multus-shim linked to the compiled binary. */
export async function createWorkdir(): Promise<{ dir: string; shim: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), "multus-test-"));
  await mkdir(join(dir, "bin"));
  const shim = join(dir, "bin", "multus-shim");
  await symlink(BINARY, shim);
  return { dir, shim, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Starts `multus daemon -config=<dir>/daemon-config.json` and waits until /readyz answers 200. */
export async function startDaemon(
  dir: string,
  config: Record<string, unknown>,
  opts: { env?: Record<string, string>; args?: string[] } = {},
): Promise<DaemonHandle> {
  const socketDir = (config.socketDir as string | undefined) ?? join(dir, "run");
  const configPath = join(dir, "daemon-config.json");
  await writeFile(configPath, JSON.stringify({ socketDir, multusConfigFile: "", ...config }));
  const proc = Bun.spawn([BINARY, "daemon", `-config=${configPath}`, ...(opts.args ?? [])], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", ...opts.env },
  });
  let err = "";
  const reader = (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) err += new TextDecoder().decode(chunk);
  })();
  const handle: DaemonHandle = {
    dir,
    socketDir,
    configPath,
    proc,
    stderr: () => err,
    async stop(signal = "SIGTERM") {
      if (proc.exitCode === null) proc.kill(signal);
      const code = await proc.exited;
      await reader.catch(() => undefined);
      return code;
    },
  };
  await waitForReady(join(socketDir, "multus.sock"), 10_000, proc, () => err);
  return handle;
}

export async function waitForReady(
  socket: string,
  timeoutMs: number,
  proc?: Subprocess,
  stderr?: () => string,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc && proc.exitCode !== null) throw new Error(`daemon exited with ${proc.exitCode}: ${stderr?.()}`);
    try {
      const res = await fetch("http://dummy/readyz", { unix: socket, method: "GET" });
      if (res.status === 200) return;
    } catch {
      // not up yet
    }
    await Bun.sleep(20);
  }
  throw new Error(`daemon not ready within ${timeoutMs} ms: ${stderr?.()}`);
}

export interface CniCall {
  command: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
  args?: string;
  path?: string;
  stdin: string | Record<string, unknown>;
  extraEnv?: Record<string, string>;
  /** Omit these env vars entirely. */
  omit?: string[];
}

/** Runs the shim (or any CNI binary) as a runtime does. */
export async function runCni(binary: string, call: CniCall): Promise<ShimRun> {
  const env: Record<string, string> = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    CNI_COMMAND: call.command,
    CNI_CONTAINERID: call.containerId ?? "",
    CNI_NETNS: call.netns ?? "",
    CNI_IFNAME: call.ifname ?? "eth0",
    CNI_ARGS: call.args ?? "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=test",
    CNI_PATH: call.path ?? "/usr/lib/cni",
    ...call.extraEnv,
  };
  for (const k of call.omit ?? []) delete env[k];
  const stdin = typeof call.stdin === "string" ? call.stdin : JSON.stringify(call.stdin);
  const t0 = performance.now();
  const proc = Bun.spawn([binary], { env, stdin: new TextEncoder().encode(stdin), stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const ms = performance.now() - t0;
  return { code, stdout, stderr, ms, json: () => JSON.parse(stdout) };
}

/** The shim's own stdin config (what 00-multus.conf would hold). */
export function shimConf(socketDir: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { cniVersion: "1.0.0", name: "multus-cni-network", type: "multus-shim", daemonSocketDir: socketDir, ...extra };
}

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

/** `dist/multus <args>` as a person would type it, bounded by `timeoutMs` (then killed, and the test fails). */
export async function runMultus(args: string[], opts: { timeoutMs?: number; cwd?: string } = {}): Promise<CliRun> {
  const proc = Bun.spawn([BINARY, ...args], {
    cwd: opts.cwd,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
    timeout: opts.timeoutMs ?? 15_000,
    killSignal: "SIGKILL",
  });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  if (proc.signalCode === "SIGKILL") throw new Error(`multus ${args.join(" ")} did not exit in time: ${stderr}`);
  return { code, stdout, stderr };
}
