import { describe, expect, test } from "bun:test";
import {
  KubeApiError,
  KubeTimeoutError,
  KubeTransportError,
  backoffDelay,
  isConflict,
  isConnectionError,
  isGone,
  isNotFound,
  isObjectNotFound,
  isRetryable,
  kubeStatusOf,
} from "./errors.ts";

const api = (status: number) => new KubeApiError({ status, message: "the message text is never looked at" });

describe("kubeStatusOf / classification", () => {
  const cases: Array<
    [
      string,
      unknown,
      number | undefined,
      { notFound?: boolean; conflict?: boolean; gone?: boolean; retryable: boolean },
    ]
  > = [
    ["404", api(404), 404, { notFound: true, retryable: false }],
    ["409", api(409), 409, { conflict: true, retryable: false }],
    ["410", api(410), 410, { gone: true, retryable: false }],
    ["429", api(429), 429, { retryable: true }],
    ["500", api(500), 500, { retryable: true }],
    ["503", api(503), 503, { retryable: true }],
    ["401", api(401), 401, { retryable: false }],
    ["403", api(403), 403, { retryable: false }],
    [
      "client-node ApiException (code)",
      Object.assign(new Error("x"), { code: 404 }),
      404,
      { notFound: true, retryable: false },
    ],
    ["fetch-style (status)", Object.assign(new Error("x"), { status: 503 }), 503, { retryable: true }],
    ["transport", new KubeTransportError("refused", { cause: undefined }), undefined, { retryable: true }],
    ["ECONNRESET code", Object.assign(new Error("x"), { code: "ECONNRESET" }), undefined, { retryable: true }],
    ["timeout", new KubeTimeoutError("late"), undefined, { retryable: false }],
    ["message mentioning 404 only", new Error("404 not found"), undefined, { retryable: false }],
    ["not an error", "404", undefined, { retryable: false }],
    ["out-of-range code", Object.assign(new Error("x"), { code: 42 }), undefined, { retryable: false }],
  ];
  for (const [name, err, status, want] of cases) {
    test(name, () => {
      expect(kubeStatusOf(err)).toBe(status);
      expect(isNotFound(err)).toBe(!!want.notFound);
      expect(isConflict(err)).toBe(!!want.conflict);
      expect(isGone(err)).toBe(!!want.gone);
      expect(isRetryable(err)).toBe(want.retryable);
    });
  }

  test("connection errors are recognised by class or code, not by text", () => {
    expect(isConnectionError(new KubeTransportError("x", { cause: undefined }))).toBe(true);
    expect(isConnectionError(Object.assign(new Error("x"), { code: "ECONNREFUSED" }))).toBe(true);
    expect(isConnectionError(new Error("ECONNREFUSED"))).toBe(false);
  });
});

test("backoffDelay grows exponentially, is capped, and jitters within [50%, 100%]", () => {
  const b = { initialMs: 100, maxMs: 1_000 };
  for (let i = 0; i < 50; i++) {
    const d1 = backoffDelay(1, b);
    const d3 = backoffDelay(3, b);
    const d20 = backoffDelay(20, b);
    expect(d1).toBeGreaterThanOrEqual(50);
    expect(d1).toBeLessThanOrEqual(100);
    expect(d3).toBeGreaterThanOrEqual(200);
    expect(d3).toBeLessThanOrEqual(400);
    expect(d20).toBeGreaterThanOrEqual(500);
    expect(d20).toBeLessThanOrEqual(1_000);
  }
});

describe("transient or permanent, as the Multus core reads it", () => {
  test.each([
    [408, true],
    [409, true],
    [429, true],
    [500, true],
    [503, true],
    [400, false],
    [401, false],
    [403, false],
    [404, false],
    [422, false],
  ])("%d: transient %p", (status, transient) => {
    expect(api(status).transient).toBe(transient);
  });
  test("no HTTP answer is transient", () => {
    expect(new KubeTransportError("refused", { cause: new Error("x") }).transient).toBe(true);
    expect(new KubeTimeoutError("deadline").transient).toBe(true);
  });
  test("a 404 with a Status is the object; one without is the URL (a CRD not installed)", () => {
    expect(isObjectNotFound(new KubeApiError({ status: 404, reason: "NotFound", message: "x" }))).toBe(true);
    expect(isObjectNotFound(new KubeApiError({ status: 404, message: "404 page not found" }))).toBe(false);
  });
});
