import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import {
  decodeOid,
  directoryString,
  encodeLength,
  fromPem,
  integer,
  isPrintable,
  oid,
  readChildren,
  readOnly,
  readTlv,
  sequence,
  setOf,
  Tag,
  tlv,
  toPem,
} from "./der.ts";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("DER lengths", () => {
  test.each([
    [0, "00"],
    [127, "7f"],
    [128, "8180"],
    [255, "81ff"],
    [256, "820100"],
    [65_535, "82ffff"],
    [65_536, "83010000"],
  ])("%d is %s", (n, want) => {
    expect(hex(encodeLength(n))).toBe(want);
  });

  test("every length reads back through readTlv", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 70_000 }), (n) => {
        const enc = tlv(Tag.OCTET_STRING, new Uint8Array(n));
        const { tlv: t, next } = readTlv(enc);
        return t.content.length === n && next === enc.length && t.raw.length === enc.length;
      }),
      { numRuns: 50 },
    );
  });

  test("a length not in its shortest form, a truncated value and trailing bytes are refused", () => {
    expect(() => readTlv(Uint8Array.from([0x04, 0x81, 0x05, 1, 2, 3, 4, 5]))).toThrow("shortest form");
    expect(() => readTlv(Uint8Array.from([0x04, 0x05, 1, 2]))).toThrow("truncated");
    expect(() => readOnly(Uint8Array.from([0x05, 0x00, 0x00]), Tag.NULL, "x")).toThrow("trailing bytes");
  });
});

describe("DER values", () => {
  test.each([
    [0, "020100"],
    [127, "02017f"],
    [128, "02020080"],
    [256, "02020100"],
  ])("INTEGER %d is %s", (n, want) => {
    expect(hex(integer(n))).toBe(want);
  });

  test.each([
    ["2.5.4.3", "0603550403"],
    ["2.5.4.10", "060355040a"],
    ["1.2.840.10045.4.3.2", "06082a8648ce3d040302"],
    ["1.2.840.113549.1.1.11", "06092a864886f70d01010b"],
  ])("OID %s is %s and reads back", (dotted, want) => {
    const enc = oid(dotted);
    expect(hex(enc)).toBe(want);
    expect(decodeOid(readTlv(enc).tlv.content)).toBe(dotted);
  });

  test("any OID reads back", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 }),
        fc.integer({ min: 0, max: 39 }),
        fc.array(fc.integer({ min: 0, max: 2 ** 31 }), { maxLength: 6 }),
        (a, b, rest) => {
          const dotted = [a, b, ...rest].join(".");
          return decodeOid(readTlv(oid(dotted)).tlv.content) === dotted;
        },
      ),
    );
  });

  test("strings: PrintableString when Go would choose it, else UTF8String", () => {
    expect(isPrintable("system:multus:node-1.example")).toBe(true);
    expect(directoryString("system:multus")[0]).toBe(Tag.PRINTABLE_STRING);
    expect(directoryString("a_b")[0]).toBe(Tag.UTF8_STRING);
    expect(directoryString("knoten-ü")[0]).toBe(Tag.UTF8_STRING);
  });

  test("a SET OF is sorted by encoding; a SEQUENCE keeps its order", () => {
    const a = integer(2);
    const b = integer(1);
    expect(hex(setOf(a, b))).toBe(`3106${hex(b)}${hex(a)}`);
    expect(readChildren(readOnly(sequence(a, b), Tag.SEQUENCE, "s").content).map((t) => hex(t.raw))).toEqual([
      hex(a),
      hex(b),
    ]);
  });

  test("PEM round trip, 64 columns", () => {
    const der = new Uint8Array(100).map((_, i) => i);
    const pem = toPem("THING", der);
    expect(pem.split("\n")[1]!.length).toBe(64);
    expect(hex(fromPem(`junk\n${pem}`, "THING")!)).toBe(hex(der));
    expect(fromPem(pem, "OTHER")).toBeUndefined();
  });
});
