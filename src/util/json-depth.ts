// How deep JSON text nests. JSON.parse takes any depth (a million levels parse fine
// in Bun) but JSON.stringify, structuredClone and every recursive walk of ours throw
// RangeError past about 100,000: a config or annotation nested that deep would pass
// decoding and fail later as an internal error. Go's encoding/json refuses nesting
// past 10000 levels ("exceeded max depth"); we refuse the same, while decoding.

/** Go's encoding/json limit (maxNestingDepth). */
export const MAX_JSON_DEPTH = 10_000;

const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * Does `text` open more than `max` arrays or objects inside each other? Brackets in
 * strings do not count. Text shorter than `max` characters cannot, and is not scanned:
 * an ordinary config pays nothing.
 */
export function isJsonTooDeep(text: string, max = MAX_JSON_DEPTH): boolean {
  if (text.length <= max) return false;
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === BACKSLASH) i++;
      else if (c === QUOTE) inString = false;
    } else if (c === QUOTE) inString = true;
    else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      if (++depth > max) return true;
    } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) depth--;
  }
  return false;
}
