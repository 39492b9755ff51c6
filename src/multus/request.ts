// One Multus request: the CNI call, its merged config and the pod it is for,
// plus how each delegate is invoked (CNI_ARGS, runtime, runtimeConfig).
import type { CmdArgs } from "../cni/args.ts";
import { getCniArg, parseCniArgs } from "../cni/args.ts";
import type { CniRuntime, RuntimeConf } from "../cni/conf.ts";
import { execPlugin, type PluginRunner } from "../cni/invoke.ts";
import { loggedRunner } from "./delegate-log.ts";
import type { MultusConf } from "./netconf.ts";
import type { MultusDeps, MultusObserver, PodRef } from "./ports.ts";
import type { Delegate } from "./delegates.ts";
import { deviceInfoFileFor } from "./devices.ts";
import { composeRuntimeConfig } from "./runtime-config.ts";

export interface PodArgs {
  namespace?: string;
  name?: string;
  uid?: string;
  infraContainerId?: string;
  /** Runtime args Multus does not consume: passed on to delegates (docs/compatibility.md, difference 3). */
  rest: Array<[string, string]>;
}

export interface MultusRequest {
  args: CmdArgs;
  conf: MultusConf;
  pod: PodArgs;
}

const POD_KEYS = ["IgnoreUnknown", "K8S_POD_NAMESPACE", "K8S_POD_NAME", "K8S_POD_UID", "K8S_POD_INFRA_CONTAINER_ID"];

export function podArgsFrom(cniArgs: string): PodArgs {
  const pairs = parseCniArgs(cniArgs);
  return {
    namespace: getCniArg(pairs, "K8S_POD_NAMESPACE") || undefined,
    name: getCniArg(pairs, "K8S_POD_NAME") || undefined,
    uid: getCniArg(pairs, "K8S_POD_UID") || undefined,
    infraContainerId: getCniArg(pairs, "K8S_POD_INFRA_CONTAINER_ID") || undefined,
    rest: pairs.filter(([k]) => !POD_KEYS.includes(k)),
  };
}

export function podRefOf(pod: PodArgs): PodRef | undefined {
  return pod.namespace && pod.name ? { namespace: pod.namespace, name: pod.name } : undefined;
}

export function cniRuntimeFor(conf: MultusConf, deps: MultusDeps): CniRuntime {
  return {
    binDirs: [conf.binDir, ...(deps.extraBinDirs ?? [])],
    cacheDir: conf.cniDir,
    timeoutMs: conf.delegateTimeoutSeconds * 1000,
    maxOutputBytes: conf.maxPluginOutputBytes,
    chrootDir: deps.chrootDir,
    baseEnv: deps.delegateBaseEnv,
    run: runnerFor(deps),
  };
}

/** execPlugin, timed for the observer (metrics) and traced at debug level, when either is there. */
function runnerFor(deps: MultusDeps): PluginRunner | undefined {
  let run: PluginRunner = execPlugin;
  if (deps.observer) run = observedRunner(run, deps.observer);
  if (deps.log.level === "debug") run = loggedRunner(run, deps.log);
  return run === execPlugin ? undefined : run;
}

/** `run`, timed: the observer hears of each plugin run once it has ended, failed or not. */
function observedRunner(run: PluginRunner, observer: MultusObserver): PluginRunner {
  return async (exec) => {
    const started = performance.now();
    let ok = false;
    try {
      const out = await run(exec);
      ok = true;
      return out;
    } finally {
      const seconds = (performance.now() - started) / 1000;
      observer.delegateCall({ pluginType: exec.pluginType, command: exec.command, seconds, ok });
    }
  };
}

/** CNI_ARGS handed to a delegate: pod args, then what the runtime sent, then MAC/IP on ADD. */
export function delegateCniArgs(req: MultusRequest, delegate: Delegate, forAdd: boolean): Array<[string, string]> {
  const p = req.pod;
  const out: Array<[string, string]> = [
    ["IgnoreUnknown", "true"],
    ["K8S_POD_NAMESPACE", p.namespace ?? ""],
    ["K8S_POD_NAME", p.name ?? ""],
    ["K8S_POD_INFRA_CONTAINER_ID", p.infraContainerId ?? ""],
    ["K8S_POD_UID", p.uid ?? ""],
    ...p.rest.filter(([k]) => k !== "MAC" && k !== "IP"),
  ];
  const sel = delegate.selection;
  if (forAdd && sel?.mac) out.push(["MAC", sel.mac]);
  if (forAdd && sel?.ips?.length) out.push(["IP", sel.ips.join(",")]);
  return out;
}

/**
 * The runtimeConfig one delegate gets, composed once on ADD (and cached for
 * DEL) or by DEL's rebuild when there is no cache: the request's runtimeConfig
 * plus the delegate's network attributes and device, with the path of its
 * CNIDeviceInfoFile under `deviceInfoDir`.
 */
export function delegateRuntimeConfig(
  req: MultusRequest,
  opts: { delegate: Delegate; deviceInfoDir?: string },
): Record<string, unknown> {
  const { delegate } = opts;
  return composeRuntimeConfig({
    base: req.conf.runtimeConfig,
    selection: delegate.selection,
    role: delegate.role,
    deviceId: delegate.deviceId,
    deviceInfoFile: deviceInfoFileFor({ dir: opts.deviceInfoDir, delegate, containerId: req.args.containerId }),
  });
}

/**
 * What libcni gets for one delegate: the request's container and netns, the
 * delegate's interface and CNI_ARGS (MAC/IP only `forAdd`), and the
 * runtimeConfig composed for it (none: a cache written by Go has none).
 */
export function runtimeConfFor(
  req: MultusRequest,
  opts: { delegate: Delegate; runtimeConfig: Record<string, unknown> | undefined; forAdd: boolean },
): RuntimeConf {
  const { delegate } = opts;
  return {
    containerId: req.args.containerId,
    netns: req.args.netns,
    ifname: delegate.ifname,
    args: delegateCniArgs(req, delegate, opts.forAdd),
    runtimeConfig: opts.runtimeConfig ?? {},
  };
}

/** Log context of a request. */
export function requestContext(req: MultusRequest): Record<string, string | undefined> {
  return contextOf(req.args, req.pod);
}

/** Log context of a CNI call: the command, the pod (namespace/name and uid), the container and its ifname. */
export function contextOf(args: CmdArgs, pod: PodArgs | undefined): Record<string, string | undefined> {
  return {
    command: args.command,
    // podman sends K8S_POD_NAME alone: say "name", not "undefined/name".
    pod: pod?.name ? (pod.namespace ? `${pod.namespace}/${pod.name}` : pod.name) : undefined,
    podUID: pod?.uid,
    containerID: args.containerId,
    ifname: args.ifname,
  };
}
