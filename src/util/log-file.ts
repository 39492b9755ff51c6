// The log file: lines appended, rotated by size, old files pruned by count and
// by age, as lumberjack (the rotation library of the Go Multus) does with the
// Go Multus defaults: maxSize 100 MB, maxBackups 5, maxAge 5 days, compress on.
// A backup is `<file>-<UTC timestamp>[.gz]`; its age is the timestamp in its
// name, as lumberjack reads it, so a copied or touched file keeps its age.
// Rotation gzips with Bun.gzipSync: importing node:zlib would slow every shim start
// (bench/results.md, "Costs the code is shaped by").
// node:fs and node:path are required only when a log file is configured: a shim
// that logs nothing (the default) does not pay for loading them.

export interface LogOptions {
  /** Days a rotated file is kept (0: no age limit). */
  maxAge?: number;
  /** MB at which the file is rotated. */
  maxSize?: number;
  /** Rotated files kept (0: no count limit). */
  maxBackups?: number;
  compress?: boolean;
}

export interface FileSinkOptions {
  file: string;
  options: LogOptions;
  /** Where the lines go while the file cannot be written. */
  stderr: (text: string) => void;
  /** Says a problem with the file on stderr, in the logger's format. */
  notice: (msg: string) => void;
  /** stderr already gets every line: do not write it twice. */
  toStderr: boolean;
}

interface Limits {
  maxBytes: number;
  maxBackups: number;
  maxAgeMs: number;
  compress: boolean;
}

const DAY_MS = 24 * 60 * 60 * 1000;
const STAMP = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2}(?:\.\d+)?)Z(?:\.gz)?$/;

type Fs = typeof import("node:fs");
type Path = typeof import("node:path");

/**
 * A sink appending to `file`, or undefined when the file cannot be written now
 * (the warning is said on stderr here; the caller logs to stderr instead). A
 * file that breaks later is said once too, and its lines go to stderr meanwhile.
 */
export function createFileSink(o: FileSinkOptions): ((line: string) => void) | undefined {
  const fs = require("node:fs") as Fs;
  const { dirname } = require("node:path") as Path;
  const { file } = o;
  try {
    fs.mkdirSync(dirname(file), { recursive: true });
    fs.appendFileSync(file, "");
  } catch (err) {
    o.notice(`cannot write the log file ${file}: ${reason(err)}; logging to stderr instead`);
    return undefined;
  }
  const limits = limitsOf(o.options);
  // lumberjack prunes when it opens the file, not only when it rotates.
  prune(file, limits, o.notice);
  let size = fs.statSync(file).size;
  let broken = false;
  return (line) => {
    try {
      if (size > 0 && size + line.length > limits.maxBytes) {
        rotate(file, limits);
        size = 0;
        prune(file, limits, o.notice);
      }
      fs.appendFileSync(file, line);
      size += Buffer.byteLength(line);
      broken = false;
    } catch (err) {
      // A broken log file must never fail a CNI request, nor hide what it would have said.
      if (!broken) o.notice(`cannot write the log file ${file}: ${reason(err)}; logging to stderr`);
      broken = true;
      if (!o.toStderr) o.stderr(line);
    }
  };
}

function limitsOf(o: LogOptions): Limits {
  return {
    maxBytes: (o.maxSize || 100) * 1024 * 1024,
    maxBackups: o.maxBackups ?? 5,
    maxAgeMs: (o.maxAge ?? 5) * DAY_MS,
    compress: o.compress ?? true,
  };
}

/** The timestamp part of a backup's name. */
export function backupStamp(at: Date): string {
  return at.toISOString().replace(/:/g, "-");
}

function rotate(file: string, limits: Limits): void {
  const { readFileSync, renameSync, unlinkSync, writeFileSync } = require("node:fs") as Fs;
  const backup = `${file}-${backupStamp(new Date())}`;
  renameSync(file, backup);
  if (limits.compress) {
    writeFileSync(`${backup}.gz`, Bun.gzipSync(readFileSync(backup)));
    unlinkSync(backup);
  }
}

function prune(file: string, limits: Limits, notice: (msg: string) => void): void {
  try {
    pruneBackups(file, { maxBackups: limits.maxBackups, maxAgeMs: limits.maxAgeMs, now: Date.now() });
  } catch (err) {
    notice(`cannot remove old log files of ${file}: ${reason(err)}`);
  }
}

/**
 * Removes the backups of `file` older than `maxAgeMs` and those beyond the
 * newest `maxBackups` (a limit of 0 is no limit, as in lumberjack). Files whose
 * name carries no timestamp of ours are never touched. Returns the removed names.
 */
export function pruneBackups(file: string, o: { maxBackups: number; maxAgeMs: number; now: number }): string[] {
  const { readdirSync, unlinkSync } = require("node:fs") as Fs;
  const { basename, dirname, join } = require("node:path") as Path;
  const prefix = `${basename(file)}-`;
  const dir = dirname(file);
  const backups = readdirSync(dir)
    .filter((name) => name.startsWith(prefix))
    .map((name) => ({ name, time: stampTime(name.slice(prefix.length)) }))
    .filter((b): b is { name: string; time: number } => b.time !== undefined)
    .sort((a, b) => b.time - a.time);
  const kept = o.maxAgeMs > 0 ? backups.filter((b) => o.now - b.time <= o.maxAgeMs) : backups;
  const keep = new Set((o.maxBackups > 0 ? kept.slice(0, o.maxBackups) : kept).map((b) => b.name));
  const removed = backups.filter((b) => !keep.has(b.name)).map((b) => b.name);
  for (const name of removed) unlinkSync(join(dir, name));
  return removed;
}

function stampTime(stamp: string): number | undefined {
  const m = STAMP.exec(stamp);
  if (!m) return undefined;
  const t = Date.parse(`${m[1]}T${m[2]}:${m[3]}:${m[4]}Z`);
  return Number.isNaN(t) ? undefined : t;
}

function reason(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
