// A parser of the Prometheus text exposition format (version 0.0.4), for
// tests that scrape /metrics: families with their TYPE and HELP, samples with
// their labels (escapes undone) and values. Strict on purpose: a line it cannot
// read throws, so a malformed page fails the test instead of matching nothing.

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type?: string;
  help?: string;
  samples: Sample[];
}

export interface Exposition {
  families: Map<string, Family>;
  /** Every sample of the family `family` (histogram `_bucket`/`_sum`/`_count` included). */
  samples(family: string): Sample[];
  /** The value of the sample `name` whose labels are exactly `labels`; undefined when there is none. */
  value(name: string, labels?: Record<string, string>): number | undefined;
  /** The sum over samples `name` whose labels include `labels` (0 when none match). */
  sum(name: string, labels?: Record<string, string>): number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const HISTOGRAM_SUFFIXES = ["_bucket", "_sum", "_count"];

export function parseExposition(text: string): Exposition {
  const families = new Map<string, Family>();
  const family = (name: string) => {
    const f = families.get(name) ?? { name, samples: [] };
    families.set(name, f);
    return f;
  };
  for (const [i, line] of text.split("\n").entries()) {
    if (line.trim() === "") continue;
    try {
      if (line.startsWith("#")) readComment(line, family);
      else {
        const sample = readSample(line);
        family(familyOf(sample.name, families)).samples.push(sample);
      }
    } catch (err) {
      throw new Error(`line ${i + 1} of the exposition: ${(err as Error).message}: ${JSON.stringify(line)}`);
    }
  }
  const all = (name: string) => [...families.values()].flatMap((f) => f.samples).filter((s) => s.name === name);
  return {
    families,
    samples: (name) => families.get(name)?.samples ?? [],
    value(name, labels = {}) {
      return all(name).find((s) => sameLabels(s.labels, labels))?.value;
    },
    sum(name, labels = {}) {
      return all(name)
        .filter((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))
        .reduce((n, s) => n + s.value, 0);
    },
  };
}

function readComment(line: string, family: (name: string) => Family): void {
  const m = /^#\s+(HELP|TYPE)\s+(\S+)(?:\s(.*))?$/.exec(line);
  if (!m) return; // a plain comment
  const [, kind, name, rest = ""] = m;
  if (!NAME.test(name!) || NAME.exec(name!)![0] !== name) throw new Error(`bad metric name ${name}`);
  if (kind === "TYPE") {
    if (!["counter", "gauge", "histogram", "summary", "untyped"].includes(rest)) throw new Error(`bad type ${rest}`);
    family(name!).type = rest;
  } else {
    family(name!).help = rest.replace(/\\n/g, "\n").replace(/\\\\/g, "\\");
  }
}

/** `name{a="x",b="y"} value [timestamp]` */
function readSample(line: string): Sample {
  const name = NAME.exec(line)?.[0];
  if (!name) throw new Error("no metric name");
  let rest = line.slice(name.length);
  const labels: Record<string, string> = {};
  if (rest.startsWith("{")) {
    rest = rest.slice(1);
    while (!rest.startsWith("}")) {
      const label = LABEL_NAME.exec(rest)?.[0];
      if (!label || rest[label.length] !== "=" || rest[label.length + 1] !== '"') throw new Error("bad label");
      const { value, end } = readQuoted(rest, label.length + 2);
      if (label in labels) throw new Error(`label ${label} twice`);
      labels[label] = value;
      rest = rest.slice(end);
      if (rest.startsWith(",")) rest = rest.slice(1);
      else if (!rest.startsWith("}")) throw new Error("expected , or }");
    }
    rest = rest.slice(1);
  }
  const fields = rest.trim().split(/\s+/);
  if (!/^\s/.test(rest) || fields.length < 1 || fields.length > 2) throw new Error("expected a value");
  return { name, labels, value: readValue(fields[0]!) };
}

/** The label value starting at `from` (just past the opening quote); `end` is past the closing one. */
function readQuoted(s: string, from: number): { value: string; end: number } {
  let value = "";
  for (let i = from; i < s.length; i++) {
    const c = s[i];
    if (c === '"') return { value, end: i + 1 };
    if (c !== "\\") {
      value += c;
      continue;
    }
    const next = s[++i];
    if (next === "n") value += "\n";
    else if (next === "\\" || next === '"') value += next;
    else throw new Error(`bad escape \\${next ?? ""}`);
  }
  throw new Error("unterminated label value");
}

function readValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  if (text === "NaN") return NaN;
  const n = Number(text);
  if (text === "" || Number.isNaN(n)) throw new Error(`bad value ${text}`);
  return n;
}

/** The family a sample belongs to: itself, or the histogram/summary it is a `_bucket`/`_sum`/`_count` of. */
function familyOf(name: string, families: Map<string, Family>): string {
  if (families.has(name)) return name;
  for (const suffix of HISTOGRAM_SUFFIXES) {
    const base = name.slice(0, -suffix.length);
    if (name.endsWith(suffix) && ["histogram", "summary"].includes(families.get(base)?.type ?? "")) return base;
  }
  return name;
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** GET /metrics on 127.0.0.1:`port`, parsed; undefined while nothing answers 200 there. */
export async function scrapeMetrics(port: number): Promise<Exposition | undefined> {
  let text: string;
  try {
    const res = await fetch(`http://127.0.0.1:${port}/metrics`, { signal: AbortSignal.timeout(5000) });
    if (res.status !== 200) return undefined;
    text = await res.text();
  } catch {
    return undefined;
  }
  return parseExposition(text);
}

/** A TCP port nothing listens on right now (the kernel's pick), for a daemon's metricsPort. */
export async function freePort(): Promise<number> {
  const { createServer } = await import("node:net");
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "0.0.0.0", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
