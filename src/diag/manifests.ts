// Kubernetes manifests as files hold them (`kubectl get -o yaml`, `-o json`,
// what `kubectl apply -f` takes): YAML or JSON, one or several documents, a
// List of items. Turned into the trimmed Pod and NAD shapes the daemon's
// informers keep (k8s/pods.ts, k8s/nads.ts), so `multus validate` sees a pod
// exactly as the daemon would. Problems are findings with a location, never throws.
import { locateJsonError } from "../util/json-position.ts";
import { asRecord } from "../util/is-record.ts";
import { toPodInfo } from "../k8s/pods.ts";
import { toNad } from "../k8s/nads.ts";
import type { Nad, PodInfo } from "../ports/kube.ts";

export interface InputFile {
  path: string;
  text: string;
}

/** Something wrong (or worth saying) and where: the file, and inside it the document and field. */
export interface Finding {
  source: string;
  where?: string;
  message: string;
}

interface Doc {
  /** "document 2", "document 1, items[3]"; "" for a file of one document. */
  where: string;
  value: unknown;
}

/** The file's documents, or the syntax error with its line. */
export function parseDocuments(file: InputFile): { docs: Doc[]; error?: Finding } {
  const text = file.text;
  if (/^\s*[[{]/.test(text)) {
    try {
      return { docs: split(JSON.parse(text)) };
    } catch (err) {
      const at = locateJsonError(text);
      const where = at ? `line ${at.line}, column ${at.column}` : undefined;
      return {
        docs: [],
        error: { source: file.path, where, message: `not valid JSON: ${at?.reason ?? (err as Error).message}` },
      };
    }
  }
  try {
    return { docs: split(Bun.YAML.parse(text)) };
  } catch (err) {
    const where = `near line ${yamlErrorLine(text)}`;
    return { docs: [], error: { source: file.path, where, message: `not valid YAML: ${(err as Error).message}` } };
  }
}

/** Bun's YAML parser returns several documents as an array; a top-level sequence is no manifest either. */
function split(value: unknown): Doc[] {
  if (value === null || value === undefined) return [];
  if (!Array.isArray(value)) return [{ where: "", value }];
  return value.filter((v) => v !== null).map((v, i) => ({ where: `document ${i + 1}`, value: v }));
}

/**
 * Bun's YAML errors carry no position: the line after the longest prefix of
 * whole lines that still parses. A prefix cut inside a flow collection fails
 * too, so the last prefix that parses, not the first that fails, marks it.
 */
function yamlErrorLine(text: string): number {
  const lines = text.split("\n").slice(0, 2000);
  let lastGood = 0;
  for (let k = 1; k <= lines.length; k++) {
    try {
      Bun.YAML.parse(lines.slice(0, k).join("\n"));
      lastGood = k;
    } catch {
      // keep looking for a longer prefix that parses
    }
  }
  return Math.min(lastGood + 1, lines.length);
}

/** Items of a `List` (`kind: List`, `PodList`, ...), each with its place. */
function expandLists(docs: Doc[]): Doc[] {
  return docs.flatMap((d) => {
    const obj = asRecord(d.value);
    if (typeof obj?.kind !== "string" || !obj.kind.endsWith("List") || !Array.isArray(obj.items)) return [d];
    return obj.items.map((item, i) => ({ where: `${d.where ? `${d.where}, ` : ""}items[${i}]`, value: item }));
  });
}

const WORKLOAD_TEMPLATE: Record<string, string[]> = {
  Deployment: ["spec", "template"],
  ReplicaSet: ["spec", "template"],
  StatefulSet: ["spec", "template"],
  DaemonSet: ["spec", "template"],
  Job: ["spec", "template"],
  CronJob: ["spec", "jobTemplate", "spec", "template"],
};

export interface PodInput {
  pod?: PodInfo;
  errors: Finding[];
  notes: Finding[];
}

/** The one Pod of a file (a workload's pod template counts: its pods get those annotations). */
export function readPod(file: InputFile): PodInput {
  const { docs, error } = parseDocuments(file);
  if (error) return { errors: [error], notes: [] };
  const all = expandLists(docs);
  if (all.length !== 1) {
    const message = `holds ${all.length} objects; give exactly one Pod (or a workload with a pod template)`;
    return { errors: [{ source: file.path, message }], notes: [] };
  }
  return podFrom(file.path, all[0]!);
}

function podFrom(source: string, doc: Doc): PodInput {
  const at = (field: string) => [doc.where, field].filter(Boolean).join(": ");
  const obj = asRecord(doc.value);
  const kind = obj?.kind;
  const notes: Finding[] = [];
  let meta = asRecord(obj?.metadata);
  if (typeof kind === "string" && WORKLOAD_TEMPLATE[kind]) {
    const template = WORKLOAD_TEMPLATE[kind].reduce<unknown>((o, k) => asRecord(o)?.[k], obj);
    const tmeta = asRecord(asRecord(template)?.metadata) ?? {};
    notes.push({ source, message: `a ${kind}: checking its pod template's annotations` });
    meta = {
      ...tmeta,
      name: tmeta.name ?? `${String(meta?.name ?? kind.toLowerCase())}-<pod>`,
      namespace: meta?.namespace,
    };
  } else if (kind !== "Pod") {
    const what = typeof kind === "string" ? `kind ${JSON.stringify(kind)}` : "no kind";
    return { errors: [{ source, where: at("kind"), message: `${what}: a Pod is expected` }], notes };
  }
  const errors = annotationErrors(source, at, meta?.annotations);
  if (errors.length > 0) return { errors, notes };
  const namespace = typeof meta?.namespace === "string" && meta.namespace !== "" ? meta.namespace : "default";
  if (namespace !== meta?.namespace)
    notes.push({ source, where: at("metadata.namespace"), message: 'not set: taken as "default"' });
  const name =
    typeof meta?.name === "string" && meta.name !== "" ? meta.name : `${String(meta?.generateName ?? "")}<generated>`;
  const pod = toPodInfo({ metadata: { ...meta, name, namespace }, status: obj?.status });
  return pod
    ? { pod, errors, notes }
    : { errors: [{ source, where: at("metadata"), message: "not a Pod's metadata" }], notes };
}

/** The API server accepts only strings as annotation values: a YAML number or list there is a manifest error. */
function annotationErrors(source: string, at: (f: string) => string, annotations: unknown): Finding[] {
  if (annotations === undefined || annotations === null) return [];
  const record = asRecord(annotations);
  if (!record) return [{ source, where: at("metadata.annotations"), message: "must be a map of strings" }];
  return Object.entries(record)
    .filter(([, v]) => typeof v !== "string")
    .map(([k, v]) => ({
      source,
      where: at(`metadata.annotations[${JSON.stringify(k)}]`),
      message: `must be a string, not ${Array.isArray(v) ? "a list" : typeof v} (quote it, or use a block scalar: |)`,
    }));
}

export interface NadInput {
  nad: Nad;
  source: string;
  where: string;
  /** spec.config is not JSON (already reported): resolving it adds nothing. */
  badConfig?: boolean;
}

/**
 * The NADs of the files. A NAD without a namespace is taken into `defaultNamespace`
 * (the pod's: `kubectl apply -f` puts both into the current namespace).
 */
export function readNads(
  files: InputFile[],
  defaultNamespace: string,
): { nads: NadInput[]; errors: Finding[]; notes: Finding[] } {
  const out = { nads: [] as NadInput[], errors: [] as Finding[], notes: [] as Finding[] };
  const seen = new Map<string, NadInput>();
  for (const file of files) {
    const { docs, error } = parseDocuments(file);
    if (error) out.errors.push(error);
    let defaulted = 0;
    for (const doc of expandLists(docs)) {
      const got = nadFrom(file.path, doc, defaultNamespace, out);
      if (!got) continue;
      if (got.defaulted) defaulted++;
      const key = `${got.nad.namespace}/${got.nad.name}`;
      const before = seen.get(key);
      if (before) {
        out.errors.push({
          source: file.path,
          where: doc.where || undefined,
          message: `${key} is given twice (first in ${before.source}${before.where ? ` ${before.where}` : ""})`,
        });
        continue;
      }
      seen.set(key, got);
      out.nads.push(got);
    }
    if (defaulted > 0) {
      const what = defaulted === 1 ? "1 NAD has" : `${defaulted} NADs have`;
      out.notes.push({
        source: file.path,
        message: `${what} no metadata.namespace: taken as the pod's, "${defaultNamespace}"`,
      });
    }
  }
  return out;
}

function nadFrom(
  source: string,
  doc: Doc,
  defaultNamespace: string,
  out: { errors: Finding[] },
): (NadInput & { defaulted: boolean }) | undefined {
  const at = (field: string) => [doc.where, field].filter(Boolean).join(": ") || undefined;
  const obj = asRecord(doc.value);
  if (obj?.kind !== "NetworkAttachmentDefinition") {
    const what = typeof obj?.kind === "string" ? `kind ${JSON.stringify(obj.kind)}` : "no kind";
    out.errors.push({ source, where: at("kind"), message: `${what}: a NetworkAttachmentDefinition is expected` });
    return undefined;
  }
  const meta = asRecord(obj.metadata);
  if (typeof meta?.name !== "string" || meta.name === "") {
    out.errors.push({ source, where: at("metadata.name"), message: "required" });
    return undefined;
  }
  const config = asRecord(obj.spec)?.config;
  if (config !== undefined && typeof config !== "string") {
    const kind = Array.isArray(config) ? "a list" : typeof config;
    out.errors.push({
      source,
      where: at("spec.config"),
      message: `must be a string holding the JSON CNI config, not ${kind} (use config: | and the JSON below it)`,
    });
    return undefined;
  }
  const namespace = typeof meta.namespace === "string" && meta.namespace !== "" ? meta.namespace : defaultNamespace;
  const nad = toNad({ ...obj, metadata: { ...meta, namespace } });
  if (!nad) return undefined;
  // Checked for every NAD given, used by the pod or not: the next pod may use it.
  const badConfig = configProblem(nad.config);
  if (badConfig) out.errors.push({ source, where: at("spec.config"), message: badConfig });
  return {
    nad,
    source,
    where: doc.where,
    defaulted: namespace !== meta.namespace,
    ...(badConfig && { badConfig: true }),
  };
}

/** Why spec.config is no JSON object, with its line and column; undefined when it is one (or empty: a conf file by name). */
function configProblem(config: string): string | undefined {
  if (config.trim() === "") return undefined;
  let value: unknown;
  try {
    value = JSON.parse(config);
  } catch (err) {
    const at = locateJsonError(config);
    return `not valid JSON: ${at ? `line ${at.line}, column ${at.column}: ${at.reason}` : (err as Error).message}`;
  }
  return asRecord(value) ? undefined : "must be a JSON object";
}
