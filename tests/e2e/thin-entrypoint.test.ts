// `multus thin-entrypoint`, the thin DaemonSet's main container, through the
// compiled binary: Go's flag names and defaults, the files Go's thin_entrypoint
// writes (byte for byte: the expected texts below are Go's templates filled in
// by hand), 00-multus.conflist from CNI 1.0.0 on, the poll that keeps them
// current, cleanup on SIGTERM, and a pod ADD/DEL by the thin plugin through
// the generated conflist against the fake API server.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { BINARY, runCni } from "../helpers/multus.ts";
import {
  PLUGIN_DIR,
  bridgeConflist,
  bridgeNet,
  canRunE2e,
  deleteBridge,
  ensureBinary,
  waitFor,
} from "../helpers/e2e.ts";
import { startFakeKube, type FakeKube } from "../helpers/fake-kube.ts";
import { createCleanup, createNetns, deleteNetns } from "../helpers/netns.ts";
import { THIN_FLAGS } from "../../src/cli/thin-entrypoint.ts";

const CA = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n";
const CA_B64 = Buffer.from(CA).toString("base64");

let root: string;
let netd: string;
let sa: string;
let bin: string;
const procs: Array<ReturnType<typeof Bun.spawn>> = [];

beforeAll(async () => {
  if (canRunE2e) await ensureBinary();
});
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "multus-thin-ep-"));
  netd = join(root, "net.d");
  sa = join(root, "sa");
  bin = join(root, "bin");
  for (const d of [netd, sa, bin]) await mkdir(d);
  await writeFile(join(sa, "token"), "header.payload.sig-1");
  await writeFile(join(sa, "ca.crt"), CA);
});
afterEach(async () => {
  for (const p of procs.splice(0)) if (p.exitCode === null) p.kill("SIGKILL");
  await rm(root, { recursive: true, force: true });
});

const ENV = { KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" };

/** The flags every test needs: this test's dirs, no binary copy unless asked. */
function baseFlags(): string[] {
  return [
    `--cni-conf-dir=${netd}`,
    `--multus-autoconfig-dir=${netd}`,
    `--cni-bin-dir=${bin}`,
    `--multus-cni-conf-dir=${join(root, "multus-net.d")}`,
    `--service-account-dir=${sa}`,
    "--skip-multus-binary-copy",
  ];
}

function spawn(args: string[], env: Record<string, string> = {}) {
  const proc = Bun.spawn([BINARY, "thin-entrypoint", ...args], {
    stdout: "pipe",
    stderr: "pipe",
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", ...ENV, ...env },
  });
  procs.push(proc);
  return proc;
}

/** One pass (--skip-config-watch), stopped with SIGTERM once it says the files are written, or its exit. */
async function once(args: string[], env: Record<string, string> = {}, base = baseFlags()) {
  const proc = spawn(["--skip-config-watch", ...base, ...args], env);
  const stderr = new Response(proc.stderr).text();
  let stdout = "";
  const reading = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of proc.stdout) {
      stdout += decoder.decode(chunk, { stream: true });
      if (FIRST_PASS_DONE.test(stdout) && proc.exitCode === null) proc.kill("SIGTERM");
    }
  })();
  const code = await proc.exited;
  await reading;
  return { code, stdout, stderr: await stderr };
}
/** Go's last start-up line: generated, or the user's file copied. */
const FIRST_PASS_DONE = /^multus config file (is created|\S+ is copied)\.$/m;

/** A stream's text so far, read in the background. */
function collect(stream: ReadableStream<Uint8Array>): { text: string } {
  const out = { text: "" };
  void (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of stream) out.text += decoder.decode(chunk, { stream: true });
  })();
  return out;
}

async function generatedNames(): Promise<string[]> {
  const names = (await readdir(netd).catch(() => [] as string[])).filter((n) => n.startsWith("00-multus"));
  if (existsSync(join(netd, "multus.d", "multus.kubeconfig"))) names.push("multus.d/multus.kubeconfig");
  return names.sort();
}

const read = (name: string) => readFile(join(netd, name), "utf8");

const BRIDGE_CONF = `{
  "cniVersion": "0.3.1",
  "name": "mynet",
  "type": "bridge",
  "bridge": "cni0",
  "capabilities": {"portMappings": true, "bandwidth": false},
  "ipam": {"type": "host-local", "subnet": "10.22.0.0/16", "routes": [{"dst": "0.0.0.0/0"}]}
}`;

const CALICO_CONFLIST = `{
  "name": "k8s-pod-network",
  "cniVersion": "0.4.0",
  "plugins": [
    {"type": "calico", "log_level": "info", "ipam": {"type": "calico-ipam"}, "policy": {"type": "k8s"}},
    {"type": "portmap", "snat": true, "capabilities": {"portMappings": true}},
    {"type": "bandwidth", "capabilities": {"bandwidth": true}}
  ]
}`;

describe.skipIf(!canRunE2e)("multus thin-entrypoint", () => {
  test("a .conf master: Go's 00-multus.conf, byte for byte, mode 0600", async () => {
    await writeFile(join(netd, "10-bridge.conf"), BRIDGE_CONF);
    const r = await once([]);
    expect(r.stderr).toBe("");
    expect(await generatedNames()).toEqual(["00-multus.conf", "multus.d/multus.kubeconfig"]);
    expect(await read("00-multus.conf")).toBe(`{
        "cniVersion": "0.3.1",
        "name": "multus-cni-network",
        "type": "multus",
        "capabilities": {"bandwidth":false,"portMappings":true},
        "cniConf": "${join(root, "multus-net.d")}",
        "kubeconfig": "/etc/cni/net.d/multus.d/multus.kubeconfig",
        "delegates": [
                {"bridge":"cni0","capabilities":{"bandwidth":false,"portMappings":true},"cniVersion":"0.3.1","ipam":{"routes":[{"dst":"0.0.0.0/0"}],"subnet":"10.22.0.0/16","type":"host-local"},"name":"mynet","type":"bridge"}
        ]
}
`);
    expect((await stat(join(netd, "00-multus.conf"))).mode & 0o777).toBe(0o600);
    expect(r.code).toBe(0);
  });

  test("a .conflist master with every conf flag: the optional lines in Go's order", async () => {
    await writeFile(join(netd, "10-calico.conflist"), CALICO_CONFLIST);
    await writeFile(join(netd, "00-multus.conf.old.conf"), "{}"); // ours by name: never the master
    const r = await once([
      "--namespace-isolation",
      "--global-namespaces=default,infra",
      "--multus-log-to-stderr=false",
      "--multus-log-level=Verbose",
      "--multus-log-file=/var/log/multus.log",
      "--additional-bin-dir=/opt/extra/bin",
      "--readiness-indicator-file=/host/run/ready",
      "--override-network-name",
      "--multus-kubeconfig-file-host",
      "/etc/kube/multus.kubeconfig",
      "--multus-cni-conf-dir=",
    ]);
    expect(r.code).toBe(0);
    expect(await read("00-multus.conf")).toBe(`{
        "cniVersion": "0.4.0",
        "name": "k8s-pod-network",
        "type": "multus",
        "capabilities": {"bandwidth":true,"portMappings":true},
        "namespaceIsolation": true,
        "globalNamespaces": "default,infra",
        "logToStderr": false,
        "logLevel": "verbose",
        "logFile": "/var/log/multus.log",
        "binDir": "/opt/extra/bin",
        "readinessindicatorfile": "/host/run/ready",
        "kubeconfig": "/etc/kube/multus.kubeconfig",
        "delegates": [
                {"cniVersion":"0.4.0","name":"k8s-pod-network","plugins":[{"ipam":{"type":"calico-ipam"},"log_level":"info","policy":{"type":"k8s"},"type":"calico"},{"capabilities":{"portMappings":true},"snat":true,"type":"portmap"},{"capabilities":{"bandwidth":true},"type":"bandwidth"}]}
        ]
}
`);
  });

  test("CNI 1.0.0 and newer: Go's 00-multus.conflist; a stale 00-multus.conf goes", async () => {
    const master = { cniVersion: "1.0.0", name: "b", plugins: [{ type: "bridge", bridge: "x<y" }] };
    await writeFile(join(netd, "10-b.conflist"), JSON.stringify(master));
    await writeFile(join(netd, "00-multus.conf"), "{}");
    expect((await once(["--multus-log-level=debug"])).code).toBe(0);
    expect(await generatedNames()).toEqual(["00-multus.conflist", "multus.d/multus.kubeconfig"]);
    expect(await read("00-multus.conflist")).toBe(`{
    "cniVersion": "1.0.0",
    "name": "multus-cni-network",
    "plugins": [ {
        "type": "multus",
        "logLevel": "debug",
        "cniConf": "${join(root, "multus-net.d")}",
        "kubeconfig": "/etc/cni/net.d/multus.d/multus.kubeconfig",
        "delegates": [
            {"cniVersion":"1.0.0","name":"b","plugins":[{"bridge":"x\\u003cy","type":"bridge"}]}
        ]
    }]
}
`);
    await writeFile(join(netd, "10-b.conflist"), JSON.stringify({ ...master, cniVersion: "1.1.0" }));
    expect((await once([])).code).toBe(0);
    expect(JSON.parse(await read("00-multus.conflist")).cniVersion).toBe("1.1.0");
    await writeFile(join(netd, "10-b.conflist"), JSON.stringify({ ...master, cniVersion: "0.4.0" }));
    expect((await once([])).code).toBe(0);
    expect(await generatedNames()).toEqual(["00-multus.conf", "multus.d/multus.kubeconfig"]);
  });

  test("--cni-version must match the master (Go's message) unless --force-cni-version", async () => {
    await writeFile(join(netd, "10-bridge.conf"), BRIDGE_CONF);
    const r = await once(["--cni-version=0.4.0"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'failed to create multus config: Multus cni version is "0.4.0" while master plugin cni version is "0.3.1"\n',
    );
    expect(await generatedNames()).toEqual(["multus.d/multus.kubeconfig"]);
    expect((await once(["--cni-version=1.0.0", "--force-cni-version"])).code).toBe(0);
    const conf = JSON.parse(await read("00-multus.conflist"));
    expect([conf.cniVersion, conf.plugins[0].delegates[0].cniVersion]).toEqual(["1.0.0", "1.0.0"]);
  });

  test("the kubeconfig: Go's template from the token, the CA and KUBERNETES_SERVICE_*", async () => {
    await writeFile(join(netd, "10-bridge.conf"), BRIDGE_CONF);
    expect((await once([])).code).toBe(0);
    const kubeconfig = (
      server: string,
      tls: string,
      token = "header.payload.sig-1",
    ) => `# Kubeconfig file for Multus CNI plugin.
apiVersion: v1
kind: Config
clusters:
- name: local
  cluster:
    server: ${server}
    ${tls}
users:
- name: multus
  user:
    token: "${token}"
contexts:
- name: multus-context
  context:
    cluster: local
    user: multus
current-context: multus-context
`;
    expect(await read("multus.d/multus.kubeconfig")).toBe(
      kubeconfig("https://10.96.0.1:443", `certificate-authority-data: ${CA_B64}`),
    );
    expect((await stat(join(netd, "multus.d", "multus.kubeconfig"))).mode & 0o777).toBe(0o600);
    const env = { KUBERNETES_SERVICE_HOST: "fd00:10:96::1", KUBERNETES_SERVICE_PROTOCOL: "http" };
    expect((await once(["--skip-tls-verify"], env)).code).toBe(0);
    expect(await read("multus.d/multus.kubeconfig")).toBe(
      kubeconfig("http://[fd00:10:96::1]:443", "insecure-skip-tls-verify: true"),
    );
    // MULTUS_SERVICE_ACCOUNT_DIR stands for the flag; a missing token is Go's message.
    const withoutDir = baseFlags().filter((f) => !f.startsWith("--service-account-dir"));
    const r = await once([], { MULTUS_SERVICE_ACCOUNT_DIR: join(root, "nowhere") }, withoutDir);
    expect(r.code).toBe(1);
    expect(r.stderr).toStartWith("failed to create multus kubeconfig: service account token is not found: ");
  });

  test("a master name with a quote is escaped (Go would paste it in and break the file)", async () => {
    await writeFile(
      join(netd, "10-bad.conf"),
      JSON.stringify({ cniVersion: "0.4.0", name: 'a", "x": "y', type: "bridge" }),
    );
    expect((await once(["--override-network-name"])).code).toBe(0);
    const conf = JSON.parse(await read("00-multus.conf"));
    expect(conf.name).toBe('a", "x": "y');
    expect(conf.x).toBeUndefined();
  });

  test("a bad --multus-log-level exits 1 with Go's message and writes nothing", async () => {
    await writeFile(join(netd, "10-bridge.conf"), BRIDGE_CONF);
    const r = await once(["--multus-log-level=loud"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'failed to create multus config: Log levels should be one of: debug/verbose/error/panic, did not understand: "loud"\n',
    );
    expect(await generatedNames()).toEqual([]);
  });

  test("flags: Go's names only; an unknown one or a bad boolean exits 2; --help hides Go's hidden ones", async () => {
    const bad = await once(["--multus-conf=auto"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("unknown flag: --multus-conf");
    const badBool = await once(["--namespace-isolation=maybe"]);
    expect(badBool.code).toBe(2);
    expect(badBool.stderr).toContain('flag --namespace-isolation: expected true or false, got "maybe"');
    const help = Bun.spawnSync([BINARY, "thin-entrypoint", "--help"]);
    const text = help.stdout.toString();
    expect(help.exitCode).toBe(0);
    for (const name of ["cni-bin-dir", "multus-kubeconfig-file-host", "cleanup-config-on-exit", "skip-config-watch"])
      expect(text).toContain(`--${name}`);
    expect(text).toContain("/usr/src/multus-cni/bin/multus");
    expect(text).not.toContain("force-cni-version");
    expect(text).not.toContain("skip-tls-verify");
    // docs/configuration.md has a row for each flag, hidden ones included.
    const doc = await readFile(join(import.meta.dir, "../../docs/configuration.md"), "utf8");
    for (const f of THIN_FLAGS) expect(doc).toContain(`| \`--${f.name}\` |`);
  });

  test("without --skip-multus-binary-copy: --multus-bin-file lands as <cni-bin-dir>/multus, nothing else", async () => {
    await writeFile(join(netd, "10-bridge.conf"), BRIDGE_CONF);
    const copying = baseFlags().filter((f) => f !== "--skip-multus-binary-copy");
    const r = await once([`--multus-bin-file=${BINARY}`], {}, copying);
    expect(r.code).toBe(0);
    expect(await readdir(bin)).toEqual(["multus"]);
    const [copied, original] = await Promise.all([stat(join(bin, "multus")), stat(BINARY)]);
    expect([copied.size, copied.mode & 0o777]).toEqual([original.size, original.mode & 0o777]);
    const missing = await once([`--multus-bin-file=${join(root, "no-such-binary")}`], {}, copying);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toStartWith("multus-bin-file is not found: ");
  });

  test("--multus-conf-file=<file>: that file copied in, no kubeconfig; --rename-conf-file: the master becomes .old", async () => {
    const own = join(root, "70-own.conf");
    await writeFile(own, BRIDGE_CONF);
    const copied = await once([`--multus-conf-file=${own}`]);
    expect(copied.code).toBe(0);
    expect(copied.stdout).toContain(`multus config file ${own} is copied.`);
    expect(await readdir(netd)).toEqual(["70-own.conf"]);
    expect(await read("70-own.conf")).toBe(BRIDGE_CONF);
    const missing = await once([`--multus-conf-file=${join(root, "none.conf")}`]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toStartWith("multus-conf-file is not found: ");

    await rm(join(netd, "70-own.conf"));
    await writeFile(join(netd, "10-bridge.conf"), BRIDGE_CONF);
    expect((await once(["--rename-conf-file"])).code).toBe(0);
    expect((await readdir(netd)).sort()).toEqual(["00-multus.conf", "10-bridge.conf.old", "multus.d"]);
    expect(JSON.parse(await read("00-multus.conf")).delegates[0].name).toBe("mynet");
  });

  test("the watch: a changed master or a rotated token is written again; SIGTERM leaves the files", async () => {
    await writeFile(join(netd, "10-bridge.conf"), BRIDGE_CONF);
    const proc = spawn(baseFlags());
    await waitFor("00-multus.conf", () => existsSync(join(netd, "00-multus.conf")), 15_000);
    await writeFile(join(netd, "10-bridge.conf"), BRIDGE_CONF.replace('"bandwidth": false', '"bandwidth": true'));
    await waitFor("the new capabilities", async () => (await read("00-multus.conf")).includes('{"bandwidth":true,'));
    await writeFile(join(sa, "token"), "header.payload.sig-2");
    await waitFor("the new token", async () => (await read("multus.d/multus.kubeconfig")).includes("sig-2"));
    // The primary gone: the pass fails, is logged once, and the files stay as they were.
    const stderr = collect(proc.stderr as ReadableStream<Uint8Array>);
    await rm(join(netd, "10-bridge.conf"));
    await waitFor("the failed pass", () => stderr.text.includes("cannot find valid master CNI config"), 15_000);
    await writeFile(join(netd, "20-other.conf"), BRIDGE_CONF.replace('"mynet"', '"other"'));
    await waitFor(
      "the new primary",
      async () => JSON.parse(await read("00-multus.conf")).delegates[0].name === "other",
    );
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(stderr.text.match(/cannot find valid master/g)).toHaveLength(1);
    expect(await generatedNames()).toEqual(["00-multus.conf", "multus.d/multus.kubeconfig"]);
  });

  test("--cleanup-config-on-exit: SIGTERM removes the generated files, not the master", async () => {
    await writeFile(join(netd, "10-bridge.conf"), BRIDGE_CONF);
    const proc = spawn([...baseFlags(), "--cleanup-config-on-exit"]);
    await waitFor("the files", async () => (await generatedNames()).length === 2, 15_000);
    proc.kill("SIGTERM");
    expect(await proc.exited).toBe(0);
    expect(await generatedNames()).toEqual([]);
    expect(existsSync(join(netd, "10-bridge.conf"))).toBe(true);
  });
});

describe.skipIf(!canRunE2e)("the thin plugin and the generated 00-multus.conflist", () => {
  const cleanup = createCleanup();
  let fake: FakeKube;
  afterAll(() => cleanup.run());

  test("a pod's ADD and DEL run through the conflist (conf as libcni hands it over)", async () => {
    fake = await startFakeKube();
    cleanup.add(() => fake.stop());
    const inCluster = fake.inClusterEnv(sa);
    const cluster = bridgeNet("tep", join(root, "ipam"));
    cleanup.add(() => deleteBridge(cluster.bridge));
    await writeFile(join(netd, "10-cluster.conflist"), JSON.stringify(bridgeConflist(cluster)));
    const kubeconfigHost = join(netd, "multus.d", "multus.kubeconfig"); // host and container are one here
    const r = await once(
      [`--multus-kubeconfig-file-host=${kubeconfigHost}`, `--additional-bin-dir=${PLUGIN_DIR}`],
      inCluster.env,
    );
    expect(r.stderr).toBe("");
    const list = JSON.parse(await read("00-multus.conflist"));
    expect(list.plugins).toHaveLength(1);
    const stdin = { ...list.plugins[0], cniVersion: list.cniVersion, name: list.name };

    const pod = { namespace: "default", name: "thin-ep-pod", uid: crypto.randomUUID() };
    fake.createPod(pod);
    const ns = await createNetns("mtep");
    cleanup.add(() => deleteNetns(ns.name));
    const call = (command: string) =>
      runCni(join(root, "thin-bin", "multus"), {
        command,
        containerId: `ctr-${pod.uid}`,
        netns: ns.path,
        args: `IgnoreUnknown=1;K8S_POD_NAMESPACE=${pod.namespace};K8S_POD_NAME=${pod.name};K8S_POD_UID=${pod.uid}`,
        path: join(root, "thin-bin"),
        stdin,
      });
    const install = Bun.spawnSync([BINARY, "install", "--dest", join(root, "thin-bin"), "--type", "thin"]);
    expect(install.exitCode).toBe(0);

    const add = await call("ADD");
    expect(add.code, add.stderr).toBe(0);
    expect(add.json().cniVersion).toBe("1.0.0");
    expect(add.json().ips[0].address).toStartWith(`${cluster.prefix}.`);
    expect(await ns.addrs("eth0")).toContainEqual(
      expect.stringMatching(new RegExp(`^${cluster.prefix.replace(/\./g, "\\.")}\\.`)),
    );
    const status = fake.getPod(pod.namespace, pod.name)?.metadata.annotations?.["k8s.v1.cni.cncf.io/network-status"];
    expect(JSON.parse(status ?? "[]")[0]?.name).toBe(cluster.name);

    const del = await call("DEL");
    expect(del.code, del.stderr).toBe(0);
    expect(await ns.links()).not.toContainEqual(expect.stringContaining("eth0"));
  });
});
