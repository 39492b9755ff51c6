// Thin mode: the binary installed as `multus` and called by the runtime runs
// the same core in-process, with a Kubernetes client from the conf's
// `kubeconfig` and no daemon.
import { runSkel, type SkelHandlers, type SkelIO } from "../cni/skel.ts";
import type { CmdArgs } from "../cni/args.ts";
import { ErrorCode } from "../cni/errors.ts";
import { validate } from "../cni/schemas.ts";
import { configVersion } from "../cni/version.ts";
import { convertResult } from "../cni/result.ts";
import { MultusConfSchema, type MultusConf } from "../multus/netconf.ts";
import { podArgsFrom } from "../multus/request.ts";
import { dispatchRequest } from "../multus/commands/dispatch.ts";
import type { KubePort, MultusDeps } from "../multus/ports.ts";
import { createLogger } from "../util/log.ts";
import { createDevicePort } from "../kubelet/devices.ts";

export const THIN_ABOUT = "meta-plugin that delegates to other CNI plugins";

export async function runThin(io: SkelIO): Promise<number> {
  let kube: (KubePort & { stop(): Promise<void> }) | undefined;
  const run = async (args: CmdArgs, raw: Record<string, unknown>) => {
    const conf = validate(MultusConfSchema, raw, ErrorCode.InvalidConfig, "multus configuration");
    kube ??= await connect(conf);
    const deps: MultusDeps = {
      // The core's default for logToStderr is true in the thin plugin.
      log: createLogger({
        level: conf.logLevel,
        file: conf.logFile,
        toStderr: conf.logToStderr ?? true,
        options: conf.logOptions,
      }),
      kube,
      delegateBaseEnv: { PATH: io.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
      extraBinDirs: (io.env.CNI_PATH ?? "").split(":").filter(Boolean),
      devices: createDevicePort({}),
    };
    return dispatchRequest({ args, conf, pod: podArgsFrom(args.args) }, deps, raw);
  };
  const handlers: SkelHandlers = {
    async add(args, raw) {
      const result = await run(args, raw);
      return convertResult(result!, configVersion(raw));
    },
    del: async (args, raw) => void (await run(args, raw)),
    check: async (args, raw) => void (await run(args, raw)),
    gc: async (args, raw) => void (await run(args, raw)),
    status: async (args, raw) => void (await run(args, raw)),
  };
  try {
    return await runSkel(io, handlers, THIN_ABOUT);
  } finally {
    await kube?.stop();
  }
}

/** Live API reads only: a one-shot plugin has no time to sync informers. */
async function connect(conf: MultusConf): Promise<(KubePort & { stop(): Promise<void> }) | undefined> {
  if (!conf.kubeconfig) return undefined;
  const { createKubeClient } = await import("../k8s/client.ts");
  return createKubeClient({ kubeconfigPath: conf.kubeconfig });
}
