/**
 * A bearer token kept in a file that rotates: a projected service-account token
 * (kubelet rewrites it well before it expires, often hourly, by swapping the
 * `..data` symlink of the volume) or a kubeconfig user's `token-file`.
 * client-node reads the first once a minute and the second only at load, so a
 * daemon would send an expired token until restarted; this reads the file again
 * whenever it changed (a stat per request, which follows the symlink, so a swap
 * shows as a new inode) or when asked to (after a 401).
 */
import { readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";

export interface TokenFile {
  readonly path: string;
  /** The current token; `force` re-reads the file even when it looks unchanged. */
  read(force?: boolean): Promise<string>;
}

export function createTokenFile(path: string): TokenFile {
  let stamp = "";
  let token = "";
  return {
    path,
    async read(force = false) {
      try {
        const s = await stat(path);
        const now = `${s.dev}:${s.ino}:${s.size}:${s.mtimeMs}`;
        if (!force && now === stamp && token) return token;
        const text = (await readFile(path, "utf8")).trim();
        // A file rewritten in place may be caught empty: keep the last token, look again next time.
        if (!text) throw new Error("the file is empty");
        token = text;
        stamp = now;
        return token;
      } catch (err) {
        // Rotation must never fail a request that the last token would still pass.
        if (token) return token;
        throw new Error(`Kubernetes client: cannot read the token file ${path}: ${(err as Error).message}`);
      }
    },
  };
}

/** The token file of the current user: the in-cluster tokenFile auth provider, or a kubeconfig `token-file`. */
export function tokenFileOf(kc: KubeConfig): string | undefined {
  const config = kc.getCurrentUser()?.authProvider?.config as { tokenFile?: unknown } | undefined;
  return typeof config?.tokenFile === "string" ? config.tokenFile : undefined;
}

/**
 * client-node reads a kubeconfig user's `token-file` once, into a fixed token. Turn
 * that user into one of the tokenFile auth provider (the in-cluster form) so the
 * file is followed as it rotates. A relative path is the one client-node read at
 * load: from the working directory (kubectl would resolve it from the kubeconfig's).
 */
export function followTokenFile(kc: KubeConfig, kubeconfigText: string): void {
  const name = kc.getCurrentUser()?.name;
  let raw: { users?: { name?: unknown; user?: Record<string, unknown> }[] } | null;
  try {
    raw = Bun.YAML.parse(kubeconfigText) as typeof raw;
  } catch {
    return; // client-node parsed it; without our reading, its token stays the one read at load
  }
  const entry = Array.isArray(raw?.users) ? raw.users.find((u) => u?.name === name) : undefined;
  const file = entry?.user?.["token-file"];
  if (typeof file !== "string" || entry?.user?.token !== undefined) return; // a fixed token wins, as in kubectl
  const path = resolve(file);
  kc.users = kc.users.map((u) =>
    u.name === name ? { ...u, token: undefined, authProvider: { name: "tokenFile", config: { tokenFile: path } } } : u,
  );
}
