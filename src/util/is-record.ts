/** A JSON object: not null, not an array. */
export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

/** `x` as a JSON object, or undefined when it is anything else. */
export function asRecord(x: unknown): Record<string, unknown> | undefined {
  return isRecord(x) ? x : undefined;
}
