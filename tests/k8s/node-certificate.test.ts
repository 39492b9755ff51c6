// The per-node client certificate (src/k8s/node-certificate.ts) and the approver
// (src/k8s/cert-approver.ts) against the fake API server: CSRs created with the
// bootstrap kubeconfig, approved by the approver, signed by the fake's CA with a
// short lifetime, then used (the fake records who each request authenticated as).
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { lstatSync, mkdtempSync, readdirSync, readlinkSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startCertApprover, type CertApprover } from "../../src/k8s/cert-approver.ts";
import { createKubeClient, type KubeClient } from "../../src/k8s/client.ts";
import { CURRENT_FILE, renewalTime } from "../../src/k8s/node-certificate.ts";
import { captureKubeLog } from "../helpers/capture-log.ts";
import { startFakeKube, until, type FakeKube } from "../helpers/fake-kube.ts";

const NODE = "node-a";
const BOOTSTRAP_TOKEN = "bootstrap-node-a";

let fake: FakeKube;
let dir: string | undefined;
let approver: CertApprover | undefined;
let client: KubeClient | undefined;

beforeAll(async () => {
  fake = await startFakeKube({ certLifetimeSeconds: 3600 });
  fake.addToken(BOOTSTRAP_TOKEN, { username: `system:node:${NODE}`, groups: ["system:nodes", "system:authenticated"] });
});
afterAll(async () => {
  await fake.stop();
});
afterEach(async () => {
  await client?.stop();
  await approver?.stop();
  client = undefined;
  approver = undefined;
  fake.setCertLifetime(3600);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function setup(): { bootstrap: string; certDir: string } {
  const d = mkdtempSync(join(tmpdir(), "node-cert-"));
  dir = d;
  return {
    bootstrap: fake.writeTokenKubeconfig(join(d, "bootstrap.kubeconfig"), BOOTSTRAP_TOKEN),
    certDir: join(d, "certs"),
  };
}

async function startApprover(): Promise<void> {
  approver = await startCertApprover({
    kubeconfigPath: fake.writeKubeconfig(join(dir!, "approver.kubeconfig")),
    logger: captureKubeLog(),
  });
  expect(await approver.waitForSync(5_000)).toBe(true);
}

const connect = (p: { bootstrap: string; certDir: string }, log = captureKubeLog()) =>
  createKubeClient({
    nodeName: NODE,
    logger: log,
    syncTimeoutMs: 5_000,
    perNodeCertificate: { bootstrapKubeconfig: p.bootstrap, certDir: p.certDir, durationMs: 600_000 },
  });

const usersOf = (path: RegExp) =>
  fake
    .requests()
    .filter((r) => path.test(r.path))
    .map((r) => r.user?.username);

describe("per-node certificate", () => {
  test("renewal falls between 70% and 84% of the lifetime, as client-go's", () => {
    const pair = { notBefore: 0, notAfter: 1000 };
    expect(renewalTime(pair, 0)).toBe(700);
    expect(renewalTime(pair, 1)).toBeCloseTo(840);
  });

  test("obtained through the approver, stored as client-go stores it, then used as system:multus:<node>", async () => {
    const p = setup();
    await startApprover();
    fake.resetCounts();
    client = await connect(p);
    const [csr] = fake.csrs();
    expect(csr?.spec).toMatchObject({
      signerName: "kubernetes.io/kube-apiserver-client",
      usages: ["digital signature", "client auth"],
      expirationSeconds: 600,
      username: `system:node:${NODE}`,
    });
    expect((csr?.status as { conditions?: unknown[] } | undefined)?.conditions).toEqual([
      expect.objectContaining({ type: "Approved", status: "True", reason: "AutoApproved" }),
    ]);
    // the symlink names one pair file, mode 0600
    const current = join(p.certDir, CURRENT_FILE);
    expect(lstatSync(current).isSymbolicLink()).toBe(true);
    expect(readlinkSync(current)).toMatch(/^multus-client-\d{4}(-\d\d){5}\.pem$/);
    expect(statSync(current).mode & 0o777).toBe(0o600);
    fake.createPod({ namespace: "default", name: "p1", nodeName: NODE });
    await client.getPod({ namespace: "default", name: "p1" }, { timeoutMs: 5_000 });
    expect(usersOf(/\/pods\/p1$/)).toEqual([`system:multus:${NODE}`]);
    expect(usersOf(/certificatesigningrequests/)).toContain(`system:node:${NODE}`);
    // Go's event about the CSR
    const event = await until(
      () => fake.events().find((e) => e.reason === "CSRApproved" && e.involved?.name === csr?.metadata.name),
      "the CSRApproved event",
    );
    expect(event).toMatchObject({ namespace: "default", type: "Normal", component: "cert-approver" });
    expect(event.involved).toMatchObject({ kind: "CertificateSigningRequest", apiVersion: "certificates.k8s.io/v1" });
    expect(event.involved?.namespace).toBeUndefined();
  });

  test("a restart reuses the valid pair: no new CSR", async () => {
    const p = setup();
    await startApprover();
    client = await connect(p);
    await client.stop();
    const before = fake.csrs().length;
    client = await connect(p);
    expect(fake.csrs().length).toBe(before);
    fake.createPod({ namespace: "default", name: "p2", nodeName: NODE });
    await client.getPod({ namespace: "default", name: "p2" }, { timeoutMs: 5_000 });
    expect(usersOf(/\/pods\/p2$/)).toEqual([`system:multus:${NODE}`]);
  });

  // Go fixed a crash loop of daemons restarted while its store had the symlink removed or the
  // file empty (multus-cni#1483); here the swap is a rename, and an unusable pair is replaced.
  test.each([
    ["empty", ""],
    ["cut short", "-----BEGIN CERTIFICATE-----\nMIIB"],
  ])("a restart finding the current file %s requests a new pair instead of failing", async (_, text) => {
    const p = setup();
    await startApprover();
    client = await connect(p);
    await client.stop();
    const current = join(p.certDir, CURRENT_FILE);
    rmSync(current);
    writeFileSync(current, text);
    const before = fake.csrs().length;
    client = await connect(p);
    expect(fake.csrs().length).toBe(before + 1);
    expect(lstatSync(current).isSymbolicLink()).toBe(true);
  });

  test("renewed before expiry with the certificate's own identity; requests never fail meanwhile", async () => {
    const p = setup();
    await startApprover();
    fake.setCertLifetime(6);
    client = await connect(p);
    fake.createPod({ namespace: "default", name: "p3", nodeName: NODE });
    const issuedAtStart = fake.issuedCertificates().length;
    let requests = 0;
    const end = Date.now() + 14_000;
    while (Date.now() < end) {
      await client.getPod({ namespace: "default", name: "p3" }, { timeoutMs: 5_000 });
      requests++;
      await Bun.sleep(50);
    }
    expect(fake.issuedCertificates().length - issuedAtStart).toBeGreaterThanOrEqual(2);
    expect(requests).toBeGreaterThan(50);
    expect(fake.requests().filter((r) => r.path.endsWith("/pods/p3") && r.status !== 200)).toEqual([]);
    // renewals went out as the certificate's user
    expect(usersOf(/certificatesigningrequests$/).slice(1)).toContain(`system:multus:${NODE}`);
    // old pairs are removed: one pair file and the symlink
    expect(readdirSync(p.certDir).filter((f) => f.endsWith(".pem")).length).toBe(2);
  }, 30_000);

  test("without an approver start-up fails once the wait is over; a denied request says so", async () => {
    const p = setup();
    const log = captureKubeLog();
    const { createNodeCertificate } = await import("../../src/k8s/node-certificate.ts");
    const { createKubeHttp } = await import("../../src/k8s/client.ts");
    const { loadKubeTarget } = await import("../../src/k8s/kubeconfig.ts");
    const http = createKubeHttp(await loadKubeTarget({ kubeconfigPath: p.bootstrap }));
    const cert = createNodeCertificate({
      nodeName: NODE,
      certDir: p.certDir,
      durationMs: 600_000,
      bootstrap: http,
      logger: log,
      startTimeoutMs: 1_500,
      pollMs: 50,
    });
    const before = fake.csrs().length;
    const started = cert.start();
    const name = await until(() => fake.csrs()[before]?.metadata.name, "a CSR");
    const csr = fake.getCsr(name)!;
    const res = await fetch(`${fake.url}/apis/certificates.k8s.io/v1/certificatesigningrequests/${name}/approval`, {
      method: "PUT",
      headers: { authorization: `Bearer ${fake.token}`, "content-type": "application/json" },
      body: JSON.stringify({
        ...csr,
        status: { conditions: [{ type: "Denied", status: "True", reason: "No", message: "go away" }] },
      }),
      tls: { ca: fake.caPem },
    });
    expect(`${res.status} ${res.status === 200 ? "" : await res.text()}`).toBe("200 ");
    await expect(started).rejects.toThrow("certificate was not signed within 1.5 s");
    expect(log.lines.join("\n")).toContain("is denied, reason: No, message: go away");
    cert.stop();
    http.close();
  });
});
