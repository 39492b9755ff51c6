/**
 * JSON as Go's encoding/json writes it by default: HTML-safe, so <, >, &,
 * U+2028 and U+2029 come out as \u escapes. Those characters can only occur
 * inside JSON strings, so a plain replace on the output is safe. `indent`
 * follows JSON.stringify (json.MarshalIndent with that many spaces).
 */
export function goJson(value: unknown, indent?: number): string {
  const text = JSON.stringify(value, null, indent) ?? "null";
  return text.replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * `value` with every object's keys in byte order, as Go's encoding/json writes
 * a map[string]interface{} (a conf decoded into a map and encoded again).
 */
export function sortKeysDeep(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeysDeep);
  if (value === null || typeof value !== "object") return value;
  const obj = value as Record<string, unknown>;
  const keys = Object.keys(obj).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return Object.fromEntries(keys.map((k) => [k, sortKeysDeep(obj[k])]));
}
