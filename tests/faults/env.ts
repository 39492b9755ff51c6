// One fault case's node without Kubernetes: the compiled daemon (restartable,
// same config), a bin dir of Debian's plugins plus the case's scripts, a
// bridge cluster network and a second bridge network as a default network,
// so an ADD has two delegates and a fault can land between them.
import { $ } from "bun";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import {
  bridgeConflist,
  createBinDir,
  deleteBridge,
  ensureBinary,
  randomPrefix,
  writeJson,
  type BridgeNet,
} from "../helpers/e2e.ts";
import { createWorkdir, runCni, shimConf, startDaemon, type DaemonHandle, type ShimRun } from "../helpers/multus.ts";
import { createCleanup, randomSuffix } from "../helpers/netns.ts";
import { auditLeaks, type AuditScope } from "./audit.ts";

export interface FaultNode {
  dir: string;
  cniDir: string;
  binDir: string;
  confDir: string;
  cluster: BridgeNet;
  second: BridgeNet;
  daemon: DaemonHandle;
  /** Every container ID of this node starts with it (the orphan-process audit looks for it). */
  tag: string;
  containerId(): string;
  /** The daemon started again on the same config (after a SIGKILL, say), `overrides` laid over it. */
  restart(overrides?: Record<string, unknown>): Promise<DaemonHandle>;
  /** A CNI call through the compiled shim with both networks (or `defaultNetworks`) in its stdin. */
  cni(call: FaultCall): Promise<ShimRun>;
  audit(extra?: Partial<AuditScope>): Promise<string[]>;
  stop(): Promise<void>;
}

export interface FaultCall {
  command: string;
  containerId: string;
  netns: string;
  defaultNetworks?: string[];
  conf?: Record<string, unknown>;
}

export interface FaultNodeOptions {
  /** Shell scripts put in the bin dir, by plugin name. */
  scripts?: Record<string, string>;
  daemonConfig?: Record<string, unknown>;
  /** cniDir on a tmpfs of this size (mount's `size=`, e.g. "256k"), unmounted by stop(). */
  cniDirTmpfsSize?: string;
}

export async function startFaultNode(opts: FaultNodeOptions = {}): Promise<FaultNode> {
  await ensureBinary();
  const cleanup = createCleanup();
  try {
    const work = await createWorkdir();
    cleanup.add(() => work.remove());
    const cniDir = join(work.dir, "cache");
    const confDir = join(work.dir, "net.d");
    const dataDir = join(work.dir, "ipam");
    await mkdir(confDir);
    if (opts.cniDirTmpfsSize) {
      await mkdir(cniDir);
      await $`mount -t tmpfs -o size=${opts.cniDirTmpfsSize},mode=0700 tmpfs ${cniDir}`.quiet();
      // Runs after the daemon's stop (steps run last added first) and before the work dir goes.
      cleanup.add(async () => {
        if ((await $`umount ${cniDir}`.nothrow().quiet()).exitCode !== 0)
          await $`umount -l ${cniDir}`.nothrow().quiet();
      });
    }
    const s = randomSuffix(5);
    const cluster = { name: `fc-${s}`, bridge: `mtfc${s}`, prefix: randomPrefix(), dataDir };
    const second = { name: `fs-${s}`, bridge: `mtfs${s}`, prefix: randomPrefix(), dataDir };
    for (const net of [cluster, second]) cleanup.add(() => deleteBridge(net.bridge));
    const clusterFile = await writeJson(join(work.dir, "cluster.conflist"), bridgeConflist(cluster));
    await writeJson(join(confDir, `${second.name}.conflist`), bridgeConflist(second));
    const binDir = await createBinDir(join(work.dir, "bin-plugins"), { scripts: opts.scripts });
    const config = { cniDir, confDir, binDir, logToStderr: true, logLevel: "verbose", ...opts.daemonConfig };
    let daemon = await startDaemon(work.dir, config);
    cleanup.add(() => node.daemon.stop("SIGKILL"));
    const tag = `flt${randomSuffix(4)}`;

    const node: FaultNode = {
      dir: work.dir,
      cniDir,
      binDir,
      confDir,
      cluster,
      second,
      daemon,
      tag,
      containerId: () => `${tag}-${randomSuffix(10)}`,
      async restart(overrides = {}) {
        daemon = await startDaemon(work.dir, { ...config, ...overrides });
        node.daemon = daemon;
        return daemon;
      },
      cni(call) {
        return runCni(work.shim, {
          command: call.command,
          containerId: call.containerId,
          netns: call.netns,
          stdin: shimConf(daemon.socketDir, {
            clusterNetwork: clusterFile,
            defaultNetworks: call.defaultNetworks ?? [second.name],
            ...call.conf,
          }),
        });
      },
      audit: (extra = {}) => auditLeaks({ cniDir, networks: [cluster, second], containerTag: tag, ...extra }),
      stop: () => cleanup.run(),
    };
    return node;
  } catch (err) {
    await cleanup.run();
    throw err;
  }
}
