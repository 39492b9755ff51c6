// Runtime side of the CNI protocol: find a plugin in the bin dirs, run it
// (optionally chrooted) with a deliberately assembled env, and decode what it
// printed. Modelled on containernetworking/cni pkg/invoke (find.go,
// raw_exec.go, exec.go); the decoded result is handed back as plain JSON and
// converted by the caller (conf.ts) through result.ts.
import { join } from "node:path";
import { CniError, ErrorCode, isCniErrorObject } from "./errors.ts";
import { checkPluginLocation } from "./plugin-path.ts";
import { Env, type CniCommand } from "./spec.ts";
import { DEFAULT_PATH } from "../util/default-path.ts";
import { statOrUndefined } from "../util/stat-sync.ts";
import { tryParseJson } from "../util/json-file.ts";

export interface ExecRequest {
  command: CniCommand;
  /** Plugin name as in a config's `type`, e.g. "bridge". */
  pluginType: string;
  /** Searched in order; also passed to the plugin as CNI_PATH. */
  binDirs: readonly string[];
  stdin: Uint8Array | string;
  /** Request values; `args` is the CNI_ARGS string. Undefined ones are not set. */
  cniEnv: { containerId?: string; netns?: string; ifname?: string; args?: string };
  /** A deliberately chosen base env (e.g. `{ PATH }`), never process.env wholesale. */
  baseEnv?: Record<string, string>;
  /** The plugin (and its process group) is killed with SIGKILL at this deadline. */
  timeoutMs: number;
  /** The plugin is killed when its stdout or stderr exceeds this many bytes (default 1 MiB). */
  maxOutputBytes?: number;
  /** Run as `chroot <dir> <pluginPath>`; the lookup itself is not chrooted. */
  chrootDir?: string;
  /** Receives the plugin's stderr when it printed any. */
  onStderr?: (text: string) => void;
  /** Told how the plugin ended: "exit status 0", "signal: SIGSEGV", "killed: timed out after 60000 ms", ... */
  onExit?: (status: string) => void;
}

/** Runs one plugin; resolves to its parsed stdout JSON, or undefined when stdout is empty. */
export type PluginRunner = (req: ExecRequest) => Promise<unknown>;

const CNI_ENV_KEYS: readonly string[] = [Env.COMMAND, Env.CONTAINERID, Env.NETNS, Env.IFNAME, Env.ARGS, Env.PATH];
/** "text file busy" retries (libcni: 5, one second apart; we wait less but stay within the deadline). */
const TXTBSY_RETRIES = 5;
const TXTBSY_DELAY_MS = 200;
/** After SIGKILL, how long we wait for the exit to be reaped before giving up on it. */
const KILL_GRACE_MS = 1000;
export const DEFAULT_MAX_OUTPUT_BYTES = 1024 * 1024;

/** Is `t` usable as a plugin file name (no separators, no "..", no NUL, not empty)? */
export function isValidPluginType(t: string): boolean {
  return t !== "" && t !== "." && !t.includes("/") && !t.includes("\\") && !t.includes("..") && !t.includes("\0");
}

/**
 * Absolute path of `pluginType` in the first of `binDirs` that holds a regular
 * file of that name. A type that could escape the bin dir is refused before any
 * lookup (docs/compatibility.md, difference 13); a symlink that leaves the bin
 * dirs for a place others can write is refused before exec (plugin-path.ts).
 */
export async function findPlugin(pluginType: string, binDirs: readonly string[]): Promise<string> {
  if (!isValidPluginType(pluginType)) {
    throw new CniError(
      ErrorCode.InvalidConfig,
      `invalid plugin type ${quote(pluginType)}`,
      `a plugin type must be a plain file name: not empty, without "/", "\\", ".." or NUL`,
    );
  }
  for (const dir of binDirs) {
    if (dir === "") continue;
    const full = join(dir, pluginType);
    const st = statOrUndefined(full);
    if (!st?.isFile()) continue;
    await checkPluginLocation({ pluginType, full, binDirs });
    return full;
  }
  throw new PluginNotFoundError(pluginType, binDirs);
}

/**
 * No bin dir holds the plugin (libcni's "failed to find plugin", code 7). Its own
 * class so that a caller can tell "not installed" from a plugin that ran and
 * failed without reading the message.
 */
export class PluginNotFoundError extends CniError {
  readonly pluginType: string;
  readonly binDirs: readonly string[];
  constructor(pluginType: string, binDirs: readonly string[]) {
    super(ErrorCode.InvalidConfig, `failed to find plugin ${quote(pluginType)} in path [${binDirs.join(" ")}]`);
    this.pluginType = pluginType;
    this.binDirs = binDirs;
  }
}

/** The plugin's env: the chosen base (minus any CNI_* of its own) plus the request's CNI_* values. */
export function buildPluginEnv(
  req: Pick<ExecRequest, "command" | "binDirs" | "cniEnv" | "baseEnv">,
): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.baseEnv ?? {})) {
    if (!CNI_ENV_KEYS.includes(k)) env[k] = v;
  }
  env[Env.COMMAND] = req.command;
  const { containerId, netns, ifname, args } = req.cniEnv;
  if (containerId !== undefined) env[Env.CONTAINERID] = containerId;
  if (netns !== undefined) env[Env.NETNS] = netns;
  if (ifname !== undefined) env[Env.IFNAME] = ifname;
  if (args !== undefined) env[Env.ARGS] = args;
  env[Env.PATH] = req.binDirs.join(":");
  return env;
}

export const execPlugin: PluginRunner = async (req) => {
  const pluginPath = await findPlugin(req.pluginType, req.binDirs);
  const cmd = req.chrootDir ? [findChroot(req.baseEnv), req.chrootDir, pluginPath] : [pluginPath];
  const env = buildPluginEnv(req);
  const stdin = typeof req.stdin === "string" ? new TextEncoder().encode(req.stdin) : req.stdin;
  const deadline = Date.now() + req.timeoutMs;

  for (let attempt = 0; ; attempt++) {
    const run = await runOnce({ cmd, env, stdin, deadline, req });
    if (run.kind === "busy" && attempt < TXTBSY_RETRIES && deadline - Date.now() > TXTBSY_DELAY_MS) {
      await Bun.sleep(TXTBSY_DELAY_MS);
      continue;
    }
    req.onExit?.(run.reason);
    if (run.kind === "busy") throw pluginError(run.reason, new Uint8Array(), new TextEncoder().encode(run.reason));
    const stderrText = decodeText(run.stderr);
    if (stderrText !== "" && req.onStderr) req.onStderr(stderrText);
    if (run.exitCode === 0) return decodeResult(req.pluginType, run.stdout);
    throw pluginError(run.reason, run.stdout, run.stderr);
  }
};

interface Finished {
  kind: "done";
  exitCode: number | null;
  reason: string;
  stdout: Uint8Array;
  stderr: Uint8Array;
}
interface Busy {
  kind: "busy";
  reason: string;
}

async function runOnce(o: {
  cmd: string[];
  env: Record<string, string>;
  stdin: Uint8Array;
  deadline: number;
  req: ExecRequest;
}): Promise<Finished | Busy> {
  let proc: Bun.Subprocess<Uint8Array, "pipe", "pipe">;
  try {
    // detached = own process group, so a kill at the deadline also reaches the
    // plugin's children (an IPAM plugin it delegated to).
    proc = Bun.spawn({ cmd: o.cmd, env: o.env, stdin: o.stdin, stdout: "pipe", stderr: "pipe", detached: true });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    const reason = `fork/exec ${o.cmd[0]}: ${e.message}`;
    if (e.code === "ETXTBSY") return { kind: "busy", reason };
    return { kind: "done", exitCode: null, reason, stdout: new Uint8Array(), stderr: new Uint8Array() };
  }

  const limit = o.req.maxOutputBytes ?? DEFAULT_MAX_OUTPUT_BYTES;
  const overflow = Promise.withResolvers<"stdout" | "stderr">();
  const out = readAll(proc.stdout, limit, () => overflow.resolve("stdout"));
  const errOut = readAll(proc.stderr, limit, () => overflow.resolve("stderr"));
  let timer: Timer | undefined;
  const timedOut = new Promise<"timeout">((resolve) => {
    timer = setTimeout(() => resolve("timeout"), Math.max(0, o.deadline - Date.now()));
  });
  const finished = Promise.all([proc.exited, out.bytes, errOut.bytes]);
  const first = await Promise.race([overflow.promise, finished, timedOut]);
  clearTimeout(timer);

  if (typeof first === "string") {
    killGroup(proc);
    await Promise.race([proc.exited, Bun.sleep(KILL_GRACE_MS)]);
    out.cancel();
    errOut.cancel();
    const what =
      first === "timeout"
        ? `timed out after ${o.req.timeoutMs} ms`
        : `printed more than ${limit} bytes on ${first} (maxPluginOutputBytes)`;
    o.req.onExit?.(`killed: ${what}`);
    throw new CniError(ErrorCode.Internal, `plugin ${quote(o.req.pluginType)} ${what} (killed)`);
  }

  const [exitCode, stdout, stderr] = first;
  const reason = proc.signalCode ? `signal: ${proc.signalCode}` : `exit status ${exitCode}`;
  // Under the chroot binary an exec failure is only visible as its exit status
  // 126 and its message; that is the one place "text file busy" is read from text.
  if (o.req.chrootDir && exitCode === 126 && /text file busy/i.test(decodeText(stderr))) {
    return { kind: "busy", reason: decodeText(stderr).trim() };
  }
  return { kind: "done", exitCode, reason, stdout, stderr };
}

function killGroup(proc: Bun.Subprocess): void {
  try {
    process.kill(-proc.pid, "SIGKILL");
  } catch {
    // group already gone
  }
  try {
    proc.kill("SIGKILL");
  } catch {
    // already exited
  }
}

/**
 * Collects a stream to bytes, at most `limit` of them: past it the rest is not kept,
 * reading stops and `onOverflow` is called (the caller kills the plugin). `cancel` stops
 * waiting (a killed plugin's child may hold the pipe).
 */
function readAll(
  stream: ReadableStream<Uint8Array>,
  limit: number,
  onOverflow: () => void,
): { bytes: Promise<Uint8Array>; cancel: () => void } {
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  const bytes = (async () => {
    let total = 0;
    for (;;) {
      const { done, value } = await reader.read().catch(() => ({ done: true as const, value: undefined }));
      if (done) break;
      if (total + value.byteLength > limit) {
        onOverflow();
        void reader.cancel().catch(() => undefined);
        break;
      }
      chunks.push(value);
      total += value.byteLength;
    }
    const all = new Uint8Array(total);
    let off = 0;
    for (const c of chunks) {
      all.set(c, off);
      off += c.byteLength;
    }
    return all;
  })();
  return { bytes, cancel: () => void reader.cancel().catch(() => undefined) };
}

/** exit 0: stdout JSON, or undefined when stdout is blank (libcni's decode of a success). */
function decodeResult(pluginType: string, stdout: Uint8Array): unknown {
  const text = decodeText(stdout);
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    throw new CniError(
      ErrorCode.DecodeFailure,
      `failed to unmarshal result of plugin ${quote(pluginType)}`,
      `${(err as Error).message}: result ${quote(truncate(text))}`,
    );
  }
}

/**
 * A failed plugin as a CniError (libcni RawExec.pluginErr): its own error
 * object from stdout passes through unchanged; otherwise a message built from
 * stderr or the exit status. Those have no code of their own: 999.
 */
function pluginError(reason: string, stdout: Uint8Array, stderr: Uint8Array): CniError {
  const out = decodeText(stdout);
  if (out.trim() === "") {
    const errText = decodeText(stderr);
    if (errText === "") return new CniError(ErrorCode.Internal, `netplugin failed with no error message: ${reason}`);
    return new CniError(ErrorCode.Internal, `netplugin failed: ${quote(truncate(errText))}`, reason);
  }
  const json = tryParseJson(out);
  if (json.ok && isCniErrorObject(json.value)) return CniError.fromObject(json.value);
  return new CniError(
    ErrorCode.Internal,
    `netplugin failed but error parsing its diagnostic message ${quote(truncate(out))}`,
    json.ok ? "not a CNI error object (needs a numeric code and a msg)" : json.reason,
  );
}

function findChroot(baseEnv: Record<string, string> | undefined): string {
  return (
    Bun.which("chroot", { PATH: baseEnv?.PATH ?? DEFAULT_PATH }) ??
    Bun.which("chroot", { PATH: DEFAULT_PATH }) ??
    "/usr/sbin/chroot"
  );
}

function decodeText(b: Uint8Array): string {
  return new TextDecoder().decode(b);
}

/** Go's %q, near enough: a JSON string literal. */
function quote(s: string): string {
  return JSON.stringify(s);
}

const MAX_QUOTED = 4096;
function truncate(s: string): string {
  return s.length > MAX_QUOTED ? `${s.slice(0, MAX_QUOTED)}...(${s.length - MAX_QUOTED} more bytes)` : s;
}
