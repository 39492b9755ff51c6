// Logger factory. Levels and line format follow the Go Multus:
// panic < error < verbose < debug, lines `<RFC3339> [<level>] <message>`
// (or, with logFormat "json", one JSON object per line for log shippers).
// consola's small core entry is used with our own reporter: its default entry
// costs memory and sends info to stdout, which belongs to CNI in the shim
// (bench/results.md, "Costs the code is shaped by").
// The log file and its rotation are in log-file.ts.
import { createConsola, type LogObject } from "consola/core";
import { createFileSink, type LogOptions } from "./log-file.ts";

export type { LogOptions } from "./log-file.ts";

export const LOG_LEVELS = ["panic", "error", "verbose", "debug"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ["text", "json"] as const;

export interface LogSettings {
  level?: string;
  file?: string;
  toStderr?: boolean;
  options?: LogOptions;
  /** "json": one JSON object per line; anything else: the Go text line. */
  format?: string;
  /** Where stderr lines go (tests); fd 2 by default. */
  stderr?: (text: string) => void;
}
export type LogValue = string | number | boolean | readonly unknown[] | { readonly [key: string]: unknown };
/** Request context printed with each line. */
export type LogContext = Record<string, LogValue | undefined>;

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

/** One line in the Go format: `<RFC3339> [<level>] <message> k=v ...`; arrays and objects are left to the message and to JSON. */
export function formatLine(level: LogLevelName, msg: string, ctx: LogContext | undefined, now = new Date()): string {
  let line = `${now.toISOString()} [${level}] ${msg}`;
  if (ctx) {
    for (const [k, v] of Object.entries(ctx)) {
      if (v === undefined || v === "" || typeof v === "object") continue;
      line += ` ${k}=${v}`;
    }
  }
  return `${line}\n`;
}

/**
 * One JSON object per line for log shippers: time, level, msg, then every context field as given.
 * Level "notice" is what is said on stderr whatever the log level (start-up news, a broken log file).
 */
export function formatJsonLine(
  level: LogLevelName | "notice",
  msg: string,
  ctx: LogContext | undefined,
  now = new Date(),
): string {
  const out: Record<string, unknown> = { time: now.toISOString(), level, msg };
  if (ctx) {
    for (const [k, v] of Object.entries(ctx)) if (v !== undefined && v !== "" && !(k in out)) out[k] = v;
  }
  return `${JSON.stringify(out)}\n`;
}

/**
 * A line said on stderr whatever the log level: `<source>: <msg>` as the Go daemon says
 * it, or with format "json" an object of level "notice", so that stderr stays one
 * JSON object per line for a log shipper.
 */
export function formatNotice(o: { source: string; msg: string; format?: string }): string {
  return o.format === "json" ? formatJsonLine("notice", o.msg, { source: o.source }) : `${o.source}: ${o.msg}\n`;
}

export function createLogger(settings: LogSettings = {}): Logger {
  const level = parseLogLevel(settings.level);
  const format = settings.format === "json" ? formatJsonLine : formatLine;
  const stderr = settings.stderr ?? writeStderr;
  const sinks: Array<(line: string) => void> = [];
  if (settings.toStderr) sinks.push(stderr);
  // Probed now, so that an unusable file is said at start and stderr takes its place.
  if (settings.file) {
    const toStderr = settings.toStderr === true;
    const notice = (msg: string) => stderr(formatNotice({ source: "multus logging", msg, format: settings.format }));
    const sink = createFileSink({ file: settings.file, options: settings.options ?? {}, stderr, notice, toStderr });
    if (sink) sinks.push(sink);
    else if (!settings.toStderr) sinks.push(stderr);
  }

  const consola = createConsola({
    level: 5,
    reporters: [
      {
        log(obj: LogObject) {
          const lvl = TYPE_LEVEL[obj.type] ?? "verbose";
          if (RANK[lvl] > RANK[level] || sinks.length === 0) return;
          const [msg, ctx] = obj.args as [string, LogContext | undefined];
          const line = format(lvl, String(msg), ctx, obj.date);
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

/**
 * One line to fd 2 through Bun's console: it writes synchronously (lines stay
 * whole and ordered, nothing is lost at process.exit) and prints a lone string
 * verbatim. process.stderr would set up Node's stream layer on first use and
 * node:fs would have to be loaded, each a cost on every shim call that logs.
 */
export function writeStderr(line: string): void {
  try {
    console.error(line.endsWith("\n") ? line.slice(0, -1) : line);
  } catch {
    // stderr closed: nothing to tell anyone
  }
}
