import { describe, expect, test } from "bun:test";
import { requestLabels } from "./observe.ts";

describe("requestLabels", () => {
  const cases: Array<[string, string, Record<string, string> | undefined, string, string]> = [
    ["GET", "/api/v1/namespaces/default/pods/web", undefined, "get", "pods"],
    ["GET", "/api/v1/pods", { fieldSelector: "spec.nodeName=n" }, "list", "pods"],
    ["GET", "/api/v1/pods", { watch: "true" }, "watch", "pods"],
    ["PATCH", "/api/v1/namespaces/default/pods/web/status", undefined, "patch", "pods/status"],
    ["POST", "/apis/events.k8s.io/v1/namespaces/default/events", undefined, "create", "events"],
    [
      "GET",
      "/apis/k8s.cni.cncf.io/v1/namespaces/kube-system/network-attachment-definitions/macvlan",
      undefined,
      "get",
      "network-attachment-definitions",
    ],
    [
      "GET",
      "/apis/k8s.cni.cncf.io/v1/network-attachment-definitions",
      undefined,
      "list",
      "network-attachment-definitions",
    ],
    ["GET", "/api/v1/namespaces/default", undefined, "get", "namespaces"],
    ["PUT", "/api/v1/namespaces/default/pods/web", undefined, "update", "pods"],
    ["DELETE", "/api/v1/namespaces/default/pods/web", undefined, "delete", "pods"],
  ];
  for (const [method, path, query, verb, resource] of cases) {
    test(`${method} ${path}${query ? ` ${JSON.stringify(query)}` : ""} is ${verb} ${resource}`, () => {
      expect(requestLabels({ method, path, query })).toEqual({ verb, resource });
    });
  }
});
