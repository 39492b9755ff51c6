import { expect, test } from "bun:test";
import { parseGoDuration } from "./go-duration.ts";

test.each([
  ["10m", 600_000],
  ["24h", 86_400_000],
  ["1h30m", 5_400_000],
  ["1.5h", 5_400_000],
  ["20s", 20_000],
  ["300ms", 300],
  ["1m0.5s", 60_500],
  [".5s", 500],
  ["1000us", 1],
  ["0", 0],
  ["-2s", -2_000],
])("%s is %d ms", (text, ms) => {
  expect(parseGoDuration(text)).toBe(ms);
});

test.each(["", "10", "10 m", "1d", "m", "1h-1m", "abc", "-"])("%p is refused, as Go refuses it", (text) => {
  expect(parseGoDuration(text)).toBeUndefined();
});
