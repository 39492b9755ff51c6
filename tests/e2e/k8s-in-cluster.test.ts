// Issue 3 through the in-cluster environment instead of a kubeconfig: the
// daemon runs as it would in its pod, with KUBERNETES_SERVICE_HOST/PORT set
// and the service-account token and CA at
// /var/run/secrets/kubernetes.io/serviceaccount. That path is made for the
// daemon alone: it runs in a private mount namespace with a tmpfs over /run
// and the fake API server's files bind-mounted there, so nothing on the host
// changes. /run/netns is hidden from it too, so the pod's network namespace is
// handed over as /proc/<pid>/ns/net of a process living in it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { stat, writeFile } from "node:fs/promises";
import type { Subprocess } from "bun";
import { startFakeKube, type FakeKube } from "../helpers/fake-kube.ts";
import { BINARY, createWorkdir, runCni, shimConf, waitForReady } from "../helpers/multus.ts";
import { createCleanup, createNetns, deleteNetns, type NetnsFixture } from "../helpers/netns.ts";
import {
  bridgeConflist,
  canRunE2e,
  containerId,
  deleteBridge,
  ensureBinary,
  exists,
  storeIps,
  waitFor,
  writeJson,
  bridgeNet,
} from "../helpers/e2e.ts";
import { NODE, describeRun, withGateway } from "../helpers/k8s-e2e.ts";

const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const canUnshare = canRunE2e && Bun.which("unshare") !== null && Bun.which("mount") !== null;

const cleanup = createCleanup();
let fake: FakeKube;
let work: Awaited<ReturnType<typeof createWorkdir>>;
let daemon: Subprocess;
let daemonErr = "";
let socketDir: string;

beforeAll(async () => {
  if (!canUnshare) return;
  await ensureBinary();
  fake = await startFakeKube();
  cleanup.add(() => fake.stop());
  work = await createWorkdir();
  cleanup.add(() => work.remove());
  const files = fake.inClusterEnv(join(work.dir, "serviceaccount"));
  socketDir = join(work.dir, "run");
  const configPath = join(work.dir, "daemon-config.json");
  await writeFile(
    configPath,
    JSON.stringify({
      socketDir,
      multusConfigFile: "",
      cniDir: join(work.dir, "cache"),
      binDir: "/usr/lib/cni",
      confDir: join(work.dir, "net.d"),
      logToStderr: true,
      logLevel: "verbose",
    }),
  );
  const script = [
    "set -e",
    "mount -t tmpfs tmpfs /run",
    `mkdir -p ${SERVICE_ACCOUNT_DIR}`,
    `mount --bind "$SA_DIR" ${SERVICE_ACCOUNT_DIR}`,
    `exec "$MULTUS" daemon -config="$CONFIG"`,
  ].join("\n");
  daemon = Bun.spawn(["unshare", "--mount", "--propagation", "private", "sh", "-c", script], {
    stdout: "ignore",
    stderr: "pipe",
    env: {
      PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
      ...files.env,
      MULTUS_NODE_NAME: NODE,
      SA_DIR: join(work.dir, "serviceaccount"),
      MULTUS: BINARY,
      CONFIG: configPath,
    },
  });
  const reader = (async () => {
    for await (const chunk of daemon.stderr as ReadableStream<Uint8Array>) daemonErr += new TextDecoder().decode(chunk);
  })();
  cleanup.add(async () => {
    if (daemon.exitCode === null) daemon.kill("SIGTERM");
    await daemon.exited;
    await reader.catch(() => undefined);
  });
  await waitForReady(join(socketDir, "multus.sock"), 20_000, daemon, () => daemonErr);
});
afterAll(() => cleanup.run());

describe.skipIf(!canUnshare)("a daemon configured by the in-cluster environment", () => {
  let ns: NetnsFixture;
  let holder: Subprocess | undefined;

  test("connects with the service-account token and CA, and attaches a pod's NAD network with its network-status", async () => {
    const dataDir = join(work.dir, "ipam");
    const cluster = bridgeNet("icl", dataDir);
    const nad = bridgeNet("icn", dataDir);
    cleanup.add(() => deleteBridge(cluster.bridge));
    cleanup.add(() => deleteBridge(nad.bridge));
    const clusterFile = await writeJson(
      join(work.dir, "cluster.conflist"),
      withGateway(bridgeConflist(cluster), cluster),
    );
    fake.createNad({ namespace: "default", name: nad.name, config: JSON.stringify(bridgeConflist(nad)) });
    const uid = crypto.randomUUID();
    const name = `incluster-${uid.slice(0, 6)}`;
    fake.createPod({
      namespace: "default",
      name,
      uid,
      nodeName: NODE,
      annotations: { "k8s.v1.cni.cncf.io/networks": nad.name },
    });

    ns = await createNetns("mti");
    cleanup.add(() => deleteNetns(ns.name));
    // The daemon cannot see /run/netns: give it the namespace through a process that lives there.
    holder = Bun.spawn(["ip", "netns", "exec", ns.name, "sleep", "600"], { stdout: "ignore", stderr: "ignore" });
    const h = holder;
    cleanup.add(() => {
      h.kill();
      return h.exited;
    });
    const netns = `/proc/${holder.pid}/ns/net`;
    // Only once the holder is inside: before that the path names the host's namespace.
    const target = (await stat(ns.path)).ino;
    await waitFor(
      "the holder process to enter the namespace",
      async () => (await stat(netns).catch(() => undefined))?.ino === target,
    );
    const id = containerId();
    const call = {
      containerId: id,
      netns,
      args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=${name};K8S_POD_INFRA_CONTAINER_ID=${id};K8S_POD_UID=${uid}`,
      stdin: shimConf(socketDir, { clusterNetwork: clusterFile }),
    };

    fake.resetCounts();
    const r = await runCni(work.shim, { command: "ADD", ...call });
    expect(r.code, `${describeRun(r)}\ndaemon: ${daemonErr}`).toBe(0);
    expect((await ns.links()).sort()).toEqual(["eth0", "lo", "net1"]);
    const status = JSON.parse(
      fake.getPod("default", name)!.metadata.annotations!["k8s.v1.cni.cncf.io/network-status"]!,
    );
    expect(status.map((s: any) => [s.name, s.interface])).toEqual([
      [cluster.name, "eth0"],
      [`default/${nad.name}`, "net1"],
    ]);
    // Every request carried the service-account token (the fake answers 401 otherwise).
    expect(fake.requests().every((q) => q.status !== 401)).toBe(true);
    expect(fake.count("PATCH pods/status")).toBe(1);

    const d = await runCni(work.shim, { command: "DEL", ...call });
    expect(d.code, describeRun(d)).toBe(0);
    expect(await ns.links()).toEqual(["lo"]);
    expect(await storeIps(dataDir, cluster.name)).toEqual([]);
    expect(await storeIps(dataDir, nad.name)).toEqual([]);
    expect(await exists(join(work.dir, "cache", id))).toBe(false);
  });
});
