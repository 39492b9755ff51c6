// Label values that come from configs or plugins are bounded: a NAD author or a
// plugin must not be able to grow the series count without limit.
import { afterEach, expect, test } from "bun:test";
import { createLogger } from "../util/log.ts";
import { parseExposition } from "../../tests/helpers/prom-text.ts";
import { type Metrics, startMetrics } from "./metrics.ts";

let metrics: Metrics | undefined;
afterEach(() => metrics?.stop());

async function scrape(m: Metrics) {
  const res = await fetch(`http://127.0.0.1:${m.port}/metrics`);
  return parseExposition(await res.text());
}

function start(): Metrics {
  metrics = startMetrics({ port: 0, hostname: "127.0.0.1", log: createLogger({ level: "panic" }), say() {} });
  return metrics;
}

test("past 64 plugin types the rest is 'other'; a type that is no file name is 'invalid'", async () => {
  const m = start();
  const run = (pluginType: string) => m.multus.delegateCall({ pluginType, command: "ADD", seconds: 0.01, ok: true });
  for (let i = 0; i < 70; i++) run(`type-${i}`);
  run("type-0");
  run("../../bin/sh");
  const page = await scrape(m);
  const count = (type: string) =>
    page.value("multus_delegate_duration_seconds_count", { plugin_type: type, command: "ADD", outcome: "success" });
  expect(count("type-0")).toBe(2);
  expect(count("type-63")).toBe(1);
  expect(count("type-64")).toBeUndefined();
  expect(count("other")).toBe(6);
  expect(count("invalid")).toBe(1);
});

test("CNI error codes outside 0-999 are counted as 'other'", async () => {
  const m = start();
  for (const code of [7, 11, 11, 1234, -1, 2.5]) m.observeCniError(code);
  const page = await scrape(m);
  const errors = Object.fromEntries(page.samples("multus_cni_errors_total").map((s) => [s.labels.code, s.value]));
  expect(errors).toEqual({ "7": 1, "11": 2, other: 3 });
});

test("gauges read their sources at each scrape", async () => {
  const m = start();
  let queued = new Map([["DEL", 3]]);
  m.watch({ queue: () => ({ inFlight: 2, queued }) });
  let page = await scrape(m);
  expect(page.value("multus_requests_in_flight")).toBe(2);
  expect(page.value("multus_requests_queued", { command: "DEL" })).toBe(3);
  queued = new Map();
  page = await scrape(m);
  // A command whose queue emptied is gone, not stuck at its last value.
  expect(page.samples("multus_requests_queued")).toEqual([]);
});

test("the body budget and the refusals are read from the server at each scrape", async () => {
  const m = start();
  let page = await scrape(m);
  // Before the server listens: zero, and both reasons present so a rate() has a start.
  expect(page.value("multus_request_body_bytes_held")).toBe(0);
  expect(page.value("multus_requests_refused_total", { reason: "body_budget" })).toBe(0);
  const bodies = {
    heldBytes: 4096,
    budgetBytes: 1 << 20,
    reserveBytes: 1 << 21,
    refusedOverBudget: 3,
    refusedQueueDeadline: 1,
  };
  m.watch({ bodies: () => bodies });
  page = await scrape(m);
  expect(page.value("multus_request_body_bytes_held")).toBe(4096);
  expect(page.value("multus_request_body_bytes_budget")).toBe(1 << 20);
  expect(page.value("multus_requests_refused_total", { reason: "body_budget" })).toBe(3);
  expect(page.value("multus_requests_refused_total", { reason: "queue_deadline" })).toBe(1);
  bodies.heldBytes = 0;
  bodies.refusedOverBudget = 5;
  page = await scrape(m);
  expect(page.value("multus_request_body_bytes_held")).toBe(0);
  expect(page.value("multus_requests_refused_total", { reason: "body_budget" })).toBe(5);
});
