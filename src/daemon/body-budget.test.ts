import { describe, expect, test } from "bun:test";
import { BodyBudget, defaultPendingRequestBytes } from "./body-budget.ts";

describe("BodyBudget", () => {
  test("holds add up to the limit; one past it takes nothing", () => {
    const b = new BodyBudget({ limit: 1000, reserve: 0, smallBytes: 10 });
    const one = b.open();
    const two = b.open();
    expect(one.grow(600)).toBe(true);
    expect(two.grow(500)).toBe(false);
    expect(two.bytes).toBe(0);
    expect(two.grow(400)).toBe(true);
    expect(b.used).toBe(1000);
  });

  test("release gives back what the hold took, once; a released hold takes nothing more", () => {
    const b = new BodyBudget({ limit: 1000, reserve: 0 });
    const h = b.open();
    expect(h.grow(300)).toBe(true);
    expect(h.grow(200)).toBe(true);
    h.release();
    h.release();
    expect(b.used).toBe(0);
    expect(h.grow(1)).toBe(false);
    expect(b.used).toBe(0);
  });

  test("small bodies may use the reserve that large ones may not", () => {
    const b = new BodyBudget({ limit: 1000, reserve: 100, smallBytes: 50 });
    const large = b.open();
    expect(large.grow(1000)).toBe(true);
    expect(b.open().grow(51)).toBe(false); // large: only the limit, which is full
    const small = b.open();
    expect(small.grow(50)).toBe(true);
    expect(b.open().grow(50)).toBe(true);
    expect(b.open().grow(1)).toBe(false); // reserve used up too
    // A body counted as it arrives leaves the reserve's reach once it grows past smallBytes.
    small.release();
    const growing = b.open();
    expect(growing.grow(40)).toBe(true);
    expect(growing.grow(20)).toBe(false);
    expect(b.used).toBe(1090);
  });

  test("the default is one body of maxRequestBytes", () => {
    expect(defaultPendingRequestBytes(8 * 1024 * 1024)).toBe(8 * 1024 * 1024);
  });
});
