// `multus probe` without the CLI framework: the DaemonSet's exec probes run it every few
// seconds, each a process of its own charged to the pod's memory, so it loads nothing but
// the socket's names (no citty, consola or valibot). `multus probe --help` goes through
// cli/root.ts and probe.ts, which share probeDaemon.
import { DAEMON_URL, DEFAULT_SOCKET_DIR, socketPathIn } from "../api/socket.ts";

export interface ProbeOptions {
  socket: string;
  endpoint: string;
  /** Seconds, as typed. */
  timeout: string;
}

export const PROBE_DEFAULTS: ProbeOptions = {
  socket: socketPathIn(DEFAULT_SOCKET_DIR),
  endpoint: "healthz",
  timeout: "2",
};

/**
 * `--socket x`, `--socket=x` and Go's `-socket x`; other arguments are ignored, as the
 * citty parser of the other commands ignores them.
 */
export function parseProbeArgs(args: readonly string[]): ProbeOptions {
  const out = { ...PROBE_DEFAULTS };
  for (let i = 0; i < args.length; i++) {
    const m = /^--?(socket|endpoint|timeout)(?:=(.*))?$/s.exec(args[i]!);
    if (!m) continue;
    const name = m[1] as keyof ProbeOptions;
    const value = m[2] ?? args[++i];
    if (value === undefined) throw new Error(`--${name} needs a value`);
    out[name] = value;
  }
  return out;
}

/** GET /healthz or /readyz over the socket: 0 on 200, else 1 with the reason on stderr. */
export async function probeDaemon(opts: ProbeOptions): Promise<number> {
  if (opts.endpoint !== "healthz" && opts.endpoint !== "readyz") {
    throw new Error(`--endpoint must be healthz or readyz, got "${opts.endpoint}"`);
  }
  const seconds = Number(opts.timeout);
  if (!(seconds > 0)) throw new Error(`--timeout must be a positive number of seconds, got "${opts.timeout}"`);
  try {
    const res = await fetch(`${DAEMON_URL}/${opts.endpoint}`, {
      unix: opts.socket,
      signal: AbortSignal.timeout(seconds * 1000),
    });
    await res.arrayBuffer();
    if (res.status === 200) return 0;
    process.stderr.write(`multus probe: /${opts.endpoint} answered ${res.status}\n`);
  } catch (err) {
    const e = err as Error & { code?: string };
    const why = e.name === "TimeoutError" ? `timed out after ${seconds} s` : (e.code ?? e.message);
    process.stderr.write(`multus probe: ${opts.socket}: ${why}\n`);
  }
  return 1;
}

/** The probe role: exit 0 when the daemon answered 200, 1 when not, 2 for bad arguments (as the CLI). */
export async function runProbe(args: readonly string[]): Promise<number> {
  let opts: ProbeOptions;
  try {
    opts = parseProbeArgs(args);
  } catch (err) {
    process.stderr.write(`multus: ${(err as Error).message}\n`);
    return 2;
  }
  // probeDaemon throws only for a bad --endpoint or --timeout.
  return probeDaemon(opts).catch((err: Error) => {
    process.stderr.write(`multus: ${err.message}\n`);
    return 2;
  });
}
