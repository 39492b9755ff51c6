// daemon-config.json: validated at start; every key,
// known or not, is also laid over each request's config.
import * as v from "valibot";
import { readFile } from "node:fs/promises";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { decodeJsonObject, validate } from "../cni/schemas.ts";
import { DEFAULT_SOCKET_DIR } from "../api/api.ts";
import { LOG_FORMATS, LOG_LEVELS } from "../util/log.ts";
import { closestKey } from "../util/closest.ts";
import { parseGoDuration } from "../util/go-duration.ts";
import { ShimConfigSchema } from "./shim-config.ts";

// The daemon's own client certificate (k8s/node-certificate.ts); Go's default lifetime is 10m.
const PerNodeCertificateSchema = v.pipe(
  v.looseObject({
    enabled: v.optional(v.boolean(), false),
    bootstrapKubeconfig: v.optional(v.string()),
    certDir: v.optional(v.string()),
    certDuration: v.optional(
      v.pipe(
        v.string(),
        v.check((d) => (parseGoDuration(d) ?? 0) > 0, 'a positive Go duration such as "10m" or "24h" is required'),
      ),
      "10m",
    ),
  }),
  // Go refuses to start when enabled without both paths ("failed to configure PerNodeCertificate").
  v.check(
    (p) => !p.enabled || (!!p.bootstrapKubeconfig && !!p.certDir),
    "enabled needs both bootstrapKubeconfig and certDir",
  ),
);

export const DaemonConfigSchema = v.looseObject({
  chrootDir: v.optional(v.string()),
  socketDir: v.optional(v.string(), DEFAULT_SOCKET_DIR),
  logFile: v.optional(v.string()),
  // A misspelt level would silently keep the daemon at panic (nearly silent): refuse it.
  logLevel: v.optional(
    v.pipe(
      v.string(),
      v.check(
        (level) => level === "" || (LOG_LEVELS as readonly string[]).includes(level.toLowerCase()),
        (issue) => `${JSON.stringify(issue.input)} is not a log level; accepted: ${LOG_LEVELS.join(", ")} (any case)`,
      ),
    ),
  ),
  logToStderr: v.optional(v.boolean(), false),
  // Ours: "json" for log shippers. A misspelt format would silently give text lines: refuse it.
  logFormat: v.optional(
    v.pipe(
      v.string(),
      v.check(
        (format) => (LOG_FORMATS as readonly string[]).includes(format),
        (issue) => `${JSON.stringify(issue.input)} is not a log format; accepted: ${LOG_FORMATS.join(", ")}`,
      ),
    ),
  ),
  metricsPort: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1), v.maxValue(65535))),
  enablePprof: v.optional(v.boolean(), false),
  connectionLimit: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1))),
  queueDeadlineSeconds: v.optional(v.pipe(v.number(), v.gtValue(0))),
  maxRequestBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(4096))),
  maxPendingRequestBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(4096))),
  requestBodyTimeoutSeconds: v.optional(v.pipe(v.number(), v.gtValue(0))),
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
  // Ours: how often tombstones (DELs owed to a plugin that was not installed) are replayed.
  tombstoneReplaySeconds: v.optional(v.pipe(v.number(), v.gtValue(0)), 60),
  // Ours: false turns POST /delegate (hot-plug into a running pod) off, for
  // clusters that run no hot-plug client; true (Go's behaviour) by default.
  enableDelegateEndpoint: v.optional(v.boolean(), true),
});
export type DaemonConfig = v.InferOutput<typeof DaemonConfigSchema>;

export interface LoadedDaemonConfig {
  config: DaemonConfig;
  /** The file as written: what is laid over every request. */
  raw: Record<string, unknown>;
  /** Keys no part of multus reads (allowed: they still reach every request), with the nearest known key. */
  unknownKeys: UnknownKey[];
}

export interface UnknownKey {
  key: string;
  closest?: string;
}

/** Keys read from the raw file although no schema above declares them. */
const RAW_KEYS = ["nodeName"];

function schemaKeys(schema: v.GenericSchema): string[] {
  return "entries" in schema ? Object.keys(schema.entries as object) : [];
}

function knownKeys(extraSchemas: v.GenericSchema[]): string[] {
  return [
    ...new Set([
      ...schemaKeys(DaemonConfigSchema),
      ...schemaKeys(ShimConfigSchema),
      ...extraSchemas.flatMap(schemaKeys),
      ...RAW_KEYS,
    ]),
  ];
}

/** The object schema a known key holds (through optional and pipe wrappers), if any. */
function nestedObjectSchema(schemas: v.GenericSchema[], key: string): v.GenericSchema | undefined {
  for (const schema of schemas) {
    const entry = "entries" in schema ? (schema.entries as Record<string, v.GenericSchema>)[key] : undefined;
    const found = entry && objectSchemaIn(entry);
    if (found) return found;
  }
  return undefined;
}

function objectSchemaIn(schema: v.GenericSchema): v.GenericSchema | undefined {
  if ("entries" in schema) return schema;
  if ("wrapped" in schema) return objectSchemaIn(schema.wrapped as v.GenericSchema);
  if (!("pipe" in schema)) return undefined;
  for (const item of schema.pipe as Array<{ kind: string }>) {
    const found = item.kind === "schema" ? objectSchemaIn(item as v.GenericSchema) : undefined;
    if (found) return found;
  }
  return undefined;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** Keys renamed to the spelling of `known`, in document order; of two spellings the later wins. */
function renameKeys(
  raw: Record<string, unknown>,
  known: string[],
  nested: (key: string, value: unknown) => unknown,
): { out: Record<string, unknown>; renamed: string[] } {
  const byLower = new Map(known.map((key) => [key.toLowerCase(), key]));
  const out: Record<string, unknown> = {};
  const renamed: string[] = [];
  for (const [key, value] of Object.entries(raw)) {
    const canonical = byLower.get(key.toLowerCase()) ?? key;
    if (canonical !== key) renamed.push(key);
    delete out[canonical]; // the later spelling wins, and takes the later place
    out[canonical] = nested(canonical, value);
  }
  return { out, renamed };
}

/**
 * Go decodes daemon-config.json with encoding/json, which matches a key to a
 * field whatever its case ("LogLevel", "CNIConfigDir"), in nested objects too
 * (`perNodeCertificate.CertDir`, `logOptions.MaxAge`): a file that works for
 * the Go daemon works here. Keys that differ from a known key only in case are
 * renamed to it, in document order, so of two spellings the later wins, as in
 * Go. Unknown keys keep their spelling: they still reach every request as written.
 */
export function canonicalKeys(
  raw: Record<string, unknown>,
  extraSchemas: v.GenericSchema[] = [],
): { raw: Record<string, unknown>; renamed: string[] } {
  const schemas = [DaemonConfigSchema, ShimConfigSchema, ...extraSchemas] as v.GenericSchema[];
  const renamed: string[] = [];
  const top = renameKeys(raw, knownKeys(extraSchemas), (key, value) => {
    const schema = nestedObjectSchema(schemas, key);
    if (!schema || !isPlainObject(value)) return value;
    const inner = renameKeys(value, schemaKeys(schema), (_, x) => x);
    renamed.push(...inner.renamed.map((k) => `${key}.${k}`));
    return inner.out;
  });
  return { raw: top.out, renamed: [...top.renamed, ...renamed] };
}

/** Every top-level key of `raw` that neither the daemon, the per-request config nor the shim reads. */
export function findUnknownKeys(raw: Record<string, unknown>, extraSchemas: v.GenericSchema[] = []): UnknownKey[] {
  const known = knownKeys(extraSchemas);
  return Object.keys(raw)
    .filter((key) => !known.includes(key))
    .map((key) => ({ key, closest: closestKey(key, known) }));
}

/** `"metricPort": did you mean "metricsPort"?`, or `"foo"` when nothing known is near. */
export function describeUnknownKey({ key, closest }: UnknownKey): string {
  return closest ? `${JSON.stringify(key)}: did you mean ${JSON.stringify(closest)}?` : JSON.stringify(key);
}

/** Parses and validates daemon config text; `extraSchemas` validate the same keys as the core will. */
export function parseDaemonConfig(text: string, extraSchemas: v.GenericSchema[] = []): LoadedDaemonConfig {
  const { raw } = canonicalKeys(decodeJsonObject(text, "daemon configuration"), extraSchemas);
  const config = validate(DaemonConfigSchema, raw, ErrorCode.InvalidConfig, "daemon configuration") as DaemonConfig;
  for (const schema of extraSchemas) validate(schema, raw, ErrorCode.InvalidConfig, "daemon configuration");
  return { config, raw, unknownKeys: findUnknownKeys(raw, extraSchemas) };
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
