// The daemon's hold on the CNI config dir: wait for the
// readiness indicator file, find the primary conf, keep 00-multus.conf in step
// with it, and notice when the readiness indicator goes away. Also the one-off
// copy of a user-provided multusConfigFile.
//
// Where we differ from Go, on purpose (docs/compatibility.md):
// - A primary that cannot be read or is invalid leaves the last good
//   00-multus.conf in place (Go writes an empty file). Deliberate difference 9.
// - Stopping or restarting the daemon leaves 00-multus.conf in place; it is
//   removed only when the readiness indicator file goes away. Difference 10.
// - The file is a function of the current primary: a capability the primary
//   drops is dropped (Go's capabilities only accumulate while the daemon
//   runs, so its output depended on history and changed at restart).
// - The file is written temp-then-rename, and only when its content changes
//   (a restart does not even touch it).
// - If the primary is deleted and was auto-discovered, the next candidate in
//   the dir is taken (Go keeps watching a file that is gone).
// - The readiness indicator counts as gone only when it no longer exists (an
//   atomic replace of it is not a removal).
// - multusAutoconfigDir defaults to cniConfigDir (Go has no default and fails).
import { watch, type FSWatcher } from "node:fs";
import { readdir, readFile, realpath, rm, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { loadConfFile } from "../cni/conf-files.ts";
import type { LoadedDaemonConfig } from "./daemon-config.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { exists } from "../util/exists.ts";
import { sleep } from "../util/sleep.ts";
import type { Logger } from "../util/log.ts";
import {
  forcePrimaryVersion,
  generateMultusConf,
  MULTUS_CONF_FILE,
  pickPrimaryConfName,
  type PrimaryConf,
} from "./generate.ts";

const FILE_POLL_MS = 250;
/** Safety net behind fs.watch (a replaced or remounted dir loses its inotify watch). */
const RECHECK_MS = 1000;
const DEBOUNCE_MS = 30;

export interface ConfigManagerOptions {
  /** The daemon config's raw keys, command-line overrides included (what generation reads). */
  daemon: Record<string, unknown>;
  cniConfigDir: string;
  /** Where the primary is looked for; defaults to cniConfigDir. */
  autoconfigDir?: string;
  /** A file name in autoconfigDir (Go joins it to the dir); none: discover. */
  masterCni?: string;
  forceCniVersion: boolean;
  readinessIndicatorFile?: string;
  /** How long discovery waits for a primary to appear (Go: 120 tries, 1 s apart). */
  primaryTimeoutMs: number;
  log: Logger;
  /** Aborts the discovery wait (SIGTERM during start-up). */
  signal?: AbortSignal;
}

export interface ConfigManager {
  /** `<cniConfigDir>/00-multus.conf`. */
  readonly path: string;
  /** The primary conf currently followed. */
  readonly primaryPath: string;
  /** Writes 00-multus.conf (when its content differs) and starts watching. */
  start(): Promise<void>;
  /** Stops watching; the generated file stays. */
  stop(): Promise<void>;
  /** Resolves (with a reason) once the readiness indicator is gone and 00-multus.conf was removed. */
  readonly lost: Promise<string>;
}

/**
 * Finds the primary, applies forceCNIVersion, and generates once to validate:
 * every failure here is fatal for the daemon (exit 2 in Go). Nothing is
 * written to cniConfigDir before start().
 */
export async function createConfigManager(opts: ConfigManagerOptions): Promise<ConfigManager> {
  const primaryPath = await locatePrimary(opts);
  const m: Managed = {
    opts,
    autoconfigDir: opts.autoconfigDir || opts.cniConfigDir,
    outPath: join(opts.cniConfigDir, MULTUS_CONF_FILE),
    primaryPath,
    stopped: false,
    queue: Promise.resolve(),
    lastPrimaryStamp: "",
    watches: createWatches(opts.log),
  };
  try {
    await render(m);
  } catch (err) {
    throw withPrimaryContext(err, primaryPath);
  }
  opts.log.verbose(`primary CNI configuration: ${primaryPath}`);
  const lost = Promise.withResolvers<string>();
  return {
    path: m.outPath,
    get primaryPath() {
      return m.primaryPath;
    },
    lost: lost.promise,
    start: () => start(m, lost.resolve),
    async stop() {
      m.stopped = true;
      m.watches.close();
      await m.queue.catch(() => undefined);
    },
  };
}

/** A config manager's state, shared by its steps. */
interface Managed {
  opts: ConfigManagerOptions;
  autoconfigDir: string;
  /** `<cniConfigDir>/00-multus.conf`. */
  outPath: string;
  /** Changes when an auto-discovered primary is deleted and another candidate takes its place. */
  primaryPath: string;
  stopped: boolean;
  /** The regenerations, one at a time. */
  queue: Promise<void>;
  /** The primary as last read, to notice changes fs.watch missed. */
  lastPrimaryStamp: string;
  watches: Watches;
}

/** Writes 00-multus.conf, then follows the primary and (when there is one) the readiness indicator. */
async function start(m: Managed, onLost: (reason: string) => void): Promise<void> {
  const { log } = m.opts;
  m.lastPrimaryStamp = await stampOf(m.primaryPath);
  const content = await render(m);
  if (await writeIfChanged(m.outPath, content)) log.verbose(`wrote ${m.outPath}: ${content}`);
  else log.verbose(`${m.outPath} is up to date`);
  watchPrimary(m);
  const indicator = m.opts.readinessIndicatorFile;
  if (indicator) {
    const check = (why?: string) => checkReadiness(m, { why, onLost });
    m.watches.dir(dirname(indicator), (name) => {
      if (name === null || name === basename(indicator)) void check(`${name ?? "its dir"} changed`);
    });
    m.watches.every(1000, () => void check());
    await check("start");
  }
}

/** fs.watch on the autoconfig dir, with a poll of the primary's stamp behind it; changes are debounced. */
function watchPrimary(m: Managed): void {
  const schedule = (why: string) => m.watches.debounce(DEBOUNCE_MS, () => void refresh(m, why));
  // The primary itself, or (when discovered) any candidate that could replace it.
  const relevant = (name: string) =>
    name === basename(m.primaryPath) || (!m.opts.masterCni && pickPrimaryConfName([name]) !== undefined);
  m.watches.dir(m.autoconfigDir, (name) => {
    if (name === null || relevant(name)) schedule(`${name ?? "the primary"} changed`);
  });
  m.watches.every(RECHECK_MS, () => {
    void stampOf(m.primaryPath).then((s) => {
      if (s !== m.lastPrimaryStamp) schedule("primary changed (poll)");
    });
  });
}

/** Reads the primary (forcing its version first when asked) and renders 00-multus.conf. */
async function render(m: Managed): Promise<string> {
  const cniVersion = typeof m.opts.daemon.cniVersion === "string" ? m.opts.daemon.cniVersion : undefined;
  if (m.opts.forceCniVersion && cniVersion) await forceVersionOnDisk(m.primaryPath, cniVersion);
  return renderFor(m.primaryPath, m.opts.daemon);
}

/** One regeneration at a time; a failure keeps the file as it is. */
function refresh(m: Managed, why: string): Promise<void> {
  const { log } = m.opts;
  m.queue = m.queue.then(async () => {
    if (m.stopped) return;
    await followReplacementPrimary(m);
    m.lastPrimaryStamp = await stampOf(m.primaryPath);
    try {
      const content = await render(m);
      if (m.stopped) return;
      if (await writeIfChanged(m.outPath, content)) log.verbose(`regenerated ${m.outPath} (${why}): ${content}`);
      else log.debug(`${m.outPath} unchanged (${why})`);
    } catch (err) {
      log.error(`keeping the last good ${m.outPath}: ${withPrimaryContext(err, m.primaryPath).message}`);
    }
  });
  return m.queue;
}

/** An auto-discovered primary that was deleted gives way to the next candidate, if there is one. */
async function followReplacementPrimary(m: Managed): Promise<void> {
  if (m.opts.masterCni || (await exists(m.primaryPath))) return;
  const next = pickPrimaryConfName(await listConfNames(m.autoconfigDir).catch(() => []));
  if (next && join(m.autoconfigDir, next) !== m.primaryPath) {
    m.opts.log.verbose(`primary CNI configuration ${m.primaryPath} is gone: following ${join(m.autoconfigDir, next)}`);
    m.primaryPath = join(m.autoconfigDir, next);
  }
}

/**
 * When the readiness indicator no longer exists: stop following, remove 00-multus.conf, report it lost.
 * `why` names the event that asked; the periodic re-check passes none and stays quiet.
 */
async function checkReadiness(
  m: Managed,
  { why, onLost }: { why?: string; onLost: (reason: string) => void },
): Promise<void> {
  const file = m.opts.readinessIndicatorFile;
  if (!file || m.stopped) return;
  if (await exists(file)) {
    if (why) m.opts.log.debug(`readiness indicator file ${file} is still there (${why})`);
    return;
  }
  m.stopped = true;
  m.watches.close();
  await m.queue.catch(() => undefined);
  await rm(m.outPath, { force: true }).catch((err: Error) =>
    m.opts.log.error(`cannot remove ${m.outPath}: ${err.message}`),
  );
  onLost(`readiness indicator file ${file} is gone: removed ${m.outPath}`);
}

/** The manager's fs watchers, polls and debounce timer, closed together. */
interface Watches {
  dir(dir: string, onEvent: (name: string | null) => void): void;
  every(ms: number, fn: () => void): void;
  /** Runs `fn` after `ms` unless called again before. */
  debounce(ms: number, fn: () => void): void;
  close(): void;
}

function createWatches(log: Logger): Watches {
  let watchers: FSWatcher[] = [];
  let timers: ReturnType<typeof setInterval>[] = [];
  let pending: ReturnType<typeof setTimeout> | undefined;
  return {
    dir: (dir, onEvent) => watchDir(watchers, dir, log, onEvent),
    every: (ms, fn) => void timers.push(setInterval(fn, ms)),
    debounce(ms, fn) {
      clearTimeout(pending);
      pending = setTimeout(fn, ms);
    },
    close() {
      clearTimeout(pending);
      for (const w of watchers) w.close();
      for (const t of timers) clearInterval(t);
      watchers = [];
      timers = [];
    },
  };
}

type PrimaryLookup = Pick<ConfigManagerOptions, "cniConfigDir" | "autoconfigDir" | "masterCni" | "signal"> & {
  primaryTimeoutMs: number;
  log?: Logger;
};

/** The primary the daemon follows: multusMasterCNI in the autoconfig dir, else the first candidate there. */
async function locatePrimary(opts: PrimaryLookup): Promise<string> {
  const autoconfigDir = opts.autoconfigDir || opts.cniConfigDir;
  const outPath = join(opts.cniConfigDir, MULTUS_CONF_FILE);
  const primaryPath = opts.masterCni
    ? join(autoconfigDir, opts.masterCni)
    : join(
        autoconfigDir,
        await discoverPrimary(autoconfigDir, { timeoutMs: opts.primaryTimeoutMs, signal: opts.signal, log: opts.log }),
      );
  if (resolve(primaryPath) === resolve(outPath)) {
    throw new CniError(
      ErrorCode.InvalidConfig,
      `cannot use ${outPath} as the primary CNI configuration`,
      "it is the file multus generates",
    );
  }
  return primaryPath;
}

/** 00-multus.conf for the primary at `primaryPath` as it is on disk now. */
async function renderFor(primaryPath: string, daemon: Record<string, unknown>, cniVersion?: string): Promise<string> {
  const { raw } = await loadConfFile(primaryPath);
  const primary: PrimaryConf = { path: primaryPath, raw: cniVersion ? forcePrimaryVersion(raw, cniVersion) : raw };
  return generateMultusConf(primary, daemon);
}

export interface MultusConfPreview {
  /** Where the daemon would write it: `<cniConfigDir>/00-multus.conf`. */
  path: string;
  primaryPath: string;
  content: string;
}

/**
 * What the config manager would write right now, without waiting for a primary
 * and without touching any file (`multus config generate`): forceCNIVersion is
 * applied in memory, where the daemon rewrites the primary first. Errors are
 * the daemon's start-up errors.
 */
export async function previewMultusConf(
  opts: Omit<PrimaryLookup, "primaryTimeoutMs"> & {
    daemon: Record<string, unknown>;
    forceCniVersion: boolean;
    /** Use this primary instead of looking one up. */
    primaryPath?: string;
  },
): Promise<MultusConfPreview> {
  const primaryPath = opts.primaryPath ?? (await locatePrimary({ ...opts, primaryTimeoutMs: 0 }));
  const cniVersion = typeof opts.daemon.cniVersion === "string" ? opts.daemon.cniVersion : undefined;
  try {
    const content = await renderFor(primaryPath, opts.daemon, opts.forceCniVersion ? cniVersion : undefined);
    return { path: join(opts.cniConfigDir, MULTUS_CONF_FILE), primaryPath, content };
  } catch (err) {
    throw withPrimaryContext(err, primaryPath);
  }
}

/** How long a start-up wait may take; `log` hears once that it is waiting. */
interface StartupWait {
  timeoutMs: number;
  signal?: AbortSignal;
  log?: Logger;
}

/** previewMultusConf with the keys of a loaded daemon config, as the daemon passes them to its config manager. */
export function previewForDaemonConfig(loaded: LoadedDaemonConfig, primaryPath?: string): Promise<MultusConfPreview> {
  const { config } = loaded;
  return previewMultusConf({
    daemon: loaded.raw,
    cniConfigDir: config.cniConfigDir,
    autoconfigDir: config.multusAutoconfigDir,
    masterCni: config.multusMasterCNI || undefined,
    forceCniVersion: config.forceCNIVersion,
    primaryPath,
  });
}

/** g.1: the first candidate in `dir`, waiting (bounded) for one to appear; a missing dir counts as empty. */
export async function discoverPrimary(dir: string, { timeoutMs, signal, log }: StartupWait): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let firstMiss = true;
  for (;;) {
    let names: string[];
    try {
      names = await listConfNames(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT") {
        throw new CniError(
          ErrorCode.IoFailure,
          "error when listing the CNI plugin configurations",
          (err as Error).message,
        );
      }
      names = [];
    }
    const name = pickPrimaryConfName(names);
    if (name) return name;
    if (firstMiss) log?.verbose(`no CNI configuration in ${dir} yet: waiting up to ${timeoutMs / 1000} s for one`);
    firstMiss = false;
    if (Date.now() >= deadline || signal?.aborted) {
      throw new CniError(
        ErrorCode.TryAgainLater,
        `could not find a plugin configuration in ${dir}`,
        signal?.aborted ? "stopped while waiting" : `waited ${Math.round(timeoutMs / 1000)} s`,
      );
    }
    await sleep(Math.min(FILE_POLL_MS, Math.max(0, deadline - Date.now())), signal);
  }
}

/**
 * A non-auto multusConfigFile is copied once into `cniConfigDir` under its
 * base name (c.4 step 3), atomically and with the source's mode. A file that
 * already is the destination is left alone (Go would truncate it). Returns
 * the destination, or undefined when nothing had to be written.
 */
export async function copyUserConfig(source: string, cniConfigDir: string): Promise<string | undefined> {
  const dest = join(cniConfigDir, basename(source));
  const realSource = await realpath(source);
  const realDest = await realpath(dest).catch(() => undefined);
  if (realDest === realSource) return undefined;
  const [bytes, st] = await Promise.all([readFile(realSource), stat(realSource)]);
  const current = await readFile(dest).catch(() => undefined);
  if (current?.equals(bytes)) return undefined;
  await writeFileAtomic(dest, bytes, st.mode & 0o777);
  return dest;
}

/** Writes `content` to `path` (0600, temp-then-rename) unless it already holds exactly that; true when written. */
async function writeIfChanged(path: string, content: string): Promise<boolean> {
  const current = await readFile(path, "utf8").catch(() => undefined);
  if (current === content) return false;
  await writeFileAtomic(path, content, 0o600);
  return true;
}

/** Go's forceCNIVersion rewrites the primary file itself; we do it atomically, through a symlink, keeping its mode. */
async function forceVersionOnDisk(primaryPath: string, cniVersion: string): Promise<void> {
  const target = await realpath(primaryPath);
  const text = await readFile(target, "utf8");
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return; // loading reports it
  }
  if (typeof raw !== "object" || raw === null || Array.isArray(raw)) return;
  const forced = forcePrimaryVersion(raw as Record<string, unknown>, cniVersion);
  if (forced === raw) return;
  const mode = (await stat(target)).mode & 0o777;
  await writeFileAtomic(target, JSON.stringify(forced), mode);
}

async function listConfNames(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  return entries.filter((e) => !e.isDirectory()).map((e) => e.name);
}

/** fs.watch on `dir`, added to `into`; when it cannot be watched the polls carry on alone. */
function watchDir(into: FSWatcher[], dir: string, log: Logger, onEvent: (name: string | null) => void): void {
  try {
    const w = watch(dir, { persistent: false }, (_event, name) => onEvent(name === null ? null : String(name)));
    w.on("error", (err) => log.error(`watching ${dir}: ${err.message}`));
    into.push(w);
  } catch (err) {
    log.error(`cannot watch ${dir} (polling only): ${(err as Error).message}`);
  }
}

/** Identity of a file's current content, cheap to compare. "" when it cannot be stat'ed. */
async function stampOf(path: string): Promise<string> {
  const st = await stat(path).catch(() => undefined);
  return st ? `${st.ino}:${st.size}:${st.mtimeMs}` : "";
}

function withPrimaryContext(err: unknown, primaryPath: string): CniError {
  if (err instanceof CniError) {
    return new CniError(err.code, `cannot generate ${MULTUS_CONF_FILE} from ${primaryPath}: ${err.msg}`, err.details, {
      cause: err,
    });
  }
  return new CniError(
    ErrorCode.IoFailure,
    `cannot generate ${MULTUS_CONF_FILE} from ${primaryPath}`,
    (err as Error).message,
    { cause: err },
  );
}
