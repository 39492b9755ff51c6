// What a bench mode gives run.ts: its own flags, and a run that returns tables
// (printed, and written as Markdown) plus one line per target.
import type { parseArgs } from "node:util";
import type { BenchRecord } from "./record.ts";
import type { Table } from "./stats.ts";

export type FlagSpec = NonNullable<Parameters<typeof parseArgs>[0]>["options"];
export type FlagValues = Record<string, string | boolean | undefined>;

export interface ModeResult {
  tables: Table[];
  /** "shim start-up p50 7.0 ms (target < 15): met", ... */
  targets: string[];
  /** The settings used, as written into results.md. */
  settings: Record<string, unknown>;
  /** Record mode's figures: written as JSON (bench/results/latest.json) and compared with --compare. */
  record?: BenchRecord;
  /** Any other mode's figures as JSON: written to --json, else bench/results/<mode>.json. */
  json?: unknown;
}

export interface BenchMode {
  name: string;
  /** Heading of its section in results.md (default "<name> mode"). */
  title?: string;
  /** Its flags, for `parseArgs`; --quick, --binary, --out and --no-write are run.ts's. */
  flags: FlagSpec;
  run(o: { values: FlagValues; quick: boolean; binary: string; progress(line: string): void }): Promise<ModeResult>;
}
