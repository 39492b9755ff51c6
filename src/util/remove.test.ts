import { afterEach, beforeEach, expect, test } from "bun:test";
import { $ } from "bun";
import { mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeIfPresent } from "./remove.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "remove-test-"));
});
afterEach(async () => {
  await $`umount ${join(dir, "ro")}`.nothrow().quiet();
  await rm(dir, { recursive: true, force: true });
});

test("removes a file; a missing one is nothing to remove", async () => {
  const f = join(dir, "f");
  await writeFile(f, "x");
  expect(await removeIfPresent(f)).toBe(true);
  expect(await stat(f).catch(() => null)).toBeNull();
  expect(await removeIfPresent(f)).toBe(false);
});

test.skipIf(process.getuid?.() !== 0)(
  "on a read-only mount: missing is nothing to remove, present is an error",
  async () => {
    const ro = join(dir, "ro");
    await $`mkdir -p ${ro} && mount -t tmpfs -o size=1m tmpfs ${ro} && touch ${ro}/kept && mount -o remount,ro ${ro}`.quiet();
    expect(await removeIfPresent(join(ro, "never-there"))).toBe(false);
    const err = await removeIfPresent(join(ro, "kept")).then(
      () => null,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err?.code).toBe("EROFS");
  },
);
