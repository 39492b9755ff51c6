// The Kubernetes end-to-end harness (tests/e2e/k8s-*.test.ts): the fake API
// server, the compiled daemon connected to it through a generated kubeconfig,
// a bridge conflist file as the cluster network, and helpers to create pods
// and NADs through the fake and drive ADD/DEL through the compiled shim.
// The Multus keys that vary per test (clusterNetwork, defaultNetworks,
// namespaceIsolation, deadlines) travel in the shim's stdin, as they do from
// a generated 00-multus.conf; the daemon config holds only what is fixed.
import { $ } from "bun";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { startFakeKube, type FakeKube, type FakeKubeOptions, type RecordedEvent } from "./fake-kube.ts";
import { createWorkdir, runCni, shimConf, startDaemon, type DaemonHandle, type ShimRun } from "./multus.ts";
import { createCleanup, randomSuffix } from "./netns.ts";
import { buildRecordingPlugin } from "./build-fixtures.ts";
import {
  PLUGIN_DIR,
  bridgeConflist,
  createBinDir,
  deleteBridge,
  ensureBinary,
  socketRequest,
  waitFor,
  writeJson,
  type BridgeNet,
  bridgeNet,
} from "./e2e.ts";

export const NODE = "node-e2e";

export interface K8sEnvOptions {
  /** Daemon config keys laid over the defaults (clusterNetwork = the bridge conflist file). */
  daemonConfig?: Record<string, unknown>;
  /** Extra daemon env (MULTUS_NODE_NAME is set). */
  env?: Record<string, string>;
  /** binDir holds Debian's plugins plus the recording plugin as `recorder`. */
  withRecorder?: boolean;
  /** Writes the daemon's kubeconfig in `dir` and returns its path (default: fake.writeKubeconfig with a fixed token). */
  kubeconfig?: (fake: FakeKube, dir: string) => string;
  /** Options of the fake API server (e.g. `resourceApi`). */
  fake?: FakeKubeOptions;
  /** Runs before the daemon starts (e.g. the CSR approver it waits for); `onStop` runs at stop, before the fake stops. */
  beforeDaemon?: (ctx: { fake: FakeKube; dir: string; onStop(fn: () => unknown): void }) => Promise<void> | void;
}

export interface PodHandle {
  namespace: string;
  name: string;
  uid: string;
  /** CNI_ARGS a kubelet-driven runtime sends for this pod. */
  args(containerId: string, uid?: string): string;
}

export interface K8sEnv {
  fake: FakeKube;
  daemon: DaemonHandle;
  dir: string;
  shim: string;
  cniDir: string;
  confDir: string;
  dataDir: string;
  /** Where delegates are looked up. */
  binDir: string;
  /** The cluster network (bridge + host-local conflist file), sent as `clusterNetwork` in the shim's config. */
  cluster: BridgeNet;
  clusterFile: string;
  cleanup: ReturnType<typeof createCleanup>;
  createPod(opts: {
    namespace?: string;
    name?: string;
    uid?: string;
    annotations?: Record<string, string>;
    status?: Record<string, unknown>;
  }): PodHandle;
  /** A NAD whose spec.config is `config` (JSON-encoded when an object). */
  createNad(opts: { namespace?: string; name: string; config: string | Record<string, unknown> }): void;
  cni(
    command: string,
    call: {
      pod?: PodHandle;
      containerId: string;
      netns: string;
      ifname?: string;
      args?: string;
      cniVersion?: string;
      conf?: Record<string, unknown>;
    },
  ): Promise<ShimRun>;
  /** The pod's network-status annotation as the API holds it. */
  networkStatus(pod: PodHandle): string | undefined;
  /** Events about the pod, waiting until at least `min` have arrived (events are sent after the reply). */
  events(pod: PodHandle, min: number): Promise<RecordedEvent[]>;
  /** Objects in the daemon's informer caches, by informer name, as its GET /status reports them. */
  cachedObjects(): Promise<Record<string, number>>;
  stop(): Promise<void>;
}

/**
 * Runs `create`, then waits until the daemon's informers hold `more` objects
 * more than before (by informer name: "pods", "network-attachment-definitions"):
 * an ADD right after creating a pod otherwise races the watch event and
 * rightly falls back to a live GET.
 */
export async function createdAndCached<T>(env: K8sEnv, more: Record<string, number>, create: () => T): Promise<T> {
  const before = await env.cachedObjects();
  const made = create();
  await waitFor(`the daemon's caches to hold ${JSON.stringify(more)} more`, async () => {
    const now = await env.cachedObjects();
    return Object.entries(more).every(([name, n]) => (now[name] ?? 0) >= (before[name] ?? 0) + n);
  });
  return made;
}

export async function startK8sEnv(opts: K8sEnvOptions = {}): Promise<K8sEnv> {
  await ensureBinary();
  const cleanup = createCleanup();
  try {
    const fake = await startFakeKube(opts.fake);
    cleanup.add(() => fake.stop());
    const work = await createWorkdir();
    cleanup.add(() => work.remove());
    const cniDir = join(work.dir, "cache");
    const confDir = join(work.dir, "net.d");
    const dataDir = join(work.dir, "ipam");
    await mkdir(confDir);
    const cluster = bridgeNet("clu", dataDir);
    cleanup.add(() => deleteBridge(cluster.bridge));
    const clusterFile = await writeJson(
      join(confDir, "10-cluster.conflist"),
      withGateway(bridgeConflist(cluster), cluster),
    );
    const binDir = opts.withRecorder
      ? await createBinDir(join(work.dir, "cni-bin"), { extra: { recorder: await buildRecordingPlugin() } })
      : PLUGIN_DIR;

    const kubeconfig = opts.kubeconfig?.(fake, work.dir) ?? fake.writeKubeconfig(join(work.dir, "kubeconfig"));
    await opts.beforeDaemon?.({ fake, dir: work.dir, onStop: (fn) => cleanup.add(fn) });
    const daemon = await startDaemon(
      work.dir,
      {
        cniDir,
        binDir,
        confDir,
        kubeconfig,
        logToStderr: true,
        logLevel: "verbose",
        ...opts.daemonConfig,
      },
      { env: { MULTUS_NODE_NAME: NODE, ...opts.env } },
    );
    cleanup.add(() => daemon.stop());

    const podArgs =
      (p: { namespace: string; name: string; uid: string }) =>
      (containerId: string, uid = p.uid) =>
        `IgnoreUnknown=1;K8S_POD_NAMESPACE=${p.namespace};K8S_POD_NAME=${p.name};K8S_POD_INFRA_CONTAINER_ID=${containerId};K8S_POD_UID=${uid}`;

    return {
      fake,
      daemon,
      dir: work.dir,
      shim: work.shim,
      binDir,
      cniDir,
      confDir,
      dataDir,
      cluster,
      clusterFile,
      cleanup,

      createPod({
        namespace = "default",
        name = `pod-${randomSuffix(6)}`,
        uid = crypto.randomUUID(),
        annotations,
        status,
      }) {
        fake.createPod({ namespace, name, uid, nodeName: NODE, annotations, status });
        const p = { namespace, name, uid };
        return { ...p, args: podArgs(p) };
      },

      createNad({ namespace = "default", name, config }) {
        fake.createNad({ namespace, name, config: typeof config === "string" ? config : JSON.stringify(config) });
      },

      cni(command, call) {
        return runCni(work.shim, {
          command,
          containerId: call.containerId,
          netns: call.netns,
          ifname: call.ifname ?? "eth0",
          args: call.args ?? call.pod?.args(call.containerId),
          stdin: shimConf(daemon.socketDir, {
            cniVersion: call.cniVersion ?? "1.0.0",
            clusterNetwork: clusterFile,
            ...call.conf,
          }),
        });
      },

      networkStatus(pod) {
        return fake.getPod(pod.namespace, pod.name)?.metadata.annotations?.["k8s.v1.cni.cncf.io/network-status"];
      },

      async events(pod, min) {
        const about = () =>
          fake.events().filter((e) => e.involved?.name === pod.name && e.involved?.namespace === pod.namespace);
        if (min === 0) return about();
        return waitFor(`${min} event(s) about ${pod.namespace}/${pod.name}`, () => {
          const list = about();
          return list.length >= min ? list : undefined;
        });
      },

      async cachedObjects() {
        const status = await socketRequest(join(daemon.socketDir, "multus.sock"), "/status", { method: "GET" });
        const informers = status.json().kubernetes.informers as Array<{ name: string; objects: number }>;
        return Object.fromEntries(informers.map((i) => [i.name, i.objects]));
      },

      stop: () => cleanup.run(),
    };
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}

/** The bridge network's default route goes via its gateway (so network-status has a `gateway`). */
export function withGateway(conflist: Record<string, unknown>, net: BridgeNet): Record<string, unknown> {
  const plugins = conflist.plugins as Array<{ ipam: Record<string, unknown> }>;
  plugins[0]!.ipam.routes = [{ dst: "0.0.0.0/0", gw: `${net.prefix}.1` }];
  return conflist;
}

/** A shim run's outcome in one line, for assertion messages. */
export function describeRun(r: ShimRun): string {
  return `exit ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`;
}

/** The MAC of `ifname` inside the namespace `netnsName`. */
export async function linkMac(netnsName: string, ifname: string): Promise<string> {
  const out = await $`ip -n ${netnsName} -j link show dev ${ifname}`.quiet().text();
  return (JSON.parse(out) as Array<{ address: string }>)[0]!.address;
}

/** `ip route show default` lines of one family inside the namespace. */
export async function defaultRoutes(netnsName: string, family: 4 | 6 = 4): Promise<string[]> {
  const out = await $`ip -n ${netnsName} -${family} route show default`.nothrow().quiet().text();
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
}
