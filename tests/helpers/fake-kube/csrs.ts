// CertificateSigningRequests (certificates.k8s.io/v1) as the API server and the
// kube-apiserver-client signer handle them: on create the server checks the request
// (a PEM CERTIFICATE REQUEST whose signature verifies) and fills spec.username,
// spec.groups and spec.uid from the requester; the /approval subresource takes
// status.conditions only; an approved request of signer kubernetes.io/kube-apiserver-client
// is then signed by the fake's CA, for at most `lifetimeSeconds` (shorter than the
// request's expirationSeconds, so tests see renewals within seconds). openssl does the
// certificate work, as it does for the fake's own TLS material.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { HttpError } from "./status.ts";
import type { Identity, KubeObject } from "./types.ts";

export const CSR_SIGNER = "kubernetes.io/kube-apiserver-client";

export interface CsrSigner {
  /** Seconds a certificate signed from now on is valid at most. */
  lifetimeSeconds: number;
  /** Certificates issued so far (PEM), oldest first. */
  readonly issued: string[];
  /** Checks a new CSR and fills what the API server fills; throws 422 as the server would. */
  admit(body: KubeObject, requester: Identity): void;
  /** The conditions of an /approval update laid on the stored object; true when it now needs signing. */
  approve(stored: KubeObject, update: KubeObject): boolean;
  /** Signs an approved CSR: status.certificate (base64 PEM), or a Failed condition. */
  sign(csr: KubeObject): void;
}

export function createCsrSigner(o: {
  dir: string;
  caFile: string;
  caKeyFile: string;
  lifetimeSeconds: number;
}): CsrSigner {
  const issued: string[] = [];
  const signer: CsrSigner = {
    lifetimeSeconds: o.lifetimeSeconds,
    issued,
    admit(body, requester) {
      const spec = (body.spec ?? {}) as Record<string, unknown>;
      const request = typeof spec.request === "string" ? Buffer.from(spec.request, "base64").toString("utf8") : "";
      if (!request.includes("-----BEGIN CERTIFICATE REQUEST-----"))
        throw new HttpError(
          422,
          "spec.request: Invalid value: []byte{...}: PEM block type must be CERTIFICATE REQUEST",
        );
      if (!verifyRequest(o.dir, request))
        throw new HttpError(422, "spec.request: Invalid value: []byte{...}: x509: ECDSA verification failure");
      if (typeof spec.signerName !== "string" || spec.signerName === "")
        throw new HttpError(422, "spec.signerName: Required value");
      const exp = spec.expirationSeconds;
      if (exp !== undefined && (typeof exp !== "number" || exp < 600))
        throw new HttpError(
          422,
          "spec.expirationSeconds: Invalid value: may not specify a duration less than 600 seconds",
        );
      spec.username = requester.username;
      spec.groups = requester.groups;
      spec.uid = requester.uid ?? "";
      body.spec = spec;
      body.status = {};
    },
    approve(stored, update) {
      const conditions = ((update.status as { conditions?: unknown } | undefined)?.conditions ?? []) as Condition[];
      const status = (stored.status ?? {}) as { conditions?: Condition[]; certificate?: string };
      const had = new Set((status.conditions ?? []).map((c) => c.type));
      if (conditions.some((c) => c.type === "Approved") && conditions.some((c) => c.type === "Denied"))
        throw new HttpError(
          422,
          "status.conditions: Invalid value: Approved and Denied conditions are mutually exclusive",
        );
      for (const kept of ["Approved", "Denied"])
        if (had.has(kept) && !conditions.some((c) => c.type === kept))
          throw new HttpError(
            422,
            `status.conditions: Forbidden: updates may not remove a condition of type "${kept}"`,
          );
      status.conditions = conditions.map((c) => ({
        ...c,
        lastUpdateTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
      }));
      stored.status = status;
      const spec = stored.spec as { signerName?: string };
      return (
        !status.certificate &&
        spec.signerName === CSR_SIGNER &&
        status.conditions.some((c) => c.type === "Approved" && c.status === "True") &&
        !status.conditions.some((c) => c.type === "Denied" || c.type === "Failed")
      );
    },
    sign(csr) {
      const spec = csr.spec as { request: string; expirationSeconds?: number };
      const status = (csr.status ?? {}) as { conditions?: Condition[]; certificate?: string };
      const seconds = Math.min(signer.lifetimeSeconds, spec.expirationSeconds ?? 365 * 86_400);
      try {
        const pem = signRequest({ ...o, request: Buffer.from(spec.request, "base64").toString("utf8"), seconds });
        status.certificate = Buffer.from(pem).toString("base64");
        issued.push(pem);
      } catch (err) {
        status.conditions = [
          ...(status.conditions ?? []),
          { type: "Failed", status: "True", reason: "SignerFailed", message: (err as Error).message },
        ];
      }
      csr.status = status;
    },
  };
  return signer;
}

interface Condition {
  type: string;
  status?: string;
  reason?: string;
  message?: string;
  [k: string]: unknown;
}

function openssl(args: string[], cwd: string): string {
  const r = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString().trim()}`);
  return r.stdout.toString();
}

function verifyRequest(dir: string, request: string): boolean {
  const work = mkdtempSync(join(dir, "csr-"));
  try {
    writeFileSync(join(work, "req.pem"), request);
    openssl(["req", "-in", "req.pem", "-noout", "-verify"], work);
    return true;
  } catch {
    return false;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** YYMMDDHHMMSSZ, as `openssl ca -startdate/-enddate` takes it. */
function asn1Time(ms: number): string {
  return `${new Date(ms).toISOString().slice(2, 19).replace(/[-T:]/g, "")}Z`;
}

/** `openssl ca`: the request's subject kept as written, client-auth usages, the given validity in seconds. */
function signRequest(o: { dir: string; caFile: string; caKeyFile: string; request: string; seconds: number }): string {
  const work = mkdtempSync(join(o.dir, "sign-"));
  try {
    writeFileSync(join(work, "req.pem"), o.request);
    writeFileSync(join(work, "index.txt"), "");
    // openssl reads the serial as hex bytes: an even count of digits (BigInt's hex dropped a
    // leading zero, 1 in 16 CSRs then failed with "odd number of chars"), positive, not zero.
    writeFileSync(join(work, "serial"), `1${crypto.randomUUID().replace(/-/g, "").slice(1)}\n`);
    writeFileSync(
      join(work, "ca.cnf"),
      [
        "[ca]",
        "default_ca = fake",
        "[fake]",
        "dir = .",
        "database = index.txt",
        "new_certs_dir = .",
        "serial = serial",
        "default_md = sha256",
        "policy = any",
        "unique_subject = no",
        "email_in_dn = no",
        "[any]",
        "organizationName = optional",
        "commonName = supplied",
        "[client]",
        "basicConstraints = critical,CA:FALSE",
        "keyUsage = critical,digitalSignature",
        "extendedKeyUsage = clientAuth",
        "",
      ].join("\n"),
    );
    const now = Date.now();
    openssl(
      [
        "ca",
        "-batch",
        "-config",
        "ca.cnf",
        "-extensions",
        "client",
        "-preserveDN",
        "-notext",
        "-cert",
        o.caFile,
        "-keyfile",
        o.caKeyFile,
        "-startdate",
        asn1Time(now - 1_000),
        "-enddate",
        asn1Time(now + o.seconds * 1000),
        "-in",
        "req.pem",
        "-out",
        "cert.pem",
      ],
      work,
    );
    return readFileSync(join(work, "cert.pem"), "utf8");
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
