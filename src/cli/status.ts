// `multus status`: asks a running daemon over its unix socket (GET /status,
// which never waits behind CNI requests) how it is: ready or stopping, what it
// runs with, whether its informers have listed, what it is busy with.
// Exit 0 ready, 1 answering but not ready, 3 no daemon answers.
import { defineCommand } from "citty";
import { DAEMON_URL, DEFAULT_SOCKET_DIR, Endpoint, socketPathIn, type DaemonStatus } from "../api/api.ts";

export const EXIT_NOT_READY = 1;
export const EXIT_NO_DAEMON = 3;

/** The daemon's answer, or an Error saying why there is none (socket missing, refused, timed out, not ours). */
export async function fetchStatus(socketPath: string, timeoutMs: number): Promise<DaemonStatus> {
  let res: Response;
  try {
    res = await fetch(DAEMON_URL + Endpoint.STATUS, { unix: socketPath, signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const e = err as Error & { code?: string };
    if (e.name === "TimeoutError") throw new Error(`${socketPath}: no answer within ${timeoutMs / 1000} s`);
    if (e.code === "ENOENT") throw new Error(`${socketPath}: no such socket (is the daemon running? see --socket-dir)`);
    if (e.code === "ECONNREFUSED") throw new Error(`${socketPath}: connection refused (no daemon listens there)`);
    throw new Error(`${socketPath}: ${e.code ?? e.message}`);
  }
  const text = await res.text();
  if (res.status === 404) throw new Error(`${socketPath}: the daemon has no /status (an older or a Go multus daemon?)`);
  if (res.status !== 200) throw new Error(`${socketPath}: /status answered ${res.status}: ${text.trim()}`);
  try {
    return JSON.parse(text) as DaemonStatus;
  } catch {
    throw new Error(`${socketPath}: /status answered something that is not JSON`);
  }
}

/** The human form: one "key  value" line each, grouped. */
export function formatStatus(s: DaemonStatus): string {
  const c = s.config;
  const rows: Array<[string, string | number | undefined]> = [
    ["ready", s.ready ? "yes" : "no (starting or stopping)"],
    ["version", `${s.version} (commit ${s.commit})`],
    ["pid", s.pid],
    ["up since", `${s.startedAt} (${s.uptimeSeconds} s)`],
    ["socket", s.socket],
    ["config", c.path],
    ["  multusConfigFile", c.multusConfigFile === "" ? '"" (no file managed)' : c.multusConfigFile],
    ["  generated file", c.generatedFile && `${c.generatedFile} (follows ${c.primary})`],
    ["  cniVersion", c.cniVersion],
    ["  cniConfigDir", c.cniConfigDir],
    ["  log", `${c.logLevel}${c.logFile ? ` to ${c.logFile}` : ""}`],
    ["  metricsPort", c.metricsPort],
    ["  readiness file", c.readinessIndicatorFile],
    ["  chrootDir", c.chrootDir],
    ["  namespaceIsolation", c.namespaceIsolation ? "on" : undefined],
    ["  unknown keys", c.unknownKeys.length > 0 ? c.unknownKeys.join(", ") : undefined],
    ["kubernetes", s.kubernetes.connected ? "connected" : "none (static delegates only)"],
    ...s.kubernetes.informers.map((i): [string, string] => [`  informer ${i.name}`, informerText(i)]),
    ["requests in flight", s.requests.inFlight],
    ["requests queued", s.requests.queued],
    ["  connectionLimit", s.requests.connectionLimit || "none"],
    ["  queue deadline", `${s.requests.queueDeadlineSeconds} s`],
    ["  refused at deadline", s.requests.refusedQueueDeadline],
    ...bodyRows(s.requests.bodies),
  ];
  const shown = rows.filter((r): r is [string, string | number] => r[1] !== undefined && r[1] !== "");
  const width = Math.max(...shown.map(([k]) => k.length));
  return `${shown.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join("\n")}\n`;
}

/** The body budget; an older daemon's /status has none. */
function bodyRows(b: DaemonStatus["requests"]["bodies"] | undefined): Array<[string, string | number]> {
  if (b === undefined) return [];
  return [
    [
      "request bodies held",
      `${b.heldBytes} bytes of ${b.budgetBytes} (maxPendingRequestBytes, +${b.reserveBytes} for small bodies)`,
    ],
    ["  refused over budget", b.refused],
  ];
}

const EXAMPLES = `  multus status                                  the daemon at /run/multus/multus.sock
  multus status --socket-dir /host/run/multus/   inside the reference DaemonSet's pod
  multus status --json | jq .requests            in flight and queued, for scripts

  Exit 0: ready; 1: the daemon answers but is not ready (starting or stopping); 3: no daemon
  answers (no socket, nobody listening, no answer in time). More in docs/cli.md.
`;

function informerText(i: DaemonStatus["kubernetes"]["informers"][number]): string {
  const parts = [i.synced ? "synced" : "not synced (reads are live GETs)", `${i.objects} cached`];
  // A restart count that keeps growing is a list/watch that keeps failing (RBAC, the API, the network).
  if (i.restarts !== undefined) parts.push(`${i.restarts} restart${i.restarts === 1 ? "" : "s"}`);
  if (i.lastSyncAt !== undefined)
    parts.push(`last heard ${Math.max(0, Math.round((Date.now() - i.lastSyncAt) / 1000))} s ago`);
  return parts.join(", ");
}

export const statusCommand = defineCommand({
  meta: {
    name: "status",
    description:
      "Ask the running daemon (GET /status on its socket) for readiness, version, config, informers and requests in flight and queued; exit 0 ready, 1 not ready, 3 no daemon",
  },
  args: {
    "socket-dir": { type: "string", description: "the daemon's socketDir", default: DEFAULT_SOCKET_DIR },
    json: { type: "boolean", description: "print the daemon's answer as JSON", default: false },
    timeout: { type: "string", description: "seconds to wait for the answer", default: "5" },
  },
  async run({ args }) {
    const seconds = Number(args.timeout);
    if (!(seconds > 0)) throw new Error(`--timeout must be a positive number of seconds, got "${args.timeout}"`);
    let status: DaemonStatus;
    try {
      status = await fetchStatus(socketPathIn(args["socket-dir"]), seconds * 1000);
    } catch (err) {
      process.stderr.write(`multus status: ${(err as Error).message}\n`);
      return EXIT_NO_DAEMON;
    }
    process.stdout.write(args.json ? `${JSON.stringify(status, null, 2)}\n` : formatStatus(status));
    return status.ready ? 0 : EXIT_NOT_READY;
  },
});
Object.assign(statusCommand, { examples: EXAMPLES });
