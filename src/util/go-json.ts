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
