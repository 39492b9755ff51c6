// The shim role: CNI skel in front, the daemon behind. Kept free of the
// Kubernetes client, prom-client and daemon code (a test walks its imports).
import { runSkel, type SkelHandlers, type SkelIO } from "../cni/skel.ts";
import type { CmdArgs } from "../cni/args.ts";
import { Env } from "../cni/spec.ts";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { configVersion } from "../cni/version.ts";
import { convertResult, toCurrentResult } from "../cni/result.ts";
import { validate } from "../cni/schemas.ts";
import { Endpoint, socketPathIn, type CniRequest, type CniResponse } from "../api/api.ts";
import { ShimConfigSchema } from "../config/shim-config.ts";
import { createLogger, type Logger } from "../util/log.ts";
import { callDaemon, DaemonAnswerError, type DaemonClientOptions } from "./client.ts";

export const SHIM_ABOUT = "meta-plugin that delegates to other CNI plugins";

/** Runs one CNI invocation; returns the process exit code. */
export async function runShim(io: SkelIO): Promise<number> {
  return runSkel(io, createShimHandlers(io.env), SHIM_ABOUT);
}

function createShimHandlers(env: SkelIO["env"]): SkelHandlers {
  const send = async (args: CmdArgs, conf: Record<string, unknown>): Promise<unknown> => {
    const shim = validate(ShimConfigSchema, conf, ErrorCode.InvalidConfig, "multus-shim configuration");
    const log = createLogger({
      level: shim.logLevel,
      file: shim.logFile,
      toStderr: shim.logToStderr,
      format: shim.logFormat,
      options: shim.logOptions,
    }).with({
      command: args.command,
      containerID: args.containerId,
      ifname: args.ifname,
    });
    const opts: DaemonClientOptions = {
      socketPath: socketPathIn(shim.daemonSocketDir),
      readyTimeoutMs: shim.daemonReadyTimeoutSeconds * 1000,
      requestTimeoutMs: shim.daemonRequestTimeoutSeconds * 1000,
    };
    const started = performance.now();
    try {
      const reply = await callDaemon(opts, Endpoint.CNI, buildRequest(env, args));
      log.verbose(`${args.command} done in ${(performance.now() - started).toFixed(1)} ms`);
      return reply;
    } catch (err) {
      // The daemon logged the failures it answered with; the shim logs only those it met itself.
      if (err instanceof DaemonAnswerError) {
        log.verbose(`${args.command} answered with code ${err.code} in ${(performance.now() - started).toFixed(1)} ms`);
      } else logFailure(log, err);
      throw err;
    }
  };

  return {
    async add(args, conf) {
      const reply = await send(args, conf);
      const raw = (reply as CniResponse | undefined)?.Result;
      if (raw === undefined || raw === null) {
        throw new CniError(ErrorCode.DecodeFailure, "multus daemon returned no result for ADD");
      }
      // The daemon answers in 1.1.0; the runtime gets the version of its own config.
      return convertResult(toCurrentResult(raw, "1.1.0"), configVersion(conf));
    },
    del: async (args, conf) => void (await send(args, conf)),
    check: async (args, conf) => void (await send(args, conf)),
    gc: async (args, conf) => void (await send(args, conf)),
    status: async (args, conf) => void (await send(args, conf)),
  };
}

/** Only the CNI_* variables travel (the Go shim sends its whole environment; the daemon reads only these). */
function buildRequest(env: SkelIO["env"], args: CmdArgs): CniRequest {
  const forwarded: Record<string, string> = {};
  for (const [k, val] of Object.entries(env)) {
    if (val !== undefined && (k.startsWith("CNI_") || k === "K8S_POD_INFRA_CONTAINER_ID")) forwarded[k] = val;
  }
  forwarded[Env.COMMAND] = args.command;
  return { env: forwarded, config: Buffer.from(args.stdin).toString("base64") };
}

function logFailure(log: Logger, err: unknown): void {
  const msg = err instanceof CniError ? `code ${err.code}: ${err.message}` : String(err);
  log.error(`request failed: ${msg}`);
}
