// The files a bench run writes: its section of results.md (between markers),
// results.md's history, the README's figures, and record mode's JSON.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import type { BenchRecord } from "./record.ts";
import { HISTORY_HEADER, historyRow, readmeTable } from "./record-report.ts";

const RESULTS_HEAD = [
  "# Benchmark results",
  "",
  "Produced by `bun run bench` (bench/run.ts): one section per mode; `--mode=NAME` rewrites only that one.",
  "A full record run (the default mode) also adds a line to the history below, writes",
  "bench/results/latest.json and the README's table.",
].join("\n");

const markers = (name: string) => [`<!-- bench:${name} -->`, `<!-- /bench:${name} -->`] as const;

/** `text` with what lies between `name`'s markers replaced by `body`; undefined when the markers are missing. */
function replaceBetween(text: string, name: string, body: string): string | undefined {
  const [begin, end] = markers(name);
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  if (a < 0 || b < a) return undefined;
  return `${text.slice(0, a)}${begin}\n${body}\n${text.slice(b)}`;
}

function between(text: string, name: string): string | undefined {
  const [begin, end] = markers(name);
  const a = text.indexOf(begin);
  const b = text.indexOf(end);
  return a >= 0 && b > a ? text.slice(a + begin.length, b).trim() : undefined;
}

/** Replaces the mode's section (between its markers) in the results file, or appends it. */
export async function writeSection(path: string, name: string, body: string): Promise<void> {
  const old = await readFile(path, "utf8").catch(() => "");
  const [begin, end] = markers(name);
  const text =
    replaceBetween(old, name, body) ??
    `${old.includes("<!-- bench:") ? old.trimEnd() : RESULTS_HEAD}\n\n${begin}\n${body}\n${end}\n`;
  await writeFile(path, text);
}

/** Adds the record's line at the top of results.md's history (newest first). */
export async function appendHistory(path: string, r: BenchRecord): Promise<void> {
  const old = await readFile(path, "utf8").catch(() => "");
  const rows = (between(old, "history") ?? "")
    .split("\n")
    .filter((l) => l.startsWith("| 2"))
    .join("\n");
  const body = [
    "## History",
    "",
    "One line per full `bun run bench` (record mode); `bun run bench --compare <old.json>` gives every figure's ratio.",
    "",
    HISTORY_HEADER,
    historyRow(r),
    ...(rows ? [rows] : []),
  ].join("\n");
  await writeSection(path, "history", body);
}

/** Rewrites the README's figures between `<!-- bench:readme -->` markers; false when it has none. */
export async function writeReadme(path: string, r: BenchRecord): Promise<boolean> {
  const old = await readFile(path, "utf8");
  const load = `load average ${r.machine.loadBefore.toFixed(1)} before, ${r.machine.loadAfter.toFixed(1)} after`;
  const body = [
    `Taken ${r.at.slice(0, 10)} at commit ${r.commit} on ${r.machine.cpus} x ${r.machine.cpu}, ${load}` +
      (r.busy ? " — under load from other work, so latencies are upper bounds; memory and request counts hold." : "."),
    "",
    readmeTable(r),
  ].join("\n");
  const text = replaceBetween(old, "readme", body);
  if (text === undefined) return false;
  await writeFile(path, text);
  return true;
}

export async function writeJson(path: string, r: BenchRecord): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, `${JSON.stringify(r, null, 2)}\n`);
}
