// Where JSON text stops being JSON. JSON.parse in Bun says what it expected but
// not where, and a config file with a stray comma deserves "line 7, column 3".
// Run only after JSON.parse failed, so the happy path pays nothing.

export interface JsonErrorPosition {
  line: number;
  column: number;
  reason: string;
}

const MAX_DEPTH = 1000;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const ESCAPES = '"\\/bfnrtu';

class Stop {
  constructor(
    readonly at: number,
    readonly reason: string,
  ) {}
}

/** The first syntax error in `text` (1-based line and column), or undefined when it is valid JSON. */
export function locateJsonError(text: string): JsonErrorPosition | undefined {
  try {
    const end = scanValue(text, skipSpace(text, 0), 0);
    const rest = skipSpace(text, end);
    if (rest < text.length) throw new Stop(rest, "unexpected text after the JSON value");
    return undefined;
  } catch (err) {
    if (!(err instanceof Stop)) throw err;
    const before = text.slice(0, err.at);
    const line = before.split("\n").length;
    return { line, column: err.at - before.lastIndexOf("\n"), reason: err.reason };
  }
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && " \t\n\r".includes(text[i] as string)) i++;
  return i;
}

function describe(text: string, i: number): string {
  return i >= text.length ? "end of input" : JSON.stringify(text[i]);
}

/** Scans one value starting at `i` (no leading space); returns the index just past it. */
function scanValue(text: string, i: number, depth: number): number {
  if (depth > MAX_DEPTH) throw new Stop(i, "nested too deeply");
  const c = text[i];
  if (c === "{") return scanObject(text, i, depth + 1);
  if (c === "[") return scanArray(text, i, depth + 1);
  if (c === '"') return scanString(text, i);
  for (const word of ["true", "false", "null"]) if (text.startsWith(word, i)) return i + word.length;
  NUMBER.lastIndex = i;
  const m = NUMBER.exec(text);
  if (m && m[0] !== "" && m[0] !== "-") return i + m[0].length;
  throw new Stop(i, `expected a value, got ${describe(text, i)}`);
}

function scanString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length) {
    const c = text[i] as string;
    if (c === '"') return i + 1;
    if (c < " ") throw new Stop(i, "control character in a string (escape it)");
    if (c === "\\") {
      const e = text[i + 1] ?? "";
      if (e === "" || !ESCAPES.includes(e)) throw new Stop(i, `invalid escape \\${e}`);
      if (e === "u" && !/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) throw new Stop(i, "invalid \\u escape");
      i += e === "u" ? 6 : 2;
      continue;
    }
    i++;
  }
  throw new Stop(start, "unterminated string");
}

function scanObject(text: string, start: number, depth: number): number {
  let i = skipSpace(text, start + 1);
  if (text[i] === "}") return i + 1;
  for (;;) {
    if (text[i] !== '"') {
      const reason = text[i] === "}" ? "trailing comma before '}'" : `expected a string key, got ${describe(text, i)}`;
      throw new Stop(i, reason);
    }
    i = skipSpace(text, scanString(text, i));
    if (text[i] !== ":") throw new Stop(i, `expected ':', got ${describe(text, i)}`);
    i = skipSpace(text, scanValue(text, skipSpace(text, i + 1), depth));
    if (text[i] === "}") return i + 1;
    if (text[i] !== ",") throw new Stop(i, `expected ',' or '}', got ${describe(text, i)}`);
    i = skipSpace(text, i + 1);
  }
}

function scanArray(text: string, start: number, depth: number): number {
  let i = skipSpace(text, start + 1);
  if (text[i] === "]") return i + 1;
  for (;;) {
    if (text[i] === "]") throw new Stop(i, "trailing comma before ']'");
    i = skipSpace(text, scanValue(text, i, depth));
    if (text[i] === "]") return i + 1;
    if (text[i] !== ",") throw new Stop(i, `expected ',' or ']', got ${describe(text, i)}`);
    i = skipSpace(text, i + 1);
  }
}
