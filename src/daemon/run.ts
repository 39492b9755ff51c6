// Composition root of the daemon: config, logger, Kubernetes client (when
// there is a cluster), metrics (when asked for), the socket server, signals.
import { existsSync } from "node:fs";
import { CniError } from "../cni/errors.ts";
import { socketPathIn } from "../api/api.ts";
import { loadDaemonConfig, type LoadedDaemonConfig } from "../config/daemon-config.ts";
import { MultusConfSchema } from "../multus/netconf.ts";
import type { KubePort, MultusDeps } from "../multus/ports.ts";
import { createLogger, type Logger } from "../util/log.ts";
import { createKeyedLock } from "../util/keyed-lock.ts";
import { handleRequest, type HandlerDeps } from "./handler.ts";
import { startServer } from "./server.ts";

export interface DaemonOptions {
  configPath: string;
  /** Command-line values laid over the config file's keys. */
  overrides: Record<string, unknown>;
  env: Record<string, string | undefined>;
}

export const IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";
export const IN_CLUSTER_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

export async function runDaemon(opts: DaemonOptions): Promise<number> {
  let loaded: LoadedDaemonConfig;
  try {
    loaded = await loadDaemonConfig(opts.configPath, [MultusConfSchema]);
    if (Object.keys(opts.overrides).length > 0) {
      const { parseDaemonConfig } = await import("../config/daemon-config.ts");
      loaded = parseDaemonConfig(JSON.stringify({ ...loaded.raw, ...opts.overrides }), [MultusConfSchema]);
    }
  } catch (err) {
    process.stderr.write(`multus-daemon: ${err instanceof CniError ? err.message : String(err)}\n`);
    return 1;
  }
  const { config } = loaded;
  const log = createLogger({ level: config.logLevel, file: config.logFile, toStderr: config.logToStderr, options: loaded.raw.logOptions as never });

  let kube: (KubePort & { stop(): Promise<void> }) | undefined;
  try {
    kube = await connectKubernetes(loaded, opts.env, log);
  } catch (err) {
    log.panic(`cannot create the Kubernetes client: ${(err as Error).message}`);
    process.stderr.write(`multus-daemon: cannot create the Kubernetes client: ${(err as Error).message}\n`);
    return 3;
  }

  const metrics = config.metricsPort ? (await import("./metrics.ts")).startMetrics(config.metricsPort) : undefined;
  const multus: MultusDeps = {
    log,
    kube,
    chrootDir: config.chrootDir,
    delegateBaseEnv: { PATH: opts.env.PATH ?? "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" },
  };
  let ready = true;
  const deps: HandlerDeps = { daemon: loaded, multus, locks: createKeyedLock(), isReady: () => ready };
  const socketPath = socketPathIn(config.socketDir);
  let server;
  try {
    server = await startServer({
      socketPath,
      handle: (request) => handleRequest(request, deps),
      onResponse: metrics?.observeResponse,
      connectionLimit: config.connectionLimit,
    });
  } catch (err) {
    log.panic(`cannot listen on ${socketPath}: ${(err as Error).message}`);
    process.stderr.write(`multus-daemon: cannot listen on ${socketPath}: ${(err as Error).message}\n`);
    await kube?.stop();
    return 3;
  }
  // Said on stderr whatever the log level: an operator must see which mode the daemon is in.
  const mode = kube ? "Kubernetes client connected" : "no kubeconfig and no in-cluster environment: static delegates only";
  process.stderr.write(`multus-daemon: listening on ${socketPath} (${mode})\n`);
  log.verbose(`listening on ${socketPath} (${mode})`);

  const stopSignal = await new Promise<string>((resolve) => {
    process.once("SIGTERM", () => resolve("SIGTERM"));
    process.once("SIGINT", () => resolve("SIGINT"));
  });
  // /readyz answers 500 at once; in-flight requests get the grace period.
  ready = false;
  log.verbose(`${stopSignal} received: finishing ${server.inFlight} request(s) in flight`);
  await server.stop(config.gracePeriodSeconds * 1000);
  await metrics?.stop();
  await kube?.stop();
  log.verbose("multus daemon stopped");
  return 0;
}

/** A kubeconfig (config key or flag) or the in-cluster environment; neither means static delegates only. */
async function connectKubernetes(
  loaded: LoadedDaemonConfig, env: DaemonOptions["env"], log: Logger,
): Promise<(KubePort & { stop(): Promise<void> }) | undefined> {
  const kubeconfigPath = loaded.config.kubeconfig || undefined;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  const inCluster = !kubeconfigPath && host && port && existsSync(IN_CLUSTER_TOKEN)
    ? { host, port, tokenFile: IN_CLUSTER_TOKEN, caFile: IN_CLUSTER_CA }
    : undefined;
  if (!kubeconfigPath && !inCluster) return undefined;
  const { createKubeClient } = await import("../k8s/client.ts");
  const nodeName = env.MULTUS_NODE_NAME || (loaded.raw.nodeName as string | undefined);
  const client = await createKubeClient({ kubeconfigPath, inCluster, nodeName, logger: log });
  await client.start();
  return client;
}
