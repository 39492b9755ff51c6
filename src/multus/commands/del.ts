// DEL never leaks (docs/compatibility.md, difference 2): every cached delegate gets DEL in
// reverse order; one that fails keeps its cache entry and DEL fails, so the
// runtime's retry reaches exactly the delegates still attached.
import { CniError, ErrorCode, toCniError } from "../../cni/errors.ts";
import { resolveDelegates, type Delegate, type ResolveContext } from "../delegates.ts";
import { DelegateError, delegateType } from "../delegate-error.ts";
import { deleteDelegateCache, readDelegateCache, writeDelegateCache, type CacheEntry } from "../delegate-cache.ts";
import { lookupPod } from "../pod.ts";
import { assignPodDevices, removeDeviceInfo } from "../devices.ts";
import {
  cniRuntimeFor,
  delegateRuntimeConfig,
  requestContext,
  runtimeConfFor,
  type MultusRequest,
} from "../request.ts";
import { delOrTombstone } from "../tombstones.ts";
import type { MultusDeps } from "../ports.ts";
import type { Logger } from "../../util/log.ts";

export async function cmdDel(req: MultusRequest, deps: MultusDeps): Promise<void> {
  const log = deps.log.with(requestContext(req));
  const { cniDir } = req.conf;
  const cached = await readCacheOrDrop(req, log);
  const entries = cached ?? (await rebuildFromApi(req, deps));
  if (!entries) {
    log.verbose("no delegate cache and no pod: nothing to delete");
    return;
  }
  // Each failure is said once: in the error thrown, or in the warning when DEL succeeds anyway.
  const { failed, errors } = await delEach(req, deps, { entries, fromCache: cached !== undefined, log });
  if (errors.length === 0) {
    await deleteDelegateCache(cniDir, req.args.containerId);
    return;
  }
  const described = errors.map(describeFailure).join(" / ");
  if (!cached) {
    // ADD caches before its first delegate and drops the cache only after a clean
    // rollback, so without a cache nothing is known to be attached: the rebuilt
    // DEL is a safety net, and failing it would leave the runtime retrying forever.
    log.warn(
      `DEL rebuilt from the API: ${errors.length} delegate(s) refused DEL (${described}); nothing was cached as attached, so DEL succeeds`,
    );
    await deleteDelegateCache(cniDir, req.args.containerId);
    return;
  }
  // Keep what is still attached for the runtime's retry. When the cache cannot be
  // rewritten (a full disk), the old one stays: the retry runs DEL for every network
  // again, and the delegate's error, not the disk's, is what the runtime hears.
  const notRewritten = await writeDelegateCache(cniDir, req.args.containerId, failed).then(
    () => "",
    (err: unknown) =>
      `; the delegate cache was not rewritten (${toCniError(err).message}), so a retry runs DEL for every network`,
  );
  const first = errors[0]!;
  throw new DelegateError({
    code: first.error.code,
    msg: first.error.msg,
    details: `DEL failed for ${errors.length} of ${entries.length} network(s): ${described}${notRewritten}`,
    network: first.delegate.name,
    delegate: delegateType(first.delegate),
  });
}

/** The delegate cache; one cut short by a crash (written without fsync, like libcni's) is removed and counts as none. */
async function readCacheOrDrop(req: MultusRequest, log: Logger): Promise<CacheEntry[] | undefined> {
  const { cniDir } = req.conf;
  return readDelegateCache({
    cniDir,
    containerId: req.args.containerId,
    requestIfname: req.args.ifname,
  }).catch(async (err: unknown) => {
    if (!(err instanceof CniError) || err.code !== ErrorCode.DecodeFailure) throw err;
    log.warn(`unreadable delegate cache removed, treated as missing: ${err.message}`);
    await deleteDelegateCache(cniDir, req.args.containerId);
    return undefined;
  });
}

/** DEL to every delegate, last attached first; returns those that refused (in attach order) and why. */
async function delEach(
  req: MultusRequest,
  deps: MultusDeps,
  { entries, fromCache, log }: { entries: CacheEntry[]; fromCache: boolean; log: Logger },
): Promise<{ failed: CacheEntry[]; errors: Array<{ delegate: Delegate; error: CniError }> }> {
  const rt = cniRuntimeFor(req.conf, deps);
  const failed: CacheEntry[] = [];
  const errors: Array<{ delegate: Delegate; error: CniError }> = [];
  for (const entry of [...entries].reverse()) {
    const { delegate } = entry;
    try {
      const rc = runtimeConfFor(req, { delegate, runtimeConfig: entry.runtimeConfig, forAdd: false });
      // A cached delegate whose plugin is not installed, with the netns gone, becomes a
      // tombstone the daemon replays (a rebuilt one was never known to be attached).
      const tombstones = fromCache ? deps.tombstones : undefined;
      const outcome = await delOrTombstone({ rt, list: delegate.list, rc, cniDir: req.conf.cniDir, log, tombstones });
      if (outcome === "deleted") await removeDeviceInfo(entry.runtimeConfig, log);
    } catch (err) {
      failed.unshift(entry);
      errors.push({ delegate, error: toCniError(err) });
    }
  }
  return { failed, errors };
}

function describeFailure({ delegate, error }: { delegate: Delegate; error: CniError }): string {
  return `DEL of network "${delegate.name}" (delegate ${delegateType(delegate)}, ${delegate.ifname}) failed: ${error.message}`;
}

/**
 * No cache: rebuild from the API only when the pod still exists.
 * An API that cannot say whether it does fails DEL with code 11, for the runtime to retry.
 */
async function rebuildFromApi(req: MultusRequest, deps: MultusDeps): Promise<CacheEntry[] | undefined> {
  const pod = await lookupPod(req, deps);
  if (pod === null) return undefined;
  if (pod === undefined) return rebuildFromConfig(req, deps);
  const log = deps.log.with(requestContext(req));
  const ctx: ResolveContext = {
    conf: req.conf,
    pod,
    kube: deps.kube,
    ifname: req.args.ifname,
    // A network whose NAD or conf is gone cannot be deleted and must not keep the others attached;
    // an API that cannot answer now (code 11) fails DEL so that the runtime's retry releases it.
    skipUnresolvable: (network, err) => {
      if (err.code === ErrorCode.TryAgainLater) return false;
      log.warn(`DEL without a delegate cache: network "${network}" left out: ${err.message}`);
      return true;
    },
  };
  // An annotation that no longer parses, or is refused, must not keep the cluster network attached.
  const resolved = await resolveDelegates(ctx).catch((err) => {
    if (err instanceof CniError && err.code === ErrorCode.TryAgainLater) throw err;
    return resolveDelegates({ ...ctx, pod: { ...pod, annotations: {} } });
  });
  const delegates = await assignPodDevices({
    delegates: resolved,
    pod,
    devices: deps.devices,
    resources: deps.resources,
    log: deps.log,
    forgiving: true,
  });
  return delegates.map((delegate) => ({
    delegate,
    runtimeConfig: delegateRuntimeConfig(req, { delegate, deviceInfoDir: deps.deviceInfoDir }),
  }));
}

/**
 * No cache and no pod to ask (no Kubernetes, or the runtime named no pod): the
 * configuration alone decided what ADD attached, so it says what to delete.
 */
async function rebuildFromConfig(req: MultusRequest, deps: MultusDeps): Promise<CacheEntry[] | undefined> {
  const delegates = await resolveDelegates({ conf: req.conf, ifname: req.args.ifname }).catch(() => undefined);
  return delegates?.map((delegate) => ({
    delegate,
    runtimeConfig: delegateRuntimeConfig(req, { delegate, deviceInfoDir: deps.deviceInfoDir }),
  }));
}
