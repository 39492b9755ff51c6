// The shim <-> daemon contract: HTTP/1.1 over a unix socket,
// wire-compatible with the Go multus-shim and multus-daemon.
import * as v from "valibot";
import { jsonObject } from "../cni/schemas.ts";

// The socket's names live in socket.ts, which imports nothing, so that `multus probe` can
// use them without valibot; re-exported for everyone else.
export { DAEMON_URL, DEFAULT_SOCKET_DIR, Endpoint, SOCKET_NAME, socketPathIn } from "./socket.ts";

/** `/delegate` only: attributes of the single interface to hot-plug. */
export const InterfaceAttributesSchema = jsonObject(
  v.looseObject({
    ips: v.optional(v.nullable(v.array(v.string()))),
    mac: v.optional(v.nullable(v.string())),
    "cni-args": v.optional(v.nullable(jsonObject(v.record(v.string(), v.unknown())))),
  }),
);
export type InterfaceAttributes = v.InferOutput<typeof InterfaceAttributesSchema>;

/** Request body of /cni and /delegate. `config` is the CNI stdin, base64 (Go []byte). */
export const CniRequestSchema = v.object({
  env: jsonObject(v.record(v.string(), v.string())),
  config: v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/]*={0,2}$/, "config must be base64")),
  interfaceAttributes: v.optional(v.nullable(InterfaceAttributesSchema)),
});
export type CniRequest = v.InferOutput<typeof CniRequestSchema>;

/** ADD's 200 body: the result in CNI 1.1.0 form under `Result` (capital R, as Go spells it). */
export interface CniResponse {
  Result?: unknown;
}

/** GET /status: the daemon's own account of itself (`multus status`). Types only: the shim never reads it. */
export interface DaemonStatus {
  /** What /readyz answers: false once the daemon is stopping. */
  ready: boolean;
  version: string;
  commit: string;
  pid: number;
  /** ISO 8601. */
  startedAt: string;
  uptimeSeconds: number;
  socket: string;
  config: DaemonStatusConfig;
  kubernetes: {
    /** false: no kubeconfig and no in-cluster environment, static delegates only. */
    connected: boolean;
    /** `lastSyncAt`: Unix ms of the last list or watch event; `restarts`: failed list/watches started again. */
    informers: Array<{ name: string; synced: boolean; objects: number; lastSyncAt?: number; restarts?: number }>;
  };
  requests: {
    /** Being handled now (holding a connectionLimit slot). */
    inFlight: number;
    /** Waiting for a slot. */
    queued: number;
    connectionLimit: number;
    queueDeadlineSeconds: number;
    /** Requests refused with code 11 since start: past the deadline waiting for a slot. */
    refusedQueueDeadline: number;
    /** Request bodies held now (being read, waiting or handled) against maxPendingRequestBytes. */
    bodies: {
      heldBytes: number;
      budgetBytes: number;
      /** On top of the budget, for bodies of at most 64 KiB (every shim request). */
      reserveBytes: number;
      /** Requests answered 503 code 11 unread since start: their body did not fit. */
      refused: number;
    };
  };
}

export interface DaemonStatusConfig {
  path: string;
  multusConfigFile: string;
  cniConfigDir: string;
  cniVersion?: string;
  /** multusConfigFile "auto": the generated file and the primary it follows. */
  generatedFile?: string;
  primary?: string;
  logLevel: string;
  logFile?: string;
  metricsPort?: number;
  readinessIndicatorFile?: string;
  namespaceIsolation: boolean;
  chrootDir?: string;
  /** Keys of the file no part of multus reads (likely typos). */
  unknownKeys: string[];
}
