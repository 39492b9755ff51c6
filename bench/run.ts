// `bun run bench` (after build.ts): runs the modes, prints their tables and
// writes each mode's section of bench/results.md (the other sections stay).
//
//   bun run bench/run.ts [MODE | --mode=MODE] [--quick] [--binary=PATH] [--out=FILE | --no-write]
//                        [--json=FILE] [--compare=OLD.json [--current=NEW.json]] [mode flags]
//
// Modes are registered in MODES below; the default is "record"; "all" runs each in turn.
// "record" (bench/record.ts, root): the figures tracked from build to build (shim start-up,
// ADD/DEL at concurrency 1, 8, 32 and a burst, memory, API requests per pod, with a trivial
// delegate and real ones); a full run writes bench/results/latest.json (or --json), a line
// of results.md's history and the README's table; --quick is a smoke run that writes only
// --json when given. Its flags: --pods=N --burst=N --runs=N --other-pods=N --nads=N.
// --compare=OLD.json prints new/old per figure after the run; with --current=NEW.json it
// compares the two files and runs nothing.
// "local" (bench/local.ts) needs no cluster; its flags: --runs=N --iterations=N
// --concurrency=N --per-worker=N --variants=a,b --delegate=sh|recorder.
// "k8s" (bench/k8s.ts, root) runs the daemon against the fake API server with
// real delegates; its flags: --pods=N --other-pods=N --nads=N --concurrency=N
// --envs=daemonset,default --no-small.
// "ab" (bench/ab.ts, root) runs two builds side by side, their calls alternated:
// --a=EXE or --a-ref=REV (built from git), --b likewise (default --binary); prints
// b/a per figure and writes its JSON (--json, else bench/results/ab.json). Its flags:
// --a-env/--b-env=K=V,... --rounds=N --burst=N --paced=N --interval=MS --other-pods=N --nads=N.
// "scale" (bench/scale.ts, root): daemon memory at rest and after a burst as the cluster
// grows; its flags: --steps=PODS:NADS,... (pods on other nodes, NADs) --burst=N --rounds=N.
// "floors" (bench/floors.ts) times what a paced ADD costs before multus does anything: exec,
// the trivial delegate, an empty compiled Bun program, a minimal Bun shim, and our shim
// against an instant daemon, interleaved; its flags: --rounds=N --interval=MS.
// --binary compares another build (default dist/multus, which `bun run bench` rebuilds).
import { parseArgs } from "node:util";
import { loadavg } from "node:os";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BINARY } from "../tests/helpers/multus.ts";
import { isBusy, runInfo } from "./info.ts";
import type { BenchMode, FlagSpec, FlagValues, ModeResult } from "./mode.ts";
import type { BenchRecord } from "./record.ts";
import { compareRecords } from "./record-report.ts";
import { renderMarkdown, renderText } from "./stats.ts";
import { appendHistory, writeJson, writeReadme, writeSection } from "./write.ts";

const MODES: Record<string, () => Promise<BenchMode>> = {
  record: async () => (await import("./record.ts")).recordMode,
  local: async () => (await import("./local.ts")).localMode,
  k8s: async () => (await import("./k8s.ts")).k8sMode,
  ab: async () => (await import("./ab.ts")).abMode,
  scale: async () => (await import("./scale.ts")).scaleMode,
  floors: async () => (await import("./floors.ts")).floorsMode,
};

const COMMON = {
  mode: { type: "string" },
  quick: { type: "boolean", default: false },
  binary: { type: "string", default: BINARY },
  out: { type: "string", default: join(import.meta.dir, "results.md") },
  "no-write": { type: "boolean", default: false },
  json: { type: "string" },
  compare: { type: "string" },
  current: { type: "string" },
} as const;

const argv = Bun.argv.slice(2);
// First pass for the mode only: the flags allowed depend on it.
const first = parseArgs({ args: argv, allowPositionals: true, strict: false, options: COMMON });
if (typeof first.values.compare === "string" && typeof first.values.current === "string") {
  await printComparison(first.values.compare, await readRecord(first.values.current));
  process.exit(0);
}
const modeArg = first.positionals[0] ?? (typeof first.values.mode === "string" ? first.values.mode : undefined);
// "all": every mode that needs no other build ("ab" compares two).
const names = modeArg === "all" ? Object.keys(MODES).filter((n) => n !== "ab") : [modeArg ?? "record"];
const unknown = names.find((n) => !MODES[n]);
if (unknown) {
  console.error(`bench: unknown mode "${unknown}" (available: ${Object.keys(MODES).join(", ")}, all)`);
  process.exit(2);
}
const modes = await Promise.all(names.map((n) => MODES[n]!()));
let values: FlagValues;
try {
  const flags: FlagSpec = Object.assign({}, COMMON, ...modes.map((m) => m.flags));
  values = parseArgs({ args: argv, allowPositionals: true, options: flags }).values as FlagValues;
} catch (err) {
  console.error(`bench: ${(err as Error).message}`);
  process.exit(2);
}
const binary = values.binary as string;
if (typeof values.compare === "string") await readRecord(values.compare); // fail before a long run, not after

for (const mode of modes) {
  const load0 = loadavg()[0]!;
  const started = new Date();
  let result: ModeResult;
  try {
    result = await mode.run({ values, quick: values.quick === true, binary, progress: (l) => console.error(l) });
  } catch (err) {
    console.error(`bench: ${mode.name}: ${(err as Error).message}`);
    process.exit(1);
  }
  const load1 = loadavg()[0]!;
  const header = describeRun(started, load0, load1, result.settings);

  console.log(`\n== ${title(mode)} ==\n`);
  for (const t of result.tables) console.log(`${renderText(t)}\n`);
  console.log(result.targets.join("\n"));

  if (!values["no-write"]) {
    const section = [
      `## ${title(mode)}`,
      "",
      `\`bun run bench --mode=${mode.name}\` (bench/${mode.name}.ts)`,
      "",
      ...header.map((l) => `- ${l}`),
      "",
      ...result.tables.flatMap((t) => [renderMarkdown(t), ""]),
      "### Targets",
      "",
      ...result.targets.map((l) => `- ${l}`),
    ].join("\n");
    if (!(mode.name === "record" && values.quick)) {
      await writeSection(values.out as string, mode.name, section);
      console.log(`\nwritten to ${values.out} (section "${mode.name}")`);
    }
  }
  if (result.record) await saveRecord(result.record);
  if (result.json !== undefined && (typeof values.json === "string" || !values["no-write"])) {
    const path = typeof values.json === "string" ? values.json : join(import.meta.dir, "results", `${mode.name}.json`);
    await writeFile(path, `${JSON.stringify(result.json, null, 2)}\n`);
    console.log(`written to ${path}`);
  }
}

/** A full run: the JSON, a line of history, the README; a quick one: only an explicit --json. */
async function saveRecord(r: BenchRecord): Promise<void> {
  const json = typeof values.json === "string" ? values.json : undefined;
  if (!values["no-write"] && (json || !values.quick)) {
    const path = json ?? join(import.meta.dir, "results", "latest.json");
    await writeJson(path, r);
    console.log(`written to ${path}`);
  }
  if (!values["no-write"] && !values.quick) {
    await appendHistory(values.out as string, r);
    const readme = join(import.meta.dir, "..", "README.md");
    if (await writeReadme(readme, r)) console.log(`README.md's figures updated`);
  }
  if (typeof values.compare === "string") await printComparison(values.compare, r);
}

async function readRecord(path: string): Promise<BenchRecord> {
  try {
    const r = JSON.parse(await readFile(path, "utf8")) as BenchRecord;
    if (typeof r.schema !== "number" || !r.delegates) throw new Error("not a bench record (no schema, no delegates)");
    return r;
  } catch (err) {
    console.error(`bench: ${path}: ${(err as Error).message}`);
    process.exit(2);
  }
}

async function printComparison(oldPath: string, current: BenchRecord): Promise<void> {
  try {
    console.log(`\n${renderText(compareRecords(await readRecord(oldPath), current))}`);
  } catch (err) {
    console.error(`bench: --compare: ${(err as Error).message}`);
    process.exit(2);
  }
}

function title(mode: BenchMode): string {
  return mode.title ?? `${mode.name[0]!.toUpperCase()}${mode.name.slice(1)} mode`;
}

function describeRun(at: Date, loadBefore: number, loadAfter: number, settings: Record<string, unknown>): string[] {
  const i = runInfo(binary);
  return [
    `${at.toISOString()}, commit ${i.commit}${i.dirty ? " + uncommitted changes in src/" : ""}; \`${i.version}\``,
    `bun ${i.bun}, Linux ${i.kernel}, ${i.cpus} x ${i.cpu}; load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after` +
      (isBusy(Math.max(loadBefore, loadAfter))
        ? " (a busy machine: latencies are upper bounds; CPU times and memory hold better)"
        : ""),
    `settings: ${JSON.stringify({ binary, ...settings })}`,
  ];
}
