// GET /status: what the running daemon says about itself, read-only and cheap
// (no I/O, no lock), so `multus status` can be run at any time, even while
// every connectionLimit slot is taken.
import type { DaemonStatus, DaemonStatusConfig } from "../api/api.ts";
import type { LoadedDaemonConfig } from "../config/daemon-config.ts";
import { COMMIT, VERSION } from "../version.ts";
import type { BodyBudgetState, QueueState } from "./server.ts";

export interface StatusSources {
  configPath: string;
  loaded: LoadedDaemonConfig;
  socketPath: string;
  startedAt: Date;
  isReady(): boolean;
  /** The config manager (auto mode): the file it writes and the primary it follows now. */
  manager?: { readonly path: string; readonly primaryPath: string };
  kube?: { informers?(): DaemonStatus["kubernetes"]["informers"] };
  /** The socket server's queue; undefined until it listens. */
  queue(): QueueState | undefined;
  /** The socket server's body budget and refusals; undefined until it listens. */
  bodies(): BodyBudgetState | undefined;
}

export function buildStatus(src: StatusSources): DaemonStatus {
  const queue = src.queue() ?? { inFlight: 0, queued: 0, limit: 0, deadlineMs: 0 };
  const bodies = src.bodies() ?? {
    heldBytes: 0,
    budgetBytes: 0,
    reserveBytes: 0,
    refusedOverBudget: 0,
    refusedQueueDeadline: 0,
  };
  return {
    ready: src.isReady(),
    version: VERSION,
    commit: COMMIT,
    pid: process.pid,
    startedAt: src.startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - src.startedAt.getTime()) / 1000),
    socket: src.socketPath,
    config: configSummary(src),
    kubernetes: { connected: src.kube !== undefined, informers: src.kube?.informers?.() ?? [] },
    requests: {
      inFlight: queue.inFlight,
      queued: queue.queued,
      // Infinity is not JSON: 0 says "no limit".
      connectionLimit: Number.isFinite(queue.limit) ? queue.limit : 0,
      queueDeadlineSeconds: queue.deadlineMs / 1000,
      refusedQueueDeadline: bodies.refusedQueueDeadline,
      bodies: {
        heldBytes: bodies.heldBytes,
        budgetBytes: bodies.budgetBytes,
        reserveBytes: bodies.reserveBytes,
        refused: bodies.refusedOverBudget,
      },
    },
  };
}

function configSummary(src: StatusSources): DaemonStatusConfig {
  const { config, unknownKeys } = src.loaded;
  const out: DaemonStatusConfig = {
    path: src.configPath,
    multusConfigFile: config.multusConfigFile,
    cniConfigDir: config.cniConfigDir,
    logLevel: config.logLevel || "panic",
    namespaceIsolation: src.loaded.raw.namespaceIsolation === true,
    unknownKeys: unknownKeys.map((k) => k.key),
  };
  if (config.cniVersion) out.cniVersion = config.cniVersion;
  if (src.manager) {
    out.generatedFile = src.manager.path;
    out.primary = src.manager.primaryPath;
  }
  if (config.logFile) out.logFile = config.logFile;
  if (config.metricsPort) out.metricsPort = config.metricsPort;
  if (config.readinessindicatorfile) out.readinessIndicatorFile = config.readinessindicatorfile;
  if (config.chrootDir) out.chrootDir = config.chrootDir;
  return out;
}
