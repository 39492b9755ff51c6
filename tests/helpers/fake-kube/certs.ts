// The fake server's TLS material (a throw-away CA and a server certificate for 127.0.0.1),
// and the files a client is given to reach it: a kubeconfig, or a pod's in-cluster view.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import type { InClusterFiles } from "./types.ts";

export interface Tls {
  caFile: string;
  /** The CA's key: the CSR signer signs client certificates with it. */
  caKeyFile: string;
  caPem: string;
  cert: string;
  key: string;
}

/** Generates the certificates in `dir` and reads them back. */
export function createTls(dir: string): Tls {
  const { caFile, certFile, keyFile } = generateCertificates(dir);
  return {
    caFile,
    caKeyFile: join(dir, "ca.key"),
    caPem: readFileSync(caFile, "utf8"),
    cert: readFileSync(certFile, "utf8"),
    key: readFileSync(keyFile, "utf8"),
  };
}

/** A kubeconfig with a bearer token (or a `token-file` naming `tokenFile`); the CA inline as certificate-authority-data unless `caAsFile`. */
export function writeKubeconfig(
  path: string,
  o: { url: string; token: string; tls: Tls; caAsFile?: boolean; tokenFile?: string },
): string {
  const cluster = o.caAsFile
    ? `    certificate-authority: ${JSON.stringify(o.tls.caFile)}`
    : `    certificate-authority-data: ${Buffer.from(o.tls.caPem).toString("base64")}`;
  const text = [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: fake",
    "  cluster:",
    `    server: ${o.url}`,
    cluster,
    "users:",
    "- name: fake-user",
    "  user:",
    o.tokenFile ? `    token-file: ${JSON.stringify(o.tokenFile)}` : `    token: ${JSON.stringify(o.token)}`,
    "contexts:",
    "- name: fake",
    "  context:",
    "    cluster: fake",
    "    user: fake-user",
    "current-context: fake",
    "",
  ].join("\n");
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode: 0o600 });
  return path;
}

/** token, ca.crt and namespace in `target`, the way a pod sees them. */
export function writeInClusterEnv(
  target: string,
  o: { token: string; caPem: string; port: number; namespace?: string },
): InClusterFiles {
  mkdirSync(target, { recursive: true });
  const tokenFile = join(target, "token");
  const caPath = join(target, "ca.crt");
  const namespaceFile = join(target, "namespace");
  writeFileSync(tokenFile, o.token, { mode: 0o600 });
  writeFileSync(caPath, o.caPem);
  writeFileSync(namespaceFile, o.namespace ?? "kube-system");
  return {
    host: "127.0.0.1",
    port: String(o.port),
    tokenFile,
    caFile: caPath,
    namespaceFile,
    env: { KUBERNETES_SERVICE_HOST: "127.0.0.1", KUBERNETES_SERVICE_PORT: String(o.port) },
  };
}

function openssl(args: string[], cwd: string): void {
  const r = Bun.spawnSync(["openssl", ...args], { cwd, stdout: "pipe", stderr: "pipe" });
  if (r.exitCode !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr.toString()}`);
}

function generateCertificates(dir: string): { caFile: string; certFile: string; keyFile: string } {
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  openssl(
    [
      "req",
      "-x509",
      ...ec,
      "-keyout",
      "ca.key",
      "-out",
      "ca.crt",
      "-days",
      "2",
      "-subj",
      "/CN=fake-kube-ca",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
    ],
    dir,
  );
  openssl(["req", ...ec, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=fake-kube"], dir);
  writeFileSync(
    join(dir, "server.ext"),
    "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
  );
  openssl(
    [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      "server.crt",
      "-days",
      "2",
      "-extfile",
      "server.ext",
    ],
    dir,
  );
  return { caFile: join(dir, "ca.crt"), certFile: join(dir, "server.crt"), keyFile: join(dir, "server.key") };
}
