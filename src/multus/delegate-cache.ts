// The scratch delegate cache at <cniDir>/<containerID>: what
// was attached, so DEL works when the pod or NAD is gone. The file keeps the Go
// Multus field names (a Go daemon can read ours and we read its) and adds our
// own: the assigned ifname, the master flag, the runtimeConfig sent on ADD (so
// DEL gives each delegate exactly what it got: portmap needs its mappings) and
// which entry is the auxiliary chain.
import { join } from "node:path";
import * as v from "valibot";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { readTextIfPresent, tryParseJson } from "../util/json-file.ts";
import { removeIfPresent } from "../util/remove.ts";
import { decodeJsonObject, jsonObject, validate } from "../cni/schemas.ts";
import { delegateFromBytes, type Delegate } from "./delegates.ts";
import { gatewayFilterFlags } from "./gateway.ts";

export interface CachedDelegate {
  Conf: Record<string, unknown>;
  ConfList: Record<string, unknown>;
  Name: string;
  ifnameRequest?: string;
  macRequest?: string;
  infinibandGUIDRequest?: string;
  ipRequest?: string[];
  "default-route"?: string[];
  IsFilterV4Gateway: boolean;
  IsFilterV6Gateway: boolean;
  deviceID?: string;
  resourceName?: string;
  Bytes: string;
  // ours
  ifname?: string;
  master?: boolean;
  runtimeConfig?: Record<string, unknown>;
  auxiliary?: boolean;
}

// What is read back: the fields we use, null as Go's zero value (its Bytes may be null).
// An array where an object goes makes the file corrupt, as Go's decoder would find it.
const optStr = v.nullish(v.string());
const DelegateCacheSchema = v.array(
  jsonObject(
    v.looseObject({
      Name: optStr,
      ifnameRequest: optStr,
      macRequest: optStr,
      infinibandGUIDRequest: optStr,
      ipRequest: v.nullish(v.array(v.string())),
      "default-route": v.nullish(v.array(v.string())),
      deviceID: optStr,
      resourceName: optStr,
      Bytes: optStr,
      ifname: optStr,
      master: v.nullish(v.boolean()),
      runtimeConfig: v.nullish(jsonObject(v.record(v.string(), v.unknown()))),
      auxiliary: v.nullish(v.boolean()),
    }),
  ),
);

export interface CacheEntry {
  delegate: Delegate;
  runtimeConfig?: Record<string, unknown>;
}

export function delegateCachePath(cniDir: string, containerId: string): string {
  return join(cniDir, containerId);
}

export async function writeDelegateCache(cniDir: string, containerId: string, entries: CacheEntry[]): Promise<void> {
  const filters = gatewayFilterFlags(entries.map((e) => e.delegate.selection?.defaultRoute));
  const body = entries.map(({ delegate: d, runtimeConfig }, i): CachedDelegate => {
    const sel = d.selection;
    const dflt = sel?.defaultRoute;
    return {
      Conf: d.isConfList ? {} : (d.list.plugins[0] ?? {}),
      ConfList: d.isConfList ? d.list.raw : {},
      Name: d.name,
      ifnameRequest: sel?.interface,
      macRequest: sel?.mac,
      infinibandGUIDRequest: sel?.infinibandGuid,
      ipRequest: sel?.ips,
      "default-route": dflt,
      IsFilterV4Gateway: filters[i]!.v4,
      IsFilterV6Gateway: filters[i]!.v6,
      deviceID: d.deviceId,
      resourceName: d.resourceName,
      Bytes: Buffer.from(d.bytes).toString("base64"),
      ifname: d.ifname,
      master: d.role === "cluster",
      runtimeConfig,
      auxiliary: d.role === "auxiliary" || undefined,
    };
  });
  const path = delegateCachePath(cniDir, containerId);
  // ENOSPC and EIO name no file: the path goes into the message.
  await writeFileAtomic(path, JSON.stringify(body), 0o600, { durable: false }).catch((err: Error) => {
    throw new CniError(ErrorCode.IoFailure, `cannot write delegate cache ${path}`, err.message, { cause: err });
  });
}

/**
 * The cached delegates, or undefined when there is no cache file.
 * `requestIfname` (the request's CNI_IFNAME) names the cluster network of an
 * entry written without our `ifname` field (by Go Multus).
 */
export async function readDelegateCache(opts: {
  cniDir: string;
  containerId: string;
  requestIfname: string;
}): Promise<CacheEntry[] | undefined> {
  const { cniDir, containerId, requestIfname } = opts;
  const path = delegateCachePath(cniDir, containerId);
  const text = await readTextIfPresent(path).catch((err: Error) => {
    throw new CniError(ErrorCode.IoFailure, `cannot read delegate cache ${path}`, err.message);
  });
  if (text === undefined) return undefined;
  const json = tryParseJson(text);
  if (!json.ok || !Array.isArray(json.value)) {
    throw new CniError(ErrorCode.DecodeFailure, `corrupt delegate cache ${path}`, json.ok ? "not a list" : json.reason);
  }
  const entries = validate(DelegateCacheSchema, json.value, ErrorCode.DecodeFailure, `delegate cache ${path}`);
  return entries.map((entry, i) => {
    const bytes = Buffer.from(entry.Bytes ?? "", "base64").toString("utf8");
    const raw = decodeJsonObject(bytes, `delegate ${i} in ${path}`);
    // Go decides list-ness by ConfList.plugins and takes the first entry as master.
    const isMaster = entry.master ?? i === 0;
    const role = entry.auxiliary ? "auxiliary" : isMaster ? "cluster" : "network";
    const spec = delegateFromBytes({ raw, bytes, role, statusName: entry.Name || undefined });
    const ifname = entry.ifname ?? entry.ifnameRequest ?? (isMaster ? requestIfname : `net${i}`);
    const selection =
      entry["default-route"] || entry.ipRequest || entry.macRequest
        ? {
            name: entry.Name ?? "",
            namespace: "",
            interface: entry.ifnameRequest ?? undefined,
            ips: entry.ipRequest ?? undefined,
            mac: entry.macRequest ?? undefined,
            infinibandGuid: entry.infinibandGUIDRequest ?? undefined,
            defaultRoute: entry["default-route"] ?? undefined,
          }
        : undefined;
    return {
      delegate: {
        ...spec,
        ifname,
        selection,
        deviceId: entry.deviceID ?? undefined,
        resourceName: entry.resourceName ?? undefined,
      },
      runtimeConfig: entry.runtimeConfig ?? undefined,
    };
  });
}

export async function deleteDelegateCache(cniDir: string, containerId: string): Promise<void> {
  const path = delegateCachePath(cniDir, containerId);
  await removeIfPresent(path).catch((err: Error) => {
    throw new CniError(ErrorCode.IoFailure, `failed to remove the delegate cache ${path}`, err.message, { cause: err });
  });
}
