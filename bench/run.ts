// `bun run bench` (after build.ts): runs the modes, prints their tables and
// writes each mode's section of bench/results.md (the other sections stay).
//
//   bun run bench/run.ts [MODE | --mode=MODE] [--quick] [--binary=PATH] [--out=FILE | --no-write] [mode flags]
//
// Modes are registered in MODES below; MODE "all" (the default) runs each in turn.
// "local" (bench/local.ts) needs no cluster; its flags: --runs=N --iterations=N
// --concurrency=N --per-worker=N --variants=a,b --delegate=sh|recorder.
// "k8s" (bench/k8s.ts, root) runs the daemon against the fake API server with
// real delegates; its flags: --pods=N --other-pods=N --nads=N --concurrency=N
// --envs=daemonset,default --no-small.
// --binary compares another build (default dist/multus, which `bun run bench` rebuilds).
import { parseArgs } from "node:util";
import { cpus, loadavg } from "node:os";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BINARY } from "../tests/helpers/multus.ts";
import type { BenchMode, FlagSpec, FlagValues, ModeResult } from "./mode.ts";
import { renderMarkdown, renderText } from "./stats.ts";

const MODES: Record<string, () => Promise<BenchMode>> = {
  local: async () => (await import("./local.ts")).localMode,
  k8s: async () => (await import("./k8s.ts")).k8sMode,
};

const COMMON = {
  mode: { type: "string" },
  quick: { type: "boolean", default: false },
  binary: { type: "string", default: BINARY },
  out: { type: "string", default: join(import.meta.dir, "results.md") },
  "no-write": { type: "boolean", default: false },
} as const;

const argv = Bun.argv.slice(2);
// First pass for the mode only: the flags allowed depend on it.
const first = parseArgs({ args: argv, allowPositionals: true, strict: false, options: COMMON });
const modeArg = first.positionals[0] ?? (typeof first.values.mode === "string" ? first.values.mode : undefined);
const names = !modeArg || modeArg === "all" ? Object.keys(MODES) : [modeArg];
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
    await writeSection(values.out as string, mode.name, section);
    console.log(`\nwritten to ${values.out} (section "${mode.name}")`);
  }
}

function title(mode: BenchMode): string {
  return mode.title ?? `${mode.name[0]!.toUpperCase()}${mode.name.slice(1)} mode`;
}

/** Replaces the mode's section (between its markers) in the results file, or appends it. */
async function writeSection(path: string, name: string, body: string): Promise<void> {
  const begin = `<!-- bench:${name} -->`;
  const end = `<!-- /bench:${name} -->`;
  const block = `${begin}\n${body}\n${end}`;
  const old = await readFile(path, "utf8").catch(() => "");
  const a = old.indexOf(begin);
  const b = old.indexOf(end);
  const text =
    a >= 0 && b > a
      ? old.slice(0, a) + block + old.slice(b + end.length)
      : `${
          old.includes("<!-- bench:")
            ? old.trimEnd()
            : [
                "# Benchmark results",
                "",
                "Produced by `bun run bench` (bench/run.ts): one section per mode; `--mode=NAME` rewrites only that one. Paste into the README as needed.",
              ].join("\n")
        }\n\n${block}\n`;
  await writeFile(path, text);
}

function describeRun(at: Date, loadBefore: number, loadAfter: number, settings: Record<string, unknown>): string[] {
  const text = (cmd: string[], cwd = import.meta.dir) => Bun.spawnSync(cmd, { cwd }).stdout.toString().trim();
  const dirty = text(["git", "status", "--porcelain", "--", "../src"]) !== "" ? " + uncommitted changes in src/" : "";
  const version = text([binary, "version"]).split("\n")[0] ?? "";
  const cpu = cpus()[0]?.model ?? "unknown CPU";
  return [
    `${at.toISOString()}, commit ${text(["git", "rev-parse", "--short", "HEAD"])}${dirty}; \`${version}\``,
    `bun ${Bun.version}, Linux ${text(["uname", "-r"])}, ${cpus().length} x ${cpu}; load average ${loadBefore.toFixed(2)} before, ${loadAfter.toFixed(2)} after` +
      (Math.max(loadBefore, loadAfter) > cpus().length / 2
        ? " (a busy machine: latencies are upper bounds; CPU times and memory hold better)"
        : ""),
    `settings: ${JSON.stringify({ binary, ...settings })}`,
  ];
}
