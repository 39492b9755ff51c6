import { expect, test } from "bun:test";
import { createKeyedLock } from "./keyed-lock.ts";

test("one key's work runs one at a time, in order; isHeld says whether new work would wait", async () => {
  const locks = createKeyedLock();
  const order: string[] = [];
  let release = () => {};
  const first = locks.run("c1", async () => {
    await new Promise<void>((resolve) => (release = resolve));
    order.push("first");
  });
  expect(locks.isHeld("c1")).toBe(true);
  expect(locks.isHeld("c2")).toBe(false);
  const second = locks.run("c1", async () => void order.push("second"));
  const other = locks.run("c2", async () => void order.push("other"));
  await other;
  expect(order).toEqual(["other"]);
  release();
  await Promise.all([first, second]);
  expect(order).toEqual(["other", "first", "second"]);
  await Promise.resolve(); // the entry is dropped once nothing is queued behind it
  expect(locks.isHeld("c1")).toBe(false);
  expect(locks.size).toBe(0);
});
