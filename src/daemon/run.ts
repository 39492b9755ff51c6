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
import { copyUserConfig, createConfigManager, type ConfigManager } from "../config/watch.ts";
import { waitForReadinessIndicator } from "../config/readiness-indicator.ts";
import { DEFAULT_CNI_DIR, MultusConfSchema } from "../multus/netconf.ts";
import type { TombstoneReplayer } from "../multus/tombstones.ts";
import type { KubePort, MultusDeps, ResourcePort } from "../multus/ports.ts";
import { createLogger, formatNotice, type Logger } from "../util/log.ts";
import { createKeyedLock } from "../util/keyed-lock.ts";
import { DEFAULT_PATH } from "../util/default-path.ts";
import { sweepStaleTempFiles } from "../util/atomic-write.ts";
import { createDevicePort } from "../kubelet/devices.ts";
import { defaultConnectionLimit } from "./admission.ts";
import { handleRequest, type HandlerDeps } from "./handler.ts";
import { selfCheck, startServer, type DaemonServer } from "./server.ts";
import { startTombstoneReplayer } from "./tombstones.ts";
import type { Metrics } from "./metrics.ts";
import { buildStatus } from "./status.ts";
import type { InformerState } from "../k8s/client.ts";
import type { KubeObserver } from "../k8s/observe.ts";

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
  const loaded = await loadConfig(opts);
  if (!loaded) return 1;
  const signals = takeSignals();
  try {
    return await serveUntilStopped({ ...createSayers(loaded, opts.configPath), opts, loaded, signals });
  } finally {
    signals.release();
  }
}

/** What every start-up step reads: the config, where to log and say things, the stop signal. */
interface DaemonContext {
  opts: DaemonOptions;
  loaded: LoadedDaemonConfig;
  log: Logger;
  /** Start-up failures and milestones are said on stderr whatever the log level: an operator must see them. */
  say(msg: string): void;
  signals: Signals;
}

/** What start-up has started so far; stopAll stops exactly these. */
interface Started {
  manager?: ConfigManager;
  kube?: KubeClient;
  metrics?: Metrics;
  tombstones?: TombstoneReplayer;
  server?: DaemonServer;
}

type KubeClient = KubePort & ResourcePort & { stop(): Promise<void>; informers?(): InformerState[] };

/**
 * A start-up step that cannot go on: the daemon exits with `code`, saying
 * `message` (none when a signal ended a start-up wait: that is no failure).
 */
class StartupExit extends Error {
  constructor(
    readonly code: number,
    readonly reason?: string,
  ) {
    super(reason ?? `exit ${code}`);
  }
}

async function serveUntilStopped(ctx: DaemonContext): Promise<number> {
  const { config } = ctx.loaded;
  const started: Started = {};
  const startedAt = new Date();
  // Ready once the socket has answered our own probe (startSocketServer).
  let ready = false;
  try {
    await awaitReadinessIndicator(ctx);
    started.manager = await createManagerIfAuto(ctx);
    await sweepCacheTempFiles(ctx.loaded, ctx.log);
    // Metrics first: the Kubernetes client reports its requests to them from its first list.
    started.metrics = await startMetricsIfAsked(ctx, async () => (await started.tombstones?.pending()) ?? 0);
    started.kube = await startKubernetes(ctx, started.metrics);
    const multus = multusDeps(ctx, started);
    started.tombstones = startTombstoneReplayer({
      loaded: ctx.loaded,
      multus,
      log: ctx.log,
      onEvent: started.metrics?.observeTombstone,
    });
    multus.tombstones = started.tombstones;
    started.server = await startSocketServer(ctx, {
      multus,
      metrics: started.metrics,
      kube: started.kube,
      manager: started.manager,
      isReady: () => ready,
      startedAt,
    });
    await checkOwnSocket(ctx);
    ready = true;
  } catch (err) {
    await stopAll(started, 0);
    if (!(err instanceof StartupExit)) throw err;
    return err.reason === undefined ? err.code : fail(ctx, err.code, err.reason);
  }
  const { server, manager } = started;

  // 5. Serving: now the runtime may be pointed at us.
  let exitCode = await publishConfig(ctx, manager);
  const stop = await untilStopOrLost(ctx, manager);
  if (stop.lost) exitCode = 2;

  // 6. Stop: /readyz answers 500 at once, in-flight requests get the grace period; 00-multus.conf stays.
  ready = false;
  ctx.log.verbose(`${stop.reason}: finishing ${server.inFlight} request(s) in flight`);
  if (exitCode === 2) ctx.say(stop.reason);
  await stopAll(started, config.gracePeriodSeconds * 1000);
  ctx.log.verbose(`multus daemon stopped (exit ${exitCode})`);
  return exitCode;
}

/** Stops what start-up started, the config manager first and the Kubernetes client last. */
async function stopAll(started: Started, graceMs: number): Promise<void> {
  await started.manager?.stop();
  await started.server?.stop(graceMs);
  started.tombstones?.stop();
  await started.metrics?.stop();
  await started.kube?.stop();
}

/** Loads the config file and lays the command line over it; undefined (said on stderr) when either is bad. */
async function loadConfig(opts: DaemonOptions): Promise<LoadedDaemonConfig | undefined> {
  try {
    const loaded = await loadDaemonConfig(opts.configPath, [MultusConfSchema]);
    if (Object.keys(opts.overrides).length === 0) return loaded;
    return parseDaemonConfig(JSON.stringify({ ...loaded.raw, ...opts.overrides }), [MultusConfSchema]);
  } catch (err) {
    process.stderr.write(`multus-daemon: ${err instanceof CniError ? err.message : String(err)}\n`);
    return undefined;
  }
}

/** The logger and stderr voice; warns once about each unknown config key. */
function createSayers(loaded: LoadedDaemonConfig, configPath: string): Pick<DaemonContext, "log" | "say"> {
  const { config } = loaded;
  const log = createLogger({
    level: config.logLevel,
    file: config.logFile,
    toStderr: config.logToStderr,
    options: loaded.raw.logOptions as never,
    format: config.logFormat,
  });
  const say = (msg: string) =>
    process.stderr.write(formatNotice({ source: "multus-daemon", msg, format: config.logFormat }));
  // Unknown keys stay allowed (they reach every request), but a typo should not pass unseen.
  for (const unknown of loaded.unknownKeys) {
    const msg = `warning: unknown key in ${configPath}: ${describeUnknownKey(unknown)} (it is still laid over every request)`;
    say(msg);
    log.warn(msg);
  }
  return { log, say };
}

function fail(ctx: DaemonContext, code: number, msg: string): number {
  ctx.log.panic(msg);
  ctx.say(msg);
  return code;
}

interface Signals {
  /** Aborted by SIGTERM or SIGINT, or by a failure after start-up. */
  readonly stopping: AbortController;
  /** The first signal received, "" when none. */
  name(): string;
  release(): void;
}

/** Signals are taken from the start: SIGTERM during a start-up wait ends the wait. */
function takeSignals(): Signals {
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
  return {
    stopping,
    name: () => stopSignal,
    release() {
      process.off("SIGTERM", onTerm);
      process.off("SIGINT", onInt);
    },
  };
}

/** 2. The readiness indicator (failure: exit 1). */
async function awaitReadinessIndicator(ctx: DaemonContext): Promise<void> {
  const { config } = ctx.loaded;
  const { signal } = ctx.signals.stopping;
  if (!config.readinessindicatorfile) return;
  try {
    await waitForReadinessIndicator(config.readinessindicatorfile, {
      timeoutMs: config.readinessIndicatorTimeoutSeconds * 1000,
      signal,
      log: ctx.log,
    });
    ctx.log.verbose(`readiness indicator file ${config.readinessindicatorfile} is there`);
  } catch (err) {
    throw signal.aborted ? new StartupExit(0) : new StartupExit(1, (err as Error).message);
  }
}

/** 3. The config manager finds and checks the primary CNI conf (failure: exit 2); only for multusConfigFile "auto". */
async function createManagerIfAuto(ctx: DaemonContext): Promise<ConfigManager | undefined> {
  const { config } = ctx.loaded;
  const { signal } = ctx.signals.stopping;
  if (config.multusConfigFile !== "auto") return undefined;
  let manager: ConfigManager;
  try {
    manager = await createConfigManager({
      daemon: ctx.loaded.raw,
      cniConfigDir: config.cniConfigDir,
      autoconfigDir: config.multusAutoconfigDir,
      masterCni: config.multusMasterCNI || undefined,
      forceCniVersion: config.forceCNIVersion,
      readinessIndicatorFile: config.readinessindicatorfile || undefined,
      primaryTimeoutMs: config.primaryConfTimeoutSeconds * 1000,
      log: ctx.log,
      signal,
    });
  } catch (err) {
    if (signal.aborted) throw new StartupExit(0);
    const msg = `failed to create the configuration manager for the primary CNI plugin: ${(err as Error).message}`;
    throw new StartupExit(2, msg);
  }
  warnIfShimCannotFindSocket(ctx.loaded, ctx.say);
  return manager;
}

/** 4a. Kubernetes, when there is a cluster (failure: exit 3). */
async function startKubernetes(ctx: DaemonContext, metrics: Metrics | undefined): Promise<KubeClient | undefined> {
  try {
    const observer = metrics && { request: metrics.observeKubeRequest };
    const kube = await connectKubernetes(ctx.loaded, ctx.opts.env, { log: ctx.log, observer });
    if (kube?.informers) metrics?.watch({ informers: () => kube.informers?.() ?? [] });
    return kube;
  } catch (err) {
    throw new StartupExit(3, `cannot create the Kubernetes client: ${(err as Error).message}`);
  }
}

/** 4b. Optional: a metrics port that cannot be bound is retried in the background, never fatal. */
async function startMetricsIfAsked(
  ctx: DaemonContext,
  pendingTombstones: () => Promise<number>,
): Promise<Metrics | undefined> {
  const { metricsPort, enablePprof } = ctx.loaded.config;
  if (!metricsPort) {
    if (enablePprof) ctx.say("warning: enablePprof serves its profiles on metricsPort, which is not set: no profiling");
    return undefined;
  }
  const { startMetrics } = await import("./metrics.ts");
  const pprof = enablePprof ? (await import("./pprof.ts")).createPprof({ log: ctx.log }) : undefined;
  return startMetrics({ port: metricsPort, log: ctx.log, say: ctx.say, pendingTombstones, routes: pprof?.handle });
}

/** 4c. The socket server (failure: exit 3). */
async function startSocketServer(
  ctx: DaemonContext,
  parts: {
    multus: MultusDeps;
    metrics?: Metrics;
    /** For GET /status. */
    kube?: KubeClient;
    manager?: ConfigManager;
    isReady(): boolean;
    startedAt: Date;
  },
): Promise<DaemonServer> {
  const { config } = ctx.loaded;
  const socketPath = socketPathIn(config.socketDir);
  let server: DaemonServer | undefined;
  const deps: HandlerDeps = {
    daemon: ctx.loaded,
    multus: parts.multus,
    isReady: parts.isReady,
    status: () =>
      buildStatus({
        configPath: ctx.opts.configPath,
        loaded: ctx.loaded,
        socketPath,
        startedAt: parts.startedAt,
        isReady: parts.isReady,
        manager: parts.manager,
        kube: parts.kube,
        queue: () => server?.queue(),
        bodies: () => server?.bodies(),
      }),
    observeCommand: parts.metrics?.observeCommand,
    observeCniError: parts.metrics?.observeCniError,
  };
  try {
    server = await startServer({
      socketPath,
      handle: (request) => handleRequest(request, deps),
      onResponse: parts.metrics?.observeResponse,
      onCniError: parts.metrics?.observeCniError,
      connectionLimit: config.connectionLimit ?? defaultConnectionLimit(),
      queueDeadlineMs: config.queueDeadlineSeconds === undefined ? undefined : config.queueDeadlineSeconds * 1000,
      maxRequestBytes: config.maxRequestBytes,
      maxPendingRequestBytes: config.maxPendingRequestBytes,
      bodyTimeoutMs:
        config.requestBodyTimeoutSeconds === undefined ? undefined : config.requestBodyTimeoutSeconds * 1000,
    });
  } catch (err) {
    throw new StartupExit(3, `cannot listen on ${socketPath}: ${(err as Error).message}`);
  }
  parts.metrics?.watch({
    queue: () => ({ inFlight: server.inFlight, queued: server.queuedByCommand() }),
    bodies: () => server.bodies(),
    cacheDir: cacheDirOf(ctx.loaded),
  });
  const mode = parts.multus.kube
    ? "Kubernetes client connected"
    : "no kubeconfig and no in-cluster environment: static delegates only";
  ctx.say(`listening on ${socketPath} (${mode})`);
  ctx.log.verbose(`listening on ${socketPath} (${mode})`);
  return server;
}

/** 4d. Our own socket answers as a probe would see it (failure: exit 3), before /readyz says 200. */
async function checkOwnSocket(ctx: DaemonContext): Promise<void> {
  const socketPath = socketPathIn(ctx.loaded.config.socketDir);
  try {
    const ms = await selfCheck(socketPath);
    ctx.log.verbose(`self-check: ${socketPath} answered in ${ms.toFixed(1)} ms; ready`);
  } catch (err) {
    throw new StartupExit(3, `self-check failed: ${(err as Error).message}`);
  }
}

/** The real parts every ADD/CHECK/DEL is served with. */
function multusDeps(ctx: DaemonContext, parts: { kube?: KubeClient; metrics?: Metrics }): MultusDeps {
  const { config } = ctx.loaded;
  return {
    log: ctx.log,
    kube: parts.kube,
    chrootDir: config.chrootDir,
    delegateBaseEnv: { PATH: ctx.opts.env.PATH ?? DEFAULT_PATH },
    extraBinDirs: config.additionalBinDir ? [config.additionalBinDir] : undefined,
    // No I/O until a NAD with a resourceName asks for devices.
    devices: createDevicePort({
      podResourcesSocket: config.podResourcesSocket,
      checkpointFile: config.kubeletCheckpointFile,
    }),
    // DRA through resource.k8s.io/v1: asked only for pods with claims whose NADs name a resource.
    resources: parts.kube,
    deviceInfoDir: config.deviceInfoDir,
    existingLinks,
    locks: createKeyedLock(),
    observer: parts.metrics?.multus,
  };
}

/**
 * 5. Once the server answers: 00-multus.conf is written and followed (auto), or the
 * user's file copied. Returns the exit code so far: 3 when the manager cannot start
 * (the daemon then stops at once).
 */
async function publishConfig(ctx: DaemonContext, manager: ConfigManager | undefined): Promise<number> {
  const { config } = ctx.loaded;
  if (manager) {
    try {
      await manager.start();
      ctx.say(`${manager.path} follows ${manager.primaryPath}`);
    } catch (err) {
      const code = fail(ctx, 3, `failed to start the config manager: ${(err as Error).message}`);
      ctx.signals.stopping.abort();
      return code;
    }
  } else if (config.multusConfigFile && config.multusConfigFile !== "auto") {
    await copyUserConfig(config.multusConfigFile, config.cniConfigDir).then(
      (dest) => dest && ctx.log.verbose(`copied ${config.multusConfigFile} to ${dest}`),
      (err: Error) =>
        ctx.say(`failed to copy the user provided configuration ${config.multusConfigFile}: ${err.message}`),
    );
  }
  return 0;
}

/** Waits for a signal (or a start failure's abort) or for the readiness indicator going away. */
async function untilStopOrLost(
  ctx: DaemonContext,
  manager: ConfigManager | undefined,
): Promise<{ reason: string; lost: boolean }> {
  const { stopping, name } = ctx.signals;
  const stopped = new Promise<{ reason: string; lost: boolean }>((resolve) => {
    const done = (reason: string) => resolve({ reason, lost: false });
    if (stopping.signal.aborted) done(name() || "start-up failure");
    else stopping.signal.addEventListener("abort", () => done(`${name()} received`), { once: true });
  });
  const lost = manager?.lost.then((reason) => ({ reason, lost: true }));
  return await (lost ? Promise.race([stopped, lost]) : stopped);
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
  { log, observer }: { log: Logger; observer?: KubeObserver },
): Promise<KubeClient | undefined> {
  const perNode = loaded.config.perNodeCertificate;
  if (perNode?.enabled) return connectWithNodeCertificate(loaded, env, { log, observer });
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
  const client = await createKubeClient({ kubeconfigPath, inCluster, nodeName, logger: log, observer });
  // Not awaited: the socket must be served before the informers have listed. A daemon
  // restarted while the API is unreachable still answers DEL from its cache, and until
  // the caches fill, pod and NAD reads are live GETs bounded by each request's deadline.
  void client.start();
  return client;
}

/**
 * Go's perNodeCertificate: the daemon's own client certificate, requested with the bootstrap
 * kubeconfig and renewed in the background; it wins over a kubeconfig and the in-cluster
 * service account, as in Go. Start-up waits for the certificate (up to 2 min, Go's bound).
 */
async function connectWithNodeCertificate(
  loaded: LoadedDaemonConfig,
  env: DaemonOptions["env"],
  { log, observer }: { log: Logger; observer?: KubeObserver },
): Promise<KubeClient> {
  const perNode = loaded.config.perNodeCertificate!;
  const nodeName = env.MULTUS_NODE_NAME || (loaded.raw.nodeName as string | undefined);
  if (!nodeName) throw new Error("perNodeCertificate is enabled but MULTUS_NODE_NAME is not set");
  const [{ createKubeClient }, { parseGoDuration }] = await Promise.all([
    import("../k8s/client.ts"),
    import("../util/go-duration.ts"),
  ]);
  const client = await createKubeClient({
    nodeName,
    logger: log,
    observer,
    perNodeCertificate: {
      bootstrapKubeconfig: perNode.bootstrapKubeconfig!,
      certDir: perNode.certDir!,
      durationMs: parseGoDuration(perNode.certDuration)!, // validated by the schema
    },
  });
  void client.start(); // as connectKubernetes: the socket is served before the informers have listed
  return client;
}

/**
 * A daemon SIGKILLed in the middle of a cache write leaves its temp file in cniDir or
 * cniDir/results for good: remove those whose writer is gone. Best effort.
 */
async function sweepCacheTempFiles(loaded: LoadedDaemonConfig, log: Logger): Promise<void> {
  const cniDir = cacheDirOf(loaded);
  for (const dir of [cniDir, join(cniDir, "results")]) {
    const removed = await sweepStaleTempFiles(dir).catch(() => []);
    if (removed.length > 0) log.verbose(`removed ${removed.length} stale temp file(s) in ${dir}: ${removed.join(" ")}`);
  }
}

/** The delegate cache directory: the daemon config's cniDir, which wins over a request's (or the default). */
function cacheDirOf(loaded: LoadedDaemonConfig): string {
  return typeof loaded.raw.cniDir === "string" && loaded.raw.cniDir ? loaded.raw.cniDir : DEFAULT_CNI_DIR;
}
