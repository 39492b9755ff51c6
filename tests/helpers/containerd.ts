// A real containerd (Debian's 1.6 + runc) for end-to-end tests, started as a child
// process with a config whose every path is private to the test: root, state, the
// gRPC socket, the CNI bin dir (ONE dir in 1.6: our multus-shim plus links to
// /usr/lib/cni/*, loopback included) and the CNI conf dir. stop() tears down whatever
// the test left: sandboxes (through CRI, so CNI DEL runs), containerd, the runc shims
// it started, mounts under the private dir and the sandboxes' netns files.
import { mkdir, mkdtemp, readdir, readFile, rm, rmdir, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { $, type Subprocess } from "bun";
import { createCriClient, type CriClient, type SandboxPod } from "./cri/client.ts";
import { importSandboxImage, SANDBOX_IMAGE } from "./sandbox-image.ts";

export const SYSTEM_CNI_DIR = "/usr/lib/cni";
/** libcni's default cache dir: containerd 1.6 keeps its CNI results there (not configurable in CRI). */
export const CONTAINERD_CNI_CACHE = "/var/lib/cni/results";

export interface ContainerdOptions {
  /** Extra executables for the CNI bin dir: name -> path (linked). */
  cniBins?: Record<string, string>;
  /** Runs `<binary> install --dest <cniBinDir>` (the DaemonSet's init step) to place multus-shim. */
  installShimFrom?: string;
  /** Files for the CNI conf dir before containerd starts: name -> content. */
  cniConf?: Record<string, string>;
  /** Readiness deadline (default 15 s). */
  timeoutMs?: number;
}

export interface ContainerdHandle {
  dir: string;
  address: string;
  cniBinDir: string;
  cniConfDir: string;
  proc: Subprocess;
  cri: CriClient;
  /** containerd's own log so far (stdout + stderr). */
  log(): string;
  /** RunPodSandbox, then the sandbox's netns path (remembered: stop() removes it if containerd could not). */
  runPodSandbox(pod: SandboxPod, opts?: { timeoutMs?: number }): Promise<{ id: string; netns: string }>;
  /** Waits until CRI reports NetworkReady with a loaded network of this name. */
  waitForNetwork(name: string, timeoutMs?: number): Promise<void>;
  /** Removes sandboxes left behind, stops containerd and everything it started; idempotent. */
  stop(): Promise<void>;
}

function configToml(dir: string): string {
  return `version = 2
root = "${dir}/root"
state = "${dir}/state"
disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs", "io.containerd.tracing.processor.v1.otlp", "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${dir}/containerd.sock"

[ttrpc]
  address = "${dir}/containerd.sock.ttrpc"

[debug]
  address = ""

[metrics]
  address = ""

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${SANDBOX_IMAGE}"
  # Without it RunPodSandbox fails here after CNI ADD succeeded (the sandbox asks for an oom_score_adj below ours).
  restrict_oom_score_adj = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "${dir}/cni-bin"
    conf_dir = "${dir}/net.d"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
`;
}

export async function startContainerd(opts: ContainerdOptions = {}): Promise<ContainerdHandle> {
  const dir = await mkdtemp(join(tmpdir(), "multus-containerd-"));
  const address = join(dir, "containerd.sock");
  const cniBinDir = join(dir, "cni-bin");
  const cniConfDir = join(dir, "net.d");
  const configPath = join(dir, "config.toml");
  try {
    await mkdir(cniBinDir);
    await mkdir(cniConfDir);
    for (const name of await readdir(SYSTEM_CNI_DIR)) await symlink(join(SYSTEM_CNI_DIR, name), join(cniBinDir, name));
    for (const [name, path] of Object.entries(opts.cniBins ?? {})) {
      await rm(join(cniBinDir, name), { force: true });
      await symlink(path, join(cniBinDir, name));
    }
    if (opts.installShimFrom) {
      const r = await $`${opts.installShimFrom} install --dest ${cniBinDir}`.nothrow().quiet();
      if (r.exitCode !== 0) throw new Error(`multus install failed (${r.exitCode}): ${r.stderr.toString()}`);
    }
    for (const [name, content] of Object.entries(opts.cniConf ?? {})) await writeFile(join(cniConfDir, name), content);
    await writeFile(configPath, configToml(dir));
  } catch (err) {
    await rm(dir, { recursive: true, force: true });
    throw err;
  }

  let output = "";
  const proc = Bun.spawn(["containerd", "--config", configPath, "--log-level", "info"], {
    cwd: dir,
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
  });
  const drain = async (stream: ReadableStream<Uint8Array>) => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) output += decoder.decode(chunk, { stream: true });
  };
  const readers = Promise.all([
    drain(proc.stdout as ReadableStream<Uint8Array>),
    drain(proc.stderr as ReadableStream<Uint8Array>),
  ]).catch(() => undefined);
  const cri = createCriClient(address, { defaultTimeoutMs: 30_000 });
  /** Every sandbox goes below this cgroup, so stop() can remove what runc leaves (the parent). */
  const cgroupParent = `/${basename(dir)}`;
  /** Netns paths and ids of every sandbox seen: what stop() removes if containerd did not. */
  const netnsSeen = new Set<string>();
  const sandboxesSeen = new Set<string>();

  let stopped = false;
  const handle: ContainerdHandle = {
    dir,
    address,
    cniBinDir,
    cniConfDir,
    proc,
    cri,
    log: () => output,
    async runPodSandbox(pod, o) {
      const id = await cri.runPodSandbox({ cgroupParent, ...pod }, o);
      sandboxesSeen.add(id);
      const netns = await cri.sandboxNetns(id);
      netnsSeen.add(netns);
      return { id, netns };
    },
    async waitForNetwork(name, timeoutMs = 10_000) {
      await poll(timeoutMs, `containerd to load CNI network "${name}"`, async () => {
        const { conditions, info } = await cri.status(true);
        const ready = conditions.find((c) => c.type === "NetworkReady")?.status === true;
        const cniconfig = info.cniconfig
          ? (JSON.parse(info.cniconfig) as { Networks?: Array<{ Config?: { Name?: string } }> })
          : {};
        return ready && (cniconfig.Networks ?? []).some((n) => n.Config?.Name === name);
      });
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      if (proc.exitCode === null) {
        // Through CRI first: CNI DEL runs and containerd removes the netns and its mounts.
        try {
          for (const sb of await cri.listPodSandbox()) {
            sandboxesSeen.add(sb.id);
            await cri.sandboxNetns(sb.id).then(
              (p) => netnsSeen.add(p),
              () => undefined,
            );
            // Bounded: a shim whose daemon is gone waits for it, then fails DEL (code 11).
            await cri.stopPodSandbox(sb.id, { timeoutMs: 10_000 }).catch(() => undefined);
            await cri.removePodSandbox(sb.id, { timeoutMs: 10_000 }).catch(() => undefined);
          }
        } catch {
          // containerd not answering: the steps below still clean up
        }
      }
      cri.close();
      if (proc.exitCode === null) {
        proc.kill("SIGTERM");
        const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(5_000).then(() => false)]);
        if (!exited) {
          proc.kill("SIGKILL");
          await proc.exited;
        }
      }
      await readers;
      await killLeftovers(join(dir, "state"), address);
      await unmountUnder(dir);
      await removeCgroups(cgroupParent);
      for (const path of netnsSeen) {
        if (path.startsWith("/var/run/netns/") || path.startsWith("/run/netns/")) {
          if (existsSync(path)) {
            await $`umount ${path}`.nothrow().quiet();
            await rm(path, { force: true });
          }
        }
      }
      // containerd's own CNI result cache is libcni's default dir, shared: only our sandboxes' entries.
      const cached = await readdir(CONTAINERD_CNI_CACHE).catch(() => [] as string[]);
      for (const id of sandboxesSeen) {
        for (const f of cached) if (f.includes(`-${id}-`)) await rm(join(CONTAINERD_CNI_CACHE, f), { force: true });
      }
      await rm(dir, { recursive: true, force: true }).catch(async () => {
        // a busy mount we could not lazily detach: try once more after a moment
        await Bun.sleep(200);
        await unmountUnder(dir);
        await rm(dir, { recursive: true, force: true });
      });
    },
  };
  try {
    await poll(opts.timeoutMs ?? 15_000, "containerd's CRI socket", async () => {
      if (proc.exitCode !== null) throw new Error(`containerd exited with ${proc.exitCode}:\n${output}`);
      if (!existsSync(address)) return false;
      return cri.version().then(
        () => true,
        () => false,
      );
    });
    await importSandboxImage(address);
  } catch (err) {
    await handle.stop();
    throw err;
  }
  return handle;
}

/**
 * Kills what a containerd left behind: sandbox processes (by the bundles' init.pid) and
 * runc shims. A v2 shim writes no pid file and is reparented to init; it is recognised by
 * its argv naming this containerd's private socket (`-address <dir>/containerd.sock`).
 */
async function killLeftovers(stateDir: string, address: string): Promise<void> {
  const pids = new Set<number>();
  const tasks = join(stateDir, "io.containerd.runtime.v2.task");
  for (const ns of await readdir(tasks).catch(() => [] as string[])) {
    for (const id of await readdir(join(tasks, ns)).catch(() => [] as string[])) {
      const pid = Number.parseInt((await readFile(join(tasks, ns, id, "init.pid"), "utf8").catch(() => "")).trim(), 10);
      if (pid > 1) pids.add(pid);
    }
  }
  for (const entry of await readdir("/proc").catch(() => [] as string[])) {
    if (!/^\d+$/.test(entry)) continue;
    const argv = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).split("\0");
    const i = argv.indexOf("-address");
    if (i >= 0 && argv[i + 1] === address && argv[0]?.includes("containerd-shim")) pids.add(Number(entry));
  }
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
  if (pids.size) await Bun.sleep(100);
}

/** Removes `parent` (and sandbox cgroups left inside) from every cgroup hierarchy; only empty ones go. */
export async function removeCgroups(parent: string): Promise<void> {
  const mounts = (await readFile("/proc/self/mountinfo", "utf8").catch(() => ""))
    .split("\n")
    .filter((line) => / - cgroup2? /.test(line))
    .map((line) => line.split(" ")[4]!)
    .filter(Boolean);
  for (const mount of new Set(mounts)) {
    const top = join(mount, parent);
    if (!existsSync(top)) continue;
    const children = await readdir(top, { withFileTypes: true }).catch(() => []);
    for (const child of children) if (child.isDirectory()) await rmdir(join(top, child.name)).catch(() => undefined);
    await rmdir(top).catch(() => undefined);
  }
}

/** Unmounts every mount point below `dir`, deepest first (lazily if busy). */
export async function unmountUnder(dir: string): Promise<void> {
  const text = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  const points = text
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p): p is string => !!p && (p === dir || p.startsWith(`${dir}/`)))
    .map((p) => p.replace(/\\040/g, " "))
    .sort((a, b) => b.length - a.length);
  for (const p of new Set(points)) {
    const r = await $`umount ${p}`.nothrow().quiet();
    if (r.exitCode !== 0) await $`umount -l ${p}`.nothrow().quiet();
  }
}

async function poll(timeoutMs: number, what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch (err) {
      last = err;
      if (err instanceof Error && err.message.startsWith("containerd exited")) throw err;
    }
    await Bun.sleep(20);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}
