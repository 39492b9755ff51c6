// Issue 10 item 6, what Go ships around per-node certificates for thin mode: Go's
// kubeconfig_generator as `multus kubeconfig-generator` (and as argv[0] kubeconfig_generator),
// through the compiled binary against the fake API with `multus cert-approver` running. It
// obtains system:multus:<node>'s certificate with a kubelet-like bootstrap kubeconfig,
// writes Go's kubeconfig naming it, and the thin plugin using that kubeconfig makes its API
// calls as system:multus:<node>; the certificate is renewed while it runs; SIGTERM removes
// the kubeconfig; each of Go's checks fails with Go's message.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import {
  bridgeConflist,
  bridgeNet,
  canRunE2e,
  containerId,
  deleteBridge,
  ensureBinary,
  netnsPerTest,
  PLUGIN_DIR,
  waitFor,
  writeJson,
} from "../helpers/e2e.ts";
import { startFakeKube, type FakeKube } from "../helpers/fake-kube.ts";
import { thinInvoker } from "../helpers/invokers.ts";
import { describeRun } from "../helpers/k8s-e2e.ts";
import { BINARY } from "../helpers/multus.ts";
import { createCleanup } from "../helpers/netns.ts";

const NODE = "node-kcgen";
const USER = `system:multus:${NODE}`;
const BOOTSTRAP_TOKEN = "bootstrap-token-of-the-kubelet";
const PATH = process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin";

interface Running {
  proc: Subprocess;
  stderr(): string;
}

function spawn(argv: string[], env: Record<string, string> = {}): Running {
  const proc = Bun.spawn(argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { PATH, ...env } });
  let err = "";
  void (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) err += new TextDecoder().decode(chunk);
  })();
  return { proc, stderr: () => err };
}

/** Runs to its end (bounded: a generator that passed its checks would wait for a signal). */
async function runToEnd(argv: string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  const proc = Bun.spawn(argv, {
    stdin: "ignore",
    stdout: "ignore",
    stderr: "pipe",
    env: { PATH, ...env },
    timeout: 15_000,
    killSignal: "SIGKILL",
  });
  const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
  return { code, stderr };
}

const cleanup = createCleanup();
let fake: FakeKube;
let approver: Running;
let dir = "";
let bootstrap = "";

beforeAll(async () => {
  if (!canRunE2e) return;
  await ensureBinary();
  fake = await startFakeKube();
  cleanup.add(() => fake.stop());
  fake.addToken(BOOTSTRAP_TOKEN, { username: `system:node:${NODE}`, groups: ["system:nodes", "system:authenticated"] });
  dir = await mkdtemp(join(tmpdir(), "multus-kcgen-"));
  cleanup.add(() => rm(dir, { recursive: true, force: true }));
  bootstrap = fake.writeTokenKubeconfig(join(dir, "bootstrap.kubeconfig"), BOOTSTRAP_TOKEN);
  approver = spawn([BINARY, "cert-approver", `--kubeconfig=${fake.writeKubeconfig(join(dir, "approver.kubeconfig"))}`]);
  cleanup.add(async () => {
    approver.proc.kill("SIGTERM");
    await approver.proc.exited;
  });
});
afterAll(() => cleanup.run());

/** A generator started with Go's flags; resolves once it says the kubeconfig is saved. */
async function startGenerator(o: { certDir: string; kubeconfig: string; duration?: string }): Promise<Running> {
  await mkdir(o.certDir, { recursive: true });
  const gen = spawn(
    [
      BINARY,
      "kubeconfig-generator",
      `--certdir=${o.certDir}`,
      "--bootstrap-config",
      bootstrap,
      `--kubeconfig=${o.kubeconfig}`,
      ...(o.duration ? ["--cert-duration", o.duration] : []),
    ],
    { MULTUS_NODE_NAME: NODE },
  );
  cleanup.add(async () => {
    gen.proc.kill("SIGKILL");
    await gen.proc.exited;
  });
  await waitFor(
    "the kubeconfig to be saved",
    () => gen.stderr().includes(`kubeconfig "${o.kubeconfig}" is saved`) || gen.proc.exitCode !== null,
    30_000,
  );
  expect(gen.proc.exitCode, gen.stderr()).toBeNull();
  return gen;
}

const ns = netnsPerTest("mkg");

describe.skipIf(!canRunE2e)("multus kubeconfig-generator", () => {
  let gen: Running;
  let kubeconfig = "";
  const certDir = () => join(dir, "certs");

  test("obtains the node's certificate through the approver and writes Go's kubeconfig naming it", async () => {
    kubeconfig = join(dir, "run", "kubeconfig");
    gen = await startGenerator({ certDir: certDir(), kubeconfig });
    const [csr, ...more] = fake.csrs();
    expect(more).toEqual([]);
    expect(csr?.spec).toMatchObject({
      signerName: "kubernetes.io/kube-apiserver-client",
      usages: ["digital signature", "client auth"],
      expirationSeconds: 600, // --cert-duration's default, 10m
      username: `system:node:${NODE}`,
    });
    // its stderr reaches this process a little after the approval
    await waitFor("the approver's log line", () =>
      approver.stderr().includes(`approved CSR ${csr?.metadata.name} for ${NODE} node`),
    );
    expect(statSync(kubeconfig).mode & 0o777).toBe(0o600);
    const current = join(certDir(), "multus-client-current.pem");
    expect(readFileSync(kubeconfig, "utf8")).toBe(
      [
        "apiVersion: v1",
        "clusters:",
        "  - cluster:",
        `      certificate-authority-data: ${Buffer.from(fake.caPem).toString("base64")}`,
        `      server: ${fake.certUrl}`,
        "    name: default-cluster",
        "contexts:",
        "  - context:",
        "      cluster: default-cluster",
        "      namespace: default",
        "      user: default-auth",
        "    name: default-context",
        "current-context: default-context",
        "kind: Config",
        "preferences: {}",
        "users:",
        "  - name: default-auth",
        "    user:",
        `      client-certificate: ${current}`,
        `      client-key: ${current}`,
        "",
      ].join("\n"),
    );
    expect(readFileSync(current, "utf8")).toContain("-----BEGIN EC PRIVATE KEY-----");
  });

  test("the thin plugin with that kubeconfig makes its API calls as system:multus:<node>", async () => {
    const thin = thinInvoker();
    const confDir = join(dir, "net.d");
    await mkdir(confDir, { recursive: true });
    const cluster = bridgeNet("kcg", join(dir, "ipam"));
    cleanup.add(() => deleteBridge(cluster.bridge));
    const clusterNetwork = await writeJson(join(confDir, "10-cluster.conflist"), bridgeConflist(cluster));
    await thin.setup({
      config: { cniDir: join(dir, "cache"), confDir, binDir: PLUGIN_DIR, clusterNetwork, kubeconfig },
    });
    cleanup.add(() => thin.teardown());
    fake.createPod({ namespace: "default", name: "thin-pod" });
    fake.resetCounts();
    const id = containerId();
    const args = `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=thin-pod;K8S_POD_INFRA_CONTAINER_ID=${id}`;
    const add = await thin.cni({ command: "ADD", containerId: id, netns: ns.path, args });
    expect(add.code, describeRun(add)).toBe(0);
    // the approver's watch is not the plugin's
    const calls = fake.requests().filter((r) => r.resource !== "csrs");
    expect(calls.some((r) => r.resource === "pods" && r.verb === "GET")).toBe(true);
    expect(calls.some((r) => r.resource === "pods/status")).toBe(true);
    expect(calls.map((r) => `${r.verb} ${r.resource} ${r.user?.username}`)).toEqual(
      calls.map((r) => `${r.verb} ${r.resource} ${USER}`),
    );
    const del = await thin.cni({ command: "DEL", containerId: id, netns: ns.path, args });
    expect(del.code, describeRun(del)).toBe(0);
  });

  test("SIGTERM removes the kubeconfig and exits 0", async () => {
    gen.proc.kill("SIGTERM");
    expect(await gen.proc.exited).toBe(0);
    expect(existsSync(kubeconfig)).toBe(false);
    expect(gen.stderr()).toContain(`signal received. remove kubeconfig "${kubeconfig}" and quit.`);
    // the certificate stays for the next start
    expect(existsSync(join(certDir(), "multus-client-current.pem"))).toBe(true);
  });

  test("the certificate is renewed while it runs, with the certificate itself", async () => {
    fake.setCertLifetime(5);
    const issued = fake.issuedCertificates().length;
    const renewing = await startGenerator({ certDir: join(dir, "certs-short"), kubeconfig: join(dir, "short") });
    const pem = () => readFileSync(join(dir, "certs-short", "multus-client-current.pem"), "utf8");
    const first = pem();
    await waitFor("two renewals", () => fake.issuedCertificates().length - issued >= 3, 20_000, 100);
    expect(pem()).not.toBe(first);
    const posts = fake.requests().filter((r) => r.resource === "csrs" && r.method === "POST");
    expect(posts.map((r) => r.user?.username)).toContain(USER);
    expect(renewing.proc.exitCode, renewing.stderr()).toBeNull();
    renewing.proc.kill("SIGTERM");
    expect(await renewing.proc.exited).toBe(0);
  }, 40_000);

  test("Go's checks fail with Go's messages and exit 255; invoked as kubeconfig_generator too", async () => {
    const file = join(dir, "not-a-dir");
    await writeFile(file, "");
    const link = join(dir, "bin", "kubeconfig_generator");
    await mkdir(join(dir, "bin"), { recursive: true });
    await symlink(BINARY, link);
    const base = [`--bootstrap-config=${bootstrap}`, `--certdir=${dir}`, `--kubeconfig=${join(dir, "never")}`];
    const cases: Array<{ argv: string[]; env?: Record<string, string>; message: string }> = [
      {
        argv: [BINARY, "kubeconfig-generator", ...base],
        message: "cannot identify node name from MULTUS_NODE_NAME env variables",
      },
      {
        argv: [link, ...base, "--cert-duration=10 minutes"],
        env: { MULTUS_NODE_NAME: NODE },
        message: 'failed to parse duration "10 minutes"',
      },
      {
        argv: [BINARY, "kubeconfig-generator", ...base, `--certdir=${file}`],
        env: { MULTUS_NODE_NAME: NODE },
        message: `cert directory "${file}" is not directory`,
      },
      {
        argv: [link, ...base, `--certdir=${join(dir, "absent")}`],
        env: { MULTUS_NODE_NAME: NODE },
        message: `failed to find cert directory "${join(dir, "absent")}"`,
      },
      {
        argv: [BINARY, "kubeconfig-generator", ...base, `--bootstrap-config=${join(dir, "absent.kubeconfig")}`],
        env: { MULTUS_NODE_NAME: NODE },
        message: `failed to read bootstrap config "${join(dir, "absent.kubeconfig")}"`,
      },
    ];
    for (const c of cases) {
      const r = await runToEnd(c.argv, c.env ?? {});
      expect({ code: r.code, said: r.stderr.includes(c.message) }, r.stderr).toEqual({ code: 255, said: true });
    }
    expect(existsSync(join(dir, "never"))).toBe(false);
    const unknown = await runToEnd([link, "--no-such-flag=1"], { MULTUS_NODE_NAME: NODE });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("unknown flag: --no-such-flag");
  });
});
