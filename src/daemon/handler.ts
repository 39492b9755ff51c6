// Request -> Response for the daemon's endpoints, with its dependencies passed
// in (no socket needed to test it). Unknown throws become 999 here.
import type * as v from "valibot";
import { CniError, ErrorCode, toCniError } from "../cni/errors.ts";
import { cmdArgsFromEnv, type CmdArgs } from "../cni/args.ts";
import { decodeJsonObject, validate } from "../cni/schemas.ts";
import { convertResult, type Result100 } from "../cni/result.ts";
import { CniRequestSchema, Endpoint, type CniRequest, type DaemonStatus } from "../api/api.ts";
import { mergeRequestConfig, type LoadedDaemonConfig } from "../config/daemon-config.ts";
import { DEFAULT_BIN_DIR, MultusConfSchema } from "../multus/netconf.ts";
import { podArgsFrom, type MultusRequest, type PodArgs } from "../multus/request.ts";
import { logRequestDone, logRequestFailed } from "../multus/request-log.ts";
import { isJsonTooDeep, MAX_JSON_DEPTH } from "../util/json-depth.ts";
import type { MultusDeps } from "../multus/ports.ts";
import { dispatchRequest, type CommandOutcome } from "../multus/commands/dispatch.ts";
import { cmdHotplug } from "../multus/commands/hotplug.ts";

export interface HandlerDeps {
  daemon: LoadedDaemonConfig;
  /** `multus.locks` serialises one container's requests. */
  multus: MultusDeps;
  /** false once SIGTERM was received. */
  isReady(): boolean;
  /** GET /status; absent: 404. */
  status?(): DaemonStatus;
  /** Duration and outcome of each CNI command (the metrics histogram, when metrics are on). */
  observeCommand?(command: string, seconds: number, ok: boolean): void;
  /** The code of each CNI error answered (metrics). */
  observeCniError?(code: number): void;
}

const TEXT = { "content-type": "text/plain; charset=utf-8" };
const JSON_TYPE = { "content-type": "application/json" };

/** Routes a request: wrong method 405, unknown path 404. */
export async function handleRequest(request: Request, deps: HandlerDeps): Promise<Response> {
  const path = new URL(request.url).pathname;
  const method = request.method;
  switch (path) {
    case Endpoint.CNI:
    case Endpoint.DELEGATE:
      if (method !== "POST") return new Response("Method not allowed\n", { status: 405, headers: TEXT });
      if (path === Endpoint.DELEGATE && !deps.daemon.config.enableDelegateEndpoint) return delegateDisabled();
      return handleCni(await request.text(), path === Endpoint.DELEGATE, deps);
    case Endpoint.HEALTHZ:
      if (method !== "GET" && method !== "POST")
        return new Response("Method not allowed\n", { status: 405, headers: TEXT });
      return new Response(null, { status: 200 });
    case Endpoint.STATUS:
      if (method !== "GET") return new Response("Method not allowed\n", { status: 405, headers: TEXT });
      if (!deps.status) return new Response(null, { status: 404 });
      return Response.json(deps.status());
    case Endpoint.READYZ:
      if (method !== "GET" && method !== "POST")
        return new Response("Method not allowed\n", { status: 405, headers: TEXT });
      return new Response(null, { status: deps.isReady() ? 200 : 500 });
    default:
      deps.multus.log.error(`unknown endpoint ${method} ${path}`);
      return new Response(null, { status: 404 });
  }
}

/** /delegate turned off in the daemon config: 403 with a CNI error saying so. */
function delegateDisabled(): Response {
  const err = new CniError(
    ErrorCode.InvalidConfig,
    `${Endpoint.DELEGATE} is disabled in the daemon config`,
    `"enableDelegateEndpoint": false; hot-plugging an interface into a running pod is turned off on this node`,
  );
  return Response.json(err.toJSON(), { status: 403, headers: JSON_TYPE });
}

export async function handleCni(body: string, isDelegate: boolean, deps: HandlerDeps): Promise<Response> {
  let args: CmdArgs | undefined;
  let pod: PodArgs | undefined;
  const started = performance.now();
  const observe = (ok: boolean) => {
    if (args) deps.observeCommand?.(args.command, (performance.now() - started) / 1000, ok);
  };
  try {
    const request = decodeRequest(body);
    const stdin = Buffer.from(request.config, "base64");
    args = cmdArgsFromEnv(
      isDelegate ? withDelegateDefaults(request.env, daemonBinDir(deps.daemon)) : request.env,
      stdin,
    );
    if (!deps.isReady() && args.command !== "DEL") {
      deps.observeCniError?.(ErrorCode.TryAgainLater);
      return stoppingResponse();
    }
    const raw = decodeJsonObject(stdin, "CNI configuration");
    const merged = mergeRequestConfig(raw, deps.daemon);
    const conf = validate(MultusConfSchema, merged, ErrorCode.InvalidConfig, "multus configuration");
    pod = podArgsFrom(args.args);
    const req: MultusRequest = { args, conf, pod };
    const a = args;
    const run = (): Promise<CommandOutcome> =>
      isDelegate
        ? cmdHotplug(req, deps.multus, raw, request.interfaceAttributes ?? undefined).then((result) => ({ result }))
        : dispatchRequest(req, deps.multus, merged);
    // One container's requests run one at a time. GC and STATUS are not tied to one
    // (GC takes the lock of each container it deletes, so it must not hold one itself).
    const key = a.command === "GC" || a.command === "STATUS" ? "" : a.containerId;
    const locks = deps.multus.locks;
    if (key && locks?.isHeld(key)) deps.multus.log.debug(`${a.command} of ${key} waits for the request in flight`);
    const outcome = key && locks ? await locks.run(key, run) : await run();
    const response =
      a.command === "ADD"
        ? Response.json({ Result: convertResult(outcome.result as Result100, "1.1.0") })
        : new Response(null, { status: 200 });
    observe(true);
    logRequestDone(deps.multus.log, { args: a, pod, ms: performance.now() - started, networks: outcome.networks });
    return response;
  } catch (err) {
    observe(false);
    const e = toCniError(err);
    deps.observeCniError?.(e.code);
    logRequestFailed(deps.multus.log, { args, pod, ms: performance.now() - started, err: e });
    return new Response(JSON.stringify(e.toJSON()), { status: 400, headers: JSON_TYPE });
  }
}

/**
 * A stopping daemon still finishes DELs (they free addresses) but sends other
 * commands away with 503, which our shim retries until a new daemon answers
 * within its ready deadline; any other client gets a CNI error 11.
 */
function stoppingResponse(): Response {
  const e = new CniError(ErrorCode.TryAgainLater, "multus daemon is stopping: try again later");
  return new Response(JSON.stringify(e.toJSON()), { status: 503, headers: JSON_TYPE });
}

/**
 * Go's `CreateDelegateRequest` (used by multus-dynamic-networks-controller for
 * hot-plug) sends no CNI_PATH, and its daemon defaults a missing CNI_IFNAME to
 * eth0: /delegate fills both in as the Go daemon does (delegates are found in
 * binDir anyway). /cni stays strict, as the CNI spec asks of a runtime.
 */
function withDelegateDefaults(env: Record<string, string>, binDir: string): Record<string, string> {
  return { ...env, CNI_PATH: env.CNI_PATH || binDir, CNI_IFNAME: env.CNI_IFNAME || "eth0" };
}

function daemonBinDir(daemon: LoadedDaemonConfig): string {
  const dir = daemon.raw.binDir;
  return typeof dir === "string" && dir !== "" ? dir : DEFAULT_BIN_DIR;
}

function decodeRequest(body: string): CniRequest {
  if (isJsonTooDeep(body)) {
    throw new CniError(
      ErrorCode.DecodeFailure,
      "could not decode the CNI request body",
      `nested more than ${MAX_JSON_DEPTH} levels deep`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch (err) {
    throw new CniError(ErrorCode.DecodeFailure, "could not decode the CNI request body", (err as Error).message);
  }
  if (json && typeof json === "object" && !Array.isArray(json) && !("env" in json)) {
    throw new CniError(ErrorCode.InvalidEnv, "unexpected or missing CNI_COMMAND");
  }
  return validate(CniRequestSchema, json, ErrorCode.DecodeFailure, "CNI request") as v.InferOutput<
    typeof CniRequestSchema
  >;
}
