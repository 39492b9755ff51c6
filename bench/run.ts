// `bun run bench` (after build.ts): picks a mode, runs it, prints its tables
// and writes them as Markdown to bench/results.md.
//
//   bun run bench/run.ts [MODE] [--quick] [--binary=PATH] [--out=FILE | --no-write] [mode flags]
//
// Modes are registered in MODES below: "local" (default, bench/local.ts) needs
// no cluster; its flags: --runs=N --iterations=N --concurrency=N --per-worker=N
// --variants=a,b --delegate=sh|recorder. A Kubernetes mode (fake API server with
// many pods and NADs) is one more file exporting a BenchMode (bench/mode.ts).
// --binary compares another build (default dist/multus, which `bun run bench` rebuilds).
import { parseArgs } from "node:util";
import { cpus, loadavg } from "node:os";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BINARY } from "../tests/helpers/multus.ts";
import type { BenchMode } from "./mode.ts";
import { renderMarkdown, renderText } from "./stats.ts";

const MODES: Record<string, () => Promise<BenchMode>> = {
  local: async () => (await import("./local.ts")).localMode,
};

const COMMON = {
  quick: { type: "boolean", default: false },
  binary: { type: "string", default: BINARY },
  out: { type: "string", default: join(import.meta.dir, "results.md") },
  "no-write": { type: "boolean", default: false },
} as const;

const argv = Bun.argv.slice(2);
const modeName = argv[0] && !argv[0].startsWith("-") ? argv[0] : "local";
const load = MODES[modeName];
if (!load) {
  console.error(`bench: unknown mode "${modeName}" (available: ${Object.keys(MODES).join(", ")})`);
  process.exit(2);
}
const mode = await load();
let values: Record<string, string | boolean | undefined>;
try {
  ({ values } = parseArgs({ args: argv, allowPositionals: true, options: { ...COMMON, ...mode.flags } }));
} catch (err) {
  console.error(`bench: ${(err as Error).message}`);
  process.exit(2);
}
const binary = values.binary as string;

const load0 = loadavg()[0]!;
const started = new Date();
let result;
try {
  result = await mode.run({ values, quick: values.quick === true, binary, progress: (l) => console.error(l) });
} catch (err) {
  console.error(`bench: ${(err as Error).message}`);
  process.exit(1);
}
const load1 = loadavg()[0]!;
const header = describeRun(started, load0, load1, result.settings);

console.log("");
for (const t of result.tables) console.log(renderText(t) + "\n");
console.log(result.targets.join("\n"));

if (!values["no-write"]) {
  const md = [
    "# Benchmark results",
    "",
    `Produced by \`bun run bench\` (bench/run.ts, ${mode.name} mode); paste into the README as needed.`,
    "",
    ...header.map((l) => `- ${l}`),
    "",
    ...result.tables.flatMap((t) => [renderMarkdown(t), ""]),
    "### Targets",
    "",
    ...result.targets.map((l) => `- ${l}`),
    "",
  ].join("\n");
  await writeFile(values.out as string, md);
  console.log(`\nwritten to ${values.out}`);
}

function describeRun(at: Date, loadBefore: number, loadAfter: number, settings: Record<string, unknown>): string[] {
  const text = (cmd: string[], cwd = import.meta.dir) => Bun.spawnSync(cmd, { cwd }).stdout.toString().trim();
  const dirty = text(["git", "status", "--porcelain", "--", "../src"]) !== "" ? " + uncommitted changes in src/" : "";
  const version = text([binary, "version"]).split("\n")[0] ?? "";
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return [
    `${at.toISOString()}, commit ${text(["git", "rev-parse", "--short", "HEAD"])}${dirty}; \`${version}\``,
    `bun ${Bun.version}, Linux ${text(["uname", "-r"])}, ${cpus().length} x ${cpu}; load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after` +
      (Math.max(loadBefore, loadAfter) > cpus().length / 2 ? " (a busy machine: latencies are upper bounds; CPU times and memory hold better)" : ""),
    `settings: ${JSON.stringify({ binary, ...settings })}`,
  ];
}
