// What the shim reads from its own stdin config; everything
// else is forwarded to the daemon untouched.
import * as v from "valibot";
import { DEFAULT_SOCKET_DIR } from "../api/api.ts";
import { jsonObject } from "../cni/schemas.ts";

/** Rotation of the log file (lumberjack's options in the Go Multus). */
export const LogOptionsSchema = jsonObject(
  v.looseObject({
    maxAge: v.optional(v.pipe(v.number(), v.minValue(0))),
    maxSize: v.optional(v.pipe(v.number(), v.minValue(0))),
    maxBackups: v.optional(v.pipe(v.number(), v.minValue(0))),
    compress: v.optional(v.boolean()),
  }),
);

export const ShimConfigSchema = v.looseObject({
  cniVersion: v.optional(v.string()),
  daemonSocketDir: v.optional(v.string(), DEFAULT_SOCKET_DIR),
  logFile: v.optional(v.string()),
  logLevel: v.optional(v.string()),
  logToStderr: v.optional(v.boolean(), false),
  logFormat: v.optional(v.string()),
  logOptions: v.optional(LogOptionsSchema),
  /** How long the shim waits for the daemon's /readyz (ours; Go waits 60 s). */
  daemonReadyTimeoutSeconds: v.optional(v.pipe(v.number(), v.minValue(0)), 30),
  /** Deadline of the CNI call itself (ours; keeps every hop inside the kubelet's 4-minute budget). */
  daemonRequestTimeoutSeconds: v.optional(v.pipe(v.number(), v.minValue(0.1)), 180),
});
export type ShimConfig = v.InferOutput<typeof ShimConfigSchema>;
