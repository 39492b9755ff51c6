/**
 * Credentials for the API server, produced by client-node's KubeConfig (tokens, token files,
 * exec plugins, OIDC, client certificates, CA) and carried as request headers plus one
 * Bun.FetchSession holding the TLS material. Headers are re-read every CREDENTIALS_TTL_MS
 * (exec plugins, OIDC); a bearer token file is followed on every get() (token-file.ts), so a
 * rotated projected token is sent from the first request after the swap. The session is rebuilt
 * only when the TLS material changes, so idle keep-alive connections survive a token refresh.
 */
import type { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import type { RequestOptions } from "node:https";
import { createTokenFile, tokenFileOf } from "./token-file.ts";

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

export function createCredentialSource(kc: KubeConfig, opts: { server: string; proxyUrl?: string }): CredentialSource {
  let current: Credentials | undefined;
  let pending: Promise<Credentials> | undefined;
  let session: Bun.FetchSession | undefined;
  let tlsFingerprint = "";
  const path = tokenFileOf(kc);
  const tokenFile = path ? createTokenFile(path) : undefined;
  let forceToken = false;

  /** The bearer token from the file, laid over client-node's (which it re-reads only once a minute). */
  async function withToken(c: Credentials): Promise<Credentials> {
    if (!tokenFile) return c;
    const force = forceToken;
    forceToken = false;
    const token = await tokenFile.read(force);
    return { ...c, headers: { ...c.headers, authorization: `Bearer ${token}` } };
  }

  async function refresh(): Promise<Credentials> {
    const { headers, tls, fingerprint } = await readCredentials(kc);
    if (!session || fingerprint !== tlsFingerprint) {
      session?.close(); // idle connections only; requests in flight finish
      session = new Bun.FetchSession({
        ...(opts.server.startsWith("https:") && { tls }),
        ...(opts.proxyUrl && { proxy: opts.proxyUrl }),
      });
      tlsFingerprint = fingerprint;
    }
    current = { headers, session, at: Date.now() };
    return current;
  }

  return {
    async get() {
      if (current && Date.now() - current.at < CREDENTIALS_TTL_MS) return withToken(current);
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

/** Resolves tokens, token files, exec plugins and reads CA/cert/key files or inline data. */
async function readCredentials(
  kc: KubeConfig,
): Promise<{ headers: Record<string, string>; tls: Bun.TLSOptions; fingerprint: string }> {
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
  const fingerprint = String(
    Bun.hash(
      [opts.ca, opts.cert, opts.key].map((b) => (b ? Buffer.from(b as Buffer).toString("base64") : "")).join("|") +
        `|${String(tls.rejectUnauthorized)}|${tls.serverName ?? ""}`,
    ),
  );
  return { headers, tls, fingerprint };
}
