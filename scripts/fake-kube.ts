// A local Kubernetes API stand-in, for the demo and for trying the daemon by
// hand: the fake API server the tests use (tests/helpers/fake-kube.ts: real
// REST and watch over HTTPS, bearer token), seeded from manifest files.
//
//   bun scripts/fake-kube.ts serve --kubeconfig FILE [--port N] [MANIFEST.yaml|.json ...]
//       Serves until SIGTERM/SIGINT. Manifests may hold several YAML documents or a
//       List; kinds Pod, NetworkAttachmentDefinition and Namespace are loaded. The
//       kubeconfig (server, CA, token) is written once the server listens.
//   bun scripts/fake-kube.ts get --kubeconfig FILE pods|nads NAMESPACE/NAME [--annotation KEY]
//       Prints the object as the API returns it, or one annotation (JSON pretty-printed).
import { readFile, rename } from "node:fs/promises";
import { parseArgs } from "node:util";
import { parse, parseAllDocuments } from "yaml";
import { type KubeObject, startFakeKube, type FakeKube } from "../tests/helpers/fake-kube.ts";

const USAGE = `usage: bun scripts/fake-kube.ts serve --kubeconfig FILE [--port N] [MANIFEST...]
       bun scripts/fake-kube.ts get --kubeconfig FILE pods|nads NAMESPACE/NAME [--annotation KEY]`;

const PATHS = {
  pods: (ns: string, name: string) => `/api/v1/namespaces/${ns}/pods/${name}`,
  nads: (ns: string, name: string) =>
    `/apis/k8s.cni.cncf.io/v1/namespaces/${ns}/network-attachment-definitions/${name}`,
} as const;

function fail(message: string): never {
  console.error(`fake-kube: ${message}`);
  process.exit(2);
}

/** Every object in the files, in order: YAML documents, JSON, or a List's items. */
async function readManifests(files: string[]): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const file of files) {
    const text = await readFile(file, "utf8").catch((e: Error) => fail(`${file}: ${e.message}`));
    for (const doc of parseAllDocuments(text)) {
      if (doc.errors.length) fail(`${file}: ${doc.errors[0]!.message}`);
      const obj = doc.toJS() as (KubeObject & { items?: KubeObject[] }) | null;
      if (obj) out.push(...(obj.kind?.endsWith("List") ? (obj.items ?? []) : [obj]));
    }
  }
  return out;
}

function seed(fake: FakeKube, obj: KubeObject): void {
  const where = `${obj.kind} ${obj.metadata?.namespace ?? "default"}/${obj.metadata?.name}`;
  if (typeof obj.metadata?.name !== "string") fail(`${obj.kind ?? "an object"} without metadata.name`);
  if (obj.kind === "Pod") fake.createPod(obj);
  else if (obj.kind === "NetworkAttachmentDefinition") fake.createNad(obj);
  else if (obj.kind === "Namespace") fake.createNamespace(obj.metadata.name!);
  else fail(`${where}: only Pod, NetworkAttachmentDefinition and Namespace can be loaded`);
}

async function serve(o: { kubeconfig: string; port: number; files: string[] }): Promise<void> {
  const objects = await readManifests(o.files);
  const fake = await startFakeKube({ port: o.port }).catch((e: Error) => fail(`cannot listen: ${e.message}`));
  for (const obj of objects) seed(fake, obj);
  // Temp then rename: whoever waits for the file never reads half of it.
  await rename(fake.writeKubeconfig(`${o.kubeconfig}.tmp`), o.kubeconfig);
  console.error(`fake-kube: serving ${fake.url} with ${objects.length} object(s); kubeconfig ${o.kubeconfig}`);
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  await fake.stop();
}

interface Access {
  server: string;
  ca: string;
  token: string;
}

async function readKubeconfig(path: string): Promise<Access> {
  const kc = parse(await readFile(path, "utf8").catch((e: Error) => fail(`${path}: ${e.message}`)));
  const cluster = kc?.clusters?.[0]?.cluster;
  const token = kc?.users?.[0]?.user?.token;
  if (!cluster?.server || !cluster["certificate-authority-data"] || !token) fail(`${path}: not a fake-kube kubeconfig`);
  return { server: cluster.server, ca: Buffer.from(cluster["certificate-authority-data"], "base64").toString(), token };
}

async function get(o: { kubeconfig: string; resource: string; ref: string; annotation?: string }): Promise<void> {
  const path = PATHS[o.resource as keyof typeof PATHS];
  const [ns, name] = o.ref.split("/");
  if (!path || !ns || !name) fail(USAGE);
  const a = await readKubeconfig(o.kubeconfig);
  const res = await fetch(`${a.server}${path(ns, name)}`, {
    headers: { authorization: `Bearer ${a.token}` },
    tls: { ca: a.ca },
  });
  const obj = (await res.json()) as KubeObject;
  if (!res.ok) fail(`${o.resource} ${o.ref}: HTTP ${res.status}: ${(obj as { message?: string }).message}`);
  if (o.annotation === undefined) return void console.log(JSON.stringify(obj, null, 2));
  const value = obj.metadata.annotations?.[o.annotation];
  if (value === undefined) fail(`${o.resource} ${o.ref} has no annotation ${o.annotation}`);
  try {
    console.log(JSON.stringify(JSON.parse(value), null, 2));
  } catch {
    console.log(value);
  }
}

const { values, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: { kubeconfig: { type: "string" }, port: { type: "string" }, annotation: { type: "string" } },
    });
  } catch (err) {
    fail(`${(err as Error).message}\n${USAGE}`);
  }
})();
const [command, ...rest] = positionals;
if (!values.kubeconfig) fail(`--kubeconfig is required\n${USAGE}`);
if (command === "serve") {
  const port = Number(values.port ?? 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port: not a port: ${values.port}`);
  await serve({ kubeconfig: values.kubeconfig, port, files: rest });
} else if (command === "get" && rest.length === 2) {
  await get({ kubeconfig: values.kubeconfig, resource: rest[0]!, ref: rest[1]!, annotation: values.annotation });
} else {
  fail(USAGE);
}
