// Two ways a runtime reaches the Multus core, behind one interface, so one
// behaviour suite can run against both (STYLE "One behaviour, several paths"):
//
// - thick: `multus daemon -config=<file>` with the Multus keys in its daemon
//   config, and the compiled binary invoked as `multus-shim` with a minimal
//   00-multus.conf on stdin (the daemon lays its keys over that conf);
// - thin: the binary installed by `multus install --type thin` as <bin>/multus,
//   with every key in its stdin conf (type "multus").
//
// Both are invoked as a runtime does: the CNI env, CNI_PATH = the dir holding
// the plugin, the conf on stdin.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, createWorkdir, runCni, shimConf, startDaemon, type DaemonHandle, type ShimRun } from "./multus.ts";
import { ensureBinary } from "./e2e.ts";

export type InvokerName = "thin" | "thick";

export interface InvokerSetup {
  /** Multus configuration keys (clusterNetwork, defaultNetworks, confDir, cniDir,
   *  binDir, kubeconfig, ...): the daemon config (thick) or the stdin conf (thin). Never
   *  `cniVersion`, `name` or `type`: those belong to the conf the runtime sends. */
  config: Record<string, unknown>;
  /** The node the daemon runs on (MULTUS_NODE_NAME: its pod informer); thick only. */
  nodeName?: string;
}

export interface InvokerCall {
  command: string;
  containerId?: string;
  netns?: string;
  ifname?: string;
  /** CNI_ARGS (default: IgnoreUnknown=1 and pod default/test). */
  args?: string;
  /** The stdin conf's cniVersion (default 1.0.0). */
  cniVersion?: string;
  /** Replaces the whole stdin (malformed input). */
  stdin?: string | Record<string, unknown>;
  /** Env vars left out entirely. */
  omit?: string[];
  extraEnv?: Record<string, string>;
}

export interface Invoker {
  readonly name: InvokerName;
  setup(opts: InvokerSetup): Promise<void>;
  /** The stdin conf a runtime sends (what 00-multus.conf holds) for `cniVersion`. */
  conf(cniVersion?: string): Record<string, unknown>;
  cni(call: InvokerCall): Promise<ShimRun>;
  /** Diagnostics for assertion messages (the daemon's stderr in thick mode). */
  logs(): string;
  teardown(): Promise<void>;
}

const CONF_NAME = "multus-cni-network";

function run(
  binary: string,
  binDir: string,
  stdin: (v?: string) => Record<string, unknown>,
  call: InvokerCall,
): Promise<ShimRun> {
  return runCni(binary, {
    command: call.command,
    containerId: call.containerId,
    netns: call.netns,
    ifname: call.ifname,
    args: call.args,
    // A runtime's CNI_PATH holds the plugin it runs (and, here, nothing else).
    path: binDir,
    stdin: call.stdin ?? stdin(call.cniVersion),
    omit: call.omit,
    extraEnv: call.extraEnv,
  });
}

/** The daemon holds the configuration; the shim sends a minimal conf. */
export function thickInvoker(): Invoker {
  let work: Awaited<ReturnType<typeof createWorkdir>> | undefined;
  let daemon: DaemonHandle | undefined;
  const conf = (cniVersion = "1.0.0") => shimConf(daemon!.socketDir, { cniVersion, name: CONF_NAME });
  return {
    name: "thick",
    async setup({ config, nodeName }) {
      await ensureBinary();
      work = await createWorkdir();
      daemon = await startDaemon(work.dir, config, { env: nodeName ? { MULTUS_NODE_NAME: nodeName } : {} });
    },
    conf,
    cni: (call) => run(work!.shim, join(work!.dir, "bin"), conf, call),
    logs: () => daemon?.stderr() ?? "",
    async teardown() {
      await daemon?.stop();
      await work?.remove();
    },
  };
}

/** No daemon: `multus` installed as the thin plugin reads everything from its stdin conf. */
export function thinInvoker(): Invoker {
  let dir: string | undefined;
  let multusConfig: Record<string, unknown> = {};
  const conf = (cniVersion = "1.0.0") => ({ cniVersion, name: CONF_NAME, type: "multus", ...multusConfig });
  return {
    name: "thin",
    async setup({ config }) {
      await ensureBinary();
      dir = await mkdtemp(join(tmpdir(), "multus-thin-"));
      const install = Bun.spawn([BINARY, "install", "--dest", join(dir, "bin"), "--type", "thin"], {
        stdout: "pipe",
        stderr: "pipe",
        env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
      });
      const [code, err] = await Promise.all([install.exited, new Response(install.stderr).text()]);
      if (code !== 0) throw new Error(`multus install --type thin failed (exit ${code}): ${err}`);
      multusConfig = config;
    },
    conf,
    cni: (call) => run(join(dir!, "bin", "multus"), join(dir!, "bin"), conf, call),
    logs: () => "",
    async teardown() {
      if (dir) await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Both, thick first. */
export function allInvokers(): Invoker[] {
  return [thickInvoker(), thinInvoker()];
}
