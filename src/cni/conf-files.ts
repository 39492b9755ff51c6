// CNI configuration files and directories, read as libcni reads them
// (conf.go ConfFiles, NetworkConfFromFile, NetworkPluginConfsFromFiles). The
// one loader of conf files: the daemon's primary conf, clusterNetwork and
// defaultNetworks paths, confs looked up by name, and the auxiliary chain's
// plugin directory all come through here.
import { type Dirent, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, extname, join } from "node:path";
import { confListFromRaw, readBool } from "./conf.ts";
import { CniError, ErrorCode } from "./errors.ts";
import { NetConfSchema, decodeJsonObject, validate } from "./schemas.ts";
import { CNI_IDENTIFIER } from "./spec.ts";
import { statOrUndefined } from "../util/stat-sync.ts";

/** What a conf directory holds, as libcni and Go Multus list it. */
export const CONF_EXTENSIONS: readonly string[] = [".conf", ".conflist", ".json"];

/** A configuration file as loaded. */
export interface ConfFile {
  path: string;
  /** Its JSON; a list also has the plugins of `<dir>/<list name>/` appended. */
  raw: Record<string, unknown>;
  /** The file's exact text, or `raw` serialised when plugins were appended. */
  bytes: string;
  /** A `.conflist`; any other extension is a single plugin conf. */
  isList: boolean;
}

/**
 * Reads a config file. `.conflist` is a list: unless it sets
 * `loadOnlyInlinedPlugins` (a bool, or "true"/"false" in any case) the `.conf`
 * files of `<dir>/<list name>/` are appended to its plugins, and the result is
 * validated. Any other extension is a single plugin conf and needs a `type`.
 */
export async function loadConfFile(path: string): Promise<ConfFile> {
  return completeConfFile(await readConfFile(path));
}

/**
 * A file, or a directory's first conf file in byte order: how a
 * clusterNetwork or defaultNetworks entry that is a path is read. A missing
 * path is a config error.
 */
export async function loadConfPath(path: string): Promise<ConfFile> {
  // Synchronous stat and readdir here: small local files, read on the request path,
  // where an async call is a trip through Bun's thread pool.
  let info: ReturnType<typeof statSync>;
  try {
    info = statSync(path);
  } catch (err) {
    throw new CniError(ErrorCode.InvalidConfig, `cannot read network configuration ${path}`, (err as Error).message);
  }
  if (!info.isDirectory()) return loadConfFile(path);
  const [first] = await listConfFiles(path);
  if (first === undefined) {
    throw new CniError(ErrorCode.InvalidConfig, `no ${CONF_EXTENSIONS.join(", ")} file in ${path}`);
  }
  return loadConfFile(first);
}

/**
 * The first conf file of `dir` (byte order) whose `name` is `name`, loaded.
 * Files that cannot be read or decoded are another network's problem and are
 * passed over; the matching one must load. Undefined when none matches.
 */
export async function findConfByName(dir: string, name: string): Promise<ConfFile | undefined> {
  for (const path of await listConfFiles(dir)) {
    const file = await readConfFile(path).catch(() => undefined);
    if (file?.raw.name === name) return completeConfFile(file);
  }
  return undefined;
}

/** The paths of `dir`'s conf files, sorted; a missing directory has none. */
export async function listConfFiles(dir: string, extensions = CONF_EXTENSIONS): Promise<string[]> {
  let entries: Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return [];
    throw new CniError(ErrorCode.IoFailure, `failed to read config files in ${dir}`, (err as Error).message);
  }
  return entries
    .filter((e) => !e.isDirectory() && extensions.includes(extname(e.name)))
    .map((e) => e.name)
    .sort()
    .map((n) => join(dir, n));
}

/**
 * libcni NetworkPluginConfsFromFiles: the plugin confs in `<dir>/<network
 * name>/*.conf`, sorted; none is fine. The name becomes a path component, so
 * only a valid network name is looked up (another one has no plugins there).
 */
export async function loadPluginDir(dir: string, networkName: string): Promise<Record<string, unknown>[]> {
  if (!CNI_IDENTIFIER.test(networkName)) return [];
  const out: Record<string, unknown>[] = [];
  for (const file of await listConfFiles(join(dir, networkName), [".conf"])) {
    if (!statOrUndefined(file)?.isFile()) continue;
    const conf = decodeJsonObject(readText(file), `plugin configuration ${file}`);
    validate(NetConfSchema, conf, ErrorCode.InvalidConfig, `plugin configuration ${file}`);
    out.push(conf);
  }
  return out;
}

/** A file decoded, not yet validated. */
async function readConfFile(path: string): Promise<Omit<ConfFile, "isList">> {
  const bytes = readText(path);
  const what = extname(path) === ".conflist" ? "network configuration list" : "network configuration";
  return { path, bytes, raw: decodeJsonObject(bytes, `${what} ${path}`) };
}

async function completeConfFile(file: Omit<ConfFile, "isList">): Promise<ConfFile> {
  const { path, raw } = file;
  if (extname(path) !== ".conflist") {
    if (typeof raw.type !== "string" || raw.type === "") {
      throw new CniError(ErrorCode.InvalidConfig, "error parsing configuration: missing 'type'", path);
    }
    return { ...file, isList: false };
  }
  let full = file;
  const mergeable = raw.plugins === undefined || Array.isArray(raw.plugins);
  if (!readBool(raw, "loadOnlyInlinedPlugins") && mergeable && typeof raw.name === "string") {
    const extra = await loadPluginDir(dirname(path), raw.name);
    if (extra.length > 0) {
      const chained = { ...raw, plugins: [...((raw.plugins as unknown[] | undefined) ?? []), ...extra] };
      full = { path, raw: chained, bytes: JSON.stringify(chained) };
    }
  }
  confListFromRaw(full.raw); // validates, e.g. that there is at least one plugin
  return { ...full, isList: true };
}

/**
 * Conf files are read on every ADD (the clusterNetwork, confs found by name),
 * but change rarely: their text is kept per path and read again only when the
 * file's identity, size or times change. A stat is synchronous and cheap; an
 * async read goes through Bun's thread pool, far slower (bench/results.md, "Costs the code is shaped by").
 * Callers get fresh objects each time (the text is decoded per call).
 */
const textCache = new Map<string, { stamp: string; text: string }>();
const TEXT_CACHE_ENTRIES = 256;

function readText(path: string): string {
  try {
    const info = statSync(path);
    const stamp = `${info.dev}:${info.ino}:${info.size}:${info.mtimeMs}:${info.ctimeMs}`;
    const hit = textCache.get(path);
    if (hit?.stamp === stamp) return hit.text;
    const text = readFileSync(path, "utf8");
    if (textCache.size >= TEXT_CACHE_ENTRIES) textCache.delete(textCache.keys().next().value!);
    textCache.set(path, { stamp, text });
    return text;
  } catch (err) {
    textCache.delete(path);
    throw new CniError(ErrorCode.IoFailure, `error reading ${path}`, (err as Error).message, { cause: err });
  }
}
