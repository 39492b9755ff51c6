// Kubernetes mode: the compiled daemon against the fake API server
// (tests/helpers/fake-kube.ts) holding a cluster's worth of objects, with real
// delegates in real network namespaces.
//
// - Each daemon gets a fresh fake API: `pods` pods on this node, `otherPods` on
//   ten other nodes, `nads` NADs (bridge and macvlan configs) in five
//   namespaces. Every pod on this node selects one NAD that works here
//   (bridge + host-local, or macvlan on one end of a veth pair), so each ADD
//   runs the bridge cluster network plus that NAD.
// - The daemon runs with the DaemonSet's daemon-config.json (auto mode: it
//   writes 00-multus.conf, which is what the shim gets on stdin), a kubeconfig
//   and MULTUS_NODE_NAME, in the DaemonSet's environment (read from the
//   manifest) and in the default one; each also against an API with 10x fewer
//   objects (the same pods on this node): memory should not move.
// - All daemons run side by side. Memory at rest once they answer /readyz
//   (their informers have listed). Sequential: per pod ADD then DEL, the
//   delegates alone and every daemon taking turns (shared load). Concurrent:
//   every pod ADDed, then DELed, by `concurrency` workers, one daemon at a time.
//   The fake API server counts each phase's requests.
//
// One network namespace per pod on this node is made up front and reused; every
// namespace, bridge and veth is removed at the end, on SIGINT/SIGTERM too, and
// what a killed run left behind (its pid is gone) is removed by the next one.
import { chmod, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { $, type Subprocess } from "bun";
import { parseAllDocuments } from "yaml";
import { startFakeKube, type FakeKube, type KubeObject } from "../tests/helpers/fake-kube.ts";
import { waitForReady } from "../tests/helpers/multus.ts";
import { createCleanup } from "../tests/helpers/netns.ts";
import { isAlive } from "../tests/helpers/e2e.ts";
import { readCpuMs, runPool, sampleMem, settledMem, timeExec, type MemStatus } from "./proc.ts";
import { summarize, type Summary } from "./stats.ts";
import type { BenchMode } from "./mode.ts";
import { k8sTables, k8sTargets } from "./k8s-report.ts";

const PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const PLUGIN_DIR = "/usr/lib/cni";
const NODE = "bench-node";
const NAMESPACES = ["default", "team-a", "team-b", "team-c", "team-d"];
const NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks";
const MANIFEST = resolve(import.meta.dir, "../deployments/multus-daemonset-thick.yml");
/** Names of what a run creates carry its pid: `mtbench-<pid>-<i>` netns, `mtb<pid>...` links, the workdir. */
const NETNS_RE = /^mtbench-(\d+)-\d+$/;
const LINK_RE = /^mtb(\d+)[cnv]/;
const WORKDIR_RE = /^multus-bench-k8s-(\d+)-/;

export interface K8sOptions {
  binary: string;
  /** Pods on this node: each one is ADDed and DELed in every phase. */
  pods: number;
  /** Pods on ten other nodes. */
  otherPods: number;
  nads: number;
  concurrency: number;
  /** Daemon environments, names from envVariants(). */
  envs: string[];
  /** Also run every env against an API with 10x fewer objects. */
  small: boolean;
  progress: (line: string) => void;
}

export interface Cluster {
  name: string;
  nodePods: number;
  otherPods: number;
  nads: number;
  /** JSON bytes of all pods in the API, and of this node's. */
  podBytes: number;
  nodePodBytes: number;
  nadBytes: number;
}

/** API requests by counter key ("PATCH pods/status", "POST events", ...). */
export type ApiCounts = Record<string, number>;

export interface Half {
  lat: Summary;
  /** CPU time of each shim process. */
  shimCpu: Summary;
  /** The daemon's own CPU time per pod (not its delegates'). */
  daemonCpuPerPod: number;
  podsPerSec: number;
  api: ApiCounts;
  failures: number;
  firstError?: string;
}

export interface Phase {
  concurrency: number;
  add: Half;
  del: Half;
  /** host-local reservations and multus cache files left after DEL. */
  leftovers: number;
}

export interface DaemonRun {
  env: string;
  envVars: Record<string, string>;
  cluster: Cluster;
  readyMs: number;
  /** Requests from spawn to ready: the informers' lists and watches. */
  startApi: ApiCounts;
  /** The query of the daemon's pod LIST (shows the node field selector). */
  podListQuery: string;
  rest: MemStatus;
  seq: Phase;
  /** Sequential, the shim's request POSTed by the bench (API 1x runs only): the daemon's share without the shim process. */
  post?: Phase;
  conc: Phase;
  peak: MemStatus & { samples: number };
  afterLoad: MemStatus;
}

export interface K8sReport {
  options: Omit<K8sOptions, "progress">;
  /** The same two delegates per pod exec'd by the bench, no multus: ADD each pod, then DEL each, sequentially. */
  delegates: { add: Summary; del: Summary; failures: number; firstError?: string };
  runs: DaemonRun[];
}

/** The environments to compare: the DaemonSet's literal env values (read from the manifest), and none. */
export async function envVariants(): Promise<Record<string, Record<string, string>>> {
  const docs = parseAllDocuments(await readFile(MANIFEST, "utf8")).map((d) => d.toJS() as Record<string, any> | null);
  const ds = docs.find((d) => d?.kind === "DaemonSet");
  const container = (ds?.spec?.template?.spec?.containers as Array<Record<string, any>> | undefined)?.find(
    (c) => c.name === "kube-multus",
  );
  if (!container) throw new Error(`${MANIFEST}: no DaemonSet container "kube-multus"`);
  const env = Object.fromEntries(
    ((container.env ?? []) as Array<{ name: string; value?: unknown }>)
      .filter((e) => typeof e.value === "string")
      .map((e) => [e.name, e.value as string]),
  );
  return { daemonset: env, default: {} };
}

/** The DaemonSet's daemon-config.json with this run's paths. */
export async function daemonsetConfig(): Promise<Record<string, unknown>> {
  const docs = parseAllDocuments(await readFile(MANIFEST, "utf8")).map((d) => d.toJS() as Record<string, any> | null);
  const cm = docs.find((d) => d?.kind === "ConfigMap" && typeof d?.data?.["daemon-config.json"] === "string");
  if (!cm) throw new Error(`${MANIFEST}: no ConfigMap with daemon-config.json`);
  return JSON.parse(cm.data["daemon-config.json"]) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------
// The host side: names, namespaces, links

export interface Host {
  pid: number;
  /** The cluster network's bridge, the NAD bridges, the veth pair (macvlan parent `vethA`). */
  clusterBridge: string;
  nadBridge(nsIndex: number): string;
  vethA: string;
  vethB: string;
  netns: string[];
  /** Second octet of every subnet: 10.<octet>.0.0/24 the cluster, 10.<octet>.<k+1>.0/24 the live NADs. */
  octet: number;
}

export function planHost(pods: number): Host {
  const pid = process.pid;
  return {
    pid,
    clusterBridge: `mtb${pid}c`,
    nadBridge: (i) => `mtb${pid}n${i}`,
    vethA: `mtb${pid}va`,
    vethB: `mtb${pid}vb`,
    netns: Array.from({ length: pods }, (_, i) => `mtbench-${pid}-${i}`),
    // e2e tests use 10.100-199; stay out of their way.
    octet: 200 + Math.floor(Math.random() * 50),
  };
}

async function ipBatch(lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  // -force: carry on past a line that fails (e.g. a namespace already gone).
  await $`ip -force -batch - < ${new Response(`${lines.join("\n")}\n`)}`.nothrow().quiet();
}

/** Removes namespaces and links a killed bench run left behind (their pid is gone). */
export async function sweepStale(progress: (l: string) => void): Promise<void> {
  const dead = async (pid: string) => Number(pid) !== process.pid && !(await isAlive(Number(pid)));
  const netns: string[] = [];
  for (const n of await readdir("/var/run/netns").catch(() => [] as string[])) {
    const m = NETNS_RE.exec(n);
    if (m && (await dead(m[1]!))) netns.push(n);
  }
  const links: string[] = [];
  const out = await $`ip -j link show`.nothrow().quiet().text();
  for (const l of (out.trim() ? JSON.parse(out) : []) as Array<{ ifname: string }>) {
    const m = LINK_RE.exec(l.ifname);
    if (m && (await dead(m[1]!))) links.push(l.ifname);
  }
  const dirs: string[] = [];
  for (const d of await readdir(tmpdir())) {
    const m = WORKDIR_RE.exec(d);
    if (m && (await dead(m[1]!))) dirs.push(join(tmpdir(), d));
  }
  if (netns.length + links.length + dirs.length === 0) return;
  progress(
    `removing what an earlier run left: ${netns.length} network namespace(s), ${links.length} link(s), ${dirs.length} workdir(s)`,
  );
  await ipBatch([...netns.map((n) => `netns del ${n}`), ...links.map((l) => `link del ${l}`)]);
  await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
}

export async function createHost(h: Host): Promise<void> {
  await ipBatch(h.netns.map((n) => `netns add ${n}`));
  const present = new Set(await readdir("/var/run/netns").catch(() => [] as string[]));
  const missing = h.netns.filter((n) => !present.has(n));
  if (missing.length) throw new Error(`could not create network namespaces: ${missing.slice(0, 3).join(", ")}...`);
  await $`ip link add ${h.vethA} type veth peer name ${h.vethB}`.quiet();
  await $`ip link set ${h.vethA} up`.quiet();
}

export async function removeHost(h: Host): Promise<void> {
  await ipBatch([
    ...h.netns.map((n) => `netns del ${n}`),
    `link del ${h.vethA}`,
    `link del ${h.clusterBridge}`,
    ...NAMESPACES.map((_, i) => `link del ${h.nadBridge(i)}`),
  ]);
}

// ---------------------------------------------------------------------------
// The API's contents

export interface PodSpec {
  namespace: string;
  name: string;
  uid: string;
  /** The NAD it selects, by name in its namespace. */
  network: string;
  netns: string;
}

const LIVE_NADS = ["bridge-net", "macvlan-net"];

/** The NADs pods on this node select: one bridge and one macvlan per namespace, each its own /24. */
function liveNads(
  h: Host,
  w: Pick<Workdir, "dataDir" | "delegates">,
): Array<{ namespace: string; name: string; config: Record<string, unknown> }> {
  const dataDir = w.dataDir;
  if (w.delegates === "trivial") {
    return NAMESPACES.flatMap((namespace) =>
      LIVE_NADS.map((name) => ({
        namespace,
        name,
        config: { cniVersion: "1.0.0", name: `${namespace}-${name}`, type: NOOP_PLUGIN },
      })),
    );
  }
  return NAMESPACES.flatMap((namespace, i) => {
    const ipam = (k: number) => ({
      type: "host-local",
      dataDir,
      ranges: [[{ subnet: `10.${h.octet}.${2 * i + k + 1}.0/24` }]],
    });
    return [
      {
        namespace,
        name: LIVE_NADS[0]!,
        config: {
          cniVersion: "0.3.1",
          name: `${namespace}-bridge`,
          type: "bridge",
          bridge: h.nadBridge(i),
          ipam: ipam(0),
        },
      },
      {
        namespace,
        name: LIVE_NADS[1]!,
        config: {
          cniVersion: "0.3.1",
          name: `${namespace}-macvlan`,
          type: "macvlan",
          master: h.vethA,
          mode: "bridge",
          ipam: ipam(1),
        },
      },
    ];
  });
}

/** The rest: configs like a cluster's (VLAN bridges, SR-IOV-less macvlans), never attached here. */
function otherNad(k: number): { namespace: string; name: string; config: Record<string, unknown> } {
  const namespace = NAMESPACES[k % NAMESPACES.length]!;
  const vlan = 100 + k;
  const ipam = {
    type: "whereabouts",
    range: `172.${16 + (k % 16)}.${k % 250}.0/24`,
    exclude: [`172.${16 + (k % 16)}.${k % 250}.1/32`],
  };
  const config =
    k % 2 === 0
      ? {
          cniVersion: "0.3.1",
          name: `vlan${vlan}`,
          type: "bridge",
          bridge: `br-vlan${vlan}`,
          vlan,
          isGateway: false,
          ipam,
        }
      : {
          cniVersion: "0.3.1",
          name: `mv${vlan}`,
          type: "macvlan",
          master: `ens${1 + (k % 4)}f0.${vlan}`,
          mode: "bridge",
          ipam,
        };
  return { namespace, name: `net-${String(k).padStart(4, "0")}`, config };
}

/** A pod as the API returns it: about 2.5 KB of JSON, like a small Deployment's. */
function podObject(p: {
  namespace: string;
  name: string;
  uid: string;
  node: string;
  network?: string;
  index: number;
}): KubeObject {
  const app = `app-${p.index % 37}`;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: p.name,
      namespace: p.namespace,
      uid: p.uid,
      creationTimestamp: "2026-11-01T10:00:00Z",
      labels: { app, "pod-template-hash": "5d8f7c9b6d", tier: "backend" },
      annotations: {
        ...(p.network && { [NETWORKS_ANNOTATION]: p.network }),
        "kubectl.kubernetes.io/restartedAt": "2026-11-01T09:59:00Z",
      },
      ownerReferences: [
        {
          apiVersion: "apps/v1",
          kind: "ReplicaSet",
          name: `${app}-5d8f7c9b6d`,
          uid: crypto.randomUUID(),
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      nodeName: p.node,
      serviceAccountName: "default",
      containers: [
        {
          name: app,
          image: `registry.example.com/team/${app}:1.${p.index % 9}.0`,
          imagePullPolicy: "IfNotPresent",
          ports: [{ name: "http", containerPort: 8080, protocol: "TCP" }],
          env: [
            { name: "LOG_LEVEL", value: "info" },
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          ],
          resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
          volumeMounts: [
            { name: "kube-api-access", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount", readOnly: true },
          ],
          readinessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 10 },
        },
      ],
      volumes: [
        {
          name: "kube-api-access",
          projected: { sources: [{ serviceAccountToken: { path: "token", expirationSeconds: 3607 } }] },
        },
      ],
      tolerations: [
        { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
        { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute", tolerationSeconds: 300 },
      ],
    },
    status: {
      phase: "Running",
      hostIP: "192.168.0.10",
      podIP: `10.244.${p.index % 250}.${(p.index % 200) + 2}`,
      conditions: ["Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({
        type,
        status: "True",
        lastTransitionTime: "2026-11-01T10:00:05Z",
      })),
      containerStatuses: [
        {
          name: app,
          ready: true,
          restartCount: 0,
          image: `registry.example.com/team/${app}:1.${p.index % 9}.0`,
          started: true,
          state: { running: { startedAt: "2026-11-01T10:00:04Z" } },
        },
      ],
    },
  };
}

/** The pods on this node: spread over the namespaces, alternately selecting the bridge and the macvlan NAD. */
export function podSpecs(h: Host, n: number): PodSpec[] {
  return Array.from({ length: n }, (_, i) => ({
    namespace: NAMESPACES[i % NAMESPACES.length]!,
    name: `web-${String(i).padStart(3, "0")}`,
    uid: crypto.randomUUID(),
    network: LIVE_NADS[Math.floor(i / NAMESPACES.length) % 2]!,
    netns: h.netns[i]!,
  }));
}

/** A fresh API: `nodePods` pods here (each selecting a live NAD), `otherPods` elsewhere, `nads` NADs. */
export async function startCluster(
  h: Host,
  w: Pick<Workdir, "dataDir" | "delegates">,
  c: { name: string; nodePods: number; otherPods: number; nads: number },
): Promise<{ fake: FakeKube; pods: PodSpec[]; cluster: Cluster }> {
  const fake = await startFakeKube();
  const bytes = (o: unknown) => JSON.stringify(o).length;
  let podBytes = 0;
  let nodePodBytes = 0;
  let nadBytes = 0;
  const live = liveNads(h, w);
  for (let k = 0; k < Math.max(c.nads, live.length); k++) {
    const n = k < live.length ? live[k]! : otherNad(k);
    nadBytes += bytes(fake.createNad({ namespace: n.namespace, name: n.name, config: JSON.stringify(n.config) }));
  }
  const pods = podSpecs(h, c.nodePods);
  for (const [i, p] of pods.entries()) {
    const b = bytes(fake.createPod(podObject({ ...p, node: NODE, index: i })));
    podBytes += b;
    nodePodBytes += b;
  }
  for (let i = 0; i < c.otherPods; i++) {
    podBytes += bytes(
      fake.createPod(
        podObject({
          namespace: NAMESPACES[i % NAMESPACES.length]!,
          name: `svc-${String(i).padStart(4, "0")}`,
          uid: crypto.randomUUID(),
          node: `node-${String(i % 10).padStart(2, "0")}`,
          network: i % 3 === 0 ? otherNad(i % 500).name : undefined,
          index: i,
        }),
      ),
    );
  }
  return { fake, pods, cluster: { ...c, nadBytes, podBytes, nodePodBytes } };
}

// ---------------------------------------------------------------------------
// The daemon

/** "real": Debian's bridge, macvlan and host-local; "trivial": a dash script that answers at once. */
export type Delegates = "real" | "trivial";

export interface Workdir {
  dir: string;
  multus: string;
  shim: string;
  /** The daemon's binDir: the real plugins, or bin/ with the trivial one. */
  binDir: string;
  delegates: Delegates;
  dataDir: string;
  clusterConflist: string;
}

/** The trivial delegate's type: drains stdin, prints a result naming CNI_IFNAME and CNI_NETNS on ADD. */
const NOOP_PLUGIN = "bench-noop";
export const NOOP_SCRIPT = `#!/bin/sh
while IFS= read -r _l; do :; done
case "$CNI_COMMAND" in
ADD) printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[{"address":"10.250.0.5/24","interface":0}]}' "$CNI_IFNAME" "$CNI_NETNS" ;;
VERSION) printf '%s' '{"cniVersion":"1.0.0","supportedVersions":["0.3.0","0.3.1","0.4.0","1.0.0"]}' ;;
esac
`;

export async function createWorkdir(binary: string, h: Host, delegates: Delegates = "real"): Promise<Workdir> {
  const dir = await mkdtemp(join(tmpdir(), `multus-bench-k8s-${h.pid}-`));
  await mkdir(join(dir, "bin"));
  // A snapshot: other work in the repo may rebuild dist/multus while we measure.
  const multus = join(dir, "multus");
  await copyFile(binary, multus);
  await chmod(multus, 0o755);
  const shim = join(dir, "bin", "multus-shim");
  await symlink(multus, shim);
  const dataDir = join(dir, "ipam");
  if (delegates === "trivial") {
    await writeFile(join(dir, "bin", NOOP_PLUGIN), NOOP_SCRIPT, { mode: 0o755 });
    const clusterConflist = JSON.stringify({ cniVersion: "1.0.0", name: "cluster", plugins: [{ type: NOOP_PLUGIN }] });
    return { dir, multus, shim, binDir: join(dir, "bin"), delegates, dataDir, clusterConflist };
  }
  const clusterConflist = JSON.stringify({
    cniVersion: "0.3.1",
    name: "cluster",
    plugins: [
      {
        type: "bridge",
        bridge: h.clusterBridge,
        isGateway: true,
        ipMasq: false,
        ipam: {
          type: "host-local",
          dataDir,
          ranges: [[{ subnet: `10.${h.octet}.0.0/24` }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
    ],
  });
  return { dir, multus, shim, binDir: PLUGIN_DIR, delegates, dataDir, clusterConflist };
}

export interface BenchDaemon {
  proc: Subprocess;
  readyMs: number;
  socketDir: string;
  cniDir: string;
  /** 00-multus.conf as the daemon wrote it: the shim's stdin. */
  shimConf: string;
  stop(): Promise<void>;
  /** The last 16 KB of its output. */
  output(): string;
}

export async function startDaemon(
  w: Workdir,
  o: { tag: string; env: Record<string, string>; fake: FakeKube; config?: Record<string, unknown> },
): Promise<BenchDaemon> {
  const dir = join(w.dir, o.tag);
  const confDir = join(dir, "net.d");
  const socketDir = join(dir, "run");
  const cniDir = join(dir, "cache");
  await mkdir(confDir, { recursive: true });
  await mkdir(cniDir, { recursive: true });
  await writeFile(join(confDir, "10-cluster.conflist"), w.clusterConflist);
  const configPath = join(dir, "daemon-config.json");
  const { chrootDir: _, ...ds } = await daemonsetConfig();
  await writeFile(
    configPath,
    JSON.stringify({
      ...ds,
      cniConfigDir: confDir,
      multusAutoconfigDir: confDir,
      socketDir,
      daemonSocketDir: socketDir,
      cniDir,
      binDir: w.binDir,
      kubeconfig: o.fake.writeKubeconfig(join(dir, "kubeconfig")),
      ...o.config,
    }),
  );
  const t0 = performance.now();
  const proc = Bun.spawn([w.multus, "daemon", `-config=${configPath}`], {
    env: { PATH, MULTUS_NODE_NAME: NODE, ...o.env },
    stdout: "pipe",
    stderr: "pipe",
  });
  let tail = "";
  const drain = async (s: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of s) tail = (tail + dec.decode(chunk)).slice(-16_384);
  };
  const readers = Promise.all([drain(proc.stdout), drain(proc.stderr)]);
  const stop = async () => {
    if (proc.exitCode === null) proc.kill("SIGTERM");
    await proc.exited;
    await readers.catch(() => undefined);
  };
  try {
    await waitForReady(join(socketDir, "multus.sock"), 30_000, proc, () => tail);
    const readyMs = performance.now() - t0;
    const confFile = join(confDir, "00-multus.conf");
    const deadline = Date.now() + 10_000;
    while (!(await Bun.file(confFile).exists())) {
      if (Date.now() > deadline) throw new Error(`the daemon wrote no ${confFile}: ${tail}`);
      await Bun.sleep(20);
    }
    return { proc, readyMs, socketDir, cniDir, shimConf: await readFile(confFile, "utf8"), stop, output: () => tail };
  } catch (err) {
    await stop();
    throw err;
  }
}

// ---------------------------------------------------------------------------
// Phases

export function cniEnv(p: PodSpec, command: string, containerId: string): Record<string, string> {
  return {
    PATH,
    CNI_COMMAND: command,
    CNI_CONTAINERID: containerId,
    CNI_NETNS: `/var/run/netns/${p.netns}`,
    CNI_IFNAME: "eth0",
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${p.namespace};K8S_POD_NAME=${p.name};K8S_POD_INFRA_CONTAINER_ID=${containerId};K8S_POD_UID=${p.uid}`,
    CNI_PATH: PLUGIN_DIR,
  };
}

export const newContainerId = () => (crypto.randomUUID() + crypto.randomUUID()).replaceAll("-", "");
const eventCount = (c: ApiCounts) =>
  Object.entries(c)
    .filter(([k]) => k.endsWith(" events"))
    .reduce((a, [, n]) => a + n, 0);

function addDiff(into: ApiCounts, after: ApiCounts, before: ApiCounts): void {
  for (const [k, n] of Object.entries(after)) {
    const d = n - (before[k] ?? 0);
    if (d) into[k] = (into[k] ?? 0) + d;
  }
}

/** Waits until the API's counters stop moving (events are posted after the reply), at most `maxMs`. */
async function settledCounts(fake: FakeKube, o: { expectEvents: number; maxMs?: number }): Promise<ApiCounts> {
  const deadline = Date.now() + (o.maxMs ?? 10_000);
  let prev = JSON.stringify(fake.counts());
  let stableSince = Date.now();
  for (;;) {
    await Bun.sleep(50);
    const counts = fake.counts();
    const now = JSON.stringify(counts);
    if (now !== prev) {
      prev = now;
      stableSince = Date.now();
    } else if (
      (eventCount(counts) >= o.expectEvents && Date.now() - stableSince >= 200) ||
      Date.now() - stableSince >= 1000
    ) {
      return counts;
    }
    if (Date.now() > deadline) return counts;
  }
}

/** Until `fake` has had `n` more event requests than in `before`, at most 1 s (not part of any timing). */
async function eventsPosted(fake: FakeKube, before: ApiCounts, n: number): Promise<void> {
  const deadline = Date.now() + 1000;
  while (eventCount(fake.counts()) - eventCount(before) < n && Date.now() < deadline) await Bun.sleep(2);
}

/** One CNI call for a pod: through the shim (a process, as the runtime runs it), or the shim's request POSTed from here. */
export type Via = "shim" | "post";

export async function callCni(
  w: Workdir,
  d: BenchDaemon,
  via: Via,
  p: PodSpec,
  command: "ADD" | "DEL",
  id: string,
): Promise<{ ms: number; cpuMs?: number; error?: string }> {
  const env: Record<string, string> = { ...cniEnv(p, command, id), CNI_PATH: w.binDir };
  if (via === "shim") {
    const r = await timeExec({ cmd: [w.shim], env, stdin: d.shimConf });
    return { ms: r.ms, cpuMs: r.cpuMs, error: r.code === 0 ? undefined : `exit ${r.code}: ${r.stdout}${r.stderr}` };
  }
  const { PATH: _, ...body } = env;
  const t0 = performance.now();
  const res = await fetch("http://dummy/cni", {
    unix: join(d.socketDir, "multus.sock"),
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ env: body, config: Buffer.from(d.shimConf).toString("base64") }),
  });
  const text = await res.text();
  return { ms: performance.now() - t0, error: res.status === 200 ? undefined : `HTTP ${res.status}: ${text}` };
}

/** Samples of one pass (all ADDs or all DELs of a phase), turned into a Half at the end. */
interface HalfAcc {
  lat: number[];
  cpu: number[];
  daemonCpuMs: number;
  api: ApiCounts;
  failures: number;
  firstError?: string;
  /** Wall time of the pass; undefined when calls were interleaved with others (then pods/s comes from the latencies). */
  wallMs?: number;
}

const newAcc = (): HalfAcc => ({ lat: [], cpu: [], daemonCpuMs: 0, api: {}, failures: 0 });

function note(acc: HalfAcc, what: string, r: { ms: number; cpuMs?: number; error?: string }): void {
  acc.lat.push(r.ms);
  if (r.cpuMs !== undefined) acc.cpu.push(r.cpuMs);
  if (r.error) {
    acc.failures++;
    acc.firstError ??= `${what}: ${r.error}`;
  }
}

function toHalf(acc: HalfAcc): Half {
  const n = acc.lat.length;
  const busyMs = acc.wallMs ?? acc.lat.reduce((x, y) => x + y, 0);
  return {
    lat: summarize(acc.lat),
    shimCpu: summarize(acc.cpu),
    daemonCpuPerPod: acc.daemonCpuMs / n,
    podsPerSec: (n * 1000) / busyMs,
    api: acc.api,
    failures: acc.failures,
    firstError: acc.firstError,
  };
}

const IP_FILE = /^(\d{1,3}\.){3}\d{1,3}$/;

/** host-local reservations and multus cache entries still there (after DEL: leaks). */
async function leftovers(w: Workdir, d: BenchDaemon): Promise<number> {
  let n = 0;
  for (const net of await readdir(w.dataDir).catch(() => [] as string[])) {
    n += (await readdir(join(w.dataDir, net)).catch(() => [] as string[])).filter((f) => IP_FILE.test(f)).length;
  }
  for (const e of await readdir(d.cniDir, { withFileTypes: true }).catch(() => [])) {
    if (e.isFile()) n++;
    else if (e.isDirectory()) n += (await readdir(join(d.cniDir, e.name)).catch(() => [] as string[])).length;
  }
  return n;
}

/** A daemon as the sequential phase drives it. */
interface SeqTarget {
  d: BenchDaemon;
  fake: FakeKube;
  pods: PodSpec[];
  via: Via;
  add: HalfAcc;
  del: HalfAcc;
}

/**
 * Per pod, one after the other: the delegates alone (ADD, DEL), then each
 * target (ADD, DEL), so every path and daemon shares the machine's load of
 * that moment. Requests are counted per call: ADD's events are awaited before
 * its DEL starts (outside the timing).
 */
async function runSequential(
  w: Workdir,
  o: {
    targets: SeqTarget[];
    delegates: { add: HalfAcc; del: HalfAcc };
    clusterConf: Record<string, unknown>;
    nads: Map<string, Record<string, unknown>>;
    progress(l: string): void;
  },
): Promise<void> {
  const n = o.targets[0]!.pods.length;
  for (let i = 0; i < n; i++) {
    if (i > 0 && i % 25 === 0) o.progress(`  ${i}/${n} pods`);
    const p = o.targets[0]!.pods[i]!;
    const id = newContainerId();
    const calls = [
      { conf: o.clusterConf, ifname: "eth0" },
      { conf: o.nads.get(`${p.namespace}/${p.network}`)!, ifname: "net1" },
    ];
    for (const command of ["ADD", "DEL"] as const) {
      const r = { ms: 0, error: undefined as string | undefined };
      for (const c of command === "ADD" ? calls : [...calls].reverse()) {
        const x = await timeExec({
          cmd: [join(PLUGIN_DIR, String(c.conf.type))],
          env: { ...cniEnv(p, command, id), CNI_IFNAME: c.ifname },
          stdin: JSON.stringify(c.conf),
        });
        r.ms += x.ms;
        if (x.code !== 0) r.error ??= `${c.conf.type} exit ${x.code}: ${x.stdout}${x.stderr}`;
      }
      note(command === "ADD" ? o.delegates.add : o.delegates.del, `${command} ${p.namespace}/${p.name}`, r);
    }
    for (const t of o.targets) {
      const pod = t.pods[i]!;
      const cid = newContainerId();
      const s0 = t.fake.counts();
      const c0 = await readCpuMs(t.d.proc.pid);
      const a = await callCni(w, t.d, t.via, pod, "ADD", cid);
      const c1 = await readCpuMs(t.d.proc.pid);
      note(t.add, `ADD ${pod.namespace}/${pod.name} (${t.via})`, a);
      t.add.daemonCpuMs += c1 - c0;
      await eventsPosted(t.fake, s0, a.error ? 0 : 2);
      const s1 = t.fake.counts();
      addDiff(t.add.api, s1, s0);
      const c2 = await readCpuMs(t.d.proc.pid);
      const d = await callCni(w, t.d, t.via, pod, "DEL", cid);
      const c3 = await readCpuMs(t.d.proc.pid);
      note(t.del, `DEL ${pod.namespace}/${pod.name} (${t.via})`, d);
      t.del.daemonCpuMs += c3 - c2;
      addDiff(t.del.api, t.fake.counts(), s1);
    }
  }
}

/** One pass of the concurrent phase: `command` for every pod, `concurrency` workers. */
async function runPass(
  w: Workdir,
  d: BenchDaemon,
  fake: FakeKube,
  pods: PodSpec[],
  o: { command: "ADD" | "DEL"; ids: string[]; concurrency: number },
): Promise<Half> {
  const acc = newAcc();
  const before = fake.counts();
  const cpu0 = await readCpuMs(d.proc.pid);
  const t0 = performance.now();
  await runPool(o.concurrency, pods.length, async (i) => {
    const p = pods[i]!;
    note(acc, `${o.command} ${p.namespace}/${p.name}`, await callCni(w, d, "shim", p, o.command, o.ids[i]!));
  });
  acc.wallMs = performance.now() - t0;
  acc.daemonCpuMs = (await readCpuMs(d.proc.pid)) - cpu0;
  // ADD: one AddedInterface event per interface (cluster network + the NAD).
  addDiff(
    acc.api,
    await settledCounts(fake, {
      expectEvents: eventCount(before) + (o.command === "ADD" ? 2 * (pods.length - acc.failures) : 0),
    }),
    before,
  );
  return toHalf(acc);
}

export async function runConcurrent(
  w: Workdir,
  d: BenchDaemon,
  fake: FakeKube,
  pods: PodSpec[],
  concurrency: number,
): Promise<Phase> {
  const ids = pods.map(newContainerId);
  const add = await runPass(w, d, fake, pods, { command: "ADD", ids, concurrency });
  const del = await runPass(w, d, fake, pods, { command: "DEL", ids, concurrency });
  return { concurrency, add, del, leftovers: await leftovers(w, d) };
}

// ---------------------------------------------------------------------------

interface Live {
  env: string;
  c: { name: string; nodePods: number; otherPods: number; nads: number };
  fake: FakeKube;
  pods: PodSpec[];
  cluster: Cluster;
  d: BenchDaemon;
  startApi: ApiCounts;
  podListQuery: string;
}

export async function runK8s(o: K8sOptions): Promise<K8sReport> {
  const variants = await envVariants();
  for (const e of o.envs)
    if (!variants[e]) throw new Error(`unknown env "${e}" (known: ${Object.keys(variants).join(", ")})`);
  const h = planHost(o.pods);
  const cleanup = createCleanup();
  // Ctrl-C or a TERM mid-run: remove what we made, then go.
  const onSignal = (sig: NodeJS.Signals) => {
    o.progress(`${sig}: cleaning up`);
    void cleanup.run().finally(() => process.exit(sig === "SIGINT" ? 130 : 143));
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  try {
    await sweepStale(o.progress);
    const w = await createWorkdir(o.binary, h);
    cleanup.add(() => rm(w.dir, { recursive: true, force: true }));
    cleanup.add(() => removeHost(h));
    o.progress(
      `workdir ${w.dir}; ${o.pods} network namespaces mtbench-${h.pid}-*, veth ${h.vethA}, subnets 10.${h.octet}.0-10.0/24`,
    );
    await createHost(h);

    const full = { name: "1x", nodePods: o.pods, otherPods: o.otherPods, nads: o.nads };
    // 10x fewer objects in the API: the same pods on this node, fewer elsewhere, fewer NADs.
    const tenth = {
      name: "1/10",
      nodePods: o.pods,
      otherPods: Math.max(0, Math.round((o.pods + o.otherPods) / 10) - o.pods),
      nads: Math.round(o.nads / 10),
    };
    const plan = [
      ...o.envs.map((env) => ({ env, c: full })),
      ...(o.small ? o.envs.map((env) => ({ env, c: tenth })) : []),
    ];

    // Every daemon runs side by side, each against its own fresh API.
    const live: Live[] = [];
    for (const [k, { env, c }] of plan.entries()) {
      const { fake, pods, cluster } = await startCluster(h, w, c);
      cleanup.add(() => fake.stop());
      fake.resetCounts();
      const d = await startDaemon(w, { tag: `d${k}`, env: variants[env]!, fake });
      cleanup.add(d.stop);
      const podListQuery = fake.requests().find((r) => r.verb === "LIST" && r.resource === "pods")?.query ?? "";
      live.push({ env, c, fake, pods, cluster, d, startApi: fake.counts(), podListQuery });
      o.progress(
        `[${env}, API ${c.name}] ${c.nodePods + c.otherPods} pods (${c.nodePods} on ${NODE}), ${Math.max(c.nads, LIVE_NADS.length * NAMESPACES.length)} NADs: daemon ready in ${d.readyMs.toFixed(0)} ms`,
      );
    }
    o.progress("waiting for the daemons' RSS to settle");
    const rest = await Promise.all(live.map((l) => settledMem(l.d.proc.pid)));
    const samplers = live.map((l) => sampleMem(l.d.proc.pid, 20));

    const cluster = JSON.parse(w.clusterConflist) as {
      cniVersion: string;
      name: string;
      plugins: Array<Record<string, unknown>>;
    };
    const targets = live.flatMap((l) =>
      (l.c === full ? (["post", "shim"] as const) : (["shim"] as const)).map((via): SeqTarget & { l: Live } => ({
        l,
        d: l.d,
        fake: l.fake,
        pods: l.pods,
        via,
        add: newAcc(),
        del: newAcc(),
      })),
    );
    const delegateAcc = { add: newAcc(), del: newAcc() };
    o.progress(
      `sequential: ${o.pods} pods x (ADD, DEL), interleaved: the delegates alone, then each daemon (POST and shim with API 1x, shim with 1/10)`,
    );
    await runSequential(w, {
      targets,
      delegates: delegateAcc,
      progress: o.progress,
      clusterConf: { cniVersion: cluster.cniVersion, name: cluster.name, ...cluster.plugins[0] },
      nads: new Map(liveNads(h, w).map((n) => [`${n.namespace}/${n.name}`, n.config])),
    });
    if (delegateAcc.add.firstError ?? delegateAcc.del.firstError) {
      throw new Error(`the delegates fail without multus: ${delegateAcc.add.firstError ?? delegateAcc.del.firstError}`);
    }
    const seqLeft = await Promise.all(live.map((l) => leftovers(w, l.d)));
    const seqPhase = (t: SeqTarget, left: number): Phase => ({
      concurrency: 1,
      add: toHalf(t.add),
      del: toHalf(t.del),
      leftovers: left,
    });

    const conc: Phase[] = [];
    for (const l of live) {
      o.progress(`[${l.env}, API ${l.c.name}] ${o.concurrency} workers: ADD every pod, then DEL every pod`);
      conc.push(await runConcurrent(w, l.d, l.fake, l.pods, o.concurrency));
    }
    const peaks = await Promise.all(samplers.map((s) => s.stop()));
    o.progress("waiting for the daemons' RSS to settle after the load");
    const afterLoad = await Promise.all(live.map((l) => settledMem(l.d.proc.pid)));

    const runs = live.map((l, k): DaemonRun => {
      if (l.d.proc.exitCode !== null)
        throw new Error(`daemon [${l.env}, API ${l.c.name}] exited with ${l.d.proc.exitCode}: ${l.d.output()}`);
      const mine = targets.filter((t) => t.l === l);
      const shim = mine.find((t) => t.via === "shim")!;
      const post = mine.find((t) => t.via === "post");
      return {
        env: l.env,
        envVars: variants[l.env]!,
        cluster: l.cluster,
        readyMs: l.d.readyMs,
        startApi: l.startApi,
        podListQuery: l.podListQuery,
        rest: rest[k]!,
        seq: seqPhase(shim, seqLeft[k]!),
        post: post && seqPhase(post, seqLeft[k]!),
        conc: conc[k]!,
        peak: peaks[k]!,
        afterLoad: afterLoad[k]!,
      };
    });
    const { progress: _, ...options } = o;
    return {
      options,
      delegates: {
        add: summarize(delegateAcc.add.lat),
        del: summarize(delegateAcc.del.lat),
        failures: delegateAcc.add.failures + delegateAcc.del.failures,
      },
      runs,
    };
  } finally {
    await cleanup.run();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

const int = (s: unknown, dflt: number) => (typeof s === "string" ? Number.parseInt(s, 10) : dflt);

export const k8sMode: BenchMode = {
  name: "k8s",
  title: "Kubernetes mode",
  flags: {
    pods: { type: "string" },
    "other-pods": { type: "string" },
    nads: { type: "string" },
    concurrency: { type: "string" },
    envs: { type: "string" },
    "no-small": { type: "boolean", default: false },
  },
  async run({ values, quick, binary, progress }) {
    if (process.getuid?.() !== 0) throw new Error("k8s mode needs root (network namespaces, links)");
    const options: Omit<K8sOptions, "progress"> = {
      binary,
      pods: int(values.pods, quick ? 32 : 100),
      otherPods: int(values["other-pods"], 1000),
      nads: int(values.nads, 500),
      concurrency: int(values.concurrency, 32),
      envs: typeof values.envs === "string" ? values.envs.split(",") : ["daemonset", "default"],
      small: values["no-small"] !== true,
    };
    if (options.pods < 1 || options.pods > 250) throw new Error("--pods must be 1..250 (one /24 per network)");
    const report = await runK8s({ ...options, progress });
    const { binary: _, ...settings } = options;
    return { tables: k8sTables(report), targets: k8sTargets(report), settings };
  },
};
