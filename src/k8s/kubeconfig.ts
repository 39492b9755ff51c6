/**
 * The daemon's API server and credentials, read without client-node where that is easy:
 * in-cluster (the DaemonSet: the service-account token and CA), and a kubeconfig whose current
 * context uses only a server, a CA (file or data), `insecure-skip-tls-verify`, `tls-server-name`,
 * a bearer token or token file, and a client certificate and key (files or data). That covers
 * the kubeconfigs Multus and kubeadm write. Anything else (exec plugins, auth providers, basic
 * auth, impersonation, proxies, a file we cannot parse) goes to client-node's KubeConfig
 * (kubeconfig-client-node.ts), loaded only then: it costs the daemon ~13 MB of RSS
 * (bench/results.md, "Memory, MB by MB").
 *
 * What is read mirrors client-node 1.4.0's KubeConfig: relative CA, certificate and key paths
 * are relative to the kubeconfig's directory, a token file's to the working directory; the files
 * are read again at every credential refresh; a token beats a token file; an http:// server
 * needs `insecure-skip-tls-verify`.
 */
import { readFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { type CredentialMaterial, type KubeTarget, tlsFingerprint } from "./kube-target.ts";

/** Where a pod finds its API server and service-account credentials. */
export interface InClusterConfig {
  host: string;
  port: string;
  tokenFile: string;
  caFile: string;
}

/** A current context's cluster and user, reduced to what we read ourselves. */
export interface SimpleKubeconfig {
  server: string;
  caFile?: string;
  caData?: string;
  skipTLSVerify: boolean;
  tlsServerName?: string;
  token?: string;
  tokenFile?: string;
  certFile?: string;
  certData?: string;
  keyFile?: string;
  keyData?: string;
}

const CLUSTER_KEYS = new Set([
  "server",
  "certificate-authority",
  "certificate-authority-data",
  "insecure-skip-tls-verify",
  "tls-server-name",
]);
const USER_KEYS = new Set([
  "token",
  "token-file",
  "client-certificate",
  "client-certificate-data",
  "client-key",
  "client-key-data",
]);

const HTTP_NEEDS_SKIP = "HTTP protocol is not allowed when skipTLSVerify is not set or false";

export async function loadKubeTarget(opts: {
  kubeconfigPath?: string;
  inCluster?: InClusterConfig;
}): Promise<KubeTarget> {
  if (opts.kubeconfigPath) {
    const simple = parseSimpleKubeconfig(readFileSync(opts.kubeconfigPath, "utf8"), opts.kubeconfigPath);
    if (simple) return simpleTarget(simple);
    return (await import("./kubeconfig-client-node.ts")).clientNodeTarget(opts.kubeconfigPath);
  }
  if (opts.inCluster) return inClusterTarget(opts.inCluster);
  throw new Error("Kubernetes client: neither a kubeconfig path nor in-cluster settings were given");
}

/** As client-node's loadFromCluster, with the given paths; the token file is followed as kubelet rotates it. */
export function inClusterTarget(c: InClusterConfig): KubeTarget {
  const scheme = c.port === "80" || c.port === "8080" || c.port === "8001" ? "http" : "https";
  const host = isIPv6(c.host) ? `[${c.host}]` : c.host;
  return simpleTarget({
    server: `${scheme}://${host}:${c.port}`,
    caFile: c.caFile,
    skipTLSVerify: false,
    tokenFile: c.tokenFile,
  });
}

function simpleTarget(k: SimpleKubeconfig): KubeTarget {
  return {
    server: k.server,
    ...(k.tokenFile !== undefined && k.token === undefined && { tokenFile: k.tokenFile }),
    async read(): Promise<CredentialMaterial> {
      if (k.server.startsWith("http:") && !k.skipTLSVerify) throw new Error(HTTP_NEEDS_SKIP);
      const tls: Bun.TLSOptions = {};
      if (k.skipTLSVerify) tls.rejectUnauthorized = false;
      if (k.tlsServerName) tls.serverName = k.tlsServerName;
      const ca = fileOrData(k.caFile, k.caData);
      if (ca) tls.ca = ca;
      const cert = fileOrData(k.certFile, k.certData);
      if (cert) tls.cert = cert;
      const key = fileOrData(k.keyFile, k.keyData);
      if (key) tls.key = key;
      const headers: Record<string, string> = k.token ? { authorization: `Bearer ${k.token}` } : {};
      return { headers, tls, fingerprint: tlsFingerprint(tls) };
    },
  };
}

/** client-node's bufferFromFileOrString: a file wins over inline base64 data. */
function fileOrData(file: string | undefined, data: string | undefined): Buffer | undefined {
  if (file) return readFileSync(file);
  if (data) return Buffer.from(data, "base64");
  return undefined;
}

type Entry = Record<string, unknown>;
const isEntry = (x: unknown): x is Entry => typeof x === "object" && x !== null && !Array.isArray(x);
const optString = (x: unknown): x is string | undefined => x === undefined || typeof x === "string";

/** The named entry's `key` object, as client-node's findObject picks it (the first of that name); {} when empty. */
function pick(list: unknown, name: unknown, key: string): Entry | undefined {
  if (!Array.isArray(list) || typeof name !== "string" || name === "") return undefined;
  const entry = list.find((e) => isEntry(e) && e.name === name);
  if (!isEntry(entry)) return undefined;
  const value = entry[key];
  // `user:` with nothing under it is an anonymous user, as client-node reads it.
  if (value === null || value === undefined) return {};
  return isEntry(value) ? value : undefined;
}

/**
 * The current context's cluster and user when they use nothing but the simple fields, paths
 * made absolute as client-node makes them; undefined for anything else (left to client-node,
 * whose errors then say what is wrong).
 */
export function parseSimpleKubeconfig(text: string, path: string): SimpleKubeconfig | undefined {
  let raw: unknown;
  try {
    raw = Bun.YAML.parse(text);
  } catch {
    return undefined;
  }
  if (!isEntry(raw)) return undefined;
  const context = pick(raw.contexts, raw["current-context"], "context");
  const cluster = pick(raw.clusters, context?.cluster, "cluster");
  const user = pick(raw.users, context?.user, "user");
  if (!cluster || !user) return undefined;
  if (Object.keys(cluster).some((k) => !CLUSTER_KEYS.has(k)) || Object.keys(user).some((k) => !USER_KEYS.has(k)))
    return undefined;
  const skip = cluster["insecure-skip-tls-verify"];
  const strings = [
    cluster["certificate-authority"],
    cluster["certificate-authority-data"],
    cluster["tls-server-name"],
    ...[...USER_KEYS].map((k) => user[k]),
  ];
  if (typeof cluster.server !== "string" || cluster.server === "" || !strings.every(optString)) return undefined;
  if (skip !== undefined && typeof skip !== "boolean") return undefined;
  const server = cluster.server;
  if (server.startsWith("http:") && skip !== true) return undefined;
  const dir = dirname(path);
  const abs = (f: unknown) => (typeof f === "string" && f !== "" ? (isAbsolute(f) ? f : join(dir, f)) : undefined);
  const str = (s: unknown) => (typeof s === "string" && s !== "" ? s : undefined);
  const tokenFile = str(user["token-file"]);
  return {
    server,
    caFile: abs(cluster["certificate-authority"]),
    caData: str(cluster["certificate-authority-data"]),
    skipTLSVerify: skip === true,
    tlsServerName: str(cluster["tls-server-name"]),
    token: str(user.token),
    tokenFile: tokenFile === undefined ? undefined : resolve(tokenFile),
    certFile: abs(user["client-certificate"]),
    certData: str(user["client-certificate-data"]),
    keyFile: abs(user["client-key"]),
    keyData: str(user["client-key-data"]),
  };
}
