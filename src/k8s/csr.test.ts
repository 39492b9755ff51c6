import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCsrPem, generateClientKey, keyToPem, parseCsrPem } from "./csr.ts";

const dir = mkdtempSync(join(tmpdir(), "csr-test-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** What openssl makes of a request: it must verify, and its subject as openssl prints it. */
function openssl(pem: string): { ok: boolean; subject: string; text: string } {
  const file = join(dir, `${crypto.randomUUID()}.csr`);
  writeFileSync(file, pem);
  const r = Bun.spawnSync(["openssl", "req", "-in", file, "-noout", "-verify", "-subject", "-text"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = r.stdout.toString() + r.stderr.toString();
  return {
    ok: r.exitCode === 0 && /verify OK/i.test(out),
    subject: /subject=(.*)/.exec(out)?.[1]?.trim() ?? "",
    text: out,
  };
}

describe("certificate requests", () => {
  test("the per-node request verifies in openssl, with Go's subject and an EC P-256 key", () => {
    const key = generateClientKey();
    const pem = createCsrPem({ commonName: "system:multus:node-1", organizations: ["system:multus"] }, key);
    expect(pem.startsWith("-----BEGIN CERTIFICATE REQUEST-----\n")).toBe(true);
    const o = openssl(pem);
    expect(o.ok).toBe(true);
    expect(o.subject).toBe("O = system:multus, CN = system:multus:node-1");
    expect(o.text).toContain("prime256v1");
    expect(o.text).toContain("ecdsa-with-SHA256");
    expect(keyToPem(key)).toStartWith("-----BEGIN PRIVATE KEY-----");
  });

  test.each([
    ["a long node name", "n".repeat(200)],
    ["a non-ASCII name (UTF8String)", "knoten-ü"],
    ["several organizations", "x"],
  ])("%s verifies and reads back", (_, cn) => {
    const organizations = cn === "x" ? ["system:multus", "other"] : ["system:multus"];
    const pem = createCsrPem({ commonName: `system:multus:${cn}`, organizations }, generateClientKey());
    expect(openssl(pem).ok).toBe(true);
    expect(parseCsrPem(pem)).toEqual({ commonName: `system:multus:${cn}`, organizations, signatureValid: true });
  });

  test("a request made by openssl (RSA) reads back with its subject", () => {
    const keyFile = join(dir, "rsa.key");
    const r = Bun.spawnSync(
      [
        "openssl",
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        keyFile,
        "-subj",
        "/O=system:multus/CN=system:multus:n2",
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    expect(r.exitCode).toBe(0);
    expect(parseCsrPem(r.stdout.toString())).toEqual({
      commonName: "system:multus:n2",
      organizations: ["system:multus"],
      signatureValid: true,
    });
  });

  test("a request whose signed part was changed fails the signature check", () => {
    const pem = createCsrPem(
      { commonName: "system:multus:node-1", organizations: ["system:multus"] },
      generateClientKey(),
    );
    const der = Buffer.from(pem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    const at = der.indexOf(Buffer.from("node-1"));
    der[at + 5] = "2".charCodeAt(0);
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    const parsed = parseCsrPem(forged);
    expect(parsed.commonName).toBe("system:multus:node-2");
    expect(parsed.signatureValid).toBe(false);
  });

  test("what is not a request is refused", () => {
    expect(() => parseCsrPem("hello")).toThrow("no CERTIFICATE REQUEST");
    expect(() => parseCsrPem("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----")).toThrow();
  });
});
