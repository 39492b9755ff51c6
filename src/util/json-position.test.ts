import { describe, expect, test } from "bun:test";
import { locateJsonError } from "./json-position.ts";

describe("locateJsonError", () => {
  test.each([
    ["{}"],
    ['{"a": [1, -2.5e3, true, false, null, "x\\n\\u00e9"], "b": {"c": {}}}'],
    ["  [ ]  "],
    ['"just a string"'],
  ])("valid JSON %p has no error", (text) => {
    expect(() => JSON.parse(text)).not.toThrow();
    expect(locateJsonError(text)).toBeUndefined();
  });

  test.each([
    ['{\n  "logLevel": "debug",\n}', 3, 1, "trailing comma before '}'"],
    ['{\n  "a": 1\n  "b": 2\n}', 3, 3, "expected ',' or '}'"],
    ['{ "a": tru }', 1, 8, "expected a value"],
    ["{ this is not json", 1, 3, "expected a string key"],
    ['{"a": [1, 2,]}', 1, 13, "trailing comma before ']'"],
    ['{"a": "open', 1, 7, "unterminated string"],
    ['{"a": "two\nlines"}', 1, 11, "control character"],
    ['{"a": "\\q"}', 1, 8, "invalid escape"],
    ['{"a": 01}', 1, 8, "expected ',' or '}'"],
    ['{"a": 1} x', 1, 10, "unexpected text after the JSON value"],
    ['{"a": 1', 1, 8, "end of input"],
    ["", 1, 1, "end of input"],
    ["{'a': 1}", 1, 2, "expected a string key"],
  ] as const)("%p fails at line %d, column %d: %s", (text, line, column, reason) => {
    expect(() => JSON.parse(text)).toThrow();
    const found = locateJsonError(text);
    expect(found && { line: found.line, column: found.column }).toEqual({ line, column });
    expect(found?.reason).toContain(reason);
  });
});
