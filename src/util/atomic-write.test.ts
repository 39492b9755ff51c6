import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { sweepStaleTempFiles, writeFileAtomic } from "./atomic-write.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "atomic-write-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

test("creates missing parents 0700, writes the file with the mode, leaves no temp file", async () => {
  const path = join(dir, "a", "b", "file.json");
  await writeFileAtomic(path, "hello");
  expect(await readFile(path, "utf8")).toBe("hello");
  expect((await stat(path)).mode & 0o777).toBe(0o600);
  expect((await stat(join(dir, "a", "b"))).mode & 0o777).toBe(0o700);
  expect(await readdir(join(dir, "a", "b"))).toEqual(["file.json"]);
});

test("replaces existing content and applies an explicit mode", async () => {
  const path = join(dir, "f");
  await writeFile(path, "old", { mode: 0o644 });
  await writeFileAtomic(path, new TextEncoder().encode("new"), 0o640);
  expect(await readFile(path, "utf8")).toBe("new");
  expect((await stat(path)).mode & 0o777).toBe(0o640);
});

test("a concurrent reader sees the old or the new content, never a partial file", async () => {
  const path = join(dir, "f");
  const big = (c: string) => c.repeat(1 << 20);
  await writeFileAtomic(path, big("a"));
  let stop = false;
  const seen = new Set<string>();
  const reader = (async () => {
    while (!stop) {
      const t = await readFile(path, "utf8");
      seen.add(`${t.length}:${t[0]}${t[t.length - 1]}`);
    }
  })();
  for (let i = 0; i < 10; i++) await writeFileAtomic(path, big(i % 2 ? "a" : "b"));
  stop = true;
  await reader;
  for (const s of seen) expect(["1048576:aa", "1048576:bb"]).toContain(s);
});

test("a failed write leaves no temp file behind", async () => {
  const path = join(dir, "sub");
  await writeFileAtomic(join(path, "x"), "1");
  // renaming a file over a directory fails
  await expect(writeFileAtomic(path, "2")).rejects.toThrow();
  expect((await readdir(dir)).sort()).toEqual(["sub"]);
});

test("the sweep removes temp files whose writer is gone, keeps a live writer's and other files", async () => {
  const dead = Bun.spawn(["true"]);
  await dead.exited;
  const files = [
    `.c1.${dead.pid}.0123456789ab.tmp`, // writer gone
    `.c2.${process.pid}.0123456789ab.tmp`, // our own write in progress
    `.c3.1.0123456789ab.tmp`, // pid 1 is alive
    "c1",
    ".hidden",
  ];
  for (const f of files) await writeFile(join(dir, f), "x");
  expect(await sweepStaleTempFiles(dir)).toEqual([files[0]!]);
  expect((await readdir(dir)).sort()).toEqual(files.slice(1).sort());
  expect(await sweepStaleTempFiles(join(dir, "missing"))).toEqual([]);
});
