/**
 * Where the daemon's API server is and how to authenticate to it, as the transport needs it:
 * the server URL, an optional proxy, an optional bearer-token file to follow, and a reader of
 * the rest (headers, TLS material) that is called again whenever credentials are refreshed.
 */
export interface CredentialMaterial {
  headers: Record<string, string>;
  tls: Bun.TLSOptions;
  /** Changes when the TLS material changes (the HTTPS session is rebuilt then). */
  fingerprint: string;
}

export interface KubeTarget {
  server: string;
  proxyUrl?: string;
  /** A bearer token file followed as it rotates (token-file.ts); its token overrides the headers'. */
  tokenFile?: string;
  read(): Promise<CredentialMaterial>;
  /** Changes when read() would return other material now (a renewed client certificate): credentials are read again at once. */
  version?(): number | undefined;
}

/** The fingerprint of TLS material: CA, certificate, key, verification and server name. */
export function tlsFingerprint(tls: Bun.TLSOptions): string {
  const b64 = (b: unknown) => (b ? Buffer.from(b as Buffer).toString("base64") : "");
  return String(
    Bun.hash(
      `${[tls.ca, tls.cert, tls.key].map(b64).join("|")}|${String(tls.rejectUnauthorized)}|${tls.serverName ?? ""}`,
    ),
  );
}
