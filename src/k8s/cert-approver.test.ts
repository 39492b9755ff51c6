import { describe, expect, test } from "bun:test";
import { type CsrObject, reviewCsr } from "./cert-approver.ts";
import { createCsrPem, generateClientKey } from "./csr.ts";

const KEY = generateClientKey();
const request = (cn: string, organizations = ["system:multus"]) =>
  Buffer.from(createCsrPem({ commonName: cn, organizations }, KEY)).toString("base64");

/** A request as the daemon on node-a sends it, with the API server's fields filled in. */
function csr(over: { spec?: Partial<NonNullable<CsrObject["spec"]>>; status?: CsrObject["status"] } = {}): CsrObject {
  return {
    metadata: { name: "csr-x" },
    spec: {
      request: request("system:multus:node-a"),
      signerName: "kubernetes.io/kube-apiserver-client",
      username: "system:node:node-a",
      groups: ["system:nodes", "system:authenticated"],
      usages: ["digital signature", "client auth"],
      expirationSeconds: 600,
      ...over.spec,
    },
    ...(over.status && { status: over.status }),
  };
}

describe("reviewCsr: Go's cert-approver checks", () => {
  test.each([
    ["the bootstrap (kubelet) user", {}],
    [
      "the certificate's own user renewing",
      { username: "system:multus:node-a", groups: ["system:multus", "system:authenticated"] },
    ],
    ["usages in another order", { usages: ["client auth", "digital signature"] }],
    ["a year exactly", { expirationSeconds: 365 * 24 * 3600 }],
  ])("approves %s", (_, spec) => {
    expect(reviewCsr(csr({ spec }))).toEqual({ action: "approve", node: "node-a" });
  });

  test.each([
    ["another signer", { signerName: "kubernetes.io/kubelet-serving" }],
    ["a CN that is not system:multus", { request: request("system:node:node-a", ["system:nodes"]) }],
    ["an unparsable username", { username: "nocolon" }],
    ["a request that is not a CSR", { request: Buffer.from("hello").toString("base64") }],
  ])("ignores %s", (_, spec) => {
    expect(reviewCsr(csr({ spec })).action).toBe("ignore");
  });

  test.each([
    ["signed", { certificate: "eA==" }],
    ["approved", { conditions: [{ type: "Approved", status: "True" }] }],
    ["denied", { conditions: [{ type: "Denied", status: "True" }] }],
  ])("leaves a request already %s alone", (_, status) => {
    expect(reviewCsr(csr({ status })).action).toBe("ignore");
  });

  test.each([
    [
      "an unexpected user",
      { username: "system:serviceaccount:ns:sa" },
      'was created by an unexpected user: "system:serviceaccount:ns:sa"',
    ],
    [
      "a node name that is no DNS subdomain",
      { username: "system:node:Node_A" },
      'extracted node name "Node_A" is not a valid DNS subdomain',
    ],
    [
      "extra usages",
      { usages: ["digital signature", "client auth", "server auth"] },
      "was created with unexpected usages",
    ],
    ["missing usages", { usages: ["client auth"] }, "was created with unexpected usages"],
    [
      "unexpected groups",
      { groups: ["system:masters"] },
      "was created by a user with unexpected groups: [system:masters]",
    ],
    [
      "another node's CN",
      { request: request("system:multus:node-b") },
      `expected the CSR's commonName to be "system:multus:node-a", but it is "system:multus:node-b"`,
    ],
    [
      "another organization",
      { request: request("system:multus:node-a", ["system:masters"]) },
      "expected the CSR's organization to be [system:multus], but it is [system:masters]",
    ],
    [
      "two organizations",
      { request: request("system:multus:node-a", ["system:multus", "x"]) },
      "expected the CSR's organization",
    ],
    ["no expirationSeconds", { expirationSeconds: undefined }, "was created without specyfying the expirationSeconds"],
    [
      "more than a year",
      { expirationSeconds: 365 * 24 * 3600 + 1 },
      "was created with invalid expirationSeconds value: 31536001",
    ],
  ])("denies %s with Go's message", (_, spec, message) => {
    const review = reviewCsr(csr({ spec }));
    expect(review.action).toBe("deny");
    expect(review.action === "deny" && review.message).toContain(message);
  });
});
