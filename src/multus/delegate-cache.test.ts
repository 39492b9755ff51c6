// Reading our own delegate cache back: an array where an object goes (valibot would read
// it as keys "0", "1", ...) makes the file corrupt, code 6, as Go's decoder would find it.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { readDelegateCache } from "./delegate-cache.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "delegate-cache-test-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const bytes = btoa(JSON.stringify({ cniVersion: "1.1.0", name: "net", type: "bridge" }));
const read = () => readDelegateCache({ cniDir: dir, containerId: "ctr", requestIfname: "eth0" });

test("a well-formed entry reads back", async () => {
  await writeFile(join(dir, "ctr"), JSON.stringify([{ Name: "net", Bytes: bytes, runtimeConfig: { a: 1 } }]));
  const [entry] = (await read()) ?? [];
  expect(entry?.delegate.name).toBe("net");
  expect(entry?.runtimeConfig).toEqual({ a: 1 });
});

test.each([
  ["an entry", [["net", bytes]], '"[0]"'],
  ["runtimeConfig", [{ Name: "net", Bytes: bytes, runtimeConfig: [{ hostPort: 80 }] }], '"[0].runtimeConfig"'],
])("%s that is an array: corrupt, code 6 naming the field", async (_, body, field) => {
  await writeFile(join(dir, "ctr"), JSON.stringify(body));
  const err = await read().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CniError);
  expect((err as CniError).code).toBe(ErrorCode.DecodeFailure);
  expect((err as CniError).msg).toContain(field);
  expect((err as CniError).msg).toContain("expected an object, got an array");
});
