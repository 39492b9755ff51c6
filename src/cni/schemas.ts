// Valibot schemas for what crosses the CNI boundary, and the two helpers every
// edge uses: decode bytes into a JSON object, validate it into a CniError.
// All objects are `looseObject`: plugin-specific fields must survive.

import * as v from "valibot";
import { CniError, ErrorCode } from "./errors.ts";
import { locateJsonError } from "../util/json-position.ts";
import { isJsonTooDeep, MAX_JSON_DEPTH } from "../util/json-depth.ts";

/**
 * `schema` (an object or record schema) that refuses arrays: valibot takes an array
 * for an object with keys "0", "1", ..., where Go's decoder refuses it.
 */
export function jsonObject<S extends v.GenericSchema<unknown, Record<string, unknown>>>(schema: S) {
  // Checked first: the object and record schemas hand on a copy, no longer an array.
  return v.pipe(
    v.custom<unknown>((x) => !Array.isArray(x), "expected an object, got an array"),
    schema,
  );
}

/** One plugin's config (SPEC "Plugin configuration objects"). */
export const NetConfSchema = v.looseObject({
  cniVersion: v.optional(v.string()),
  name: v.optional(v.string()),
  type: v.pipe(v.string(), v.nonEmpty("must not be empty")),
  capabilities: v.optional(jsonObject(v.record(v.string(), v.boolean()))),
  runtimeConfig: v.optional(jsonObject(v.record(v.string(), v.unknown()))),
  prevResult: v.optional(v.unknown()),
  args: v.optional(jsonObject(v.record(v.string(), v.unknown()))),
  ipam: v.optional(jsonObject(v.looseObject({ type: v.optional(v.string()) }))),
  dns: v.optional(jsonObject(v.looseObject({}))),
});
export type NetConf = v.InferOutput<typeof NetConfSchema>;

/** A network configuration list; a plugin inside it needs no name of its own. */
export const ConfListSchema = v.looseObject({
  cniVersion: v.optional(v.string()),
  name: v.pipe(v.string(), v.nonEmpty("must not be empty")),
  // libcni also accepts the strings "true"/"false" here.
  disableCheck: v.optional(v.union([v.boolean(), v.picklist(["true", "false"])])),
  disableGC: v.optional(v.boolean()),
  plugins: v.pipe(v.array(NetConfSchema), v.minLength(1, "must not be empty")),
});
export type ConfList = v.InferOutput<typeof ConfListSchema>;

/** Bytes (or text) that must be one JSON object; anything else is code 6. */
export function decodeJsonObject(bytes: Uint8Array | string, what: string): Record<string, unknown> {
  const text = typeof bytes === "string" ? bytes : new TextDecoder().decode(bytes);
  const fail = (details: string) => new CniError(ErrorCode.DecodeFailure, `failed to decode ${what}`, details);
  if (text.trim() === "") throw fail("empty input");
  if (isJsonTooDeep(text)) throw fail(`nested more than ${MAX_JSON_DEPTH} levels deep`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    // Say where: JSON.parse's own message names no position.
    const at = locateJsonError(text);
    throw fail(at ? `line ${at.line}, column ${at.column}: ${at.reason}` : (err as Error).message);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw fail(
      `expected a JSON object, got ${value === null ? "null" : Array.isArray(value) ? "an array" : typeof value}`,
    );
  }
  return value as Record<string, unknown>;
}

/**
 * safeParse `value`; on failure a CniError with `code` whose msg names the
 * first offending field, e.g.
 * `invalid network configuration: field "plugins[0].type": expected string, got 5`.
 */
export function validate<T>(schema: v.GenericSchema<unknown, T>, value: unknown, code: number, what: string): T {
  const r = v.safeParse(schema, value);
  if (r.success) return r.output;
  const issue = r.issues[0];
  const path = formatIssuePath(issue.path);
  const where = path ? `field "${path}": ` : "";
  throw new CniError(code, `invalid ${what}: ${where}${describeIssue(issue)}`);
}

/** `plugins[0].type` rather than valibot's dot path `plugins.0.type`. */
export function formatIssuePath(path: v.BaseIssue<unknown>["path"]): string {
  let out = "";
  for (const item of path ?? []) {
    const key = (item as { key: unknown }).key;
    if (typeof key === "number") out += `[${key}]`;
    else out += out === "" ? String(key) : `.${String(key)}`;
  }
  return out;
}

function describeIssue(issue: v.BaseIssue<unknown>): string {
  // A missing key (or one set to undefined) is simply required.
  if (issue.kind === "schema" && issue.received === "undefined") return "required";
  // Our validation actions and custom schemas carry their own short messages.
  if (issue.kind !== "schema" || issue.type === "custom") return issue.message;
  return `expected ${issue.expected}, got ${issue.received}`;
}
