// Thin mode: the binary installed as `multus` and called by the runtime runs
// the same core in-process, with a Kubernetes client from the conf's
// `kubeconfig` and no daemon.
import { runSkel, type SkelHandlers, type SkelIO } from "../cni/skel.ts";
import type { CmdArgs } from "../cni/args.ts";
import { ErrorCode, toCniError } from "../cni/errors.ts";
import { validate } from "../cni/schemas.ts";
import { configVersion } from "../cni/version.ts";
import { convertResult } from "../cni/result.ts";
import { MultusConfSchema, type MultusConf } from "../multus/netconf.ts";
import { podArgsFrom, type MultusRequest } from "../multus/request.ts";
import { logRequestDone, logRequestFailed } from "../multus/request-log.ts";
import { dispatchRequest } from "../multus/commands/dispatch.ts";
import type { KubePort, MultusDeps, ResourcePort } from "../multus/ports.ts";
import { createLogger, type Logger } from "../util/log.ts";
import { createDevicePort } from "../kubelet/devices.ts";

export const THIN_ABOUT = "meta-plugin that delegates to other CNI plugins";

export async function runThin(io: SkelIO): Promise<number> {
  let kube: (KubePort & ResourcePort & { stop(): Promise<void> }) | undefined;
  const run = async (args: CmdArgs, raw: Record<string, unknown>) => {
    const started = performance.now();
    const conf = validate(MultusConfSchema, raw, ErrorCode.InvalidConfig, "multus configuration");
    // The core's default for logToStderr is true in the thin plugin.
    const log = createLogger({
      level: conf.logLevel,
      file: conf.logFile,
      toStderr: conf.logToStderr ?? true,
      options: conf.logOptions,
      format: conf.logFormat,
    });
    const pod = podArgsFrom(args.args);
    try {
      const outcome = await runCore({ args, conf, pod }, log, raw);
      logRequestDone(log, { args, pod, ms: performance.now() - started, networks: outcome.networks });
      return outcome.result;
    } catch (err) {
      // The one log line of the failure; the skel hands the same error to the runtime.
      logRequestFailed(log, { args, pod, ms: performance.now() - started, err: toCniError(err) });
      throw err;
    }
  };
  const runCore = async (req: MultusRequest, log: Logger, raw: Record<string, unknown>) => {
    const { conf } = req;
    kube ??= await connect(conf);
    const deps: MultusDeps = {
      log,
      kube,
      delegateBaseEnv: { PATH: io.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" },
      extraBinDirs: (io.env.CNI_PATH ?? "").split(":").filter(Boolean),
      devices: createDevicePort({}),
      resources: kube,
    };
    return dispatchRequest(req, deps, raw);
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
async function connect(conf: MultusConf): Promise<(KubePort & ResourcePort & { stop(): Promise<void> }) | undefined> {
  if (!conf.kubeconfig) return undefined;
  const { createKubeClient } = await import("../k8s/client.ts");
  return createKubeClient({ kubeconfigPath: conf.kubeconfig });
}
