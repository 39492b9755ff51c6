import { expect, test } from "bun:test";
import type { KubeCallOptions, KubeHttp, KubeRequest } from "./client.ts";
import { KubeApiError } from "./errors.ts";
import { createEventRecorder } from "./events.ts";

/** A transport whose POSTs wait until the test releases them. */
function gatedHttp() {
  const posted: KubeRequest[] = [];
  let open!: () => void;
  let gate = new Promise<void>((r) => (open = r));
  const http: KubeHttp = {
    async call<T>(req: KubeRequest, opts: KubeCallOptions): Promise<T> {
      await Promise.race([
        gate,
        new Promise((_, reject) => opts.signal?.addEventListener("abort", () => reject(opts.signal?.reason))),
      ]);
      posted.push(req);
      if ((req.body as { reason: string }).reason === "Refused")
        throw new KubeApiError({ status: 422, message: "invalid" });
      return {} as T;
    },
    open: () => Promise.reject(new Error("unused")),
    prepare: async () => {},
    close() {},
  };
  return { http, posted, release: () => open(), block: () => (gate = new Promise<void>((r) => (open = r))) };
}

const silent = { error() {}, verbose() {}, debug() {} };
const ref = { namespace: "ns", name: "p", uid: "u" };

test("record() never waits; a full queue drops the oldest events", async () => {
  const t = gatedHttp();
  const rec = createEventRecorder({ http: t.http, logger: silent, component: "multus", maxQueue: 3 });
  const start = performance.now();
  for (let i = 0; i < 10; i++) rec.record(ref, { type: "Normal", reason: `R${i}`, message: "m" });
  expect(performance.now() - start).toBeLessThan(20);
  t.release();
  expect(await rec.flush(2_000)).toBe(true);
  // the sender starts on the next turn of the event loop: only the newest 3 survive
  expect(t.posted.map((r) => (r.body as { reason: string }).reason)).toEqual(["R7", "R8", "R9"]);
  expect(rec.dropped()).toBe(7);
  expect(t.posted[0]).toMatchObject({ method: "POST", path: "/api/v1/namespaces/ns/events" });
  expect(t.posted[0]!.body).toMatchObject({
    involvedObject: { kind: "Pod", namespace: "ns", name: "p", uid: "u" },
    source: { component: "multus" },
    reportingComponent: "multus",
    type: "Normal",
    count: 1,
  });
  await rec.stop(100);
});

test("the first POST starts after the current turn of the event loop, not within it", async () => {
  // A request records its events just before it answers: the reply must go out first.
  let calls = 0;
  const http: KubeHttp = {
    async call<T>(): Promise<T> {
      calls++;
      return {} as T;
    },
    open: () => Promise.reject(new Error("unused")),
    prepare: async () => {},
    close() {},
  };
  const rec = createEventRecorder({ http, logger: silent, component: "multus" });
  rec.record(ref, { type: "Normal", reason: "AddedInterface", message: "m" });
  for (let i = 0; i < 20; i++) await Promise.resolve(); // every microtask of this turn
  expect(calls).toBe(0);
  expect(await rec.flush(2_000)).toBe(true);
  expect(calls).toBe(1);
  await rec.stop(100);
});

test("a refused event is counted and logged, later ones still go out", async () => {
  const t = gatedHttp();
  const errors: string[] = [];
  const rec = createEventRecorder({
    http: t.http,
    logger: { ...silent, error: (m) => errors.push(m) },
    component: "multus",
  });
  t.release();
  rec.record(ref, { type: "Warning", reason: "Refused", message: "m" });
  rec.record(ref, { type: "Normal", reason: "Fine", message: "m" });
  expect(await rec.flush(2_000)).toBe(true);
  expect(t.posted.map((r) => (r.body as { reason: string }).reason)).toEqual(["Refused", "Fine"]);
  expect(rec.dropped()).toBe(1);
  expect(errors).toHaveLength(1);
  await rec.stop(100);
});

test("stop() waits a bounded time, then abandons what is left; record() after stop is ignored", async () => {
  const t = gatedHttp();
  const rec = createEventRecorder({ http: t.http, logger: silent, component: "multus" });
  rec.record(ref, { type: "Normal", reason: "Stuck", message: "m" });
  const start = Date.now();
  await rec.stop(100);
  expect(Date.now() - start).toBeLessThan(1_000);
  expect(t.posted).toHaveLength(0);
  rec.record(ref, { type: "Normal", reason: "Late", message: "m" });
  // Nothing was queued (a queued event would leave the queue non-empty with no sender to drain it) ...
  expect(await rec.flush(0)).toBe(true);
  // ... and the abandoned one is not sent once the API answers again.
  t.release();
  expect(await rec.flush(0)).toBe(true);
  expect(t.posted).toHaveLength(0);
});
