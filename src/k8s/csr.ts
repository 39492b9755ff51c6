/**
 * PKCS#10 certificate requests (RFC 2986) for the per-node client certificate:
 * written with an ECDSA P-256 key as client-go's certificate manager does, and
 * read back (subject, key, signature) by the approver. node:crypto signs and
 * verifies; the DER around it is util/der.ts.
 */
import { createPublicKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import {
  bitString,
  contextTag,
  decodeOid,
  directoryString,
  fromPem,
  integer,
  oid,
  readChildren,
  readOnly,
  sequence,
  setOf,
  Tag,
  toPem,
} from "../util/der.ts";

const OID = {
  commonName: "2.5.4.3",
  organization: "2.5.4.10",
  ecdsaWithSHA256: "1.2.840.10045.4.3.2",
} as const;

export interface CsrSubject {
  commonName: string;
  organizations: string[];
}

/** A fresh ECDSA P-256 key, as client-go's certificate manager generates for each request. */
export function generateClientKey(): KeyObject {
  return generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;
}

/** The key in PKCS#8 PEM ("PRIVATE KEY"), as kubeconfigs and client-go's file store accept it. */
export function keyToPem(key: KeyObject): string {
  return key.export({ type: "pkcs8", format: "pem" }).toString();
}

/**
 * A CERTIFICATE REQUEST PEM for `subject`, signed with `key` (ECDSA with SHA-256).
 * The subject is written in Go's order (organizations, then the common name) with
 * Go's string types, so the request matches the one the Go daemon sends.
 */
export function createCsrPem(subject: CsrSubject, key: KeyObject): string {
  const rdn = (type: string, value: string) => setOf(sequence(oid(type), directoryString(value)));
  const name = sequence(
    ...subject.organizations.map((o) => rdn(OID.organization, o)),
    ...(subject.commonName ? [rdn(OID.commonName, subject.commonName)] : []),
  );
  const spki = new Uint8Array(createPublicKey(key).export({ type: "spki", format: "der" }));
  // attributes [0] IMPLICIT SET OF Attribute: none
  const info = sequence(integer(0), name, spki, contextTag(0, new Uint8Array(0)));
  const signature = new Uint8Array(sign("sha256", info, { key, dsaEncoding: "der" }));
  const der = sequence(info, sequence(oid(OID.ecdsaWithSHA256)), bitString(signature));
  return toPem("CERTIFICATE REQUEST", der);
}

export interface ParsedCsr extends CsrSubject {
  /** The request's signature checks out against its own public key. */
  signatureValid: boolean;
}

/** Subject and signature check of a CERTIFICATE REQUEST PEM; throws when it is not one. */
export function parseCsrPem(pem: string): ParsedCsr {
  const der = fromPem(pem, "CERTIFICATE REQUEST") ?? fromPem(pem, "NEW CERTIFICATE REQUEST");
  if (!der) throw new Error("no CERTIFICATE REQUEST PEM block found");
  const [info, algorithm, signature] = readChildren(readOnly(der, Tag.SEQUENCE, "CertificationRequest").content);
  if (!info || info.tag !== Tag.SEQUENCE || !algorithm || !signature || signature.tag !== Tag.BIT_STRING)
    throw new Error("not a PKCS#10 CertificationRequest");
  const [version, name, spki] = readChildren(info.content);
  if (!version || version.tag !== Tag.INTEGER || !name || name.tag !== Tag.SEQUENCE || !spki)
    throw new Error("not a PKCS#10 CertificationRequestInfo");
  const subject: CsrSubject = { commonName: "", organizations: [] };
  for (const set of readChildren(name.content)) {
    for (const atv of readChildren(set.content)) {
      const [type, value] = readChildren(atv.content);
      if (!type || type.tag !== Tag.OID || !value) continue;
      const text = new TextDecoder().decode(value.content);
      const t = decodeOid(type.content);
      if (t === OID.commonName) subject.commonName = text;
      else if (t === OID.organization) subject.organizations.push(text);
    }
  }
  return {
    ...subject,
    signatureValid: checkSignature({ info: info.raw, algorithm: algorithm.content, spki, signature }),
  };
}

function checkSignature(p: {
  info: Uint8Array;
  algorithm: Uint8Array;
  spki: { raw: Uint8Array };
  signature: { content: Uint8Array };
}): boolean {
  try {
    const [alg] = readChildren(p.algorithm);
    const hash = alg && alg.tag === Tag.OID ? HASH_OF[decodeOid(alg.content)] : undefined;
    if (!hash || p.signature.content[0] !== 0) return false;
    const key = createPublicKey({ key: Buffer.from(p.spki.raw), format: "der", type: "spki" });
    return verify(hash, p.info, { key, dsaEncoding: "der" }, p.signature.content.subarray(1));
  } catch {
    return false;
  }
}

/** Signature algorithms a request may use (ECDSA and RSA with SHA-2), by OID. */
const HASH_OF: Record<string, string> = {
  [OID.ecdsaWithSHA256]: "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
};
