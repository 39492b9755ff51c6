// Issue 10 item 6, per-node certificates as Go Multus has them: the compiled daemon with
// perNodeCertificate enabled asks for a client certificate of its node with the bootstrap
// kubeconfig (a kubelet-like user, system:node:<node>), `multus cert-approver` (compiled
// too) approves the CSR, the fake API signs it, and every API call of the daemon is then
// made as system:multus:<node> (the fake records who each request authenticated as). Under a
// 8 s lifetime the certificate is renewed while ADDs run, none failing; a restarted
// daemon reuses the pair in certDir; the private key is never printed.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lstatSync, readFileSync, readlinkSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { canRunE2e, containerId, netnsPerTest, waitFor } from "../helpers/e2e.ts";
import { NODE, describeRun, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";
import { BINARY, startDaemon, type DaemonHandle } from "../helpers/multus.ts";
import { grantOf } from "../helpers/rbac.ts";
import { parseAllDocuments } from "yaml";

const USER = `system:multus:${NODE}`;
const BOOTSTRAP_TOKEN = "bootstrap-token-of-the-kubelet";

let env: K8sEnv;
let approver: { proc: Subprocess; stderr(): string };
let certDir = "";
/** The daemon now running: the harness's, then the restarted ones. */
let daemon: DaemonHandle;
const restarted: DaemonHandle[] = [];
const printed: string[] = [];

function spawnApprover(kubeconfig: string): { proc: Subprocess; stderr(): string } {
  const proc = Bun.spawn([BINARY, "cert-approver", `--kubeconfig=${kubeconfig}`, "--log-level=debug"], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
  });
  let err = "";
  void (async () => {
    for await (const chunk of proc.stderr as ReadableStream<Uint8Array>) err += new TextDecoder().decode(chunk);
  })();
  return { proc, stderr: () => err };
}

beforeAll(async () => {
  if (!canRunE2e) return;
  env = await startK8sEnv({
    beforeDaemon({ fake, dir, onStop }) {
      fake.addToken(BOOTSTRAP_TOKEN, {
        username: `system:node:${NODE}`,
        groups: ["system:nodes", "system:authenticated"],
      });
      approver = spawnApprover(fake.writeKubeconfig(join(dir, "approver.kubeconfig")));
      onStop(async () => {
        approver.proc.kill("SIGTERM");
        await approver.proc.exited;
      });
    },
    kubeconfig: (fake, dir) => {
      certDir = join(dir, "certs");
      return fake.writeTokenKubeconfig(join(dir, "bootstrap.kubeconfig"), BOOTSTRAP_TOKEN);
    },
  });
  daemon = env.daemon;
});
afterAll(async () => {
  for (const d of restarted) await d.stop();
  await env?.stop();
});

const ns = netnsPerTest("mpc");

async function addAndDelete(name: string): Promise<void> {
  const pod = env.createPod({ name });
  const id = containerId();
  const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
  expect(r.code, describeRun(r)).toBe(0);
  expect(env.networkStatus(pod)).toContain(env.cluster.name);
  const d = await env.cni("DEL", { pod, containerId: id, netns: ns.path });
  expect(d.code, describeRun(d)).toBe(0);
}

/** Restarts the daemon with its configuration (what the harness wrote, plus `over`). */
async function restart(over: Record<string, unknown> = {}): Promise<DaemonHandle> {
  printed.push(daemon.stderr());
  await daemon.stop();
  const config = { ...JSON.parse(readFileSync(daemon.configPath, "utf8")), ...over };
  daemon = await startDaemon(daemon.dir, config, { env: { MULTUS_NODE_NAME: NODE } });
  restarted.push(daemon);
  return daemon;
}

const daemonRequests = () => env.fake.requests().filter((r) => r.user?.username === USER);

describe.skipIf(!canRunE2e)("perNodeCertificate", () => {
  test("the daemon obtains its certificate through the approver and serves ADDs as system:multus:<node>", async () => {
    // the harness started the daemon with a kubeconfig only: now with perNodeCertificate
    await restart({
      perNodeCertificate: {
        enabled: true,
        bootstrapKubeconfig: join(daemon.dir, "bootstrap.kubeconfig"),
        certDir,
      },
    });
    const [csr, ...more] = env.fake.csrs();
    expect(more).toEqual([]);
    expect(csr?.spec).toMatchObject({
      signerName: "kubernetes.io/kube-apiserver-client",
      usages: ["digital signature", "client auth"],
      expirationSeconds: 600, // certDuration's default, 10m
      username: `system:node:${NODE}`,
    });
    expect(JSON.stringify(csr?.status)).toContain('"reason":"AutoApproved"');
    expect(approver.stderr()).toContain(`approved CSR ${csr?.metadata.name} for ${NODE} node`);
    const current = join(certDir, "multus-client-current.pem");
    expect(lstatSync(current).isSymbolicLink()).toBe(true);
    expect(readlinkSync(current)).toMatch(/^multus-client-[\d-]+\.pem$/);
    expect(statSync(current).mode & 0o777).toBe(0o600);

    // the informers list and watch as the node's user too
    await waitFor("the informers to watch", () => daemonRequests().some((r) => r.verb === "WATCH"));
    env.fake.resetCounts();
    await addAndDelete("first");
    const patches = env.fake.requests().filter((r) => r.resource === "pods/status");
    expect(patches.length).toBeGreaterThan(0);
    expect(patches.map((r) => r.user?.username)).toEqual(patches.map(() => USER));
  });

  test("a restarted daemon reuses the valid pair in certDir: no new CSR", async () => {
    const before = env.fake.csrs().length;
    const pair = readFileSync(join(certDir, "multus-client-current.pem"), "utf8");
    await restart();
    await addAndDelete("after-restart");
    expect(env.fake.csrs().length).toBe(before);
    expect(readFileSync(join(certDir, "multus-client-current.pem"), "utf8")).toBe(pair);
    expect(daemonRequests().some((r) => r.resource === "pods/status")).toBe(true);
  });

  test("renewed before expiry, twice, without a restart, while not one ADD or API call fails", async () => {
    env.fake.setCertLifetime(8);
    rmSync(certDir, { recursive: true, force: true });
    await restart();
    const pid = daemon.proc.pid;
    const issued = env.fake.issuedCertificates().length;
    env.fake.resetCounts();
    const keys = new Set<string>();
    let adds = 0;
    const end = Date.now() + 22_000;
    while (Date.now() < end) {
      await addAndDelete(`loop-${adds}`);
      adds++;
      keys.add(readFileSync(join(certDir, "multus-client-current.pem"), "utf8"));
    }
    expect(env.fake.issuedCertificates().length - issued, daemon.stderr()).toBeGreaterThanOrEqual(2);
    expect(keys.size).toBeGreaterThanOrEqual(2);
    expect(adds).toBeGreaterThan(20);
    expect(daemon.proc.pid).toBe(pid);
    const failed = env.fake.requests().filter((r) => r.status >= 400 || r.user === undefined);
    expect(failed.map((r) => `${r.method} ${r.path} ${r.status}`)).toEqual([]);
    // renewals are requested with the certificate itself, as client-go's manager does
    const csrUsers = env.fake.requests().filter((r) => r.resource === "csrs" && r.method === "POST");
    expect(csrUsers.map((r) => r.user?.username)).toContain(USER);

    // the keys of every pair seen were never printed, by the daemon or the approver
    printed.push(daemon.stderr(), approver.stderr());
    const logs = printed.join("\n");
    for (const pem of keys) {
      const key = /-----BEGIN EC PRIVATE KEY-----\n([\s\S]*?)-----END/.exec(pem)?.[1];
      expect(key).toBeTruthy();
      for (const line of key!.split("\n").filter((l) => l.length > 20)) expect(logs).not.toContain(line);
    }
  }, 60_000);

  test("the approver's calls are its ClusterRole's grants, and it records Go's events", async () => {
    // every request with the default token is the approver's: the daemon used the bootstrap token, then its certificate
    const approverCalls = () =>
      env.fake.requests().filter((r) => r.user?.username.startsWith("system:serviceaccount:"));
    await waitFor("the approver's CSRApproved events", () =>
      env.fake.events().some((e) => e.reason === "CSRApproved" && e.component === "cert-approver"),
    );
    // the approvals of the last test are in the log; a 410 makes the approver list and watch again
    env.fake.expireWatches();
    await waitFor("the approver to list and watch again", () =>
      ["LIST", "WATCH"].every((verb) => approverCalls().some((r) => r.verb === verb && r.resource === "csrs")),
    );
    const used = new Set(
      approverCalls()
        .map(grantOf)
        .filter((g): g is string => g !== undefined),
    );
    const role = parseAllDocuments(
      readFileSync(join(import.meta.dir, "../../deployments/per-node-certificate-base/cert-approver.yml"), "utf8"),
    )
      .map((d) => d.toJS())
      .find((o) => o?.kind === "ClusterRole");
    const granted = new Set(
      (role.rules as Array<{ apiGroups: string[]; resources: string[]; verbs: string[] }>).flatMap((r) =>
        r.apiGroups.flatMap((g) => r.resources.flatMap((res) => r.verbs.map((v) => `${g || "core"}/${res}:${v}`))),
      ),
    );
    granted.delete("certificates.k8s.io/signers:approve"); // checked by the API server on approval, not a request
    expect([...used].sort(), JSON.stringify(approverCalls().map((r) => `${r.verb} ${r.path}`))).toEqual(
      [...granted].sort(),
    );
  });
});
