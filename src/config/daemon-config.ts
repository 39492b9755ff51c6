// daemon-config.json: validated at start; every key,
// known or not, is also laid over each request's config.
import * as v from "valibot";
import { readFile } from "node:fs/promises";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { decodeJsonObject, validate } from "../cni/schemas.ts";
import { DEFAULT_SOCKET_DIR } from "../api/api.ts";

const PerNodeCertificateSchema = v.looseObject({
  enabled: v.optional(v.boolean(), false),
  bootstrapKubeconfig: v.optional(v.string()),
  certDir: v.optional(v.string()),
  certDuration: v.optional(v.string(), "10m"),
});

export const DaemonConfigSchema = v.looseObject({
  chrootDir: v.optional(v.string()),
  socketDir: v.optional(v.string(), DEFAULT_SOCKET_DIR),
  logFile: v.optional(v.string()),
  logLevel: v.optional(v.string()),
  logToStderr: v.optional(v.boolean(), false),
  metricsPort: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535))),
  enablePprof: v.optional(v.boolean(), false),
  connectionLimit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  perNodeCertificate: v.optional(PerNodeCertificateSchema),
  cniVersion: v.optional(v.string()),
  multusConfigFile: v.optional(v.string(), "auto"),
  cniConfigDir: v.optional(v.string(), "/etc/cni/net.d"),
  multusAutoconfigDir: v.optional(v.string()),
  multusMasterCNI: v.optional(v.string()),
  forceCNIVersion: v.optional(v.boolean(), false),
  overrideNetworkName: v.optional(v.boolean(), false),
  readinessindicatorfile: v.optional(v.string()),
  /** Written into 00-multus.conf for the shim: the socket dir as the host sees it (g.4; Go never derives it from socketDir). */
  daemonSocketDir: v.optional(v.string()),
  kubeconfig: v.optional(v.string()),
  // Ours: SIGTERM grace period for in-flight requests.
  gracePeriodSeconds: v.optional(v.pipe(v.number(), v.minValue(0)), 10),
  // Ours: how long start-up waits for the readiness indicator file (Go: 45 s)
  // and for a primary CNI conf to appear in multusAutoconfigDir (Go: 120 s).
  readinessIndicatorTimeoutSeconds: v.optional(v.pipe(v.number(), v.minValue(0)), 45),
  primaryConfTimeoutSeconds: v.optional(v.pipe(v.number(), v.minValue(0)), 120),
  // The thick plugin's -additional-bin-dir: searched for delegates after binDir.
  additionalBinDir: v.optional(v.string()),
  // Ours: kubelet paths for device IDs (Go hard-codes them; undefined = those defaults).
  podResourcesSocket: v.optional(v.string()),
  kubeletCheckpointFile: v.optional(v.string()),
  deviceInfoDir: v.optional(v.string()),
});
export type DaemonConfig = v.InferOutput<typeof DaemonConfigSchema>;

export interface LoadedDaemonConfig {
  config: DaemonConfig;
  /** The file as written: what is laid over every request. */
  raw: Record<string, unknown>;
}

/** Parses and validates daemon config text; `extraSchemas` validate the same keys as the core will. */
export function parseDaemonConfig(text: string, extraSchemas: v.GenericSchema[] = []): LoadedDaemonConfig {
  const raw = decodeJsonObject(text, "daemon configuration");
  const config = validate(DaemonConfigSchema, raw, ErrorCode.InvalidConfig, "daemon configuration") as DaemonConfig;
  for (const schema of extraSchemas) validate(schema, raw, ErrorCode.InvalidConfig, "daemon configuration");
  return { config, raw };
}

export async function loadDaemonConfig(
  path: string,
  extraSchemas: v.GenericSchema[] = [],
): Promise<LoadedDaemonConfig> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw new CniError(ErrorCode.IoFailure, `cannot read daemon configuration ${path}`, (err as Error).message);
  }
  return parseDaemonConfig(text, extraSchemas);
}

/**
 * The per-request config: the runtime's config with every daemon key laid over
 * it, top-level replace. In auto mode the readiness indicator is
 * the daemon's business, not the request's.
 */
export function mergeRequestConfig(
  request: Record<string, unknown>,
  daemon: LoadedDaemonConfig,
): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...request, ...daemon.raw };
  if (daemon.config.multusConfigFile === "auto") delete merged.readinessindicatorfile;
  return merged;
}
