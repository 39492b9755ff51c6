// `multus validate`: what a pod would get from the daemon, worked out offline
// by the daemon's own code (selection.ts parses the annotations, delegates.ts
// resolves and orders the networks and names the interfaces, runtime-config.ts
// composes each delegate's runtimeConfig, gateway.ts decides the default
// route) with the NADs taken from files instead of the API. Nothing runs, no
// netns is touched. Every error found is reported, not only the first: a bad
// annotation is reported and left out so the other networks are still checked,
// and a network that cannot be resolved is skipped the way DEL's rebuild skips it.
import type { CniError } from "../cni/errors.ts";
import { buildPluginConfig, type RuntimeConf } from "../cni/conf.ts";
import { validate as validateSchema } from "../cni/schemas.ts";
import { ErrorCode } from "../cni/errors.ts";
import { mergeRequestConfig, parseDaemonConfig, type LoadedDaemonConfig } from "../config/daemon-config.ts";
import { previewForDaemonConfig } from "../config/watch.ts";
import { readFile } from "node:fs/promises";
import { MultusConfSchema, type MultusConf } from "../multus/netconf.ts";
import {
  DEFAULT_NETWORK_ANNOTATION,
  NETWORKS_ANNOTATION,
  resolveDelegates,
  type Delegate,
  type DelegateRole,
} from "../multus/delegates.ts";
import {
  checkDefaultNetworkIsolation,
  checkNamespaceIsolation,
  parseDefaultNetworkAnnotation,
  parseNetworkSelectionsEach,
  type NetworkSelection,
} from "../multus/selection.ts";
import { composeRuntimeConfig, MULTUS_RUNTIME_KEYS } from "../multus/runtime-config.ts";
import { checkEcmp, gatewayFamilies, gatewayFilterFlags } from "../multus/gateway.ts";
import type { KubePort, PodInfo } from "../ports/kube.ts";
import { readNads, readPod, type Finding, type InputFile, type NadInput } from "./manifests.ts";

export type { Finding, InputFile } from "./manifests.ts";

export interface ValidateInput {
  pod: InputFile;
  nads: InputFile[];
  /** The daemon config; without it the cluster network is not checked. */
  config?: InputFile;
  /** The runtime's CNI_IFNAME (kubelet: eth0). */
  ifname: string;
}

export interface PluginReport {
  type: string;
  /** What this plugin receives: the capability args it declares. */
  runtimeConfig?: Record<string, unknown>;
}

export interface DelegateReport {
  ifname: string;
  /** network-status name: `<ns>/<name>` for a NAD, the conf name otherwise. */
  network: string;
  role: DelegateRole;
  /** false: the cluster network, not known without --config. */
  checked: boolean;
  cniVersion?: string;
  plugins: PluginReport[];
  /** The capability args Multus offers this delegate (each plugin takes those it declares). */
  runtimeConfig: Record<string, unknown>;
  selection?: NetworkSelection;
  resourceName?: string;
}

export interface DefaultRouteReport {
  /** Some network of the pod has `default-route`: only the listed gateways stay. */
  requested: boolean;
  /** Which interface keeps the default route of each family (requested only). */
  kept: Array<{ ifname: string; family: "IPv4" | "IPv6"; via: string }>;
}

export interface ValidateReport {
  ok: boolean;
  pod?: { namespace: string; name: string; uid: string };
  networks: NetworkSelection[];
  defaultNetwork?: NetworkSelection;
  delegates: DelegateReport[];
  defaultRoute: DefaultRouteReport;
  errors: Finding[];
  notes: Finding[];
}

/** Stands for the cluster network when no daemon config says what it is: not a valid NAD name, so never found. */
const UNKNOWN_CLUSTER = "(cluster network)";

export async function validatePod(input: ValidateInput): Promise<ValidateReport> {
  const errors: Finding[] = [];
  const notes: Finding[] = [];
  const report: ValidateReport = {
    ok: false,
    networks: [],
    delegates: [],
    defaultRoute: { requested: false, kept: [] },
    errors,
    notes,
  };
  const podIn = readPod(input.pod);
  errors.push(...podIn.errors);
  notes.push(...podIn.notes);
  const pod = podIn.pod;
  if (!pod) return report;
  report.pod = { namespace: pod.namespace, name: pod.name, uid: pod.uid };
  const nadsIn = readNads(input.nads, pod.namespace);
  errors.push(...nadsIn.errors);
  notes.push(...nadsIn.notes);
  const conf = await requestConf(input, errors, notes);
  if (!conf) return report;

  const usable = checkAnnotations({ input, pod, conf, report });
  const delegates = await resolveOffline({ input, conf, pod: usable, nads: nadsIn.nads, errors });
  report.delegates = delegates.map((d) => describeDelegate(d, conf, notes, input.pod.path));
  if (conf.clusterNetwork === UNKNOWN_CLUSTER && !delegates.some((d) => d.role === "cluster")) {
    report.delegates.unshift({
      ifname: input.ifname,
      network: UNKNOWN_CLUSTER,
      role: "cluster",
      checked: false,
      plugins: [],
      runtimeConfig: {},
    });
    // With --config its failure is already an error of the config.
    if (!input.config) {
      notes.push({
        source: "(no --config)",
        message: "the cluster network is not checked: give the daemon config with --config",
      });
    }
  }
  report.defaultRoute = decideDefaultRoute(delegates, errors, input.pod.path);
  for (const n of delegates.length > 0 ? nadsIn.nads : []) {
    if (!delegates.some((d) => d.name === `${n.nad.namespace}/${n.nad.name}`)) {
      notes.push({
        source: n.source,
        where: n.where || undefined,
        message: `${n.nad.namespace}/${n.nad.name} is not used by this pod`,
      });
    }
  }
  report.ok = errors.length === 0;
  return report;
}

/**
 * The per-request Multus config the daemon would build: the runtime's conf (the
 * generated 00-multus.conf, the user's multusConfigFile, or a bare one) with
 * every daemon-config key laid over it, then the core's schema.
 */
async function requestConf(input: ValidateInput, errors: Finding[], notes: Finding[]): Promise<MultusConf | undefined> {
  const source = input.config?.path ?? "(no --config)";
  let loaded: LoadedDaemonConfig;
  try {
    loaded = parseDaemonConfig(input.config?.text ?? "{}", [MultusConfSchema]);
  } catch (err) {
    errors.push({ source, message: (err as Error).message });
    return undefined;
  }
  const base = input.config ? await runtimeConf(loaded, source, errors, notes) : bareConf(loaded);
  const merged = mergeRequestConfig(base, loaded);
  const hasDelegates = Array.isArray(merged.delegates) && merged.delegates.length > 0;
  if (typeof merged.clusterNetwork !== "string" && !hasDelegates) merged.clusterNetwork = UNKNOWN_CLUSTER;
  try {
    return validateSchema(MultusConfSchema, merged, ErrorCode.InvalidConfig, "multus configuration");
  } catch (err) {
    errors.push({ source, message: (err as Error).message });
    return undefined;
  }
}

function bareConf(loaded: LoadedDaemonConfig): Record<string, unknown> {
  return { cniVersion: loaded.config.cniVersion ?? "1.0.0", name: "multus-cni-network", type: "multus-shim" };
}

async function runtimeConf(
  loaded: LoadedDaemonConfig,
  source: string,
  errors: Finding[],
  notes: Finding[],
): Promise<Record<string, unknown>> {
  const { config } = loaded;
  try {
    if (config.multusConfigFile === "auto") {
      const preview = await previewForDaemonConfig(loaded);
      notes.push({
        source,
        message: `the runtime's conf: ${preview.path} as the daemon would generate it from ${preview.primaryPath}`,
      });
      return JSON.parse(preview.content) as Record<string, unknown>;
    }
    if (config.multusConfigFile !== "") {
      notes.push({ source, message: `the runtime's conf: multusConfigFile ${config.multusConfigFile}` });
      return JSON.parse(await readFile(config.multusConfigFile, "utf8")) as Record<string, unknown>;
    }
  } catch (err) {
    errors.push({ source, message: `the cluster network cannot be checked: ${(err as Error).message}` });
    return bareConf(loaded);
  }
  notes.push({
    source,
    message: "multusConfigFile is \"\": only the daemon config's keys are known of the runtime's conf",
  });
  return bareConf(loaded);
}

/**
 * Parses both annotations (reporting each one's error at its key) and checks
 * namespace isolation; returns the pod without the annotations that failed,
 * so resolution still checks everything else.
 */
function checkAnnotations(opts: {
  input: ValidateInput;
  pod: PodInfo;
  conf: MultusConf;
  report: ValidateReport;
}): PodInfo {
  const { pod, conf, report } = opts;
  const annotations = { ...pod.annotations };
  const fail = (key: string, err: unknown) => {
    report.errors.push({
      source: opts.input.pod.path,
      where: `metadata.annotations[${JSON.stringify(key)}]`,
      message: (err as Error).message,
    });
    delete annotations[key];
  };
  try {
    // Every bad element is reported; the annotation is then left out of resolution, as the daemon refuses it whole.
    const each = parseNetworkSelectionsEach(pod.annotations[NETWORKS_ANNOTATION], pod.namespace);
    report.networks = each.selections;
    for (const err of each.errors.slice(0, -1)) fail(NETWORKS_ANNOTATION, err);
    if (each.errors.length > 0) throw each.errors.at(-1);
    checkNamespaceIsolation({
      podNamespace: pod.namespace,
      selections: report.networks,
      enabled: conf.namespaceIsolation,
      globalNamespaces: conf.globalNamespaces,
    });
  } catch (err) {
    fail(NETWORKS_ANNOTATION, err);
  }
  try {
    report.defaultNetwork = parseDefaultNetworkAnnotation(
      pod.annotations[DEFAULT_NETWORK_ANNOTATION],
      conf.multusNamespace,
    );
    checkDefaultNetworkIsolation({
      podNamespace: pod.namespace,
      override: report.defaultNetwork,
      enabled: conf.namespaceIsolation,
      globalNamespaces: conf.globalNamespaces,
      multusNamespace: conf.multusNamespace,
    });
  } catch (err) {
    fail(DEFAULT_NETWORK_ANNOTATION, err);
  }
  return { ...pod, annotations };
}

/** resolveDelegates against the NAD files: every network that cannot be had is an error, and is skipped. */
async function resolveOffline(opts: {
  input: ValidateInput;
  conf: MultusConf;
  pod: PodInfo;
  nads: NadInput[];
  errors: Finding[];
}): Promise<Delegate[]> {
  const byKey = new Map(opts.nads.map((n) => [`${n.nad.namespace}/${n.nad.name}`, n]));
  const kube: KubePort = {
    getPod: async () => null,
    getNad: async (ref) => byKey.get(`${ref.namespace}/${ref.name}`)?.nad ?? null,
    writePodAnnotation: async () => undefined,
    recordEvent: () => undefined,
  };
  const podFile = opts.input.pod.path;
  const skipUnresolvable = (network: string, err: CniError) => {
    if (network === UNKNOWN_CLUSTER) return true;
    const nad = byKey.get(network);
    if (nad?.badConfig) return true;
    const hint = nad || !network.includes("/") ? "" : " (give its manifest with --nad)";
    opts.errors.push({
      source: nad?.source ?? (isConfigNetwork(opts.conf, network) ? (opts.input.config?.path ?? podFile) : podFile),
      where: nad ? nad.where || undefined : `network ${network}`,
      message: `${err.message}${hint}`,
    });
    return true;
  };
  try {
    return await resolveDelegates({
      conf: opts.conf,
      pod: opts.pod,
      kube,
      ifname: opts.input.ifname,
      skipUnresolvable,
    });
  } catch (err) {
    opts.errors.push({ source: podFile, message: (err as Error).message });
    return [];
  }
}

function isConfigNetwork(conf: MultusConf, network: string): boolean {
  return (
    network === conf.clusterNetwork || conf.defaultNetworks.includes(network) || network.startsWith("auxiliary chain")
  );
}

function describeDelegate(d: Delegate, conf: MultusConf, notes: Finding[], podFile: string): DelegateReport {
  const runtimeConfig = composeRuntimeConfig({
    base: conf.runtimeConfig,
    selection: d.selection,
    role: d.role,
    deviceId: d.deviceId,
  });
  const rc: RuntimeConf = { containerId: "", netns: "", ifname: d.ifname, args: [], runtimeConfig };
  const plugins = d.list.plugins.map((p): PluginReport => {
    const taken = buildPluginConfig(d.list, p, undefined, rc).runtimeConfig as Record<string, unknown> | undefined;
    return { type: typeof p.type === "string" ? p.type : "(no type)", ...(taken && { runtimeConfig: taken }) };
  });
  // A per-network value no plugin declares the capability for is dropped by libcni: say so.
  for (const key of MULTUS_RUNTIME_KEYS) {
    if (runtimeConfig[key] === undefined || plugins.some((p) => p.runtimeConfig?.[key] !== undefined)) continue;
    notes.push({
      source: podFile,
      where: `network ${d.name}`,
      message: `${key} is asked for, but no plugin of it declares capabilities.${key}: the plugins will not get it as runtimeConfig${key === "ips" || key === "mac" ? ` (only as CNI_ARGS ${key === "ips" ? "IP" : "MAC"}=)` : ""}`,
    });
  }
  if (d.resourceName) {
    notes.push({
      source: podFile,
      where: `network ${d.name}`,
      message: `a device of resource ${d.resourceName} is taken from the kubelet at ADD (not known offline)`,
    });
  }
  return {
    ifname: d.ifname,
    network: d.name,
    role: d.role,
    checked: true,
    cniVersion: d.list.cniVersion,
    plugins,
    runtimeConfig,
    ...(d.selection && { selection: d.selection }),
    ...(d.resourceName && { resourceName: d.resourceName }),
  };
}

/** Go's gateway filter: once any network has `default-route`, only its gateways stay default routes. */
function decideDefaultRoute(delegates: Delegate[], errors: Finding[], podFile: string): DefaultRouteReport {
  const requests = delegates.map((d) => d.selection?.defaultRoute);
  try {
    checkEcmp(requests);
  } catch (err) {
    errors.push({
      source: podFile,
      where: `metadata.annotations[${JSON.stringify(NETWORKS_ANNOTATION)}]`,
      message: (err as Error).message,
    });
  }
  if (!requests.some((r) => r !== undefined)) return { requested: false, kept: [] };
  const flags = gatewayFilterFlags(requests);
  const kept: DefaultRouteReport["kept"] = [];
  delegates.forEach((d, i) => {
    const gateways = requests[i] ?? [];
    const { v4, v6 } = gatewayFamilies(gateways);
    if (!flags[i]!.v4 && v4)
      kept.push({ ifname: d.ifname, family: "IPv4", via: gateways.find((g) => !g.includes(":"))! });
    if (!flags[i]!.v6 && v6)
      kept.push({ ifname: d.ifname, family: "IPv6", via: gateways.find((g) => g.includes(":"))! });
  });
  return { requested: true, kept };
}
