// The deployment manifests, checked without a cluster (kubectl --dry-run needs
// one): every object against the Kubernetes schemas (kubernetes-models for
// types and formats, client-node's models for unknown fields, which
// kubernetes-models lets through), then the facts that tie the objects
// together: the paths in daemon-config.json resolve through the DaemonSet's
// mounts to the host paths the shim, the runtime and chroot expect; commands
// name the binary where the image puts it; RBAC grants exactly the calls the
// code makes. The thin manifest's entrypoint command is run for real.
import { describe, expect, test, beforeAll, afterAll } from "bun:test";
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, posix, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import * as v from "valibot";
import * as clientNode from "@kubernetes/client-node";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { DEFAULT_SOCKET_DIR, socketPathIn } from "../../src/api/api.ts";
import { parseDaemonConfig } from "../../src/config/daemon-config.ts";
import { MultusConfSchema } from "../../src/multus/netconf.ts";
import { INSTALL_NAMES } from "../../src/cli/install.ts";
import { ensureBinary } from "../helpers/e2e.ts";
import { grants } from "../helpers/rbac.ts";
import { parseThinFlags } from "../../src/cli/thin-entrypoint.ts";

const ROOT = resolve(import.meta.dir, "../..");
const THICK = "deployments/multus-daemonset-thick.yml";
const THIN = "deployments/multus-daemonset.yml";
const MANIFESTS = [THICK, THIN];

// ---------------------------------------------------------------- loading

type Obj = Record<string, any>;

function loadManifest(file: string): Obj[] {
  const text = readFileSync(join(ROOT, file), "utf8");
  const docs = parseAllDocuments(text, { prettyErrors: true });
  if (!Array.isArray(docs)) throw new Error(`${file}: not a YAML stream`);
  const objects: Obj[] = [];
  for (const doc of docs) {
    const problems = [...doc.errors, ...doc.warnings];
    if (problems.length > 0) throw new Error(`${file}: ${problems.map((p) => p.message).join("; ")}`);
    const value = doc.toJS();
    if (value !== null && value !== undefined) objects.push(value);
  }
  return objects;
}

function only(objects: Obj[], kind: string): Obj {
  const found = objects.filter((o) => o.kind === kind);
  if (found.length !== 1) throw new Error(`expected one ${kind}, found ${found.length}`);
  return found[0]!;
}

/** apiVersion/kind -> the kubernetes-models class and client-node's model name. */
const MODELS: Record<string, { model: { new (data: any): { validate(): void } }; clientType: string }> = {
  "apiextensions.k8s.io/v1/CustomResourceDefinition": {
    model: CustomResourceDefinition,
    clientType: "V1CustomResourceDefinition",
  },
  "v1/ServiceAccount": { model: ServiceAccount, clientType: "V1ServiceAccount" },
  "v1/ConfigMap": { model: ConfigMap, clientType: "V1ConfigMap" },
  "rbac.authorization.k8s.io/v1/ClusterRole": { model: ClusterRole, clientType: "V1ClusterRole" },
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": { model: ClusterRoleBinding, clientType: "V1ClusterRoleBinding" },
  "apps/v1/DaemonSet": { model: DaemonSet, clientType: "V1DaemonSet" },
};

/**
 * Fields the API server would reject as unknown (strict field validation),
 * found by walking client-node's generated attribute maps.
 */
function unknownFields(value: unknown, type: string, path: string, out: string[] = []): string[] {
  if (value === null || value === undefined) return out;
  const array = /^Array<(.+)>$/.exec(type);
  if (array) {
    if (!Array.isArray(value)) out.push(`${path}: expected a list`);
    else
      value.forEach((item, i) => {
        unknownFields(item, array[1]!, `${path}[${i}]`, out);
      });
    return out;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    for (const [k, item] of Object.entries(value as Obj)) unknownFields(item, map[1]!, `${path}.${k}`, out);
    return out;
  }
  const model = (clientNode as Record<string, any>)[type];
  if (typeof model?.getAttributeTypeMap !== "function") return out; // string, number, IntOrString, any...
  if (typeof value !== "object" || Array.isArray(value)) {
    out.push(`${path}: expected an object (${type})`);
    return out;
  }
  const attributes = model.getAttributeTypeMap() as Array<{ baseName: string; type: string }>;
  for (const [k, item] of Object.entries(value as Obj)) {
    const attribute = attributes.find((a) => a.baseName === k);
    if (!attribute) out.push(`${path}.${k}: unknown field of ${type}`);
    else unknownFields(item, attribute.type, `${path}.${k}`, out);
  }
  return out;
}

// ---------------------------------------------------------------- paths through mounts

const norm = (p: string) => (p === "/" ? "/" : posix.normalize(p).replace(/\/+$/, ""));
const isUnder = (p: string, dir: string) =>
  norm(dir) === "/" || norm(p) === norm(dir) || norm(p).startsWith(`${norm(dir)}/`);

function volumeOf(podSpec: Obj, name: string): Obj {
  const volume = (podSpec.volumes as Obj[]).find((vol) => vol.name === name);
  if (!volume) throw new Error(`no volume named ${name}`);
  return volume;
}

/** The mount that holds a container path (the deepest one), with its volume. */
function mountFor(podSpec: Obj, container: Obj, path: string): { mount: Obj; volume: Obj } | undefined {
  const mounts = ((container.volumeMounts ?? []) as Obj[])
    .filter((m) => isUnder(path, m.mountPath))
    .sort((a, b) => norm(b.mountPath).length - norm(a.mountPath).length);
  const mount = mounts[0];
  return mount ? { mount, volume: volumeOf(podSpec, mount.name) } : undefined;
}

/** The host path behind a container path, or undefined when it is not on a hostPath mount. */
function hostPathOf(podSpec: Obj, container: Obj, path: string): string | undefined {
  const found = mountFor(podSpec, container, path);
  if (!found?.volume.hostPath) return undefined;
  const rest = norm(path).slice(norm(found.mount.mountPath).length);
  return norm(posix.join(found.volume.hostPath.path, rest));
}

/** ConfigMap name and key behind a file path in the container. */
function configMapFileOf(
  podSpec: Obj,
  container: Obj,
  path: string,
): { name: string; key: string; readOnly: boolean } | undefined {
  const found = mountFor(podSpec, container, path);
  if (!found?.volume.configMap) return undefined;
  const rel = norm(path).slice(norm(found.mount.mountPath).length + 1);
  const items = found.volume.configMap.items as Obj[] | undefined;
  const key = items ? items.find((i) => i.path === rel)?.key : rel;
  return key ? { name: found.volume.configMap.name, key, readOnly: found.mount.readOnly === true } : undefined;
}

function container(ds: Obj, name: string, init = false): Obj {
  const list = (init ? ds.spec.template.spec.initContainers : ds.spec.template.spec.containers) as Obj[];
  const found = list.find((c) => c.name === name);
  if (!found) throw new Error(`no ${init ? "init " : ""}container ${name}`);
  return found;
}

// ---------------------------------------------------------------- RBAC and quantities

// The calls the daemon makes; tests/e2e/rbac.test.ts checks them against a run's requests.
const THICK_GRANTS = [
  "core/pods:get",
  "core/pods:list",
  "core/pods:watch",
  "core/pods/status:patch",
  "k8s.cni.cncf.io/network-attachment-definitions:get",
  "k8s.cni.cncf.io/network-attachment-definitions:list",
  "k8s.cni.cncf.io/network-attachment-definitions:watch",
  "core/events:create",
  "resource.k8s.io/resourceclaims:get",
  "resource.k8s.io/resourceslices:list",
].sort();

const THIN_GRANTS = [
  "core/pods:get",
  "core/pods/status:patch",
  "k8s.cni.cncf.io/network-attachment-definitions:get",
  "core/events:create",
  "resource.k8s.io/resourceclaims:get",
  "resource.k8s.io/resourceslices:list",
].sort();

/** Kubernetes quantity to a number (bytes, or cores for cpu). */
function quantity(q: string | number): number {
  if (typeof q === "number") return q;
  const m = /^([0-9.]+)(m|k|Ki|M|Mi|G|Gi)?$/.exec(q);
  if (!m) throw new Error(`unsupported quantity ${q}`);
  const units: Record<string, number> = { "": 1, m: 1e-3, k: 1e3, Ki: 1024, M: 1e6, Mi: 2 ** 20, G: 1e9, Gi: 2 ** 30 };
  return Number(m[1]) * units[m[2] ?? ""]!;
}
const MiB = 2 ** 20;

// ---------------------------------------------------------------- the image

const containerfile = readFileSync(join(ROOT, "images/Containerfile"), "utf8");
/** Where the final stage puts the executable (`COPY --from=build .../dist/multus <path>`). */
const IMAGE_BINARY = /^COPY --from=build \S+\/dist\/multus (\S+)$/m.exec(containerfile)?.[1] ?? "(not found)";
const IMAGE_VERSION = (JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { version: string }).version;

/** Keys the daemon and the core read from daemon-config.json (src/config/daemon-config.ts, src/multus/netconf.ts). */
const HONOURED_KEYS = new Set([
  "chrootDir",
  "socketDir",
  "logFile",
  "logLevel",
  "logToStderr",
  "logOptions",
  "metricsPort",
  "connectionLimit",
  "cniVersion",
  "multusConfigFile",
  "cniConfigDir",
  "multusAutoconfigDir",
  "multusMasterCNI",
  "forceCNIVersion",
  "overrideNetworkName",
  "readinessindicatorfile",
  "kubeconfig",
  "gracePeriodSeconds",
  "confDir",
  "cniDir",
  "binDir",
  "clusterNetwork",
  "defaultNetworks",
  "systemNamespaces",
  "multusNamespace",
  "namespaceIsolation",
  "globalNamespaces",
  "delegateTimeoutSeconds",
  "podLookupTimeoutSeconds",
  "apiTimeoutSeconds",
]);

// ================================================================ every manifest

describe.each(MANIFESTS)("%s", (file) => {
  const objects = loadManifest(file);

  test("parses as YAML and holds the expected objects", () => {
    // The thin entrypoint takes flags: no ConfigMap there.
    const expected = Object.keys(MODELS).filter((k) => file !== THIN || k !== "v1/ConfigMap");
    expect(objects.map((o) => `${o.apiVersion}/${o.kind}`).sort()).toEqual(expected.sort());
  });

  test("every object passes the Kubernetes schema (kubernetes-models)", () => {
    for (const obj of objects) {
      const entry = MODELS[`${obj.apiVersion}/${obj.kind}`];
      expect(entry).toBeDefined();
      expect(() => new entry!.model(obj).validate()).not.toThrow();
    }
  });

  test("no object has a field the API server does not know", () => {
    for (const obj of objects) {
      const entry = MODELS[`${obj.apiVersion}/${obj.kind}`]!;
      expect(unknownFields(obj, entry.clientType, `${obj.kind}/${obj.metadata.name}`)).toEqual([]);
    }
  });

  test("the schema check catches what it should (a typo, a bad quantity)", () => {
    const ds = structuredClone(only(objects, "DaemonSet"));
    ds.spec.template.spec.containers[0].volumeMounts[0].mountPropogation = "HostToContainer";
    expect(unknownFields(ds, "V1DaemonSet", "ds")).toEqual([
      "ds.spec.template.spec.containers[0].volumeMounts[0].mountPropogation: unknown field of V1VolumeMount",
    ]);
    ds.spec.template.spec.containers[0].resources.requests.memory = "96MB";
    expect(() => new DaemonSet(ds).validate()).toThrow(/quantity/);
  });

  test("the NAD CRD is the Go project's (group, scope, names, v1 schema)", () => {
    const crd = only(objects, "CustomResourceDefinition");
    expect(crd.metadata.name).toBe("network-attachment-definitions.k8s.cni.cncf.io");
    expect(crd.spec.group).toBe("k8s.cni.cncf.io");
    expect(crd.spec.scope).toBe("Namespaced");
    expect(crd.spec.names).toEqual({
      plural: "network-attachment-definitions",
      singular: "network-attachment-definition",
      kind: "NetworkAttachmentDefinition",
      shortNames: ["nad", "net-attach-def"],
    });
    expect(crd.spec.versions).toHaveLength(1);
    const [version] = crd.spec.versions;
    expect(version).toMatchObject({ name: "v1", served: true, storage: true });
    const schema = version.schema.openAPIV3Schema;
    expect(schema.type).toBe("object");
    expect(schema.properties.spec.properties.config.type).toBe("string");
  });

  test("ServiceAccount, ClusterRoleBinding and DaemonSet name each other", () => {
    const sa = only(objects, "ServiceAccount");
    const role = only(objects, "ClusterRole");
    const binding = only(objects, "ClusterRoleBinding");
    const ds = only(objects, "DaemonSet");
    expect(binding.roleRef).toEqual({
      apiGroup: "rbac.authorization.k8s.io",
      kind: "ClusterRole",
      name: role.metadata.name,
    });
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: sa.metadata.name, namespace: sa.metadata.namespace },
    ]);
    expect(ds.metadata.namespace).toBe(sa.metadata.namespace);
    expect(ds.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    expect(ds.spec.template.metadata.labels).toMatchObject(ds.spec.selector.matchLabels);
    // The Go manifests' names, so an upgrade replaces objects instead of adding a second DaemonSet.
    expect([ds.metadata.namespace, ds.metadata.name, sa.metadata.name, role.metadata.name]).toEqual([
      "kube-system",
      "kube-multus-ds",
      "multus",
      "multus",
    ]);
    // A DaemonSet's selector is immutable: applying over the Go DaemonSet needs the Go selector.
    expect(ds.spec.selector).toEqual({ matchLabels: { name: "multus" } });
  });

  test("the ClusterRole grants no wildcard", () => {
    for (const g of grants(only(objects, "ClusterRole"))) expect(g).not.toContain("*");
  });

  test("containers run the image's binary, at the package's version", () => {
    const ds = only(objects, "DaemonSet");
    const spec = ds.spec.template.spec;
    for (const c of [...spec.initContainers, ...spec.containers] as Obj[]) {
      expect(c.image).toBe(`localhost/multus:${IMAGE_VERSION}`);
      if (c.command[0].startsWith("/usr/src/")) expect(c.command[0]).toBe(IMAGE_BINARY);
    }
  });

  test("the pod is node-critical and tolerates every taint", () => {
    const spec = only(objects, "DaemonSet").spec.template.spec;
    expect(spec.priorityClassName).toBe("system-node-critical");
    expect(spec.hostNetwork).toBe(true);
    expect(spec.tolerations).toEqual([
      { operator: "Exists", effect: "NoSchedule" },
      { operator: "Exists", effect: "NoExecute" },
    ]);
  });
});

test("both manifests carry the same CRD", () => {
  expect(only(loadManifest(THIN), "CustomResourceDefinition")).toEqual(
    only(loadManifest(THICK), "CustomResourceDefinition"),
  );
});

// ================================================================ the image

describe("images/Containerfile", () => {
  test("puts the binary where the manifests run it, with the role links", () => {
    expect(IMAGE_BINARY).toBe("/usr/src/multus-cni/bin/multus");
    expect(containerfile).toMatch(/ln -s multus \/usr\/src\/multus-cni\/bin\/multus-daemon/);
    expect(containerfile).toMatch(/ln -s multus \/usr\/src\/multus-cni\/bin\/multus-shim/);
    expect(containerfile).toMatch(/^ENTRYPOINT \["\/usr\/src\/multus-cni\/bin\/multus-daemon"\]$/m);
  });

  test("builds with npm ci and build.ts, and ships chroot, nsenter and ip on debian:12-slim", () => {
    expect(containerfile).toMatch(/^RUN npm ci/m);
    expect(containerfile).toMatch(/bun run build\.ts/);
    expect(containerfile).toMatch(/^ARG BASE_IMAGE=docker\.io\/library\/debian:12-slim$/m);
    expect(containerfile).toMatch(/install -y --no-install-recommends iproute2/);
    expect(containerfile).toMatch(/for tool in chroot nsenter ip/);
  });

  test("copies every file build.ts reads", () => {
    // build.ts reads package.json and compiles src/main.ts (tsconfig.json for the compiler options).
    for (const needed of ["package.json", "package-lock.json", "build.ts", "tsconfig.json", "src"]) {
      expect(containerfile).toMatch(new RegExp(`^COPY [^\\n]*\\b${needed.replace(".", "\\.")}\\b`, "m"));
    }
  });
});

describe("images/Containerfile: one file for every platform", () => {
  const buildTs = readFileSync(join(ROOT, "build.ts"), "utf8");
  const buildTargets = Object.keys(
    JSON.parse(`{${/const TARGETS = \{([^}]*)\}/.exec(buildTs)![1]!.replace(/,\s*$/, "").trim()}}`),
  );

  test("the compile stage runs on the build platform; the final stage is the target's", () => {
    expect(containerfile).toMatch(/^FROM --platform=\$BUILDPLATFORM \$\{BUILD_IMAGE\} AS build$/m);
    expect(containerfile).toMatch(/^FROM \$\{BASE_IMAGE\}$/m);
  });

  test("each platform and variant maps to a target build.ts accepts, and every target is reachable", () => {
    const arms = [...containerfile.matchAll(/^\s+(\w+)\/(\w*)\) target=(\S+) ;;/gm)].map((m) => [m[1], m[2], m[3]]);
    expect(arms).toEqual([
      ["amd64", "", "linux-x64"],
      ["amd64", "baseline", "linux-x64-baseline"],
      ["arm64", "", "linux-arm64"],
    ]);
    expect(arms.map((a) => a[2]).sort()).toEqual([...buildTargets].sort());
    expect(containerfile).toMatch(/bun run build\.ts --target "\$target" --outfile dist\/multus/);
  });
});

describe("deployments/kustomization.yaml: the one place that names the image", () => {
  const kustomization = parseAllDocuments(
    readFileSync(join(ROOT, "deployments/kustomization.yaml"), "utf8"),
  )[0]!.toJS();

  test("a Kustomization over the thick manifest, naming the manifests' image at the package's version", () => {
    expect(kustomization).toMatchObject({ apiVersion: "kustomize.config.k8s.io/v1beta1", kind: "Kustomization" });
    expect(kustomization.resources).toEqual(["multus-daemonset-thick.yml"]);
    expect(kustomization.images).toEqual([
      { name: "localhost/multus", newName: "localhost/multus", newTag: IMAGE_VERSION },
    ]);
  });

  test("every container of both manifests uses exactly that image, so the one entry replaces them all", () => {
    for (const file of MANIFESTS) {
      const ds = only(loadManifest(file), "DaemonSet");
      const spec = ds.spec.template.spec;
      const images = [...(spec.initContainers ?? []), ...spec.containers].map((c: Obj) => c.image);
      expect(new Set(images)).toEqual(new Set([`${kustomization.images[0].name}:${IMAGE_VERSION}`]));
    }
  });
});

// ================================================================ thick

describe(THICK, () => {
  const objects = loadManifest(THICK);
  const ds = only(objects, "DaemonSet");
  const podSpec = ds.spec.template.spec;
  const daemon = container(ds, "kube-multus");
  const install = container(ds, "install-multus-binary", true);
  const configMap = only(objects, "ConfigMap");
  const configText: string = configMap.data["daemon-config.json"];
  const loaded = parseDaemonConfig(configText, [MultusConfSchema]);
  const config = loaded.config;
  /** The core's view of the same keys, with its defaults (binDir, cniDir, confDir). */
  const core = v.parse(MultusConfSchema, loaded.raw);
  const configFlag = (daemon.command as string[]).find((a) => a.startsWith("-config="));
  const configPath = configFlag?.slice("-config=".length) ?? "";

  test("daemon-config.json is valid for the daemon and the core, and uses only keys we honour", () => {
    expect(Object.keys(loaded.raw).filter((k) => !HONOURED_KEYS.has(k))).toEqual([]);
    expect(loaded.raw).toMatchObject({
      chrootDir: "/hostroot",
      cniVersion: "0.3.1",
      logLevel: "verbose",
      logToStderr: true,
      cniConfigDir: "/host/etc/cni/net.d",
      multusAutoconfigDir: "/host/etc/cni/net.d",
      multusConfigFile: "auto",
      socketDir: "/host/run/multus/",
    });
  });

  test("the container runs `multus daemon -config=<file>` and the file is the ConfigMap's key", () => {
    expect(daemon.command).toEqual([IMAGE_BINARY, "daemon", `-config=${configPath}`]);
    expect(configMapFileOf(podSpec, daemon, configPath)).toEqual({
      name: configMap.metadata.name,
      key: "daemon-config.json",
      readOnly: true,
    });
    expect(configMap.metadata.namespace).toBe(ds.metadata.namespace);
  });

  test("socketDir is, on the host, the directory the shim dials by default", () => {
    // 00-multus.conf carries daemonSocketDir only when daemon-config.json sets it.
    const shimDir = (loaded.raw.daemonSocketDir as string | undefined) ?? DEFAULT_SOCKET_DIR;
    expect(hostPathOf(podSpec, daemon, config.socketDir)).toBe(norm(shimDir));
    expect(norm(shimDir)).toBe("/run/multus");
  });

  test("00-multus.conf is written to, and the primary conf looked up in, the host's /etc/cni/net.d", () => {
    expect(hostPathOf(podSpec, daemon, config.cniConfigDir)).toBe("/etc/cni/net.d");
    expect(hostPathOf(podSpec, daemon, config.multusAutoconfigDir!)).toBe("/etc/cni/net.d");
  });

  test("chrootDir is the host's root, followed into later mounts", () => {
    const found = mountFor(podSpec, daemon, config.chrootDir!);
    expect(hostPathOf(podSpec, daemon, config.chrootDir!)).toBe("/");
    expect(found?.mount.mountPropagation).toBe("HostToContainer");
  });

  test("binDir, cniDir and confDir have the same path in the container and on the host (chroot)", () => {
    for (const dir of [core.binDir, core.cniDir, core.confDir])
      expect(hostPathOf(podSpec, daemon, dir)).toBe(norm(dir));
    expect([core.binDir, core.cniDir, core.confDir]).toEqual([
      "/opt/cni/bin",
      "/var/lib/cni/multus",
      "/etc/cni/multus/net.d",
    ]);
  });

  test("the host mounts of the Go manifest are all there (netns, kubelet, device info)", () => {
    const expected: Array<[string, string, string?]> = [
      ["/host/etc/cni/net.d", "/etc/cni/net.d"],
      ["/opt/cni/bin", "/opt/cni/bin"],
      ["/host/run", "/run"],
      ["/var/lib/cni/multus", "/var/lib/cni/multus"],
      ["/var/lib/kubelet", "/var/lib/kubelet", "HostToContainer"],
      ["/run/k8s.cni.cncf.io", "/run/k8s.cni.cncf.io"],
      ["/run/netns", "/run/netns", "HostToContainer"],
      ["/hostroot", "/", "HostToContainer"],
      ["/etc/cni/multus/net.d", "/etc/cni/multus/net.d"],
    ];
    for (const [inContainer, onHost, propagation] of expected) {
      const found = mountFor(podSpec, daemon, inContainer);
      expect(found?.mount.mountPath).toBe(inContainer);
      expect(hostPathOf(podSpec, daemon, inContainer)).toBe(onHost);
      if (propagation) expect(found?.mount.mountPropagation).toBe(propagation);
    }
    expect(podSpec.hostPID).toBe(true);
    expect(daemon.securityContext).toEqual({ privileged: true });
  });

  test("the init container installs multus-shim into a mount of the host's /opt/cni/bin", () => {
    expect(install.command).toEqual([IMAGE_BINARY, "install", "--dest", install.command[3], "--type", "thick"]);
    expect(hostPathOf(podSpec, install, install.command[3])).toBe("/opt/cni/bin");
    expect(INSTALL_NAMES.thick).toBe("multus-shim");
  });

  test("MULTUS_NODE_NAME comes from spec.nodeName", () => {
    const env = (daemon.env as Obj[]).find((e) => e.name === "MULTUS_NODE_NAME");
    expect(env).toEqual({ name: "MULTUS_NODE_NAME", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } });
  });

  test("the ClusterRole grants exactly the daemon's calls", () => {
    expect(grants(only(objects, "ClusterRole"))).toEqual(THICK_GRANTS);
  });

  test("probes ask the daemon's socket: liveness and startup /healthz, readiness /readyz", () => {
    const probe = (endpoint: string) => [
      IMAGE_BINARY,
      "probe",
      "--socket",
      socketPathIn(config.socketDir),
      "--endpoint",
      endpoint,
    ];
    expect(daemon.livenessProbe.exec.command).toEqual(probe("healthz"));
    expect(daemon.startupProbe.exec.command).toEqual(probe("healthz"));
    expect(daemon.readinessProbe.exec.command).toEqual(probe("readyz"));
    // Start-up may wait 45 s for the readiness indicator and 120 s for the primary conf.
    expect(daemon.startupProbe.periodSeconds * daemon.startupProbe.failureThreshold).toBeGreaterThanOrEqual(
      45 + 120 + 40,
    );
  });

  test("the kubelet waits longer than the daemon's own grace period before SIGKILL", () => {
    expect(podSpec.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(config.gracePeriodSeconds + 10);
  });

  test("memory: request above the measured working set at rest, limit above the derived burst need", () => {
    const { requests, limits } = daemon.resources;
    // bench/results/memory-limit.json: daemon peak + connectionLimit x per-request peak (docs/deploy.md).
    const measured = JSON.parse(readFileSync(join(ROOT, "bench/results/memory-limit.json"), "utf8"));
    const { restMiB, daemonPeakMiB, perRequestMiB } = measured.derived;
    expect(measured.connectionLimit).toBe(config.connectionLimit);
    expect(quantity(requests.memory)).toBeGreaterThanOrEqual(restMiB * MiB);
    expect(quantity(limits.memory)).toBeGreaterThanOrEqual(
      (daemonPeakMiB + (config.connectionLimit ?? 0) * perRequestMiB) * MiB,
    );
    // A limit the burst was checked under, and held.
    type Check = { oomKills: number; failedPods: number; failedProbes: number };
    const held = measured.checks.filter((c: Check) => !c.oomKills && !c.failedPods && !c.failedProbes);
    expect(held.some((c: { limitMiB: number }) => c.limitMiB * MiB <= quantity(limits.memory))).toBe(true);
    expect(quantity(limits.memory)).toBeGreaterThanOrEqual(quantity(requests.memory));
    expect(config.connectionLimit).toBeDefined();
    expect(limits.cpu).toBeUndefined();
    const initRes = install.resources;
    expect(quantity(initRes.limits.memory)).toBeGreaterThanOrEqual(quantity(initRes.requests.memory));
  });

  test("the daemon needs no tuning variables: no JavaScriptCore, allocator or Bun options in its env", () => {
    const names = (daemon.env as Obj[]).map((e) => String(e.name));
    expect(names.filter((n) => /^(BUN_|MIMALLOC_)/.test(n))).toEqual([]);
    expect(names).toContain("MULTUS_NODE_NAME");
  });

  // Runs the probe command of the manifest against a real daemon once `multus probe` exists.
  test.skipIf(!existsSync(join(ROOT, "src/cli/probe.ts")) || !existsSync(join(ROOT, "dist/multus")))(
    "the probe command answers for a running daemon and fails once it stops",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "multus-deploy-probe-"));
      try {
        const socketDir = `${join(dir, "run")}/`;
        await writeFile(
          join(dir, "dc.json"),
          JSON.stringify({ socketDir, multusConfigFile: "", gracePeriodSeconds: 1 }),
        );
        const proc = Bun.spawn([join(ROOT, "dist/multus"), "daemon", `-config=${join(dir, "dc.json")}`], {
          stdout: "ignore",
          stderr: "pipe",
          env: { PATH: process.env.PATH ?? "/usr/bin:/bin" },
        });
        const probe = (endpoint: string) => {
          const argv = [
            join(ROOT, "dist/multus"),
            ...(endpoint === "readyz" ? daemon.readinessProbe : daemon.livenessProbe).exec.command.slice(1),
          ];
          argv[argv.indexOf("--socket") + 1] = socketPathIn(socketDir);
          return Bun.spawnSync(argv).exitCode;
        };
        const deadline = Date.now() + 10_000;
        while (probe("readyz") !== 0 && Date.now() < deadline) await Bun.sleep(50);
        expect(probe("readyz")).toBe(0);
        expect(probe("healthz")).toBe(0);
        proc.kill("SIGTERM");
        await proc.exited;
        expect(probe("healthz")).not.toBe(0);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});

// ================================================================ thin

describe(THIN, () => {
  const objects = loadManifest(THIN);
  const ds = only(objects, "DaemonSet");
  const podSpec = ds.spec.template.spec;
  const main = container(ds, "kube-multus");
  const install = container(ds, "install-multus-binary", true);
  /** The main container's flags as the entrypoint parses them (defaults filled in). */
  const flags = parseThinFlags(main.command.slice(2));
  const str = (name: string) => flags[name] as string;

  let dir = "";
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "multus-deploy-thin-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  const CONFLIST = JSON.stringify(
    {
      cniVersion: "0.4.0",
      name: "k8s-pod-network",
      plugins: [
        { type: "calico", ipam: { type: "calico-ipam" } },
        { type: "bandwidth", capabilities: { bandwidth: true } },
        { type: "portmap", snat: true, capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );

  test("the main container runs `multus thin-entrypoint` with Go's flags only", () => {
    expect(main.command.slice(0, 2)).toEqual([IMAGE_BINARY, "thin-entrypoint"]);
    expect(str("multus-conf-file")).toBe("auto");
    // The init container installs the binary; the main container does not copy it again.
    expect(flags["skip-multus-binary-copy"]).toBe(true);
    expect(podSpec.volumes.some((v: Obj) => v.configMap)).toBe(false);
  });

  test("the flags' paths are the DaemonSet's mounts of the host's /etc/cni/net.d", () => {
    expect(hostPathOf(podSpec, main, str("cni-conf-dir"))).toBe("/etc/cni/net.d");
    expect(hostPathOf(podSpec, main, str("multus-autoconfig-dir"))).toBe("/etc/cni/net.d");
    // The conf names the kubeconfig by its host path: where the entrypoint writes it, through the mount.
    expect(hostPathOf(podSpec, main, posix.join(str("cni-conf-dir"), "multus.d/multus.kubeconfig"))).toBe(
      str("multus-kubeconfig-file-host"),
    );
    for (const path of main.readinessProbe.exec.command[2].match(/\/host\/[^\s;}]+/g)) {
      expect(hostPathOf(podSpec, main, path)?.startsWith("/etc/cni/net.d/")).toBe(true);
    }
  });

  test("the init container installs `multus` into a mount of the host's /opt/cni/bin", () => {
    expect(install.command).toEqual([IMAGE_BINARY, "install", "--dest", install.command[3], "--type", "thin"]);
    expect(hostPathOf(podSpec, install, install.command[3])).toBe("/opt/cni/bin");
    expect(INSTALL_NAMES.thin).toBe("multus");
  });

  test("the ClusterRole grants exactly the thin plugin's calls, a subset of the daemon's", () => {
    const thin = grants(only(objects, "ClusterRole"));
    expect(thin).toEqual(THIN_GRANTS);
    for (const g of thin) expect(THICK_GRANTS).toContain(g);
  });

  test("the manifest's command writes a kubeconfig and a 00-multus.conf the thin plugin accepts", async () => {
    const netd = join(dir, "net.d");
    const sa = join(dir, "sa");
    await mkdir(netd, { recursive: true });
    await mkdir(sa);
    await writeFile(join(netd, "10-calico.conflist"), CONFLIST);
    await writeFile(join(sa, "token"), "header.payload.sig-1");
    await writeFile(join(sa, "ca.crt"), "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n");
    // The manifest's command with the container's /host/etc/cni/net.d moved to a temp dir.
    const argv = main.command.slice(1).map((a: string) => a.replaceAll(str("cni-conf-dir"), netd));
    const proc = Bun.spawn([await ensureBinary(), ...argv, `--service-account-dir=${sa}`, "--skip-config-watch"], {
      env: { PATH: "/usr/bin:/bin", KUBERNETES_SERVICE_HOST: "10.96.0.1", KUBERNETES_SERVICE_PORT: "443" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const stderr = new Response(proc.stderr).text();
    let out = "";
    for await (const chunk of proc.stdout) {
      out += Buffer.from(chunk).toString();
      if (out.includes("multus config file is created.\n")) break;
    }
    proc.kill("SIGTERM");
    expect(await proc.exited, await stderr).toBe(0);
    const conf = JSON.parse(await readFile(join(netd, "00-multus.conf"), "utf8")) as Obj;
    expect(conf.type).toBe("multus");
    expect(conf.capabilities).toEqual({ bandwidth: true, portMappings: true });
    expect(conf.kubeconfig).toBe(str("multus-kubeconfig-file-host"));
    expect(conf.delegates).toEqual([JSON.parse(CONFLIST)]);
    expect(() => v.parse(MultusConfSchema, conf)).not.toThrow();
    const kubeconfigFile = join(netd, "multus.d", "multus.kubeconfig");
    for (const file of [kubeconfigFile, join(netd, "00-multus.conf")])
      expect((await stat(file)).mode & 0o777).toBe(0o600);
    const kc = new clientNode.KubeConfig();
    kc.loadFromString(await readFile(kubeconfigFile, "utf8"));
    expect(kc.getCurrentCluster()?.server).toBe("https://10.96.0.1:443");
    expect(kc.getCurrentCluster()?.caData).toBe(Buffer.from(await readFile(join(sa, "ca.crt"))).toString("base64"));
    expect(kc.getCurrentUser()?.token).toBe("header.payload.sig-1");
  });
});
