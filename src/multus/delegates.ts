// Turns configuration and pod annotations into the ordered list of delegates,
// in Go Multus's order: master first, then default networks, then the
// pod's networks, then the auxiliary chain. Every delegate keeps the exact
// bytes it was given.
import { kubeFailureError } from "./kube-failure.ts";
import { dirname } from "node:path";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { decodeJsonObject } from "../cni/schemas.ts";
import type { Result100 } from "../cni/result.ts";
import { confListFromBytes, confListFromConf, type NetworkConfigList } from "../cni/conf.ts";
import { findConfByName, loadConfPath, loadPluginDir, type ConfFile } from "../cni/conf-files.ts";
import type { MultusConf } from "./netconf.ts";
import type { KubePort, Nad, PodInfo } from "./ports.ts";
import type { NetworkSelection } from "./selection.ts";
import {
  checkDefaultNetworkIsolation,
  checkNamespaceIsolation,
  isSystemNamespace,
  parseDefaultNetworkAnnotation,
  parseNetworkSelections,
} from "./selection.ts";
import { assignIfnames } from "./ifname.ts";
import { checkAnnotationSize, checkDelegateCount } from "./pod-limits.ts";
import { editEachPlugin, mergeCniArgsIntoConfig } from "./runtime-config.ts";
import { statOrUndefined } from "../util/stat-sync.ts";

export const NETWORKS_ANNOTATION = "k8s.v1.cni.cncf.io/networks";
export const DEFAULT_NETWORK_ANNOTATION = "v1.multus-cni.io/default-network";

/**
 * What a delegate is to the pod. `cluster`: the primary network (Go's
 * "master": clusterNetwork, the default-network override, or the first static
 * delegate), which gets the request's CNI_IFNAME and gives ADD its result.
 * `network`: every other network, on `net<i>` unless named. `auxiliary`: the
 * auxiliary chain, attached and deleted like a network but never CHECKed.
 */
export type DelegateRole = "cluster" | "network" | "auxiliary";

export interface Delegate {
  /** network-status name: `<ns>/<name>` for NADs, the conf `name` otherwise. */
  name: string;
  list: NetworkConfigList;
  /** Given as a conflist (as opposed to a single conf); kept for the Go cache format. */
  isConfList: boolean;
  /** The delegate config exactly as given (plus an injected name). */
  bytes: string;
  role: DelegateRole;
  ifname: string;
  /** Per-network attributes from the pod's annotation (never for the cluster network). */
  selection?: NetworkSelection;
  resourceName?: string;
  deviceId?: string;
}
export type DelegateSpec = Omit<Delegate, "ifname">;

/** A delegate ADD has attached, with what it answered. */
export interface Attached {
  delegate: Delegate;
  result: Result100;
  /** The delegate's CNIDeviceInfoFile content after ADD (network-status `device-info`). */
  deviceInfo?: Record<string, unknown>;
}

export interface ResolveContext {
  conf: MultusConf;
  /** The pod, when Kubernetes is available and the pod exists. */
  pod?: PodInfo;
  kube?: KubePort;
  /** The request's CNI_IFNAME. */
  ifname: string;
  /**
   * Told about a network that cannot be had (its NAD is missing or the API
   * cannot say) just before that error is thrown: the NoNetworkFound event.
   * Other resolution errors (a bad annotation, namespace isolation) are not.
   */
  onNetworkNotFound?: (err: CniError) => void;
  /**
   * DEL's rebuild: asked about a network (cluster, default or annotation
   * network) that cannot be resolved; true leaves it out, keeping its place
   * for interface naming, so the others are torn down under the names they
   * were attached with. Without it, or on false, the error is thrown.
   */
  skipUnresolvable?: (network: string, err: CniError) => boolean;
}

/** The full, ordered delegate list with interface names assigned. */
export async function resolveDelegates(ctx: ResolveContext): Promise<Delegate[]> {
  const { conf, pod } = ctx;
  if (pod) {
    checkAnnotationSize(NETWORKS_ANNOTATION, pod.annotations[NETWORKS_ANNOTATION], conf);
    checkAnnotationSize(DEFAULT_NETWORK_ANNOTATION, pod.annotations[DEFAULT_NETWORK_ANNOTATION], conf);
  }
  const override = pod
    ? parseDefaultNetworkAnnotation(pod.annotations[DEFAULT_NETWORK_ANNOTATION], conf.multusNamespace)
    : undefined;
  if (pod) {
    checkDefaultNetworkIsolation({
      podNamespace: pod.namespace,
      override,
      enabled: conf.namespaceIsolation,
      globalNamespaces: conf.globalNamespaces,
      multusNamespace: conf.multusNamespace,
    });
  }
  // In order: the cluster network, the default networks, the pod's selections, the auxiliary chain.
  const selections = pod ? selectionsOf(ctx, pod, override) : [];
  const specs: Array<DelegateSpec | Skipped> = [await clusterSpec(ctx, override)];
  specs.push(...(await defaultNetworkSpecs(ctx, override)));
  if (pod) specs.push(...(await selectedSpecs(ctx, selections)));
  const chain = await auxiliarySpec(ctx);
  if (chain) specs.push(chain);

  const names = assignIfnames({
    requestIfname: ctx.ifname,
    delegates: specs.map((s) => ("skipped" in s ? s : { role: s.role, requested: s.selection?.interface })),
  });
  return specs.flatMap((s, i) => ("skipped" in s ? [] : [{ ...s, ifname: names[i]! }]));
}

/** Resolves one network, or leaves its placeholder when the caller forgives the failure. */
async function resolveOrSkip(
  ctx: ResolveContext,
  { network, slot, spec }: { network: string; slot: Skipped; spec: () => Promise<DelegateSpec> },
): Promise<DelegateSpec | Skipped> {
  try {
    return await spec();
  } catch (err) {
    if (err instanceof CniError && ctx.skipUnresolvable?.(network, err)) return slot;
    throw err;
  }
}

/** The pod's default-network annotation, else clusterNetwork, else the first of `delegates`. */
async function clusterSpec(
  ctx: ResolveContext,
  override: NetworkSelection | undefined,
): Promise<DelegateSpec | Skipped> {
  const { conf } = ctx;
  if (override) {
    return resolveOrSkip(ctx, {
      network: `${override.namespace}/${override.name}`,
      slot: { skipped: true, role: "cluster", requested: override.interface },
      spec: async () => ({ ...(await delegateFromNad(ctx, override)), role: "cluster", selection: undefined }),
    });
  }
  if (conf.clusterNetwork) {
    const ref = conf.clusterNetwork;
    return resolveOrSkip(ctx, {
      network: ref,
      slot: { skipped: true, role: "cluster" },
      spec: async () => ({ ...(await resolveNetworkRef(ctx, ref)), role: "cluster" }),
    });
  }
  if (conf.delegates.length > 0) return delegateFromObject(conf.delegates[0]!, "cluster");
  throw new CniError(ErrorCode.InvalidConfig, "at least one delegate/clusterNetwork must be specified");
}

/**
 * With a cluster network: defaultNetworks, except for pods in a system namespace.
 * Without one (the delegates list): the delegates after the first.
 */
async function defaultNetworkSpecs(
  ctx: ResolveContext,
  override: NetworkSelection | undefined,
): Promise<Array<DelegateSpec | Skipped>> {
  const { conf, pod } = ctx;
  if (!conf.clusterNetwork && !override) return conf.delegates.slice(1).map((d) => delegateFromObject(d, "network"));
  if (pod && isSystemNamespace(pod.namespace, conf.systemNamespaces)) return [];
  const specs: Array<DelegateSpec | Skipped> = [];
  for (const ref of conf.defaultNetworks) {
    specs.push(
      await resolveOrSkip(ctx, {
        network: ref,
        slot: { skipped: true, role: "network" },
        spec: async () => ({ ...(await resolveNetworkRef(ctx, ref)), role: "network" }),
      }),
    );
  }
  return specs;
}

/**
 * The networks the pod's annotation selects, after the namespace-isolation check and the
 * delegate count (checked before anything is resolved: 1 cluster network, the default networks).
 */
function selectionsOf(ctx: ResolveContext, pod: PodInfo, override: NetworkSelection | undefined): NetworkSelection[] {
  const { conf } = ctx;
  const selections = parseNetworkSelections(pod.annotations[NETWORKS_ANNOTATION], pod.namespace);
  checkNamespaceIsolation({
    podNamespace: pod.namespace,
    selections,
    enabled: conf.namespaceIsolation,
    globalNamespaces: conf.globalNamespaces,
  });
  checkDelegateCount({ selected: selections.length, fixed: configuredCount(conf, pod, override), limits: conf });
  return selections;
}

/** How many delegates the configuration gives the pod before its annotation: as clusterSpec and defaultNetworkSpecs count. */
function configuredCount(conf: MultusConf, pod: PodInfo, override: NetworkSelection | undefined): number {
  if (!conf.clusterNetwork && !override) return Math.max(1, conf.delegates.length);
  return 1 + (isSystemNamespace(pod.namespace, conf.systemNamespaces) ? 0 : conf.defaultNetworks.length);
}

/** A spec per selection, resolved in order. */
async function selectedSpecs(
  ctx: ResolveContext,
  selections: NetworkSelection[],
): Promise<Array<DelegateSpec | Skipped>> {
  const specs: Array<DelegateSpec | Skipped> = [];
  for (const sel of selections) {
    specs.push(
      await resolveOrSkip(ctx, {
        network: `${sel.namespace}/${sel.name}`,
        slot: { skipped: true, role: "network", requested: sel.interface },
        spec: async () => ({ ...(await delegateFromNad(ctx, sel)), role: "network", selection: sel }),
      }),
    );
  }
  return specs;
}

/** Last, the auxiliary chain, when its directory has plugins (DEL may forgo it). */
async function auxiliarySpec(ctx: ResolveContext): Promise<DelegateSpec | undefined> {
  try {
    return await auxiliaryChain(ctx.conf);
  } catch (err) {
    const network = `auxiliary chain ${ctx.conf.auxiliaryCNIChainName}`;
    if (err instanceof CniError && ctx.skipUnresolvable?.(network, err)) return undefined;
    throw err;
  }
}

/** The passthru plugin heading the auxiliary chain, as Go writes it. */
export const AUXILIARY_CHAIN_HEAD = { type: "passthru", name: "passthru-cni" } as const;

/**
 * The auxiliary chain, when `auxiliaryCNIChainName` is set and
 * clusterNetwork is a path: a conflist named after the chain, in the multus
 * cniVersion, of passthru followed by every plugin conf in `<dir>/<chain
 * name>/` (libcni's subdirectory rule), `<dir>` being the directory of the
 * clusterNetwork file (or clusterNetwork itself when it is a directory).
 * Undefined when that adds no plugin. Like any delegate after the master it
 * runs on `net<i>`; the passthru head gives the plugins an empty prevResult.
 */
export async function auxiliaryChain(conf: MultusConf): Promise<DelegateSpec | undefined> {
  const name = conf.auxiliaryCNIChainName;
  const ref = conf.clusterNetwork;
  if (!name || !ref?.includes("/")) return undefined;
  const isDir = statOrUndefined(ref)?.isDirectory() ?? false;
  const plugins = await loadPluginDir(isDir ? ref : dirname(ref), name);
  if (plugins.length === 0) return undefined;
  const raw: Record<string, unknown> = {
    ...(conf.cniVersion === undefined ? {} : { cniVersion: conf.cniVersion }),
    name,
    plugins: [{ ...AUXILIARY_CHAIN_HEAD }, ...plugins],
  };
  return delegateFromBytes({ raw, bytes: JSON.stringify(raw), role: "auxiliary" });
}

/** The place of a network left out by skipUnresolvable: it still counts for interface names. */
interface Skipped {
  skipped: true;
  role: DelegateRole;
  requested?: string;
}

/** A NAD-backed delegate (annotation networks and the default-network override). */
async function delegateFromNad(ctx: ResolveContext, sel: NetworkSelection): Promise<DelegateSpec> {
  const { kube } = ctx;
  if (!kube) {
    throw new CniError(
      ErrorCode.InvalidConfig,
      `cannot resolve network-attachment-definition ${sel.namespace}/${sel.name}: no Kubernetes client`,
    );
  }
  const nad = await fetchNad(ctx, kube, sel);
  if (!nad) {
    // Go's text, down to the API's NotFound message it appends.
    throw notFound(
      ctx,
      new CniError(
        ErrorCode.InvalidConfig,
        `cannot find a network-attachment-definition (${sel.name}) in namespace (${sel.namespace})`,
        `network-attachment-definitions.k8s.cni.cncf.io "${sel.name}" not found`,
      ),
    );
  }
  return delegateFromFetchedNad(ctx, nad, sel);
}

/** The delegate of a NAD in hand: its spec.config, or a conf file of its name when that is empty. */
async function delegateFromFetchedNad(ctx: ResolveContext, nad: Nad, sel: NetworkSelection): Promise<DelegateSpec> {
  const { conf } = ctx;
  const name = `${nad.namespace}/${nad.name}`;
  if (nad.config.trim() === "") {
    const found = await findConfByName(conf.confDir, nad.name);
    if (!found) {
      throw new CniError(
        ErrorCode.InvalidConfig,
        `network-attachment-definition ${name} has no spec.config and no conf named "${nad.name}" is in ${conf.confDir}`,
      );
    }
    const edited = applySelectionToConfig(found.raw, sel);
    const file = edited === found.raw ? found : { ...found, raw: edited, bytes: JSON.stringify(edited) };
    return { ...delegateFromFile(file, name), role: "network", resourceName: nad.resourceName };
  }
  const raw = decodeJsonObject(nad.config, `spec.config of network-attachment-definition ${name}`);
  const edited = applySelectionToConfig(withName(raw, nad.name), sel);
  const bytes = edited === raw ? nad.config : JSON.stringify(edited);
  return { ...delegateFromBytes({ raw: edited, bytes, statusName: name }), resourceName: nad.resourceName };
}

/**
 * clusterNetwork / defaultNetworks entries: a value with `/` is a file or
 * directory; otherwise a NAD in multusNamespace, else a conf in confDir by name.
 */
async function resolveNetworkRef(ctx: ResolveContext, ref: string): Promise<DelegateSpec> {
  const { conf, kube } = ctx;
  if (ref.includes("/")) return delegateFromFile(await loadConfPath(ref), undefined);
  if (kube) {
    const nad = await fetchNad(ctx, kube, { namespace: conf.multusNamespace, name: ref });
    if (nad) return delegateFromFetchedNad(ctx, nad, { name: ref, namespace: conf.multusNamespace });
  }
  const found = await findConfByName(conf.confDir, ref);
  if (!found) {
    throw notFound(
      ctx,
      new CniError(
        ErrorCode.InvalidConfig,
        `failed to get network "${ref}": no network-attachment-definition in namespace ${conf.multusNamespace} and no conf named "${ref}" in ${conf.confDir}`,
      ),
    );
  }
  return delegateFromFile(found, undefined);
}

/** The NAD (null: it does not exist); an API that cannot answer in time is code 11, try again. */
async function fetchNad(
  ctx: ResolveContext,
  kube: KubePort,
  ref: { namespace: string; name: string },
): Promise<Nad | null> {
  try {
    return await kube.getNad(ref, { timeoutMs: ctx.conf.apiTimeoutSeconds * 1000 });
  } catch (err) {
    throw notFound(
      ctx,
      kubeFailureError(err, {
        msg: `cannot get network-attachment-definition ${ref.namespace}/${ref.name} from the Kubernetes API`,
      }),
    );
  }
}

function notFound(ctx: ResolveContext, err: CniError): CniError {
  ctx.onNetworkNotFound?.(err);
  return err;
}

function delegateFromFile(file: ConfFile, statusName: string | undefined): DelegateSpec {
  return delegateFromBytes({ raw: file.raw, bytes: file.bytes, statusName });
}

function delegateFromObject(raw: Record<string, unknown>, role: DelegateRole): DelegateSpec {
  return delegateFromBytes({ raw, bytes: JSON.stringify(raw), role });
}

/**
 * A delegate from its JSON (`raw`, decoded from `bytes`, which are kept as
 * given): no `type` means a conflist. `role` defaults to "network";
 * `statusName` (the network-status name) to the config's `name`.
 */
export function delegateFromBytes(opts: {
  raw: Record<string, unknown>;
  bytes: string;
  role?: DelegateRole;
  statusName?: string;
}): DelegateSpec {
  const { raw, bytes, statusName, role = "network" } = opts;
  const isConfList = typeof raw.type !== "string" || raw.type === "";
  const label = statusName ?? (typeof raw.name === "string" ? raw.name : "(unnamed)");
  if (isConfList && !Array.isArray(raw.plugins)) {
    throw new CniError(
      ErrorCode.InvalidConfig,
      `delegate "${label}": a configuration needs "type" or a "plugins" list`,
    );
  }
  const list = isConfList ? confListFromBytes(bytes) : confListFromConf(raw);
  return { name: statusName ?? list.name, list, isConfList, bytes, role };
}

/** `cni-args` of the selection go into `args.cni` of every plugin. */
export function applySelectionToConfig(raw: Record<string, unknown>, sel: NetworkSelection): Record<string, unknown> {
  const cniArgs = sel.cniArgs;
  if (!cniArgs || Object.keys(cniArgs).length === 0) return raw;
  return editEachPlugin(raw, (plugin) => mergeCniArgsIntoConfig(plugin, cniArgs));
}

/**
 * A NAD config without a name gets the NAD's, as Go's GetCNIConfigFromSpec does; a name
 * that is there but not a string stays, for validation to refuse (Go fails to decode it).
 */
function withName(raw: Record<string, unknown>, name: string): Record<string, unknown> {
  return raw.name === undefined || raw.name === null || raw.name === "" ? { ...raw, name } : raw;
}
