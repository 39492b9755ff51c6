// Composition root of the daemon: config, logger, Kubernetes client (when
// there is a cluster), metrics (when asked for), the socket server, signals.
// Start-up follows the Go daemon's order: config (exit 1), readiness indicator
// (exit 1), config manager (exit 2), client and server (exit 3), then
// 00-multus.conf once the server answers, then watching. SIGTERM/SIGINT:
// /readyz answers 500 at once, in-flight requests get gracePeriodSeconds,
// exit 0; the generated file stays (docs/compatibility.md, difference 10). The readiness
// indicator going away removes it and ends the daemon with exit 2.
import { existingLinks } from "./netns-links.ts";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CniError } from "../cni/errors.ts";
import { DEFAULT_SOCKET_DIR, socketPathIn } from "../api/api.ts";
import {
  describeUnknownKey,
  loadDaemonConfig,
  parseDaemonConfig,
  type LoadedDaemonConfig,
} from "../config/daemon-config.ts";
import { MULTUS_CONF_FILE } from "../config/generate.ts";
import { copyUserConfig, createConfigManager, waitForReadinessIndicator, type ConfigManager } from "../config/watch.ts";
import { DEFAULT_CNI_DIR, MultusConfSchema } from "../multus/netconf.ts";
import type { KubePort, MultusDeps } from "../multus/ports.ts";
import { createLogger, type Logger } from "../util/log.ts";
import { createKeyedLock } from "../util/keyed-lock.ts";
import { DEFAULT_PATH } from "../util/default-path.ts";
import { sweepStaleTempFiles } from "../util/atomic-write.ts";
import { createDevicePort } from "../kubelet/devices.ts";
import { defaultConnectionLimit } from "./admission.ts";
import { handleRequest, type HandlerDeps } from "./handler.ts";
import { startServer, type DaemonServer } from "./server.ts";

export interface DaemonOptions {
  configPath: string;
  /** Command-line values laid over the config file's keys. */
  overrides: Record<string, unknown>;
  env: Record<string, string | undefined>;
}

export const IN_CLUSTER_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";
export const IN_CLUSTER_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

export async function runDaemon(opts: DaemonOptions): Promise<number> {
  // 1. The config file, with the command line laid over it (failure: exit 1).
  let loaded: LoadedDaemonConfig;
  try {
    loaded = await loadDaemonConfig(opts.configPath, [MultusConfSchema]);
    if (Object.keys(opts.overrides).length > 0) {
      loaded = parseDaemonConfig(JSON.stringify({ ...loaded.raw, ...opts.overrides }), [MultusConfSchema]);
    }
  } catch (err) {
    process.stderr.write(`multus-daemon: ${err instanceof CniError ? err.message : String(err)}\n`);
    return 1;
  }
  const { config } = loaded;
  const log = createLogger({
    level: config.logLevel,
    file: config.logFile,
    toStderr: config.logToStderr,
    options: loaded.raw.logOptions as never,
  });
  // Start-up failures and milestones are said on stderr whatever the log level: an operator must see them.
  const say = (msg: string) => process.stderr.write(`multus-daemon: ${msg}\n`);
  // Unknown keys stay allowed (they reach every request), but a typo should not pass unseen.
  for (const unknown of loaded.unknownKeys) {
    const msg = `warning: unknown key in ${opts.configPath}: ${describeUnknownKey(unknown)} (it is still laid over every request)`;
    say(msg);
    log.warn(msg);
  }
  const fail = (code: number, msg: string) => {
    log.panic(msg);
    say(msg);
    return code;
  };

  // Signals are taken from the start: SIGTERM during a start-up wait ends the wait.
  const stopping = new AbortController();
  let stopSignal = "";
  const onSignal = (signal: string) => {
    stopSignal ||= signal;
    stopping.abort();
  };
  const onTerm = () => onSignal("SIGTERM");
  const onInt = () => onSignal("SIGINT");
  process.on("SIGTERM", onTerm);
  process.on("SIGINT", onInt);
  try {
    return await serveUntilStopped();
  } finally {
    process.off("SIGTERM", onTerm);
    process.off("SIGINT", onInt);
  }

  async function serveUntilStopped(): Promise<number> {
    const auto = config.multusConfigFile === "auto";

    // 2. The readiness indicator (failure: exit 1).
    if (config.readinessindicatorfile) {
      try {
        await waitForReadinessIndicator(config.readinessindicatorfile, {
          timeoutMs: config.readinessIndicatorTimeoutSeconds * 1000,
          signal: stopping.signal,
        });
        log.verbose(`readiness indicator file ${config.readinessindicatorfile} is there`);
      } catch (err) {
        if (stopping.signal.aborted) return 0;
        return fail(1, (err as Error).message);
      }
    }

    // 3. The config manager finds and checks the primary CNI conf (failure: exit 2).
    let manager: ConfigManager | undefined;
    if (auto) {
      try {
        manager = await createConfigManager({
          daemon: loaded.raw,
          cniConfigDir: config.cniConfigDir,
          autoconfigDir: config.multusAutoconfigDir,
          masterCni: config.multusMasterCNI || undefined,
          forceCniVersion: config.forceCNIVersion,
          readinessIndicatorFile: config.readinessindicatorfile || undefined,
          primaryTimeoutMs: config.primaryConfTimeoutSeconds * 1000,
          log,
          signal: stopping.signal,
        });
      } catch (err) {
        if (stopping.signal.aborted) return 0;
        return fail(
          2,
          `failed to create the configuration manager for the primary CNI plugin: ${(err as Error).message}`,
        );
      }
      warnIfShimCannotFindSocket(loaded, say);
    }

    await sweepCacheTempFiles(loaded, log);

    // 4. Kubernetes, metrics, the socket server (failure: exit 3).
    let kube: (KubePort & { stop(): Promise<void> }) | undefined;
    try {
      kube = await connectKubernetes(loaded, opts.env, log);
    } catch (err) {
      return fail(3, `cannot create the Kubernetes client: ${(err as Error).message}`);
    }
    // Optional: a metrics port that cannot be bound is retried in the background, never fatal.
    const metrics = config.metricsPort
      ? (await import("./metrics.ts")).startMetrics({ port: config.metricsPort, log, say })
      : undefined;
    const multus: MultusDeps = {
      log,
      kube,
      chrootDir: config.chrootDir,
      delegateBaseEnv: { PATH: opts.env.PATH ?? DEFAULT_PATH },
      extraBinDirs: config.additionalBinDir ? [config.additionalBinDir] : undefined,
      // No I/O until a NAD with a resourceName asks for devices.
      devices: createDevicePort({
        podResourcesSocket: config.podResourcesSocket,
        checkpointFile: config.kubeletCheckpointFile,
      }),
      deviceInfoDir: config.deviceInfoDir,
      existingLinks,
      locks: createKeyedLock(),
    };
    let ready = true;
    const deps: HandlerDeps = {
      daemon: loaded,
      multus,
      isReady: () => ready,
      observeCommand: metrics?.observeCommand,
    };
    const socketPath = socketPathIn(config.socketDir);
    let server: DaemonServer;
    try {
      server = await startServer({
        socketPath,
        handle: (request) => handleRequest(request, deps),
        onResponse: metrics?.observeResponse,
        connectionLimit: config.connectionLimit ?? defaultConnectionLimit(),
        queueDeadlineMs: config.queueDeadlineSeconds === undefined ? undefined : config.queueDeadlineSeconds * 1000,
      });
    } catch (err) {
      await metrics?.stop();
      await kube?.stop();
      return fail(3, `cannot listen on ${socketPath}: ${(err as Error).message}`);
    }
    const mode = kube
      ? "Kubernetes client connected"
      : "no kubeconfig and no in-cluster environment: static delegates only";
    say(`listening on ${socketPath} (${mode})`);
    log.verbose(`listening on ${socketPath} (${mode})`);

    // 5. Serving: now the runtime may be pointed at us.
    let exitCode = 0;
    if (manager) {
      try {
        await manager.start();
        say(`${manager.path} follows ${manager.primaryPath}`);
      } catch (err) {
        exitCode = fail(3, `failed to start the config manager: ${(err as Error).message}`);
        stopping.abort();
      }
    } else if (config.multusConfigFile && !auto) {
      await copyUserConfig(config.multusConfigFile, config.cniConfigDir).then(
        (dest) => dest && log.verbose(`copied ${config.multusConfigFile} to ${dest}`),
        (err: Error) =>
          say(`failed to copy the user provided configuration ${config.multusConfigFile}: ${err.message}`),
      );
    }
    const stopped = new Promise<string>((resolve) => {
      if (stopping.signal.aborted) resolve(stopSignal || "start-up failure");
      else stopping.signal.addEventListener("abort", () => resolve(`${stopSignal} received`), { once: true });
    });
    const lost = manager?.lost.then((reason) => {
      exitCode = 2;
      return reason;
    });
    const reason = await (lost ? Promise.race([stopped, lost]) : stopped);

    // 6. Stop: /readyz answers 500 at once, in-flight requests get the grace period; 00-multus.conf stays.
    ready = false;
    log.verbose(`${reason}: finishing ${server.inFlight} request(s) in flight`);
    if (exitCode === 2) say(reason);
    await manager?.stop();
    await server.stop(config.gracePeriodSeconds * 1000);
    await metrics?.stop();
    await kube?.stop();
    log.verbose(`multus daemon stopped (exit ${exitCode})`);
    return exitCode;
  }
}

/**
 * Go never writes socketDir into 00-multus.conf, only an explicit
 * daemonSocketDir; without one the shim uses /run/multus/. Say so when that
 * cannot be the daemon's socket (no chroot, so probably not in a container).
 */
function warnIfShimCannotFindSocket(loaded: LoadedDaemonConfig, say: (msg: string) => void): void {
  const { config } = loaded;
  if (config.daemonSocketDir || config.chrootDir) return;
  if (socketPathIn(config.socketDir) === socketPathIn(DEFAULT_SOCKET_DIR)) return;
  say(
    `warning: socketDir is ${config.socketDir} but the daemon configuration sets no daemonSocketDir: ` +
      `shims reading the generated ${MULTUS_CONF_FILE} will look for ${socketPathIn(DEFAULT_SOCKET_DIR)}`,
  );
}

/** A kubeconfig (config key or flag) or the in-cluster environment; neither means static delegates only. */
async function connectKubernetes(
  loaded: LoadedDaemonConfig,
  env: DaemonOptions["env"],
  log: Logger,
): Promise<(KubePort & { stop(): Promise<void> }) | undefined> {
  const kubeconfigPath = loaded.config.kubeconfig || undefined;
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!kubeconfigPath && host && port && !existsSync(IN_CLUSTER_TOKEN)) {
    // In a pod without its service-account token: running without Kubernetes would
    // silently attach only the cluster network to every pod.
    throw new Error(
      `KUBERNETES_SERVICE_HOST is set but ${IN_CLUSTER_TOKEN} is missing (automountServiceAccountToken off?)`,
    );
  }
  const inCluster =
    !kubeconfigPath && host && port ? { host, port, tokenFile: IN_CLUSTER_TOKEN, caFile: IN_CLUSTER_CA } : undefined;
  if (!kubeconfigPath && !inCluster) return undefined;
  const { createKubeClient } = await import("../k8s/client.ts");
  const nodeName = env.MULTUS_NODE_NAME || (loaded.raw.nodeName as string | undefined);
  const client = await createKubeClient({ kubeconfigPath, inCluster, nodeName, logger: log });
  // Not awaited: the socket must be served before the informers have listed. A daemon
  // restarted while the API is unreachable still answers DEL from its cache, and until
  // the caches fill, pod and NAD reads are live GETs bounded by each request's deadline.
  void client.start();
  return client;
}

/**
 * A daemon SIGKILLed in the middle of a cache write leaves its temp file in cniDir or
 * cniDir/results for good: remove those whose writer is gone. Best effort.
 */
async function sweepCacheTempFiles(loaded: LoadedDaemonConfig, log: Logger): Promise<void> {
  const cniDir = typeof loaded.raw.cniDir === "string" && loaded.raw.cniDir ? loaded.raw.cniDir : DEFAULT_CNI_DIR;
  for (const dir of [cniDir, join(cniDir, "results")]) {
    const removed = await sweepStaleTempFiles(dir).catch(() => []);
    if (removed.length > 0) log.verbose(`removed ${removed.length} stale temp file(s) in ${dir}: ${removed.join(" ")}`);
  }
}
