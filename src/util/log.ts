// Logger factory. Levels and line format follow the Go Multus:
// panic < error < verbose < debug, lines `<RFC3339> [<level>] <message>`.
// consola's small core entry is used with our own reporter: its default entry
// costs ~16 MB and sends info to stdout, which belongs to CNI in the shim.
// Rotation gzips with Bun.gzipSync: importing node:zlib costs every shim start ~3 ms.
// node:fs and node:path are required only when a log file is configured: a shim
// that logs nothing (the default) does not pay for loading them.
import { createConsola, type LogObject } from "consola/core";

export const LOG_LEVELS = ["panic", "error", "verbose", "debug"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export interface LogOptions {
  maxAge?: number; // days
  maxSize?: number; // MB
  maxBackups?: number;
  compress?: boolean;
}
export interface LogSettings {
  level?: string;
  file?: string;
  toStderr?: boolean;
  options?: LogOptions;
}
/** Request context printed with each line. */
export type LogContext = Record<string, string | undefined>;

export interface Logger {
  panic(msg: string, ctx?: LogContext): void;
  error(msg: string, ctx?: LogContext): void;
  warn(msg: string, ctx?: LogContext): void;
  verbose(msg: string, ctx?: LogContext): void;
  debug(msg: string, ctx?: LogContext): void;
  /** A logger that adds `ctx` to every line. */
  with(ctx: LogContext): Logger;
  readonly level: LogLevelName;
}

const RANK: Record<LogLevelName, number> = { panic: 0, error: 1, verbose: 2, debug: 3 };
// consola type -> our level
const TYPE_LEVEL: Record<string, LogLevelName> = {
  fatal: "panic",
  error: "error",
  warn: "error",
  info: "verbose",
  log: "verbose",
  debug: "debug",
  trace: "debug",
};

/** Parses a level name (case-insensitive); unknown names are reported and ignored, as Go does. */
export function parseLogLevel(name: string | undefined, fallback: LogLevelName = "panic"): LogLevelName {
  if (!name) return fallback;
  const lower = name.toLowerCase();
  if ((LOG_LEVELS as readonly string[]).includes(lower)) return lower as LogLevelName;
  writeStderr(`multus logging: cannot set logging level to ${name}\n`);
  return fallback;
}

export function formatLine(level: LogLevelName, msg: string, ctx: LogContext | undefined, now = new Date()): string {
  let line = `${now.toISOString()} [${level}] ${msg}`;
  if (ctx) {
    for (const [k, v] of Object.entries(ctx)) if (v !== undefined && v !== "") line += ` ${k}=${v}`;
  }
  return `${line}\n`;
}

export function createLogger(settings: LogSettings = {}): Logger {
  const level = parseLogLevel(settings.level);
  const sinks: Array<(line: string) => void> = [];
  if (settings.toStderr) sinks.push(writeStderr);
  if (settings.file) sinks.push(createFileSink(settings.file, settings.options ?? {}));

  const consola = createConsola({
    level: 5,
    reporters: [
      {
        log(obj: LogObject) {
          const lvl = TYPE_LEVEL[obj.type] ?? "verbose";
          if (RANK[lvl] > RANK[level] || sinks.length === 0) return;
          const [msg, ctx] = obj.args as [string, LogContext | undefined];
          const line = formatLine(lvl, String(msg), ctx, obj.date);
          for (const sink of sinks) sink(line);
        },
      },
    ],
  });

  const make = (base: LogContext | undefined): Logger => {
    const merge = (ctx?: LogContext) => (base && ctx ? { ...base, ...ctx } : (ctx ?? base));
    return {
      level,
      panic: (m, c) => consola.fatal(m, merge(c)),
      error: (m, c) => consola.error(m, merge(c)),
      warn: (m, c) => consola.warn(m, merge(c)),
      verbose: (m, c) => consola.info(m, merge(c)),
      debug: (m, c) => consola.debug(m, merge(c)),
      with: (c) => make(merge(c)),
    };
  };
  return make(undefined);
}

/** Appends lines to `file`, rotating it by size as lumberjack does with the Go defaults. */
function createFileSink(file: string, opts: LogOptions): (line: string) => void {
  const { appendFileSync, mkdirSync, statSync } = require("node:fs") as typeof import("node:fs");
  const { dirname } = require("node:path") as typeof import("node:path");
  const maxBytes = (opts.maxSize ?? 100) * 1024 * 1024;
  const maxBackups = opts.maxBackups ?? 5;
  const compress = opts.compress ?? true;
  let size = -1;
  return (line) => {
    try {
      if (size < 0) {
        mkdirSync(dirname(file), { recursive: true });
        try {
          size = statSync(file).size;
        } catch {
          size = 0;
        }
      }
      if (size + line.length > maxBytes && size > 0) {
        rotate(file, maxBackups, compress);
        size = 0;
      }
      appendFileSync(file, line);
      size += Buffer.byteLength(line);
    } catch {
      // A broken log file must never fail a CNI request.
    }
  };
}

function rotate(file: string, maxBackups: number, compress: boolean): void {
  const { readdirSync, renameSync, unlinkSync, writeFileSync, readFileSync } =
    require("node:fs") as typeof import("node:fs");
  const { basename, dirname, join } = require("node:path") as typeof import("node:path");
  const stamp = new Date().toISOString().replace(/[:]/g, "-");
  const backup = `${file}-${stamp}`;
  renameSync(file, backup);
  if (compress) {
    writeFileSync(`${backup}.gz`, Bun.gzipSync(readFileSync(backup)));
    unlinkSync(backup);
  }
  const prefix = `${basename(file)}-`;
  const dir = dirname(file);
  const backups = readdirSync(dir)
    .filter((n) => n.startsWith(prefix))
    .sort();
  for (const old of backups.slice(0, Math.max(0, backups.length - maxBackups))) unlinkSync(join(dir, old));
}

/**
 * A synchronous write to fd 2. process.stderr would set up Node's stream layer
 * on first use (2-8 ms of a shim call that logs, e.g. with logToStderr from a
 * generated 00-multus.conf); a sync write also keeps lines whole and ordered.
 */
// Bun's console writes synchronously to fd 2 (nothing is lost at process.exit) and
// prints a lone string verbatim; node:fs would cost the shim ~2 ms to load per call.
function writeStderr(line: string): void {
  try {
    console.error(line.endsWith("\n") ? line.slice(0, -1) : line);
  } catch {
    // stderr closed: nothing to tell anyone
  }
}
