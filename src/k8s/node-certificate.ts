/**
 * The daemon's per-node client certificate (Go Multus `perNodeCertificate`): the daemon
 * authenticates as `system:multus:<node>` (organization `system:multus`) with a certificate
 * of its own, issued through a CertificateSigningRequest (certificates.k8s.io/v1, signer
 * kubernetes.io/kube-apiserver-client, usages digital signature + client auth), and renews
 * it before it expires. This is what client-go's certificate manager does for the Go daemon:
 *
 * - the pair lives in certDir as `multus-client-<UTC timestamp>.pem` (certificate, then key,
 *   mode 0600) with the symlink `multus-client-current.pem` naming it, client-go's file
 *   store layout; a new pair is written beside the old one and the symlink swapped by
 *   rename, so a reader never sees half a pair, and a restart reuses a valid pair;
 * - a fresh ECDSA P-256 key for each request; the first request and any request while no
 *   valid certificate is held use the bootstrap kubeconfig, a renewal uses the certificate
 *   itself (and falls back to the bootstrap credentials when that is refused);
 * - renewal at a random point between 70% and 84% of the certificate's lifetime (client-go:
 *   0.7 jittered by up to 20%), and at once when the held certificate names another
 *   subject; failed attempts are retried after 2, 4, 8, 16 and then every 32 s.
 *
 * Until a renewed pair is on disk and loaded, requests keep using the old one; the swap is
 * one assignment (current()), so no request ever goes out with a half-new pair.
 */
import { createPrivateKey, type KeyObject, X509Certificate } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, symlink, unlink } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { sleep } from "../util/sleep.ts";
import { createCsrPem, generateClientKey } from "./csr.ts";
import { KubeApiError } from "./errors.ts";

export const CERT_NAME_PREFIX = "multus-client";
export const CURRENT_FILE = `${CERT_NAME_PREFIX}-current.pem`;
export const CERT_COMMON_NAME_PREFIX = "system:multus";
export const CERT_ORGANIZATION = "system:multus";
export const KUBE_APISERVER_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client";
export const CERT_USAGES = ["digital signature", "client auth"] as const;
const CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

/** The slice of KubeHttp this needs (client.ts passes its own). */
export interface CsrHttp {
  call<T>(
    req: { method: "GET" | "POST"; path: string; body?: unknown },
    opts: { timeoutMs: number; signal?: AbortSignal },
  ): Promise<T>;
}

export interface NodeCertificateLogger {
  error(msg: string): void;
  verbose(msg: string): void;
}

export interface ClientPair {
  /** PEM: the certificate (and any chain the signer returned). */
  cert: string;
  /** PEM private key. */
  key: string;
  notBefore: number;
  notAfter: number;
  /** Grows with every pair loaded; the credential source compares it. */
  version: number;
}

export interface NodeCertificateOptions {
  nodeName: string;
  certDir: string;
  /** Requested lifetime (CSR spec.expirationSeconds); the signer may issue a shorter one. */
  durationMs: number;
  /** Creates CSRs while no valid certificate is held (the bootstrap kubeconfig). */
  bootstrap: CsrHttp;
  /** Authenticated with the current certificate, for renewals; bootstrap when undefined. */
  renewWith?: () => CsrHttp | undefined;
  logger: NodeCertificateLogger;
  /** How long start() waits for a certificate (Go: 2 minutes). */
  startTimeoutMs?: number;
  /** How often an outstanding CSR is read until it is issued (default 250 ms). */
  pollMs?: number;
  /** Where the renewal point falls in [0.7, 0.84] of the lifetime (tests pin it; default random). */
  random?: () => number;
}

export interface NodeCertificate {
  readonly commonName: string;
  /** The pair requests use now; undefined before start() resolved. */
  current(): ClientPair | undefined;
  /** Reuses a valid pair from certDir or obtains one; rejects after startTimeoutMs. Then keeps renewing. */
  start(): Promise<void>;
  /** When the held certificate is renewed next (unix ms), for logs and tests. */
  nextRenewal(): number | undefined;
  stop(): void;
}

/** client-go's nextRotationDeadline: notBefore + lifetime x 0.7 x (1 + up to 0.2). */
export function renewalTime(pair: { notBefore: number; notAfter: number }, random: number): number {
  const total = pair.notAfter - pair.notBefore;
  return pair.notBefore + total * 0.7 * (1 + 0.2 * random);
}

export function createNodeCertificate(opts: NodeCertificateOptions): NodeCertificate {
  const commonName = `${CERT_COMMON_NAME_PREFIX}:${opts.nodeName}`;
  const stopped = new AbortController();
  const log = opts.logger;
  let pair: ClientPair | undefined;
  let version = 0;
  let renewAt: number | undefined;
  let loop: Promise<void> | undefined;

  /** Loads a pair, making it the current one when it is valid and ours. */
  function adopt(p: LoadedPair): void {
    pair = { ...p, version: ++version };
    renewAt = p.commonName === commonName ? renewalTime(p, (opts.random ?? Math.random)()) : Date.now();
    log.verbose(
      `per-node certificate ${commonName}: valid until ${new Date(p.notAfter).toISOString()}, ` +
        `renewal at ${new Date(renewAt).toISOString()}`,
    );
  }

  /** One CSR, waited for until issued, stored and adopted. */
  async function obtain(signal: AbortSignal): Promise<void> {
    const key = generateClientKey();
    const request = createCsrPem({ commonName, organizations: [CERT_ORGANIZATION] }, key);
    const held = pair && pair.notAfter > Date.now() ? opts.renewWith?.() : undefined;
    const csr = await createCsr(held ?? opts.bootstrap, request, signal).catch(async (err) => {
      // The certificate's user may lack the right to create CSRs: the bootstrap credentials still can.
      if (held && err instanceof KubeApiError && (err.status === 401 || err.status === 403))
        return createCsr(opts.bootstrap, request, signal);
      throw err;
    });
    log.verbose(`per-node certificate ${commonName}: requested ${csr}, waiting for it to be approved and issued`);
    const certPem = await waitForCertificate(held ?? opts.bootstrap, {
      name: csr,
      signal,
      pollMs: opts.pollMs ?? 250,
    });
    const loaded = parsePair(certPem, key);
    if (loaded.notAfter <= Date.now()) throw new Error(`${csr}: the issued certificate has already expired`);
    await storePair(opts.certDir, certPem, key);
    adopt(loaded);
  }

  function createCsr(http: CsrHttp, request: string, signal: AbortSignal): Promise<string> {
    return http
      .call<{ metadata?: { name?: string } }>(
        {
          method: "POST",
          path: CSR_PATH,
          body: {
            apiVersion: "certificates.k8s.io/v1",
            kind: "CertificateSigningRequest",
            metadata: { generateName: "csr-" },
            spec: {
              request: Buffer.from(request).toString("base64"),
              signerName: KUBE_APISERVER_CLIENT_SIGNER,
              usages: [...CERT_USAGES],
              expirationSeconds: Math.floor(opts.durationMs / 1000),
            },
          },
        },
        { timeoutMs: 30_000, signal },
      )
      .then((o) => {
        if (!o.metadata?.name) throw new Error("the API server returned a CSR without a name");
        return o.metadata.name;
      });
  }

  /** Renews at renewAt, retrying failures with client-go's backoff, until stopped. */
  async function renewLoop(): Promise<void> {
    const signal = stopped.signal;
    let failures = 0;
    while (!signal.aborted) {
      const wait = failures > 0 ? Math.min(2_000 * 2 ** (failures - 1), 32_000) : (renewAt ?? 0) - Date.now();
      // setTimeout holds at most ~24.8 days: wake up and look again
      if (wait > 0) await sleep(Math.min(wait, 2 ** 31 - 1), signal);
      if (signal.aborted) return;
      if (failures === 0 && (renewAt ?? 0) > Date.now()) continue;
      try {
        await obtain(signal);
        failures = 0;
      } catch (err) {
        if (signal.aborted) return;
        failures++;
        log.error(`per-node certificate ${commonName}: renewal failed (attempt ${failures}): ${messageOf(err)}`);
      }
    }
  }

  return {
    commonName,
    current: () => pair,
    nextRenewal: () => renewAt,
    async start() {
      await mkdir(opts.certDir, { recursive: true, mode: 0o700 });
      const stored = await loadPair(opts.certDir).catch((err) => {
        log.verbose(`per-node certificate: no usable pair in ${opts.certDir} (${messageOf(err)}), requesting one`);
        return undefined;
      });
      if (stored && stored.notAfter > Date.now()) adopt(stored);
      else {
        const limit = opts.startTimeoutMs ?? 120_000;
        const deadline = AbortSignal.any([stopped.signal, AbortSignal.timeout(limit)]);
        let last: unknown;
        for (let n = 1; !pair && !deadline.aborted; n++) {
          try {
            await obtain(deadline);
          } catch (err) {
            last = err;
            if (!deadline.aborted) log.error(`per-node certificate ${commonName}: ${messageOf(err)}`);
            await sleep(Math.min(1_000 * n, 8_000), deadline);
          }
        }
        if (!pair)
          throw new Error(`certificate was not signed within ${limit / 1000} s${last ? `: ${messageOf(last)}` : ""}`);
      }
      loop = renewLoop();
    },
    stop() {
      stopped.abort();
      void loop;
    },
  };
}

// --- the CSR -----------------------------------------------------------------------------------

interface CsrObject {
  status?: {
    certificate?: string;
    conditions?: Array<{ type?: string; status?: string; reason?: string; message?: string }>;
  };
}

/** Reads the CSR until it carries a certificate; a Denied or Failed condition ends the wait (client-go's WaitForCertificate). */
async function waitForCertificate(
  http: CsrHttp,
  o: { name: string; signal: AbortSignal; pollMs: number },
): Promise<string> {
  for (;;) {
    if (o.signal.aborted) throw new Error(`${o.name}: no certificate issued in time`);
    const csr = await http.call<CsrObject>(
      { method: "GET", path: `${CSR_PATH}/${encodeURIComponent(o.name)}` },
      { timeoutMs: 30_000, signal: o.signal },
    );
    for (const c of csr.status?.conditions ?? []) {
      if (c.status !== undefined && c.status !== "True") continue;
      if (c.type === "Denied" || c.type === "Failed")
        throw new Error(
          `certificate signing request ${o.name} is ${c.type === "Denied" ? "denied" : "failed"}, reason: ${c.reason ?? ""}, message: ${c.message ?? ""}`,
        );
    }
    const approved = csr.status?.conditions?.some((c) => c.type === "Approved" && c.status !== "False");
    if (approved && csr.status?.certificate) return Buffer.from(csr.status.certificate, "base64").toString("utf8");
    await sleep(o.pollMs, o.signal);
  }
}

// --- the file store ----------------------------------------------------------------------------

interface LoadedPair {
  cert: string;
  key: string;
  notBefore: number;
  notAfter: number;
  commonName: string;
}

const CERT_BLOCKS = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----\n?/g;
const KEY_BLOCK = /-----BEGIN (?:EC |RSA )?PRIVATE KEY-----[\s\S]*?-----END (?:EC |RSA )?PRIVATE KEY-----\n?/;

/** A pair from certificate PEM and key; throws when the certificate is not for the key. */
function parsePair(certPem: string, key: KeyObject): LoadedPair {
  const certs = certPem.match(CERT_BLOCKS);
  if (!certs) throw new Error("no certificate in PEM");
  const leaf = new X509Certificate(certs[0]!);
  if (!leaf.checkPrivateKey(key)) throw new Error("the certificate is not for the private key");
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1] ?? "";
  return {
    cert: certs.join(""),
    key: key.export({ type: key.asymmetricKeyType === "ec" ? "sec1" : "pkcs1", format: "pem" }).toString(),
    notBefore: Date.parse(leaf.validFrom),
    notAfter: Date.parse(leaf.validTo),
    commonName: cn,
  };
}

/** The pair `multus-client-current.pem` names (certificate and key in one file, as client-go writes it). */
export async function loadPair(certDir: string): Promise<LoadedPair> {
  const text = await readFile(join(certDir, CURRENT_FILE), "utf8");
  const keyPem = KEY_BLOCK.exec(text)?.[0];
  if (!keyPem) throw new Error(`${CURRENT_FILE} holds no private key`);
  return parsePair(text, createPrivateKey(keyPem));
}

/** UTC, client-go's "2006-01-02-15-04-05". */
function stamp(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}-${p(d.getUTCHours())}-${p(d.getUTCMinutes())}-${p(d.getUTCSeconds())}`;
}

/** Writes the pair (0600) beside the old ones, swaps the current symlink by rename, then removes older pairs. */
async function storePair(certDir: string, certPem: string, key: KeyObject): Promise<void> {
  const file = `${CERT_NAME_PREFIX}-${stamp(new Date())}.pem`;
  const keyPem = key.export({ type: key.asymmetricKeyType === "ec" ? "sec1" : "pkcs1", format: "pem" }).toString();
  await writeFileAtomic(join(certDir, file), `${certPem.trimEnd()}\n${keyPem}`, 0o600);
  const updated = join(certDir, `${CERT_NAME_PREFIX}-updated.pem`);
  await unlink(updated).catch(() => undefined);
  await symlink(file, updated);
  await rename(updated, join(certDir, CURRENT_FILE));
  // client-go keeps every pair it ever wrote; with lifetimes of minutes that fills the directory.
  for (const name of await readdir(certDir).catch(() => [] as string[])) {
    if (/^multus-client-\d{4}(-\d\d){5}\.pem$/.test(name) && name !== file)
      await rm(join(certDir, name), { force: true }).catch(() => undefined);
  }
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
