/**
 * A kubeconfig that kubeconfig.ts does not read itself (exec plugins, auth providers, basic
 * auth, impersonation, proxies, anything unusual) goes through client-node's KubeConfig, which
 * parses it and produces its credentials. This module is loaded only then: client-node's
 * `dist/config.js` and what it imports cost the daemon ~13 MB of RSS (bench/results.md,
 * "Memory, MB by MB").
 *
 * client-node is imported from its `dist/config.js` module rather than the package root: the
 * root also evaluates informer, watch, exec/attach (ws), cp (tar), metrics and top modules that
 * we never use. The version is pinned at 1.4.0.
 */
import { readFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { type CredentialMaterial, type KubeTarget, tlsFingerprint } from "./kube-target.ts";
import { followTokenFile, tokenFileOf } from "./token-file.ts";

/**
 * kc.loadFromFile, with an error that names the file and the parser's first
 * line only: the YAML parser's message goes on to quote the lines around the
 * error, which in a kubeconfig are a token or a client key.
 */
function loadKubeconfigFile(kc: KubeConfig, path: string): void {
  try {
    kc.loadFromFile(path);
  } catch (err) {
    const first = ((err as Error).message ?? String(err)).split("\n")[0];
    throw new Error(`kubeconfig ${path} cannot be read: ${first}`);
  }
}

/** A kubeconfig file loaded by client-node, its token file followed. */
export function loadKubeConfig(kubeconfigPath: string): KubeConfig {
  const kc = new KubeConfig();
  loadKubeconfigFile(kc, kubeconfigPath);
  followTokenFile(kc, readFileSync(kubeconfigPath, "utf8"));
  if (!kc.getCurrentCluster()) {
    throw new Error(`Kubernetes client: kubeconfig ${kubeconfigPath} names no current cluster`);
  }
  return kc;
}

export function clientNodeTarget(kubeconfigPath: string): KubeTarget {
  const kc = loadKubeConfig(kubeconfigPath);
  const cluster = kc.getCurrentCluster()!;
  return {
    server: cluster.server,
    proxyUrl: cluster.proxyUrl,
    tokenFile: tokenFileOf(kc),
    read: () => readCredentials(kc),
  };
}

/** Resolves tokens, token files, exec plugins and reads CA/cert/key files or inline data. */
async function readCredentials(kc: KubeConfig): Promise<CredentialMaterial> {
  const opts: RequestOptions = {};
  const init = await kc.applyToFetchOptions(opts);
  const headers: Record<string, string> = {};
  (init.headers as unknown as { forEach(cb: (v: string, k: string) => void): void } | undefined)?.forEach((v, k) => {
    headers[k] = v;
  });
  const tls: Bun.TLSOptions = {};
  if (opts.ca) tls.ca = opts.ca as Buffer;
  if (opts.cert) tls.cert = opts.cert as Buffer;
  if (opts.key) tls.key = opts.key as Buffer;
  if (opts.rejectUnauthorized !== undefined) tls.rejectUnauthorized = opts.rejectUnauthorized;
  if (opts.servername) tls.serverName = opts.servername;
  return { headers, tls, fingerprint: tlsFingerprint(tls) };
}
