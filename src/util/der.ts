/**
 * The little of ASN.1 DER that a PKCS#10 certificate request needs: writing
 * SEQUENCE, SET, INTEGER, OBJECT IDENTIFIER, strings, BIT STRING and a
 * context tag, and reading a TLV back. node:crypto signs and exports keys but
 * builds no certificate request, and the product must not need the openssl
 * binary on the node. DER (X.690 §10): definite lengths in their shortest form.
 */

export const Tag = {
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** The length octets: one byte below 128, else 0x80|n followed by n big-endian bytes. */
export function encodeLength(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`DER: invalid length ${n}`);
  if (n < 0x80) return Uint8Array.of(n);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Uint8Array.of(0x80 | bytes.length, ...bytes);
}

export function tlv(tag: number, content: Uint8Array): Uint8Array {
  return concat([Uint8Array.of(tag), encodeLength(content.length), content]);
}

export const sequence = (...items: Uint8Array[]): Uint8Array => tlv(Tag.SEQUENCE, concat(items));

/** A SET OF, its elements sorted by their encodings as DER requires. */
export function setOf(...items: Uint8Array[]): Uint8Array {
  const sorted = [...items].sort(compareBytes);
  return tlv(Tag.SET, concat(sorted));
}

/** A non-negative INTEGER (a leading zero byte keeps the top bit clear). */
export function integer(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0) throw new Error(`DER: only non-negative integers are written, not ${n}`);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  if (bytes.length === 0 || (bytes[0]! & 0x80) !== 0) bytes.unshift(0);
  return tlv(Tag.INTEGER, Uint8Array.from(bytes));
}

/** An OBJECT IDENTIFIER from its dotted form ("2.5.4.3"). */
export function oid(dotted: string): Uint8Array {
  const arcs = dotted.split(".").map((a) => {
    if (!/^\d+$/.test(a)) throw new Error(`DER: invalid object identifier ${dotted}`);
    return Number(a);
  });
  if (arcs.length < 2 || arcs[0]! > 2 || (arcs[0]! < 2 && arcs[1]! > 39))
    throw new Error(`DER: invalid object identifier ${dotted}`);
  const out: number[] = [];
  const [first, second, ...rest] = arcs as [number, number, ...number[]];
  for (const arc of [first * 40 + second, ...rest]) {
    const groups: number[] = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) groups.unshift(0x80 | (v & 0x7f));
    out.push(...groups);
  }
  return tlv(Tag.OID, Uint8Array.from(out));
}

/** The dotted form of an OBJECT IDENTIFIER's content octets. */
export function decodeOid(content: Uint8Array): string {
  const arcs: number[] = [];
  let v = 0;
  for (const b of content) {
    v = v * 128 + (b & 0x7f);
    if ((b & 0x80) === 0) {
      if (arcs.length === 0) arcs.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else arcs.push(v);
      v = 0;
    }
  }
  return arcs.join(".");
}

/** PrintableString's alphabet (X.680 §41.4), which Go's encoder prefers when a string fits it. */
export function isPrintable(s: string): boolean {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(s);
}

/** A directory string as Go's x509 writes one: PrintableString when it fits, else UTF8String. */
export function directoryString(s: string): Uint8Array {
  return tlv(isPrintable(s) ? Tag.PRINTABLE_STRING : Tag.UTF8_STRING, new TextEncoder().encode(s));
}

/** A BIT STRING of whole bytes (no unused bits). */
export const bitString = (bytes: Uint8Array): Uint8Array => tlv(Tag.BIT_STRING, concat([Uint8Array.of(0), bytes]));

/** A constructed context-specific tag [n] (IMPLICIT: the content as given). */
export const contextTag = (n: number, content: Uint8Array): Uint8Array => tlv(0xa0 | n, content);

// --- reading -----------------------------------------------------------------------------------

export interface Tlv {
  tag: number;
  /** The content octets. */
  content: Uint8Array;
  /** The whole encoding, tag and length included. */
  raw: Uint8Array;
}

/** The TLV at `offset`, and where the next one starts; throws on a truncated or non-DER length. */
export function readTlv(buf: Uint8Array, offset = 0): { tlv: Tlv; next: number } {
  if (offset + 2 > buf.length) throw new Error("DER: truncated");
  const tag = buf[offset]!;
  if ((tag & 0x1f) === 0x1f) throw new Error("DER: multi-byte tags are not supported");
  let len = buf[offset + 1]!;
  let pos = offset + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4) throw new Error("DER: unsupported length");
    if (pos + n > buf.length) throw new Error("DER: truncated");
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[pos + i]!;
    if (len < 0x80 || buf[pos] === 0) throw new Error("DER: length not in its shortest form");
    pos += n;
  }
  if (pos + len > buf.length) throw new Error("DER: truncated");
  return { tlv: { tag, content: buf.subarray(pos, pos + len), raw: buf.subarray(offset, pos + len) }, next: pos + len };
}

/** The elements of a constructed value's content. */
export function readChildren(content: Uint8Array): Tlv[] {
  const out: Tlv[] = [];
  for (let pos = 0; pos < content.length; ) {
    const { tlv: t, next } = readTlv(content, pos);
    out.push(t);
    pos = next;
  }
  return out;
}

/** Exactly one TLV of `tag` filling `buf`. */
export function readOnly(buf: Uint8Array, tag: number, what: string): Tlv {
  const { tlv: t, next } = readTlv(buf);
  if (t.tag !== tag) throw new Error(`DER: ${what}: expected tag 0x${tag.toString(16)}, got 0x${t.tag.toString(16)}`);
  if (next !== buf.length) throw new Error(`DER: ${what}: trailing bytes`);
  return t;
}

// --- PEM ---------------------------------------------------------------------------------------

export function toPem(label: string, der: Uint8Array): string {
  const b64 = Buffer.from(der).toString("base64");
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** The DER of the first PEM block labelled `label`, or undefined. */
export function fromPem(text: string, label: string): Uint8Array | undefined {
  const re = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*?)-----END ${label}-----`);
  const m = re.exec(text);
  if (!m) return undefined;
  return new Uint8Array(Buffer.from(m[1]!.replace(/\s+/g, ""), "base64"));
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}
