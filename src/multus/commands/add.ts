// ADD: resolve delegates, cache them, attach each in order, roll back on
// failure, report. The steps are named functions; this file reads top-down.
import { toCniError } from "../../cni/errors.ts";
import { addNetworkList, delNetworkList } from "../../cni/conf.ts";
import { placeholderResult, toCurrentResult, type Result100 } from "../../cni/result.ts";
import { resolveDelegates, type Attached, type Delegate } from "../delegates.ts";
import { writeDelegateCache, deleteDelegateCache, type CacheEntry } from "../delegate-cache.ts";
import { DelegateError, delegateType } from "../delegate-error.ts";
import { checkEcmp } from "../gateway.ts";
import { checkPodUid, lookupPod } from "../pod.ts";
import { applyDefaultRoutes } from "../default-route.ts";
import { checkIfnamesFree, checkNetns } from "../netns-check.ts";
import { reportAttachments, reportNoNetwork } from "../report.ts";
import { assignPodDevices, copyDeviceInfoFiles, readDeviceInfo, removeDeviceInfo } from "../devices.ts";
import {
  cniRuntimeFor,
  delegateRuntimeConfig,
  podRefOf,
  requestContext,
  runtimeConfFor,
  type MultusRequest,
} from "../request.ts";
import type { MultusDeps, PodInfo } from "../ports.ts";

/** The master's result (what the runtime gets) and every network attached. */
export interface AddOutcome {
  result: Result100;
  attached: Attached[];
}

export async function cmdAdd(req: MultusRequest, deps: MultusDeps): Promise<AddOutcome> {
  const log = deps.log.with(requestContext(req));
  const pod = await lookupPod(req, deps);
  if (pod === null) {
    log.verbose("pod not found in the API: returning the placeholder result, attaching nothing");
    return { result: placeholder(req), attached: [] };
  }
  if (pod) checkPodUid(req, pod);

  const delegates = await assignPodDevices({
    delegates: await resolveOrReport(req, deps, pod),
    pod,
    devices: deps.devices,
    resources: deps.resources,
    log,
  });
  checkEcmp(delegates.map((d) => d.selection?.defaultRoute));
  const entries: CacheEntry[] = delegates.map((delegate) => ({
    delegate,
    runtimeConfig: delegateRuntimeConfig(req, { delegate, deviceInfoDir: deps.deviceInfoDir }),
  }));
  // Nothing is cached or invoked for a sandbox whose netns is gone.
  await checkNetns(req.args.netns, deps.chrootDir);
  checkIfnamesFree({
    netns: req.args.netns,
    chrootDir: deps.chrootDir,
    ifnames: delegates.map((d) => d.ifname),
    existingLinks: deps.existingLinks,
  });
  // Cached before the first delegate runs: a crash mid-ADD still leaves DEL what it needs.
  await writeDelegateCache(req.conf.cniDir, req.args.containerId, entries);
  await copyDeviceInfoFiles({ dir: deps.deviceInfoDir, entries, log });

  const attached = await attachAll(req, deps, entries);
  try {
    await applyDefaultRoutes(req, attached);
    if (pod) await reportAttachments(req, deps, pod, attached);
  } catch (err) {
    await rollback(req, deps, { entries, upTo: entries.length - 1 });
    throw err;
  }
  const master = attached.find((a) => a.delegate.role === "cluster") ?? attached[0]!;
  return { result: master.result, attached };
}

function resolveOrReport(req: MultusRequest, deps: MultusDeps, pod: PodInfo | undefined): Promise<Delegate[]> {
  return resolveDelegates({
    conf: req.conf,
    pod,
    kube: deps.kube,
    ifname: req.args.ifname,
    onNetworkNotFound: pod ? (err) => reportNoNetwork(deps, pod, err) : undefined,
  });
}

/** ADD each delegate in order; on failure DEL i..0 (the failed one included) and rethrow. */
async function attachAll(req: MultusRequest, deps: MultusDeps, entries: CacheEntry[]): Promise<Attached[]> {
  const rt = cniRuntimeFor(req.conf, deps);
  const attached: Attached[] = [];
  for (const [i, { delegate, runtimeConfig }] of entries.entries()) {
    try {
      const result = await addNetworkList(
        rt,
        delegate.list,
        runtimeConfFor(req, { delegate, runtimeConfig, forAdd: true }),
      );
      attached.push({ delegate, result, deviceInfo: await readDeviceInfo(runtimeConfig) });
    } catch (err) {
      await rollback(req, deps, { entries, upTo: i, failed: i });
      throw withNetworkContext(req, delegate, err);
    }
  }
  return attached;
}

/**
 * Best-effort DEL of entries upTo..0. The cache keeps exactly the attached
 * delegates whose DEL failed (none: it goes). The delegate whose ADD failed
 * (`failed`) gets DEL too, but its DEL failing does not pin the cache: a
 * config it cannot even load (a missing macvlan master, an invalid type) would
 * fail every later DEL the same way and the pod could never be torn down.
 */
async function rollback(
  req: MultusRequest,
  deps: MultusDeps,
  opts: { entries: CacheEntry[]; upTo: number; failed?: number },
): Promise<void> {
  const log = deps.log.with(requestContext(req));
  const rt = cniRuntimeFor(req.conf, deps);
  const stillAttached: CacheEntry[] = [];
  for (let i = opts.upTo; i >= 0; i--) {
    const entry = opts.entries[i]!;
    const { delegate, runtimeConfig } = entry;
    try {
      await delNetworkList(rt, delegate.list, runtimeConfFor(req, { delegate, runtimeConfig, forAdd: false }));
      await removeDeviceInfo(runtimeConfig, log);
    } catch (err) {
      if (i !== opts.failed) stillAttached.unshift(entry);
      // Not the request's failure (that one is thrown): a leftover the operator must hear of.
      log.error(`rollback: DEL of network "${delegate.name}" failed: ${toCniError(err).message}`, {
        network: delegate.name,
        delegate: delegateType(delegate),
      });
    }
  }
  // A cache that cannot be updated (a full disk) must not hide the ADD's own error: the
  // old cache, a superset of what is still attached, stays for the runtime's DEL.
  const { cniDir } = req.conf;
  const { containerId } = req.args;
  await (stillAttached.length === 0
    ? deleteDelegateCache(cniDir, containerId)
    : writeDelegateCache(cniDir, containerId, stillAttached)
  ).catch((err: unknown) => {
    log.error(`rollback: delegate cache not updated, the old one is kept for DEL: ${toCniError(err).message}`);
  });
}

/** The delegate's own code and msg reach the runtime; which network and delegate failed go into details. */
function withNetworkContext(req: MultusRequest, delegate: Delegate, err: unknown): DelegateError {
  const e = toCniError(err);
  const ref = podRefOf(req.pod);
  const who = ref ? `${ref.namespace}/${ref.name}/${req.pod.uid ?? ""}` : req.args.containerId;
  const type = delegateType(delegate);
  const ctx = `[${who}:${delegate.name}]: error adding container to network "${delegate.name}" (delegate ${type})`;
  return new DelegateError({
    code: e.code,
    msg: e.msg,
    details: e.details ? `${ctx}: ${e.details}` : ctx,
    network: delegate.name,
    delegate: type,
    cause: e,
  });
}

function placeholder(req: MultusRequest): Result100 {
  const wire = placeholderResult({ cniVersion: "1.1.0", ifname: req.args.ifname, netns: req.args.netns });
  return toCurrentResult(wire, "1.1.0");
}
