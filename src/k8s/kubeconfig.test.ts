import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { inClusterTarget, parseSimpleKubeconfig } from "./kubeconfig.ts";

/** A kubeconfig whose current context is `cluster` x `user` (YAML lines under each, 4-space indented). */
function kubeconfig(cluster: string[], user: string[], extra: string[] = []): string {
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: other",
    "  cluster:",
    "    server: https://other:6443",
    "- name: c",
    "  cluster:",
    ...cluster.map((l) => `    ${l}`),
    "users:",
    "- name: u",
    "  user:",
    ...user.map((l) => `    ${l}`),
    "contexts:",
    "- name: x",
    "  context:",
    "    cluster: c",
    "    user: u",
    "current-context: x",
    ...extra,
  ].join("\n");
}

const SERVER = "server: https://10.0.0.1:6443";

describe("parseSimpleKubeconfig: what is read without client-node", () => {
  test("token, CA data, skip and server name: the current context's entries", () => {
    const k = parseSimpleKubeconfig(
      kubeconfig([SERVER, "certificate-authority-data: Q0E=", "tls-server-name: api"], ["token: abc"]),
      "/etc/kube/config",
    );
    expect(k).toEqual({
      server: "https://10.0.0.1:6443",
      caData: "Q0E=",
      skipTLSVerify: false,
      tlsServerName: "api",
      token: "abc",
      caFile: undefined,
      tokenFile: undefined,
      certFile: undefined,
      certData: undefined,
      keyFile: undefined,
      keyData: undefined,
    });
  });

  test("relative CA, certificate and key paths are the kubeconfig dir's; a token file's the working dir's", () => {
    const k = parseSimpleKubeconfig(
      kubeconfig(
        [SERVER, "certificate-authority: ca.crt"],
        ["client-certificate: pki/c.crt", "client-key: /abs/c.key", "token-file: tok"],
      ),
      "/etc/kube/config",
    );
    expect(k).toMatchObject({
      caFile: "/etc/kube/ca.crt",
      certFile: "/etc/kube/pki/c.crt",
      keyFile: "/abs/c.key",
      tokenFile: resolve("tok"),
    });
  });

  test.each([
    ["an exec plugin", [SERVER], ["exec:", "  command: aws"]],
    ["an auth provider", [SERVER], ["auth-provider:", "  name: oidc"]],
    ["basic auth", [SERVER], ["username: a", "password: b"]],
    ["impersonation", [SERVER], ["token: t", "as: admin"]],
    ["a proxy", [SERVER, "proxy-url: http://proxy:3128"], ["token: t"]],
    ["an http server without insecure-skip-tls-verify", ["server: http://10.0.0.1:8080"], ["token: t"]],
    ["no server", ["certificate-authority-data: Q0E="], ["token: t"]],
    ["a skip flag that is not a boolean", [SERVER, 'insecure-skip-tls-verify: "true"'], ["token: t"]],
  ])("%s is left to client-node", (_what, cluster, user) => {
    expect(parseSimpleKubeconfig(kubeconfig(cluster, user), "/k")).toBeUndefined();
  });

  test("no current context, an unknown user or YAML that does not parse is left to client-node", () => {
    expect(parseSimpleKubeconfig(kubeconfig([SERVER], ["token: t"]).replace("current-context: x", ""), "/k")).toBe(
      undefined,
    );
    expect(parseSimpleKubeconfig(kubeconfig([SERVER], ["token: t"]).replace("    user: u", "    user: z"), "/k")).toBe(
      undefined,
    );
    expect(parseSimpleKubeconfig("clusters: [\n", "/k")).toBeUndefined();
  });

  test("an http server is read when insecure-skip-tls-verify is true", () => {
    const k = parseSimpleKubeconfig(
      kubeconfig(["server: http://127.0.0.1:8001", "insecure-skip-tls-verify: true"], []),
      "/k",
    );
    expect(k).toMatchObject({ server: "http://127.0.0.1:8001", skipTLSVerify: true });
  });
});

describe("credentials read without client-node", () => {
  test("a CA file is read at every refresh; a token becomes the bearer header", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kubeconfig-test-"));
    try {
      writeFileSync(join(dir, "ca.crt"), "CA-1");
      writeFileSync(join(dir, "config"), kubeconfig([SERVER, "certificate-authority: ca.crt"], ["token: abc"]));
      const { loadKubeTarget } = await import("./kubeconfig.ts");
      const target = await loadKubeTarget({ kubeconfigPath: join(dir, "config") });
      const first = await target.read();
      expect(first.headers).toEqual({ authorization: "Bearer abc" });
      expect(String(first.tls.ca)).toBe("CA-1");
      writeFileSync(join(dir, "ca.crt"), "CA-2");
      const second = await target.read();
      expect(String(second.tls.ca)).toBe("CA-2");
      expect(second.fingerprint).not.toBe(first.fingerprint);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test("in-cluster: https unless the port is one of client-node's http ports; IPv6 in brackets; the token file followed", async () => {
    const c = { host: "fd00::1", port: "443", tokenFile: "/sa/token", caFile: "/sa/ca.crt" };
    expect(inClusterTarget(c)).toMatchObject({ server: "https://[fd00::1]:443", tokenFile: "/sa/token" });
    const http = inClusterTarget({ ...c, host: "10.0.0.1", port: "8080" });
    expect(http.server).toBe("http://10.0.0.1:8080");
    // client-node refuses plain http without insecure-skip-tls-verify, and so do we
    await expect(http.read()).rejects.toThrow("HTTP protocol is not allowed");
  });
});
