import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readTextIfPresent, tryParseJson } from "./json-file.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "json-file-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

test("readTextIfPresent: the text; undefined for a missing file; other errors thrown", async () => {
  await writeFile(join(dir, "a"), "{}\n");
  expect(await readTextIfPresent(join(dir, "a"))).toBe("{}\n");
  expect(await readTextIfPresent(join(dir, "missing"))).toBeUndefined();
  await expect(readTextIfPresent(dir)).rejects.toMatchObject({ code: "EISDIR" });
});

test.each([
  ['{"a":1}', { ok: true, value: { a: 1 } }],
  ["null", { ok: true, value: null }],
])("tryParseJson(%p) reads", (text, want) => {
  expect(tryParseJson(text)).toEqual(want as ReturnType<typeof tryParseJson>);
});

test.each([["{"], [""], ["[1,]"]])("tryParseJson(%p) says why instead of throwing", (text) => {
  const got = tryParseJson(text);
  expect(got.ok).toBe(false);
  expect(got.ok ? "" : got.reason).not.toBe("");
});
