// Shared settings and generators of the hostile-input properties (docs/reliability.md,
// "Hostile input"). A fixed seed keeps CI reproducible; FC_SEED and FC_RUNS override
// it and every property's case count, and a failure prints the seed and path that
// replay it (`FC_SEED=<seed> FC_PATH=<path> bun test tests/fuzz/<file>`).
import { expect } from "bun:test";
import fc from "fast-check";
import { CniError } from "../../src/cni/errors.ts";

export { fc };

const DEFAULT_SEED = 20261203;

export const FC_SEED = process.env.FC_SEED ? Number(process.env.FC_SEED) : DEFAULT_SEED;

/** fast-check parameters for a property of `numRuns` cases (FC_RUNS overrides the count). */
export function fcParams<T>(numRuns: number): fc.Parameters<T> {
  const runs = process.env.FC_RUNS ? Number(process.env.FC_RUNS) : numRuns;
  return {
    seed: FC_SEED,
    numRuns: runs,
    ...(process.env.FC_PATH && { path: process.env.FC_PATH }),
  };
}

/** The issue asks for this many generated cases per surface. */
export const CASES_PER_SURFACE = 10_000;

/** What a decoder may throw: a CniError whose message says something, never a TypeError or RangeError. */
export function caughtCniError(fn: () => unknown): CniError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (!(err instanceof CniError)) {
      throw new Error(`threw ${err instanceof Error ? err.name : typeof err}, not a CniError: ${String(err)}`);
    }
    expect(err.msg.length).toBeGreaterThan(0);
    return err;
  }
}

/** A CNI error object as the wire carries it: integer code, non-empty msg, optional string details. */
export function expectCniErrorObject(x: unknown): { code: number; msg: string; details?: string } {
  expect(typeof x).toBe("object");
  const o = x as Record<string, unknown>;
  expect(Number.isInteger(o.code)).toBe(true);
  expect(typeof o.msg).toBe("string");
  expect((o.msg as string).length).toBeGreaterThan(0);
  if (o.details !== undefined) expect(typeof o.details).toBe("string");
  return o as { code: number; msg: string; details?: string };
}

// ---------------------------------------------------------------------------
// Generators

/** Lone surrogates: valid in a JS string, not representable in UTF-8. */
const loneSurrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c));

/** Text a hostile caller might send: any code point, controls, lone surrogates, NUL. */
export const hostileText: fc.Arbitrary<string> = fc.oneof(
  fc.string({ unit: "binary", maxLength: 40 }),
  fc.string({
    unit: fc.oneof(fc.constantFrom("\0", "\n", "\t", " ", "/", ":", ";", "=", ",", "@", '"'), loneSurrogate),
  }),
  fc.string({ unit: "grapheme", maxLength: 20 }),
);

/** A few big values, built once: generating a megabyte per case would dominate the run. */
const HUGE = ["x".repeat(1 << 20), "é".repeat(1 << 16), "9".repeat(4096)];
export const hugeText: fc.Arbitrary<string> = fc.constantFrom(...HUGE);

/** Nested arrays and objects `depth` deep: past what a recursive encoder's stack takes. */
export function deepJson(depth: number, kind: "array" | "object"): string {
  return kind === "array"
    ? `${"[".repeat(depth)}${"]".repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${"}".repeat(depth)}`;
}
/** Built once, around Go's limit of 10000 levels and well past it. */
const DEEP = [2_000, 10_000, 10_001, 50_000].flatMap((depth) =>
  (["array", "object"] as const).map((kind) =>
    labelled({ depth, kind, text: deepJson(depth, kind) }, `deepJson(${depth}, "${kind}")`),
  ),
);
export const deepJsonText: fc.Arbitrary<{ depth: number; kind: "array" | "object"; text: string }> = fc.constantFrom(
  ...DEEP,
);

/** `value`, printed as `label` in a counterexample (a megabyte of brackets helps nobody). */
export function labelled<T extends object>(value: T, label: string): T {
  return Object.assign(value, { [fc.toStringMethod]: () => label });
}

/** Any JSON value, including keys that are special to JavaScript objects. */
export const hostileJsonValue: fc.Arbitrary<unknown> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.constantFrom(null, true, false, 0, -1, 1.5, 1e308, -0, "", "__proto__", "constructor"),
    hostileText,
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(fc.oneof(hostileText, fc.constantFrom("__proto__", "constructor", "toString")), tie("value"), {
      maxKeys: 4,
    }),
  ),
})).value;

/** Bytes that are not UTF-8 (a stray continuation byte, a truncated sequence, an overlong form). */
export const invalidUtf8: fc.Arbitrary<Uint8Array> = fc
  .tuple(
    fc.uint8Array({ maxLength: 16 }),
    fc.constantFrom([0x80], [0xc3], [0xe2, 0x82], [0xc0, 0xaf], [0xff, 0xfe], [0xed, 0xa0, 0x80]),
    fc.uint8Array({ maxLength: 16 }),
  )
  .map(([a, bad, b]) => new Uint8Array([...a, ...bad, ...b]));

/** `text` with a few characters replaced, inserted or deleted at random places. */
export function mutated(text: string): fc.Arbitrary<string> {
  const edit = fc.tuple(
    fc.constantFrom("replace", "insert", "delete" as const),
    fc.nat(),
    fc.oneof(
      fc.constantFrom("{", "}", "[", "]", '"', ",", ":", "\\", "\0", "\n", "/", "@", "=", ";", " "),
      fc.string({ unit: "binary", minLength: 1, maxLength: 3 }),
    ),
  );
  return fc.array(edit, { minLength: 1, maxLength: 4 }).map((edits) => {
    let s = text;
    for (const [op, at, chunk] of edits) {
      const i = s.length === 0 ? 0 : at % s.length;
      if (op === "replace") s = s.slice(0, i) + chunk + s.slice(i + 1);
      else if (op === "insert") s = s.slice(0, i) + chunk + s.slice(i);
      else s = s.slice(0, i) + s.slice(i + 1);
    }
    return s;
  });
}
