// `multus validate` through the compiled binary: table tests over good pods
// (what each would get: interfaces in order, roles, the runtimeConfig each
// plugin receives, the default route) and bad pods, NADs and configs (exit 1,
// every error with the file and the place in it), plus the usage errors.
import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createWorkdir, runMultus } from "../helpers/multus.ts";
import { canRunE2e, ensureBinary } from "../helpers/e2e.ts";

let work: Awaited<ReturnType<typeof createWorkdir>>;
beforeAll(async () => {
  if (canRunE2e) await ensureBinary();
});
beforeEach(async () => {
  if (canRunE2e) work = await createWorkdir();
});
afterEach(async () => {
  if (canRunE2e) await work.remove();
});

/** A pod manifest as `kubectl get -o yaml` prints one (annotations as block scalars). */
function podYaml(annotations: Record<string, string>, extra = ""): string {
  const lines = Object.entries(annotations).flatMap(([k, v]) => [
    `    ${k}: |-`,
    ...v.split("\n").map((l) => `      ${l}`),
  ]);
  return [
    "apiVersion: v1",
    "kind: Pod",
    "metadata:",
    "  name: web",
    "  namespace: apps",
    "  uid: 0c1b2a3d-0000-4000-8000-000000000001",
    ...(lines.length > 0 ? ["  annotations:", ...lines] : []),
    "spec:",
    "  containers:",
    "  - name: c",
    "    image: busybox",
    extra,
  ].join("\n");
}

function nadYaml(name: string, config: Record<string, unknown> | string, namespace = "apps"): string {
  const text = typeof config === "string" ? config : JSON.stringify(config);
  return [
    "apiVersion: k8s.cni.cncf.io/v1",
    "kind: NetworkAttachmentDefinition",
    "metadata:",
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    "spec:",
    "  config: |",
    `    ${text}`,
  ].join("\n");
}

const MACVLAN = {
  cniVersion: "1.0.0",
  name: "mv",
  type: "macvlan",
  master: "eth0",
  capabilities: { ips: true, mac: true },
  ipam: { type: "static" },
};
const BRIDGE_LIST = {
  cniVersion: "1.0.0",
  name: "br",
  plugins: [{ type: "bridge" }, { type: "portmap", capabilities: { portMappings: true } }],
};
const NETWORKS = "k8s.v1.cni.cncf.io/networks";
const DEFAULT_NET = "v1.multus-cni.io/default-network";

interface Files {
  pod: string;
  /** File name -> text; each is passed as --nad. */
  nads?: Record<string, string>;
  /** The daemon config (a primary conflist is laid into <dir>/net.d). */
  config?: (dir: string) => Record<string, unknown> | string;
  args?: string[];
}

async function validate(files: Files, json = true) {
  const podPath = join(work.dir, files.pod.trimStart().startsWith("{") ? "pod.json" : "pod.yaml");
  await writeFile(podPath, files.pod);
  const args = ["validate", "--pod", podPath, ...(files.args ?? [])];
  for (const [name, text] of Object.entries(files.nads ?? {})) {
    await writeFile(join(work.dir, name), text);
    args.push("--nad", join(work.dir, name));
  }
  if (files.config) {
    await mkdir(join(work.dir, "net.d"), { recursive: true });
    await writeFile(
      join(work.dir, "net.d", "10-cluster.conflist"),
      JSON.stringify({ ...BRIDGE_LIST, name: "cluster" }),
    );
    const config = files.config(work.dir);
    await writeFile(join(work.dir, "daemon-config.json"), typeof config === "string" ? config : JSON.stringify(config));
    args.push("--config", join(work.dir, "daemon-config.json"));
  }
  if (json) args.push("--json");
  return runMultus(args);
}

const autoConfig = (dir: string) => ({ cniVersion: "1.0.0", cniConfigDir: join(dir, "net.d") });

interface Good {
  name: string;
  files: Files;
  /** ifname, network, role of each delegate in order. */
  delegates: Array<[string, string, string]>;
  /** Per ifname: plugin type -> the runtimeConfig it receives. */
  runtimeConfig?: Record<string, Record<string, unknown>>;
  defaultRoute?: unknown;
}

const GOOD: Good[] = [
  {
    name: "comma form: namespace prefix, @ifname, net<i> for the rest; NADs in a List",
    files: {
      pod: podYaml({ [NETWORKS]: "mv@data0, other/br" }),
      nads: {
        "list.yaml": [
          "apiVersion: v1",
          "kind: List",
          "items:",
          `- {kind: NetworkAttachmentDefinition, metadata: {name: mv, namespace: apps}, spec: {config: '${JSON.stringify(MACVLAN)}'}}`,
          `- {kind: NetworkAttachmentDefinition, metadata: {name: br, namespace: other}, spec: {config: '${JSON.stringify(BRIDGE_LIST)}'}}`,
        ].join("\n"),
      },
    },
    delegates: [
      ["eth0", "(cluster network)", "cluster"],
      ["data0", "apps/mv", "network"],
      ["net2", "other/br", "network"],
    ],
    defaultRoute: { requested: false, kept: [] },
  },
  {
    name: "JSON form: ips, mac, portMappings and default-route reach the plugins that declare them",
    files: {
      pod: podYaml({
        [NETWORKS]: JSON.stringify([
          { name: "mv", ips: ["10.9.0.5/24"], mac: "02:00:00:00:00:05", "default-route": ["10.9.0.1"] },
          { name: "br", interface: "br9", portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] },
        ]),
      }),
      nads: { "nads.yaml": `${nadYaml("mv", MACVLAN)}\n---\n${nadYaml("br", BRIDGE_LIST)}` },
      config: autoConfig,
    },
    delegates: [
      ["eth0", "cluster", "cluster"],
      ["net1", "apps/mv", "network"],
      ["br9", "apps/br", "network"],
    ],
    runtimeConfig: {
      net1: { macvlan: { ips: ["10.9.0.5/24"], mac: "02:00:00:00:00:05" } },
      br9: { portmap: { portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }] } },
    },
    defaultRoute: { requested: true, kept: [{ ifname: "net1", family: "IPv4", via: "10.9.0.1" }] },
  },
  {
    name: "the default-network annotation replaces the cluster network with a NAD of kube-system",
    files: {
      pod: podYaml({ [DEFAULT_NET]: "fast", [NETWORKS]: "mv" }),
      nads: { "a.yaml": nadYaml("fast", BRIDGE_LIST, "kube-system"), "b.yaml": nadYaml("mv", MACVLAN) },
      config: autoConfig,
    },
    delegates: [
      ["eth0", "kube-system/fast", "cluster"],
      ["net1", "apps/mv", "network"],
    ],
  },
  {
    name: "defaultNetworks of the config come before the pod's; the runtime's CNI_IFNAME is the cluster's",
    files: {
      pod: podYaml({ [NETWORKS]: "mv" }),
      nads: { "a.yaml": nadYaml("mon", BRIDGE_LIST, "kube-system"), "b.yaml": nadYaml("mv", MACVLAN) },
      config: (dir) => ({ ...autoConfig(dir), defaultNetworks: ["mon"] }),
      args: ["--ifname", "ens0"],
    },
    delegates: [
      ["ens0", "cluster", "cluster"],
      ["net1", "kube-system/mon", "network"],
      ["net2", "apps/mv", "network"],
    ],
  },
  {
    name: "a Deployment: its pod template's annotations",
    files: {
      pod: [
        "apiVersion: apps/v1",
        "kind: Deployment",
        "metadata: {name: web, namespace: apps}",
        "spec:",
        "  template:",
        "    metadata:",
        `      annotations: {${NETWORKS}: mv}`,
      ].join("\n"),
      nads: { "a.yaml": nadYaml("mv", MACVLAN) },
    },
    delegates: [
      ["eth0", "(cluster network)", "cluster"],
      ["net1", "apps/mv", "network"],
    ],
  },
  {
    name: "a pod as `kubectl get -o json` prints it, no networks: only the cluster network",
    files: {
      pod: JSON.stringify({ apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: "apps" } }, null, 2),
      config: autoConfig,
    },
    delegates: [["eth0", "cluster", "cluster"]],
  },
];

describe.skipIf(!canRunE2e)("multus validate: what a good pod would get", () => {
  test.each(GOOD)("$name", async (c) => {
    const r = await validate(c.files);
    expect(r.stderr).toBe("");
    const report = JSON.parse(r.stdout);
    expect(report.errors).toEqual([]);
    expect(r.code).toBe(0);
    expect(report.ok).toBe(true);
    expect(report.delegates.map((d: any) => [d.ifname, d.network, d.role])).toEqual(c.delegates);
    for (const [ifname, byType] of Object.entries(c.runtimeConfig ?? {})) {
      const d = report.delegates.find((x: any) => x.ifname === ifname);
      for (const [type, rc] of Object.entries(byType)) {
        expect(d.plugins.find((p: any) => p.type === type).runtimeConfig).toEqual(rc);
      }
    }
    if (c.defaultRoute) expect(report.defaultRoute).toEqual(c.defaultRoute);

    // The table says the same, one row per interface.
    const table = await validate(c.files, false);
    expect(table.code).toBe(0);
    for (const [ifname, network, role] of c.delegates) {
      expect(table.stdout).toMatch(new RegExp(`^${ifname}\\s+${network.replace(/[()]/g, "\\$&")}\\s+${role}\\b`, "m"));
    }
    expect(table.stdout).toContain("ok: the daemon would attach these networks");
  });
});

interface Bad {
  name: string;
  files: Files;
  /** Each must match one error: [file name (basename), where (substring), message (regex)]. */
  errors: Array<[string, string | undefined, RegExp]>;
}

const BAD: Bad[] = [
  {
    name: "an invalid network name in the annotation, at the annotation's key",
    files: { pod: podYaml({ [NETWORKS]: "Bad_Name" }) },
    errors: [
      [
        "pod.yaml",
        `metadata.annotations["${NETWORKS}"]`,
        /element 0: field "name": "Bad_Name" is not a valid network name/,
      ],
    ],
  },
  {
    name: "a NAD the pod asks for is not given",
    files: { pod: podYaml({ [NETWORKS]: "mv, missing" }), nads: { "a.yaml": nadYaml("mv", MACVLAN) } },
    errors: [["pod.yaml", "network apps/missing", /cannot find a network-attachment-definition \(missing\).*--nad/]],
  },
  {
    name: "two networks on one interface name",
    files: {
      pod: podYaml({ [NETWORKS]: "mv@net5, br@net5" }),
      nads: { "a.yaml": `${nadYaml("mv", MACVLAN)}\n---\n${nadYaml("br", BRIDGE_LIST)}` },
    },
    errors: [["pod.yaml", undefined, /interface name "net5" is assigned to more than one network/]],
  },
  {
    name: "spec.config that is not JSON, with its line and column",
    files: {
      pod: podYaml({ [NETWORKS]: "mv" }),
      nads: { "a.yaml": nadYaml("mv", '{"cniVersion": "1.0.0" "type": "macvlan"}') },
    },
    errors: [["a.yaml", "spec.config", /not valid JSON: line 1, column 24/]],
  },
  {
    name: "spec.config written as a YAML map",
    files: {
      pod: podYaml({ [NETWORKS]: "mv" }),
      nads: {
        "a.yaml": "kind: NetworkAttachmentDefinition\nmetadata: {name: mv}\nspec:\n  config:\n    type: macvlan\n",
      },
    },
    errors: [["a.yaml", "spec.config", /must be a string holding the JSON CNI config, not object/]],
  },
  {
    name: "a YAML syntax error in the pod, near its line",
    files: { pod: "kind: Pod\nmetadata:\n  name: x\n  annotations: {a: [1,\n" },
    errors: [["pod.yaml", "near line 4", /not valid YAML/]],
  },
  {
    name: "a JSON syntax error in the pod, at its line and column",
    files: { pod: '{\n  "kind": "Pod",\n  "metadata": {"name": "x",}\n}' },
    errors: [["pod.json", "line 3, column 28", /not valid JSON/]],
  },
  {
    name: "an annotation value that is a YAML list, not a string",
    files: { pod: `kind: Pod\nmetadata:\n  name: x\n  annotations:\n    ${NETWORKS}: [mv]\n` },
    errors: [["pod.yaml", `metadata.annotations["${NETWORKS}"]`, /must be a string, not a list/]],
  },
  {
    name: "a manifest that is not a pod, and a NAD file holding something else",
    files: {
      pod: "kind: Service\nmetadata: {name: s}\n",
      nads: { "a.yaml": "kind: ConfigMap\nmetadata: {name: c}\n" },
    },
    errors: [["pod.yaml", "kind", /kind "Service": a Pod is expected/]],
  },
  {
    name: "namespace isolation: a network in another namespace",
    files: {
      pod: podYaml({ [NETWORKS]: "other/br" }),
      nads: { "a.yaml": nadYaml("br", BRIDGE_LIST, "other") },
      config: (dir) => ({ ...autoConfig(dir), namespaceIsolation: true }),
    },
    errors: [["pod.yaml", `metadata.annotations["${NETWORKS}"]`, /namespace isolation enabled/]],
  },
  {
    name: "two IPv4 default-route gateways (ECMP)",
    files: {
      pod: podYaml({
        [NETWORKS]: JSON.stringify([
          { name: "mv", "default-route": ["10.0.0.1"] },
          { name: "br", "default-route": ["10.0.1.1"] },
        ]),
      }),
      nads: { "a.yaml": `${nadYaml("mv", MACVLAN)}\n---\n${nadYaml("br", BRIDGE_LIST)}` },
    },
    errors: [["pod.yaml", `metadata.annotations["${NETWORKS}"]`, /does not support ECMP/]],
  },
  {
    name: "a daemon config the daemon would refuse",
    files: { pod: podYaml({}), config: () => '{"logLevel": "verbos"}' },
    errors: [["daemon-config.json", undefined, /"verbos" is not a log level/]],
  },
  {
    name: "no primary CNI conf where the daemon config says",
    files: { pod: podYaml({}), config: () => ({ cniVersion: "1.0.0", cniConfigDir: "/nonexistent/net.d" }) },
    errors: [
      ["daemon-config.json", undefined, /cluster network cannot be checked: could not find a plugin configuration/],
    ],
  },
  {
    name: "every bad element of the networks annotation, each with its index",
    files: { pod: podYaml({ [NETWORKS]: "ok, Bad_Name, x@waytoolonginterface" }) },
    errors: [
      ["pod.yaml", `metadata.annotations["${NETWORKS}"]`, /element 1: field "name"/],
      ["pod.yaml", `metadata.annotations["${NETWORKS}"]`, /element 2: field "interface"/],
    ],
  },
  {
    name: "every error at once: the default-network annotation, a missing NAD, a bad NAD file",
    files: {
      pod: podYaml({ [DEFAULT_NET]: "a,b", [NETWORKS]: "gone" }),
      nads: { "bad.yaml": nadYaml("x", "{") },
    },
    errors: [
      ["pod.yaml", `metadata.annotations["${DEFAULT_NET}"]`, /more than one default network/],
      ["pod.yaml", "network apps/gone", /cannot find a network-attachment-definition/],
      ["bad.yaml", "spec.config", /not valid JSON/],
    ],
  },
];

describe.skipIf(!canRunE2e)("multus validate: every error, with where it is", () => {
  test.each(BAD)("$name", async (c) => {
    const r = await validate(c.files);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report.ok).toBe(false);
    for (const [file, where, message] of c.errors) {
      const hit = report.errors.find(
        (e: any) =>
          e.source.endsWith(`/${file}`) && (where === undefined || e.where?.includes(where)) && message.test(e.message),
      );
      expect(
        hit,
        `no error ${file} ${where ?? ""} ${message} in ${JSON.stringify(report.errors, null, 2)}`,
      ).toBeDefined();
    }
    const table = await validate(c.files, false);
    expect(table.code).toBe(1);
    expect(table.stdout).toContain(`errors (${report.errors.length}):`);
    expect(table.stdout).toContain("not ok: the daemon would refuse this pod");
  });
});

describe.skipIf(!canRunE2e)("multus validate: usage", () => {
  test("an unreadable file is exit 2 naming it; no --pod is exit 2; --help lists the options", async () => {
    const missing = await runMultus(["validate", "--pod", join(work.dir, "nope.yaml")]);
    expect(missing).toEqual({
      code: 2,
      stdout: "",
      stderr: `multus validate: cannot read ${join(work.dir, "nope.yaml")}: ENOENT\n`,
    });
    const noPod = await runMultus(["validate"]);
    expect(noPod.code).toBe(2);
    expect(noPod.stderr).toContain("--pod");
    const help = await runMultus(["validate", "--help"]);
    expect(help.code).toBe(0);
    for (const word of ["--pod", "--nad", "--config", "--ifname", "--json"]) expect(help.stdout).toContain(word);
    expect(help.stdout).toContain("EXAMPLES");
  });
});
