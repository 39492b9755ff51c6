// deployments/per-node-certificate/: the kustomize component that turns the thick
// DaemonSet into Go's per-node-certificate variant, checked without a cluster or
// kustomize: every object against the Kubernetes schemas, the patched
// daemon-config.json valid for the daemon and equal to the thick one plus
// perNodeCertificate, its paths on hostPath mounts of the patch, and RBAC that
// grants exactly the calls of the daemon's certificate user and of the approver.
import { describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { parseDaemonConfig } from "../../src/config/daemon-config.ts";

type Obj = Record<string, any>;
const ROOT = resolve(import.meta.dir, "../..");
const DIR = join(ROOT, "deployments/per-node-certificate");
const BASE = join(ROOT, "deployments/per-node-certificate-base");
const load = (file: string): Obj[] =>
  parseAllDocuments(readFileSync(file, "utf8"))
    .map((d) => d.toJS() as Obj)
    .filter(Boolean);
const component = load(join(DIR, "kustomization.yaml"))[0]!;
const byKind = (objs: Obj[], kind: string, name?: string) =>
  objs.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
const thick = load(join(ROOT, "deployments/multus-daemonset-thick.yml"));
const approver = load(join(BASE, "cert-approver.yml"));
const rbac = load(join(BASE, "per-node-rbac.yml"));
const configPatch = load(join(DIR, "daemon-config.yml"))[0]!;
const dsPatch = load(join(DIR, "daemonset.yml"))[0]!;

/** "group/resource:verb", with "[names]" when the rule names resources. */
function grants(role: Obj): string[] {
  return (role.rules as Obj[])
    .flatMap((r) =>
      (r.apiGroups as string[]).flatMap((g) =>
        (r.resources as string[]).flatMap((res) =>
          (r.verbs as string[]).map(
            (v) => `${g || "core"}/${res}:${v}${r.resourceNames ? `[${r.resourceNames.join(",")}]` : ""}`,
          ),
        ),
      ),
    )
    .sort();
}

describe("deployments/per-node-certificate", () => {
  test("a component the root kustomization offers, with its objects and patches", () => {
    expect(component).toMatchObject({ apiVersion: "kustomize.config.k8s.io/v1alpha1", kind: "Component" });
    expect(component.components).toEqual(["../per-node-certificate-base"]);
    expect(load(join(BASE, "kustomization.yaml"))[0]).toMatchObject({
      kind: "Component",
      resources: ["per-node-rbac.yml", "cert-approver.yml"],
    });
    expect(component.patches).toEqual([{ path: "daemon-config.yml" }, { path: "daemonset.yml" }]);
    expect(readFileSync(join(ROOT, "deployments/kustomization.yaml"), "utf8")).toContain("#   - per-node-certificate");
  });

  test("every object passes the Kubernetes schema", () => {
    const models: Record<string, new (d: any) => { validate(): void }> = {
      ServiceAccount,
      ClusterRole,
      ClusterRoleBinding,
      Deployment,
    };
    for (const o of [...approver, ...rbac]) new models[o.kind]!(o).validate();
  });

  test("daemon-config.json is the thick one plus perNodeCertificate, valid for the daemon", () => {
    const base = JSON.parse(byKind(thick, "ConfigMap")[0]!.data["daemon-config.json"]);
    const patched = JSON.parse(configPatch.data["daemon-config.json"]);
    const { perNodeCertificate, ...rest } = patched;
    expect(rest).toEqual(base);
    expect(perNodeCertificate).toMatchObject({ enabled: true, certDuration: "10m" });
    expect(parseDaemonConfig(configPatch.data["daemon-config.json"], []).config.perNodeCertificate?.enabled).toBe(true);
    expect(configPatch.metadata.name).toBe(byKind(thick, "ConfigMap")[0]!.metadata.name);
  });

  test("bootstrapKubeconfig and certDir are hostPath mounts of the patched container", () => {
    const { bootstrapKubeconfig, certDir } = JSON.parse(configPatch.data["daemon-config.json"]).perNodeCertificate;
    const container = dsPatch.spec.template.spec.containers[0];
    const daemon = byKind(thick, "DaemonSet")[0]!.spec.template.spec.containers[0];
    expect(container.name).toBe(daemon.name);
    for (const path of [bootstrapKubeconfig, certDir]) {
      const mount = (container.volumeMounts as Obj[]).find((m) => m.mountPath === path);
      expect(mount, path).toBeDefined();
      const volume = (dsPatch.spec.template.spec.volumes as Obj[]).find((v) => v.name === mount!.name);
      expect(volume?.hostPath?.path).toBe(path);
    }
    expect(dsPatch.metadata.name).toBe(byKind(thick, "DaemonSet")[0]!.metadata.name);
  });

  test("the certificate's group gets the daemon's role and its renewal calls (create, get CSRs)", () => {
    const bindings = byKind(rbac, "ClusterRoleBinding");
    expect(bindings.map((b) => [b.roleRef.name, b.subjects])).toEqual([
      ["multus", [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "system:multus" }]],
      ["multus-per-node-csr", [{ apiGroup: "rbac.authorization.k8s.io", kind: "Group", name: "system:multus" }]],
    ]);
    expect(grants(byKind(rbac, "ClusterRole", "multus-per-node-csr")[0]!)).toEqual([
      "certificates.k8s.io/certificatesigningrequests:create",
      "certificates.k8s.io/certificatesigningrequests:get",
    ]);
  });

  test("the approver: exactly its calls, its service account, the image's binary", () => {
    expect(grants(byKind(approver, "ClusterRole")[0]!)).toEqual([
      "certificates.k8s.io/certificatesigningrequests/approval:update",
      "certificates.k8s.io/certificatesigningrequests:list",
      "certificates.k8s.io/certificatesigningrequests:watch",
      "certificates.k8s.io/signers:approve[kubernetes.io/kube-apiserver-client]",
      "core/events:create",
    ]);
    const binding = byKind(approver, "ClusterRoleBinding")[0]!;
    const deployment = byKind(approver, "Deployment")[0]!;
    const sa = byKind(approver, "ServiceAccount")[0]!;
    expect(binding.subjects).toEqual([
      { kind: "ServiceAccount", name: sa.metadata.name, namespace: sa.metadata.namespace },
    ]);
    expect(deployment.spec.template.spec.serviceAccountName).toBe(sa.metadata.name);
    const daemon = byKind(thick, "DaemonSet")[0]!.spec.template.spec.containers[0];
    const c = deployment.spec.template.spec.containers[0];
    expect(c.image).toBe(daemon.image);
    expect(c.command).toEqual([daemon.command[0], "cert-approver"]);
  });
});
