// podman (4.3, CNI network backend, runc) as the runtime in front of our plugin:
// `podman run --network <name>` where <name> is a CNI conflist whose only plugin is
// multus-shim (copied into a private CNI bin dir by `multus install`), forwarding to
// the compiled daemon. Everything podman keeps is private to the test: containers.conf
// (CONTAINERS_CONF), storage root and run root, tmp dir, CNI conf and bin dirs, cgroup parent.
// podman passes only K8S_POD_NAME (the container name) in CNI_ARGS, and prints a CNI
// error's msg and details: both are checked here.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { mkdir, readdir, symlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { createWorkdir, startDaemon, type DaemonHandle } from "../helpers/multus.ts";
import { createCleanup, createVethPair, deleteLink, randomSuffix } from "../helpers/netns.ts";
import {
  bridgeConflist,
  canRunE2e,
  deleteBridge,
  ensureBinary,
  macvlanConf,
  randomPrefix,
  readDelegateCacheFile,
  resultCacheEntries,
  storeIps,
  writeJson,
  type BridgeNet,
  type MacvlanNet,
} from "../helpers/e2e.ts";
import { buildRecordingPlugin, readRecords } from "../helpers/build-fixtures.ts";
import { removeCgroups, SYSTEM_CNI_DIR, unmountUnder } from "../helpers/containerd.ts";
import { buildSandboxImage } from "../helpers/sandbox-image.ts";

const canRun =
  canRunE2e && ["podman", "runc", "conmon"].every((b) => Bun.which(b) !== null) && existsSync("/bin/busybox");
const CNI_VERSION = "1.0.0";
const IMAGE = "localhost/multus-test-busybox:latest";

interface Podman {
  dir: string;
  cgroupParent: string;
  run(args: string[], timeoutMs?: number): Promise<{ code: number; stdout: string; stderr: string }>;
}

/** podman with every path private to `dir`, the CNI backend and runc (crun refuses the hybrid cgroups here). */
async function createPodman(dir: string, cniBinDir: string, cniConfDir: string): Promise<Podman> {
  const conf = join(dir, "containers.conf");
  await mkdir(join(dir, "tmp"), { recursive: true });
  await writeFile(
    conf,
    `[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[network]
network_backend = "cni"
cni_plugin_dirs = ["${cniBinDir}"]
network_config_dir = "${cniConfDir}"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "${dir}/events.log"
tmp_dir = "${dir}/tmp"
`,
  );
  const base = [
    "podman",
    "--root",
    join(dir, "storage"),
    "--runroot",
    join(dir, "runroot"),
    "--storage-driver",
    "overlay",
  ];
  return {
    dir,
    cgroupParent: `/${basename(dir)}`,
    async run(args, timeoutMs = 30_000) {
      const proc = Bun.spawn([...base, ...args], {
        stdout: "pipe",
        stderr: "pipe",
        stdin: "ignore",
        env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", CONTAINERS_CONF: conf, HOME: dir },
      });
      const timer = setTimeout(() => proc.kill("SIGKILL"), timeoutMs);
      const [stdout, stderr, code] = await Promise.all([
        new Response(proc.stdout).text(),
        new Response(proc.stderr).text(),
        proc.exited,
      ]);
      clearTimeout(timer);
      return { code, stdout, stderr };
    },
  };
}

/** busybox `ip -4 addr` output -> ifname -> IPv4 CIDRs. */
function parseIpAddr(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current: string | undefined;
  for (const line of text.split("\n")) {
    const link = /^\d+: ([^:@]+)[@:]/.exec(line);
    if (link) {
      current = link[1]!;
      out.set(current, []);
    }
    const inet = /^\s+inet (\S+)/.exec(line);
    if (inet && current) out.get(current)!.push(inet[1]!);
  }
  return out;
}

const escapeDots = (prefix: string) => prefix.replaceAll(".", "\\.");

describe.skipIf(!canRun)("podman run (CNI backend) -> multus-shim -> daemon", () => {
  const cleanup = createCleanup();
  let podman: Podman;
  let daemon: DaemonHandle;
  let cluster: BridgeNet;
  let macvlan: MacvlanNet;
  let cniDir: string;
  let recordFile: string;
  let logFile: string;
  const refusal = { code: 117, msg: "recorder refuses ADD", details: "no addresses left in test pool" };

  beforeAll(async () => {
    const s = randomSuffix(5);
    const [binary, recorder, image] = await Promise.all([ensureBinary(), buildRecordingPlugin(), buildSandboxImage()]);
    const work = await createWorkdir();
    cleanup.add(() => work.remove());
    const veth = await createVethPair("mtp");
    cleanup.add(() => deleteLink(veth.a));
    const dataDir = join(work.dir, "ipam");
    cniDir = join(work.dir, "cache");
    recordFile = join(work.dir, "records.jsonl");
    logFile = join(work.dir, "multus.log");
    cluster = { name: `cluster-${s}`, bridge: `mtpbr${s}`, prefix: randomPrefix(), dataDir };
    macvlan = { name: `macvlan-${s}`, master: veth.a, prefix: randomPrefix(), dataDir };
    cleanup.add(() => deleteBridge(cluster.bridge));

    // The CNI bin dir podman searches: Debian's plugins, the recorder, and multus-shim from `multus install`.
    const cniBinDir = join(work.dir, "cni-bin");
    await mkdir(cniBinDir);
    for (const name of await readdir(SYSTEM_CNI_DIR)) await symlink(join(SYSTEM_CNI_DIR, name), join(cniBinDir, name));
    await symlink(recorder, join(cniBinDir, "recorder"));
    const install = Bun.spawnSync([binary, "install", "--dest", cniBinDir]);
    if (install.exitCode !== 0) throw new Error(`multus install failed: ${install.stderr.toString()}`);

    // Multus' conf dir: the cluster network, the default networks, and a failing one for the second daemon.
    const confDir = join(work.dir, "multus.d");
    await mkdir(confDir);
    const clusterFile = await writeJson(join(confDir, "10-cluster.conflist"), bridgeConflist(cluster, CNI_VERSION));
    await writeJson(join(confDir, "20-macvlan.conf"), macvlanConf(macvlan, CNI_VERSION));
    await writeJson(join(confDir, "30-recorder.conf"), {
      cniVersion: CNI_VERSION,
      name: `recorder-${s}`,
      type: "recorder",
      recordFile,
    });
    const refusingFile = await writeJson(join(work.dir, "refusing.conflist"), {
      cniVersion: CNI_VERSION,
      name: `refusing-${s}`,
      plugins: [{ type: "recorder", recordFile, error: refusal, failOn: ["ADD"] }],
    });

    const common = {
      cniVersion: CNI_VERSION,
      cniDir,
      confDir,
      binDir: cniBinDir,
      logFile,
      logToStderr: true,
      logLevel: "verbose",
    };
    daemon = await startDaemon(work.dir, {
      ...common,
      socketDir: join(work.dir, "run"),
      clusterNetwork: clusterFile,
      defaultNetworks: [macvlan.name, `recorder-${s}`],
    });
    cleanup.add(() => daemon.stop());
    const refusingDir = join(work.dir, "refusing");
    await mkdir(refusingDir);
    const refusingDaemon = await startDaemon(refusingDir, {
      ...common,
      socketDir: join(refusingDir, "run"),
      clusterNetwork: refusingFile,
    });
    cleanup.add(() => refusingDaemon.stop());

    // podman's networks: one conflist each, multus-shim the only plugin (00-multus.conf's shape).
    const netDir = join(work.dir, "net.d");
    await mkdir(netDir);
    const shimPlugin = (socketDir: string) => ({
      type: "multus-shim",
      daemonSocketDir: socketDir,
      logFile,
      logLevel: "verbose",
    });
    await writeJson(join(netDir, "multus.conflist"), {
      cniVersion: CNI_VERSION,
      name: "multus",
      plugins: [shimPlugin(daemon.socketDir)],
    });
    await writeJson(join(netDir, "multus-refusing.conflist"), {
      cniVersion: CNI_VERSION,
      name: "multus-refusing",
      plugins: [shimPlugin(refusingDaemon.socketDir)],
    });

    podman = await createPodman(join(work.dir, "podman"), cniBinDir, netDir);
    // Runs before the daemons stop (cleanup is reverse order): containers left get their DEL.
    cleanup.add(async () => {
      await podman.run(["rm", "--all", "--force", "--time", "0"], 20_000);
      await unmountUnder(podman.dir);
      await removeCgroups(podman.cgroupParent);
    });
    const imported = await podman.run(["import", image.layer, IMAGE]);
    if (imported.code !== 0) throw new Error(`podman import failed: ${imported.stderr}`);
  }, 60_000);
  afterAll(() => cleanup.run(), 60_000);

  test("a container gets eth0 (cluster) and net1 (macvlan); --rm releases everything", async () => {
    const name = `c-${randomSuffix(6)}`;
    const cidFile = join(podman.dir, `${name}.cid`);
    const r = await podman.run([
      "run",
      "--rm",
      "--name",
      name,
      "--cidfile",
      cidFile,
      "--network",
      "multus",
      "--cgroup-parent",
      podman.cgroupParent,
      IMAGE,
      "/bin/ip",
      "-4",
      "addr",
    ]);
    expect({ code: r.code, stderr: r.stderr }).toMatchObject({ code: 0 }); // stderr shown on failure
    const ifs = parseIpAddr(r.stdout);
    expect([...ifs.keys()].sort()).toEqual(["eth0", "lo", "net1"]);
    expect(ifs.get("eth0")).toEqual([expect.stringMatching(new RegExp(`^${escapeDots(cluster.prefix)}\\.\\d+/24$`))]);
    expect(ifs.get("net1")).toEqual([expect.stringMatching(new RegExp(`^${escapeDots(macvlan.prefix)}\\.\\d+/24$`))]);

    const id = (await Bun.file(cidFile).text()).trim();
    const records = (await readRecords(recordFile)).filter((rec) => rec.env.CNI_CONTAINERID === id);
    expect(records.map((rec) => rec.command)).toEqual(["ADD", "DEL"]);
    // podman names the pod by the container alone: no namespace, no uid.
    expect(records[0]!.env.CNI_ARGS).toContain(`K8S_POD_NAME=${name}`);
    expect(records[0]!.env.CNI_NETNS).toMatch(/^\/run\/netns\//);

    const log = (await Bun.file(logFile).text()).split("\n").filter((l) => l.includes(`containerID=${id}`));
    expect(log.filter((l) => /ADD done in/.test(l))).toHaveLength(1);
    expect(log.filter((l) => /DEL done in/.test(l)).length).toBeGreaterThanOrEqual(1);
    expect(log.filter((l) => /request failed|answered with code| failed in /.test(l))).toEqual([]);

    expect(await storeIps(cluster.dataDir, cluster.name)).toEqual([]);
    expect(await storeIps(macvlan.dataDir, macvlan.name)).toEqual([]);
    expect(await readDelegateCacheFile(cniDir, id)).toBeUndefined();
    expect(await resultCacheEntries(cniDir, id)).toEqual([]);
  });

  test("a delegate's CNI error reaches podman's message with its msg and details", async () => {
    const name = `c-${randomSuffix(6)}`;
    const r = await podman.run([
      "run",
      "--rm",
      "--name",
      name,
      "--network",
      "multus-refusing",
      "--cgroup-parent",
      podman.cgroupParent,
      IMAGE,
      "/bin/sh",
      "-c",
      "true",
    ]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(refusal.msg);
    expect(r.stderr).toContain(refusal.details);
    // Nothing of the failed container stays behind.
    expect((await podman.run(["ps", "--all", "--quiet"])).stdout.trim()).toBe("");
  });
});
