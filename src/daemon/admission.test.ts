import { describe, expect, test } from "bun:test";
import { Admission, defaultConnectionLimit, priorityOf, QueueDeadlineError } from "./admission.ts";

describe("Admission", () => {
  test("never admits more than the limit", async () => {
    const q = new Admission({ limit: 2, deadlineMs: 10_000 });
    const a = await q.acquire("ADD");
    await q.acquire("ADD");
    let third = false;
    const p = q.acquire("ADD").then((r) => {
      third = true;
      return r;
    });
    await Promise.resolve();
    expect(third).toBe(false);
    expect(q.active).toBe(2);
    a();
    (await p)();
    expect(third).toBe(true);
    expect(q.active).toBe(1);
  });

  test("DEL, then CHECK/GC/STATUS, then ADD; FIFO within a class", async () => {
    const q = new Admission({ limit: 1, deadlineMs: 10_000 });
    const first = await q.acquire("ADD");
    const order: string[] = [];
    const cmds = ["ADD", "CHECK", "ADD", "DEL", "GC", "DEL"];
    const done = cmds.map((c, i) =>
      q.acquire(c).then((release) => {
        order.push(`${c}${i}`);
        release();
      }),
    );
    first();
    await Promise.all(done);
    expect(order).toEqual(["DEL3", "DEL5", "CHECK1", "GC4", "ADD0", "ADD2"]);
  });

  test("a waiter past its deadline is refused and leaves the queue", async () => {
    const q = new Admission({ limit: 1, deadlineMs: 50 });
    const held = await q.acquire("ADD");
    await expect(q.acquire("ADD")).rejects.toBeInstanceOf(QueueDeadlineError);
    expect(q.waiting).toBe(0);
    held();
    expect(q.active).toBe(0);
  });

  test('waiters are counted by command; a body\'s made-up command is "other", not a label of its own', async () => {
    const q = new Admission({ limit: 1, deadlineMs: 10_000 });
    const held = await q.acquire("ADD");
    // Each releases its slot as soon as it gets it, so the queue drains.
    const waiting = ["ADD", "DEL", "ADD", "x".repeat(200), undefined].map((c) => q.acquire(c).then((r) => r()));
    expect(Object.fromEntries(q.waitingByCommand())).toEqual({ ADD: 2, DEL: 1, other: 2 });
    held();
    await Promise.all(waiting);
    expect(q.waitingByCommand().size).toBe(0);
  });

  test("unknown commands rank with ADD", () => {
    expect(priorityOf(undefined)).toBe(2);
    expect(priorityOf("STATUS")).toBe(1);
  });
});

test("the default connectionLimit is 4 per core, at least 16", () => {
  expect(defaultConnectionLimit(2)).toBe(16);
  expect(defaultConnectionLimit(32)).toBe(128);
});
