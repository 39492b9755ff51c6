// The Multus network configuration the core reads per request:
// the runtime's stdin config with the daemon config laid over it.
import * as v from "valibot";
import { LogOptionsSchema } from "../config/shim-config.ts";
import { jsonObject } from "../cni/schemas.ts";

const seconds = (dflt: number) => v.optional(v.pipe(v.number(), v.minValue(0.001)), dflt);

/** Go Multus's cache directory for delegate and result caches. */
export const DEFAULT_CNI_DIR = "/var/lib/cni/multus";
export const DEFAULT_BIN_DIR = "/opt/cni/bin";

export const MultusConfSchema = v.looseObject({
  name: v.optional(v.string()),
  type: v.optional(v.string()),
  cniVersion: v.optional(v.string()),
  confDir: v.optional(v.string(), "/etc/cni/multus/net.d"),
  cniDir: v.optional(v.string(), DEFAULT_CNI_DIR),
  binDir: v.optional(v.string(), DEFAULT_BIN_DIR),
  kubeconfig: v.optional(v.string()),
  clusterNetwork: v.optional(v.string()),
  defaultNetworks: v.optional(v.array(v.string()), []),
  delegates: v.optional(v.array(jsonObject(v.record(v.string(), v.unknown()))), []),
  systemNamespaces: v.optional(v.array(v.string()), ["kube-system"]),
  multusNamespace: v.optional(v.string(), "kube-system"),
  namespaceIsolation: v.optional(v.boolean(), false),
  globalNamespaces: v.optional(v.string(), ""),
  readinessindicatorfile: v.optional(v.string(), ""),
  // Ours: how long ADD, GC and STATUS wait for it (Go: 45 s); the daemon's start-up wait reads the same key.
  readinessIndicatorTimeoutSeconds: v.optional(v.pipe(v.number(), v.minValue(0)), 45),
  logFile: v.optional(v.string()),
  logLevel: v.optional(v.string()),
  logToStderr: v.optional(v.boolean()),
  logOptions: v.optional(LogOptionsSchema),
  logFormat: v.optional(v.string()),
  capabilities: v.optional(jsonObject(v.record(v.string(), v.boolean()))),
  runtimeConfig: v.optional(jsonObject(v.record(v.string(), v.unknown()))),
  retryDeleteOnError: v.optional(v.boolean(), false),
  auxiliaryCNIChainName: v.optional(v.string()),
  chrootDir: v.optional(v.string()),
  // Ours: every hop has a deadline (docs/compatibility.md, difference 11).
  delegateTimeoutSeconds: seconds(60),
  podLookupTimeoutSeconds: seconds(5),
  apiTimeoutSeconds: seconds(10),
  // Ours: what is read from a delegate's stdout and stderr is bounded (a plugin printing
  // without end must not take the daemon's memory with it).
  maxPluginOutputBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(4096)), 1024 * 1024),
  // Ours: what a pod's annotations may ask for (pod-limits.ts).
  maxAnnotationBytes: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1024)), 64 * 1024),
  maxDelegatesPerPod: v.optional(v.pipe(v.number(), v.integer(), v.minValue(1)), 32),
});
export type MultusConf = v.InferOutput<typeof MultusConfSchema>;
