import { describe, expect, test } from "bun:test";
import { ErrorCode } from "../cni/errors.ts";
import { kubeFailureError } from "./kube-failure.ts";

const failure = (fields: { transient?: boolean; status?: number; reason?: string }) =>
  Object.assign(new Error("GET /api/v1/namespaces/default/pods/p: forbidden"), fields);

describe("kubeFailureError", () => {
  test.each([
    ["a timeout", failure({ transient: true })],
    ["a 503", failure({ transient: true, status: 503 })],
    ["an error that says nothing about retrying", new Error("boom")],
  ])("%s: code 11, try again later", (_what, err) => {
    const e = kubeFailureError(err, {
      msg: "cannot get pod default/p from the Kubernetes API",
      details: "deadline 5 ms",
    });
    expect([e.code, e.msg]).toEqual([ErrorCode.TryAgainLater, "cannot get pod default/p from the Kubernetes API"]);
    expect(e.details).toBe(`${err.message} (deadline 5 ms)`);
  });

  test.each([
    [401, "Unauthorized"],
    [403, "Forbidden"],
    [404, undefined],
    [422, "Invalid"],
  ])("a permanent %d: not code 11, the message names the API status", (status, reason) => {
    const e = kubeFailureError(failure({ transient: false, status, reason }), { msg: "cannot get pod default/p" });
    expect(e.code).not.toBe(ErrorCode.TryAgainLater);
    expect(e.code).toBe(ErrorCode.Internal);
    expect(e.msg).toStartWith(
      `cannot get pod default/p: the Kubernetes API answered ${status}${reason ? ` ${reason}` : ""},`,
    );
    expect(e.details).toContain("forbidden");
  });
});
