// deployments/thin-per-node-certificate/: the kustomize component that turns the thin
// DaemonSet into the per-node-certificate variant Go ships around kubeconfig_generator,
// checked without a cluster or kustomize: the patched DaemonSet against the Kubernetes
// schema, the generator's flags as it parses them with their paths on hostPath mounts at
// the host's own paths, the thin entrypoint's conf naming the generator's kubeconfig, and
// the RBAC and approver shared with the thick variant bound to the thin ClusterRole.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { DaemonSet } from "kubernetes-models/apps/v1/DaemonSet";
import { parseGeneratorFlags } from "../../src/cli/kubeconfig-generator.ts";
import { parseThinFlags } from "../../src/cli/thin-entrypoint.ts";

type Obj = Record<string, any>;
const ROOT = resolve(import.meta.dir, "../..");
const DIR = join(ROOT, "deployments/thin-per-node-certificate");
const load = (file: string): Obj[] =>
  parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
const component = load(join(DIR, "kustomization.yaml"))[0]!;
const thin = load(join(ROOT, "deployments/multus-daemonset.yml"));
const baseDs = thin.find((o) => o.kind === "DaemonSet")!;
const dsPatch = load(join(DIR, "daemonset.yml"))[0]!;
const jsonPatch = load(join(DIR, "entrypoint.yml"))[0] as unknown as Obj[];
const rbac = load(join(ROOT, "deployments/per-node-certificate-base/per-node-rbac.yml"));
const sidecar = dsPatch.spec.template.spec.containers[0];

/** The DaemonSet as kustomize builds it: the JSON patch, then the strategic merge (new container first). */
function patched(): Obj {
  const ds = structuredClone(baseDs);
  const spec = ds.spec.template.spec;
  for (const op of jsonPatch) {
    expect(op.path.startsWith("/spec/template/spec/containers/0/")).toBe(true);
    if (op.op === "test") expect(spec.containers[0].name).toBe(op.value);
    else if (op.op === "add" && op.path.endsWith("/command/-")) spec.containers[0].command.push(op.value);
    else throw new Error(`unexpected patch op ${JSON.stringify(op)}`);
  }
  spec.containers = [...dsPatch.spec.template.spec.containers, ...spec.containers];
  spec.volumes = [...spec.volumes, ...dsPatch.spec.template.spec.volumes];
  return ds;
}

describe("deployments/thin-per-node-certificate", () => {
  test("a component the root kustomization offers: the shared RBAC and approver, two patches", () => {
    expect(component).toMatchObject({ apiVersion: "kustomize.config.k8s.io/v1alpha1", kind: "Component" });
    expect(component.components).toEqual(["../per-node-certificate-base"]);
    expect(component.patches).toEqual([
      {
        path: "entrypoint.yml",
        target: { group: "apps", version: "v1", kind: "DaemonSet", name: baseDs.metadata.name },
      },
      { path: "daemonset.yml" },
    ]);
    expect(dsPatch.metadata).toEqual({ name: baseDs.metadata.name, namespace: baseDs.metadata.namespace });
    expect(readFileSync(join(ROOT, "deployments/kustomization.yaml"), "utf8")).toContain("thin-per-node-certificate");
  });

  test("the patched DaemonSet passes the Kubernetes schema, with unique container and volume names", () => {
    const ds = patched();
    new DaemonSet(ds as any).validate();
    const spec = ds.spec.template.spec;
    const names = (xs: Obj[]) => xs.map((x) => x.name);
    expect(new Set(names(spec.containers)).size).toBe(spec.containers.length);
    expect(new Set(names(spec.volumes)).size).toBe(spec.volumes.length);
  });

  test("the generator: Go's flags, its node from the downward API, the image's symlink", () => {
    const daemon = baseDs.spec.template.spec.containers[0];
    expect(sidecar.image).toBe(daemon.image);
    expect(sidecar.command[0]).toBe(join(dirname(daemon.command[0]), "kubeconfig_generator"));
    expect(readFileSync(join(ROOT, "images/Containerfile"), "utf8")).toContain(
      "ln -s multus /usr/src/multus-cni/bin/kubeconfig_generator",
    );
    expect(parseGeneratorFlags(sidecar.command.slice(1))).toEqual({
      certdir: "/etc/cni/multus/certs",
      "bootstrap-config": "/etc/kubernetes/kubelet.conf",
      kubeconfig: "/run/multus/kubeconfig",
      "cert-duration": "10m",
    });
    expect(sidecar.env).toContainEqual({
      name: "MULTUS_NODE_NAME",
      valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } },
    });
  });

  test("its paths are hostPath mounts at the host's own paths (the plugin on the host reads them)", () => {
    const f = parseGeneratorFlags(sidecar.command.slice(1));
    const volumes = dsPatch.spec.template.spec.volumes as Obj[];
    const hostPathOf = (path: string): { host: string; readOnly: boolean } => {
      const mount = (sidecar.volumeMounts as Obj[]).find(
        (m) => path === m.mountPath || path.startsWith(`${m.mountPath}/`),
      );
      expect(mount, path).toBeDefined();
      const volume = volumes.find((v) => v.name === mount!.name);
      expect(volume?.hostPath?.path, path).toBe(mount!.mountPath);
      return { host: volume!.hostPath.path, readOnly: mount!.readOnly === true };
    };
    expect(hostPathOf(f["bootstrap-config"]!)).toEqual({ host: f["bootstrap-config"]!, readOnly: true });
    expect(hostPathOf(f.certdir!)).toEqual({ host: f.certdir!, readOnly: false });
    expect(hostPathOf(dirname(f.kubeconfig!))).toEqual({ host: dirname(f.kubeconfig!), readOnly: false });
    // kubeadm's kubelet.conf names its client certificate under /var/lib/kubelet/pki.
    expect(hostPathOf("/var/lib/kubelet/pki/kubelet-client-current.pem").readOnly).toBe(true);
    expect(sidecar.readinessProbe.exec.command.at(-1)).toBe(`test -s ${f.kubeconfig}`);
  });

  test("the thin entrypoint's conf names the generator's kubeconfig", () => {
    const before = parseThinFlags(baseDs.spec.template.spec.containers[0].command.slice(2));
    expect(before["multus-kubeconfig-file-host"]).toBe("/etc/cni/net.d/multus.d/multus.kubeconfig");
    const ds = patched();
    const entry = ds.spec.template.spec.containers.find((c: Obj) => c.name === "kube-multus");
    expect(entry.command.slice(0, -1)).toEqual(baseDs.spec.template.spec.containers[0].command);
    const after = parseThinFlags(entry.command.slice(2));
    expect(after["multus-kubeconfig-file-host"]).toBe(parseGeneratorFlags(sidecar.command.slice(1)).kubeconfig);
  });

  test("the certificate's group gets the thin ClusterRole, which the thin manifest defines", () => {
    const binding = rbac.find((o) => o.kind === "ClusterRoleBinding" && o.metadata.name === "multus-per-node")!;
    expect(binding.subjects).toEqual([{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "system:multus" }]);
    expect(thin.some((o) => o.kind === "ClusterRole" && o.metadata.name === binding.roleRef.name)).toBe(true);
  });
});
