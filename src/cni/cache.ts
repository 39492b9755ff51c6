// Per-attachment result cache, file-compatible with libcni (libcni/api.go
// cachedInfo): <cacheDir>/results/<networkName>-<containerId>-<ifName>.
// Written temp-then-rename; a missing entry reads as undefined.
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { isRecord } from "../util/is-record.ts";
import { readTextIfPresent, tryParseJson } from "../util/json-file.ts";
import { removeIfPresent } from "../util/remove.ts";
import { CniError, ErrorCode } from "./errors.ts";

export const CACHE_KIND_V1 = "cniCacheV1";
const RESULTS_DIR = "results";

/** Which attachment an entry belongs to. */
export interface CacheKey {
  networkName: string;
  containerId: string;
  ifName: string;
}

/** An entry as we hand it around; `config` is the exact conf/conflist bytes. */
export interface CachedAttachment extends CacheKey {
  netns: string;
  config: Uint8Array;
  cniArgs: Array<[string, string]>;
  capabilityArgs: Record<string, unknown>;
  /** The raw result JSON as cached (libcni keeps the plugin's version). */
  result: Record<string, unknown> | undefined;
}

/** libcni's JSON field names and omissions (`omitempty`), in its field order. */
interface CachedInfoJson {
  kind: string;
  containerId: string;
  config: string; // base64, as Go marshals []byte
  ifName: string;
  networkName: string;
  netns?: string;
  cniArgs?: Array<[string, string]>;
  capabilityArgs?: Record<string, unknown>;
  result?: Record<string, unknown>;
}

export function cachedResultPath(cacheDir: string, key: CacheKey): string {
  const { networkName, containerId, ifName } = key;
  if (networkName === "" || containerId === "" || ifName === "") {
    throw new CniError(
      ErrorCode.InvalidConfig,
      `cache file path requires network name (${q(networkName)}), container ID (${q(containerId)}), and interface name (${q(ifName)})`,
    );
  }
  for (const part of [networkName, containerId, ifName]) {
    if (part.includes("/") || part.includes("\0") || part === "." || part === "..") {
      throw new CniError(ErrorCode.InvalidConfig, `invalid cache key component ${q(part)}`);
    }
  }
  return join(cacheDir, RESULTS_DIR, `${networkName}-${containerId}-${ifName}`);
}

export async function writeCachedResult(
  cacheDir: string,
  entry: Omit<CachedAttachment, "config"> & { config: Uint8Array | string },
): Promise<void> {
  const config = typeof entry.config === "string" ? new TextEncoder().encode(entry.config) : entry.config;
  const json: CachedInfoJson = {
    kind: CACHE_KIND_V1,
    containerId: entry.containerId,
    config: Buffer.from(config).toString("base64"),
    ifName: entry.ifName,
    networkName: entry.networkName,
  };
  if (entry.netns) json.netns = entry.netns;
  if (entry.cniArgs.length > 0) json.cniArgs = entry.cniArgs;
  if (Object.keys(entry.capabilityArgs).length > 0) json.capabilityArgs = entry.capabilityArgs;
  if (entry.result && Object.keys(entry.result).length > 0) json.result = entry.result;
  const path = cachedResultPath(cacheDir, entry);
  // ENOSPC and EIO name no file: the path goes into the message.
  await writeFileAtomic(path, JSON.stringify(json), 0o600, { durable: false }).catch((err: Error) => {
    throw new CniError(
      ErrorCode.IoFailure,
      `failed to write cached network ${q(entry.networkName)} result ${path}`,
      err.message,
      {
        cause: err,
      },
    );
  });
}

/**
 * The cached entry, or undefined when there is none. A file that is JSON but
 * not a cniCacheV1 entry is libcni's legacy format (the bare result). A file
 * that is not JSON is a decode failure.
 */
export async function readCachedResult(cacheDir: string, key: CacheKey): Promise<CachedAttachment | undefined> {
  const what = `cached network ${q(key.networkName)} result`;
  const text = await readTextIfPresent(cachedResultPath(cacheDir, key)).catch((err: Error) => {
    throw new CniError(ErrorCode.IoFailure, `failed to read ${what}`, err.message, { cause: err });
  });
  if (text === undefined) return undefined;
  const json = tryParseJson(text);
  if (!json.ok || !isRecord(json.value)) {
    throw new CniError(
      ErrorCode.DecodeFailure,
      `failed to unmarshal ${what}`,
      json.ok ? "not a JSON object" : json.reason,
    );
  }
  const parsed = json.value;
  if (parsed.kind !== CACHE_KIND_V1) {
    return { ...key, netns: "", config: new Uint8Array(), cniArgs: [], capabilityArgs: {}, result: parsed };
  }
  return fromJson(parsed);
}

/** Removes an entry; a missing one is fine. */
export async function deleteCachedResult(cacheDir: string, key: CacheKey): Promise<void> {
  try {
    await removeIfPresent(cachedResultPath(cacheDir, key));
  } catch (err) {
    throw new CniError(
      ErrorCode.IoFailure,
      `failed to remove cached network ${q(key.networkName)} result`,
      (err as Error).message,
      { cause: err },
    );
  }
}

function fromJson(o: Record<string, unknown>): CachedAttachment {
  const str = (v: unknown): string => (typeof v === "string" ? v : "");
  const cniArgs = Array.isArray(o.cniArgs)
    ? o.cniArgs.filter(
        (p): p is [string, string] =>
          Array.isArray(p) && p.length === 2 && typeof p[0] === "string" && typeof p[1] === "string",
      )
    : [];
  return {
    containerId: str(o.containerId),
    ifName: str(o.ifName),
    networkName: str(o.networkName),
    netns: str(o.netns),
    config: new Uint8Array(Buffer.from(str(o.config), "base64")),
    cniArgs,
    capabilityArgs: isRecord(o.capabilityArgs) ? o.capabilityArgs : {},
    result: isRecord(o.result) ? o.result : undefined,
  };
}

function q(s: string): string {
  return JSON.stringify(s);
}
