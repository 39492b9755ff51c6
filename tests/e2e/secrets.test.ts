// Credentials never reach a log line or a CNI error: the compiled daemon at
// debug level with a kubeconfig carrying a bearer token and a client key
// drives ADD and DEL, a missing NAD, API answers 401 and 403, and a second
// daemon gets a kubeconfig it cannot use. Every line the daemon printed and
// every answer the runtime got is searched for the token, the key and the
// kubeconfig's encoded key data.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bridgeConflist, bridgeNet, canRunE2e, containerId, deleteBridge, netnsPerTest } from "../helpers/e2e.ts";
import { describeRun, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";
import { startDaemon, type ShimRun } from "../helpers/multus.ts";
import { randomSuffix } from "../helpers/netns.ts";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";

let env: K8sEnv;
let token = "";
let keyPem = "";
let kubeconfigText = "";
/** What must never be printed: the token, the key's PEM lines, the kubeconfig's base64 of it. */
let secrets: string[] = [];
const answers: ShimRun[] = [];

/** A client key and certificate of our own (the fake API asks for none, but the client loads them). */
async function clientKeyPair(): Promise<{ key: string; cert: string }> {
  const dir = await mkdtemp(join(tmpdir(), "multus-key-"));
  try {
    const p = Bun.spawnSync(
      ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=multus-test"].concat([
        "-keyout",
        join(dir, "k.pem"),
        "-out",
        join(dir, "c.pem"),
      ]),
      { stdout: "ignore", stderr: "pipe" },
    );
    if (p.exitCode !== 0) throw new Error(`openssl: ${p.stderr.toString()}`);
    return { key: await readFile(join(dir, "k.pem"), "utf8"), cert: await readFile(join(dir, "c.pem"), "utf8") };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

beforeAll(async () => {
  if (!canRunE2e) return;
  const pair = await clientKeyPair();
  keyPem = pair.key;
  const b64 = (s: string) => Buffer.from(s).toString("base64");
  env = await startK8sEnv({
    daemonConfig: { logLevel: "debug" },
    kubeconfig: (fake, dir) => {
      const path = fake.writeKubeconfig(join(dir, "kubeconfig"));
      const text = readFileSync(path, "utf8");
      token = /token: "([^"]+)"/.exec(text)![1]!;
      kubeconfigText = text.replace(
        /( *)token: .*\n/,
        (line, indent) =>
          `${line}${indent}client-certificate-data: ${b64(pair.cert)}\n${indent}client-key-data: ${b64(pair.key)}\n`,
      );
      writeFileSync(path, kubeconfigText, { mode: 0o600 });
      return path;
    },
  });
  const keyLines = keyPem.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"));
  // Fragments too: an error that quotes a line cut short (the YAML parser's) still gives a prefix away.
  const random = token.replace(/^fake-/, "");
  secrets = [token, random, random.slice(0, 12), b64(pair.key).slice(0, 60), ...keyLines];
  expect(keyLines.length).toBeGreaterThan(5);
});
afterAll(() => env?.stop());

const ns = netnsPerTest("mtq");

async function cni(command: string, call: Parameters<K8sEnv["cni"]>[1]): Promise<ShimRun> {
  const r = await env.cni(command, call);
  answers.push(r);
  return r;
}

/** The secrets found in `text`, by their first characters (never the secret itself in a failure message). */
function leaked(text: string): string[] {
  return secrets.filter((s) => text.includes(s)).map((s) => `${s.slice(0, 6)}...`);
}

describe.skipIf(!canRunE2e)("credentials stay out of logs and errors", () => {
  test("ADD, DEL, a missing NAD, API 401 and 403: no token or key in any log line or answer", async () => {
    // The search can find them: every one is in the kubeconfig the daemon reads.
    expect(leaked(kubeconfigText + keyPem)).toHaveLength(secrets.length);
    const s = randomSuffix(5);
    const net = bridgeNet("sec", env.dataDir);
    env.cleanup.add(() => deleteBridge(net.bridge));
    env.createNad({ name: `sec-${s}`, config: bridgeConflist(net) });

    const pod = env.createPod({ annotations: { [NETWORKS]: `sec-${s}` } });
    const id = containerId();
    const ok = await cni("ADD", { pod, containerId: id, netns: ns.path });
    expect(ok.code, describeRun(ok)).toBe(0);
    expect((await cni("DEL", { pod, containerId: id, netns: ns.path })).code).toBe(0);

    const missing = env.createPod({ annotations: { [NETWORKS]: `absent-${s}` } });
    expect((await cni("ADD", { pod: missing, containerId: containerId(), netns: ns.path })).code).toBe(1);

    for (const status of [401, 403]) {
      const p = env.createPod({ annotations: { [NETWORKS]: `sec-${s}` } });
      const cid = containerId();
      if (status === 401) env.fake.acceptTokens(`other-${s}`);
      else env.fake.failNext({ path: "pods/status", status, times: 5 });
      const r = await cni("ADD", { pod: p, containerId: cid, netns: ns.path });
      env.fake.acceptTokens(token);
      env.fake.clearFailures();
      expect(r.code, describeRun(r)).toBe(1);
      expect(JSON.stringify(r.json())).toContain(String(status));
      expect((await cni("DEL", { pod: p, containerId: cid, netns: ns.path })).code).toBe(0);
    }

    const log = env.daemon.stderr();
    // The run was at debug level and talked to the API: the search had something to search.
    expect(log).toContain("debug");
    expect(log.split("\n").length).toBeGreaterThan(20);
    const perLine = log.split("\n").flatMap((line, i) => leaked(line).map((s) => `daemon line ${i}: ${s}`));
    const inAnswers = answers.flatMap((a, i) => leaked(a.stdout + a.stderr).map((s) => `answer ${i}: ${s}`));
    expect([...perLine, ...inAnswers]).toEqual([]);
  });

  test.each([
    ["broken YAML right after the credentials", (t: string) => t.replace(/(client-key-data: .*\n)/, "$1   - oops\n")],
    ["broken YAML at the end", (t: string) => `${t}\nusers: [unclosed\n`],
    ["a server URL that is not one", (t: string) => t.replace(/server: .*/, "server: ht!tp://[::bad")],
    [
      "a client key that is not PEM",
      (t: string) =>
        t.replace(/client-key-data: .*/, `client-key-data: ${Buffer.from(`${token}-not-pem`).toString("base64")}`),
    ],
  ])("a kubeconfig with %s: the daemon's words name the file, never its contents", async (_what, edit) => {
    const dir = await mkdtemp(join(tmpdir(), "multus-badkc-"));
    env.cleanup.add(() => rm(dir, { recursive: true, force: true }));
    const path = join(dir, "kubeconfig");
    await writeFile(path, edit(kubeconfigText), { mode: 0o600 });
    let said = "";
    try {
      const d = await startDaemon(dir, {
        kubeconfig: path,
        logLevel: "debug",
        logToStderr: true,
        cniDir: join(dir, "c"),
      });
      said = d.stderr();
      await d.stop();
      said = d.stderr();
    } catch (err) {
      said = (err as Error).message;
    }
    expect(said).not.toBe("");
    expect(leaked(said)).toEqual([]);
    if (said.includes("cannot create the Kubernetes client"))
      expect(said).toContain(`kubeconfig ${path} cannot be read`);
  });
});
