/**
 * Credentials for the API server, read by kubeconfig.ts (or client-node's KubeConfig for
 * exec plugins, OIDC and the like) and carried as request headers plus one
 * Bun.FetchSession holding the TLS material. Headers are re-read every CREDENTIALS_TTL_MS
 * (exec plugins, OIDC); a bearer token file is followed on every get() (token-file.ts), so a
 * rotated projected token is sent from the first request after the swap. The session is rebuilt
 * only when the TLS material changes, so idle keep-alive connections survive a token refresh.
 */
import type { KubeTarget } from "./kube-target.ts";
import { createTokenFile } from "./token-file.ts";
/** Credentials (headers) are refreshed this often; the TLS session is rebuilt when its files change. */
const CREDENTIALS_TTL_MS = 10_000;

export interface Credentials {
  headers: Record<string, string>;
  session: Bun.FetchSession;
  at: number;
}

export interface CredentialSource {
  /** Current credentials; one refresh at a time when they are older than the TTL. */
  get(): Promise<Credentials>;
  /** Forget the cached headers (after a 401): the next get() re-reads them and the token file. */
  invalidate(): void;
  /** Closes the session's idle connections. */
  close(): void;
}

export function createCredentialSource(target: KubeTarget): CredentialSource {
  let current: Credentials | undefined;
  let readVersion: number | undefined;
  let pending: Promise<Credentials> | undefined;
  let session: Bun.FetchSession | undefined;
  let tlsFingerprint = "";
  const tokenFile = target.tokenFile ? createTokenFile(target.tokenFile) : undefined;
  let forceToken = false;

  /** The bearer token from the file, laid over the headers (client-node re-reads it only once a minute). */
  async function withToken(c: Credentials): Promise<Credentials> {
    if (!tokenFile) return c;
    const force = forceToken;
    forceToken = false;
    const token = await tokenFile.read(force);
    return { ...c, headers: { ...c.headers, authorization: `Bearer ${token}` } };
  }

  async function refresh(): Promise<Credentials> {
    const version = target.version?.();
    const { headers, tls, fingerprint } = await target.read();
    readVersion = version;
    if (!session || fingerprint !== tlsFingerprint) {
      session?.close(); // idle connections only; requests in flight finish
      session = new Bun.FetchSession({
        ...(target.server.startsWith("https:") && { tls }),
        ...(target.proxyUrl && { proxy: target.proxyUrl }),
      });
      tlsFingerprint = fingerprint;
    }
    current = { headers, session, at: Date.now() };
    return current;
  }

  return {
    async get() {
      // A renewed client certificate (node-certificate.ts) is taken by the first request after
      // the swap: its new session is built while requests in flight finish on the old one.
      const renewed = target.version !== undefined && target.version() !== readVersion;
      if (current && !renewed && Date.now() - current.at < CREDENTIALS_TTL_MS) return withToken(current);
      pending ??= refresh().finally(() => (pending = undefined));
      return withToken(await pending);
    },
    invalidate() {
      current = undefined;
      forceToken = true;
    },
    close() {
      session?.close();
    },
  };
}
