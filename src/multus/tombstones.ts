// Tombstones: what a DEL could not delete because the delegate's plugin is not
// installed. A binary removed (an upgrade half done, a node image without it)
// would otherwise fail DEL with code 7 for good and hold the pod Terminating,
// while its netns is long gone and all that is left is plugin state (IPAM
// leases, host-side rules). So, once the netns is gone and the plugin stays
// missing over a few tries, DEL writes down what it owes under
// <cniDir>/tombstones/, answers success, and the daemon replays the DEL when
// the plugin is back (at start and on a timer). docs/reliability.md.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import * as v from "valibot";
import { formatCniArgs, parseCniArgs } from "../cni/args.ts";
import {
  confListFromBytes,
  delNetworkList,
  type CniRuntime,
  type NetworkConfigList,
  type RuntimeConf,
} from "../cni/conf.ts";
import { PluginNotFoundError } from "../cni/invoke.ts";
import { CniError, ErrorCode, toCniError } from "../cni/errors.ts";
import { jsonObject } from "../cni/schemas.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import { exists } from "../util/exists.ts";
import { removeIfPresent } from "../util/remove.ts";
import { sleep } from "../util/sleep.ts";
import type { KeyedLock } from "../util/keyed-lock.ts";
import type { Logger } from "../util/log.ts";
import { removeDeviceInfo } from "./devices.ts";

export const TOMBSTONE_DIR = "tombstones";
/** Tries of a DEL whose plugin is missing before it becomes a tombstone (a binary being replaced comes back fast). */
const MISSING_PLUGIN_TRIES = 3;
const MISSING_PLUGIN_DELAY_MS = 500;

export type TombstoneEvent = "recorded" | "replayed";

/** Given by the daemon, which replays tombstones; without it (thin mode) a missing plugin fails DEL as before. */
export interface TombstonePort {
  /** A DEL left a tombstone in `cniDir` (the replayer watches that dir from now on). */
  recorded(cniDir: string): void;
}

const TombstoneSchema = v.object({
  version: v.literal(1),
  createdAt: v.string(),
  containerId: v.string(),
  network: v.string(),
  ifname: v.string(),
  missingPlugin: v.string(),
  binDirs: v.array(v.string()),
  /** The delegate's configuration, as a list. */
  // An array for any of these (keys "0", "1", ... to valibot) makes the tombstone unreadable.
  config: jsonObject(v.record(v.string(), v.unknown())),
  /** The CNI env of the DEL that could not run. */
  env: jsonObject(v.record(v.string(), v.string())),
  /** The runtimeConfig the delegate got. */
  capabilityArgs: jsonObject(v.record(v.string(), v.unknown())),
});
type Tombstone = v.InferOutput<typeof TombstoneSchema>;

export interface DelOrTombstone {
  rt: CniRuntime;
  list: NetworkConfigList;
  rc: RuntimeConf;
  cniDir: string;
  log: Logger;
  tombstones?: TombstonePort;
}

/**
 * DEL of one delegate. A plugin that is not installed, with the netns gone, is tried a
 * few times and then recorded as a tombstone: resolves "tombstoned" instead of throwing.
 */
export async function delOrTombstone(o: DelOrTombstone): Promise<"deleted" | "tombstoned"> {
  for (let attempt = 1; ; attempt++) {
    try {
      await delNetworkList(o.rt, o.list, o.rc);
      return "deleted";
    } catch (err) {
      const missing = err instanceof PluginNotFoundError && o.tombstones && !(await netnsPresent(o.rc.netns));
      if (!missing) throw err;
      if (attempt < MISSING_PLUGIN_TRIES) {
        await sleep(MISSING_PLUGIN_DELAY_MS);
        continue;
      }
      const path = await writeTombstone(o, err);
      o.tombstones?.recorded(o.cniDir);
      o.log.warn(
        `DEL of network "${o.list.name}" (${o.rc.ifname}): ${err.message}; the netns is gone, so DEL succeeds ` +
          `and ${path} holds what is still to delete (replayed when the plugin is back)`,
      );
      return "tombstoned";
    }
  }
}

async function netnsPresent(netns: string): Promise<boolean> {
  return netns !== "" && (await exists(netns));
}

async function writeTombstone(o: DelOrTombstone, err: PluginNotFoundError): Promise<string> {
  const body: Tombstone = {
    version: 1,
    createdAt: new Date().toISOString(),
    containerId: o.rc.containerId,
    network: o.list.name,
    ifname: o.rc.ifname,
    missingPlugin: err.pluginType,
    binDirs: [...o.rt.binDirs],
    config: o.list.raw,
    env: {
      CNI_COMMAND: "DEL",
      CNI_CONTAINERID: o.rc.containerId,
      CNI_NETNS: o.rc.netns,
      CNI_IFNAME: o.rc.ifname,
      CNI_ARGS: formatCniArgs(o.rc.args),
    },
    capabilityArgs: o.rc.runtimeConfig,
  };
  const path = join(o.cniDir, TOMBSTONE_DIR, `${o.rc.containerId}-${o.rc.ifname}.json`);
  await writeFileAtomic(path, JSON.stringify(body, null, 2), 0o600).catch((e: Error) => {
    throw new CniError(ErrorCode.IoFailure, `cannot write tombstone ${path}`, e.message, { cause: e });
  });
  return path;
}

export interface TombstoneReplayer extends TombstonePort {
  /** One pass over every known dir; resolves to what was replayed and what is left. */
  replayNow(): Promise<{ replayed: number; left: number }>;
  /** Tombstones waiting in the known dirs (the metrics gauge). */
  pending(): Promise<number>;
  stop(): void;
}

export interface ReplayerOptions {
  /** The daemon's cniDir; a DEL that records elsewhere adds its dir. */
  cniDir: string;
  /** How plugins run (binDirs are the tombstone's own). */
  rt: CniRuntime;
  log: Logger;
  locks?: KeyedLock;
  intervalMs: number;
  onEvent?(event: TombstoneEvent): void;
}

export function createTombstoneReplayer(opts: ReplayerOptions): TombstoneReplayer {
  const dirs = new Set([opts.cniDir]);
  let running: Promise<{ replayed: number; left: number }> | undefined;
  const pass = async () => {
    let replayed = 0;
    let left = 0;
    for (const dir of dirs) {
      for (const file of await listTombstones(dir)) {
        if (await replayOne(file, opts)) replayed++;
        else left++;
      }
    }
    return { replayed, left };
  };
  const replayNow = () => {
    // One pass at a time: the timer and a start-up pass must not DEL the same thing twice at once.
    running ??= pass().finally(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => void replayNow(), opts.intervalMs);
  timer.unref?.();
  return {
    recorded(cniDir) {
      dirs.add(cniDir);
      opts.onEvent?.("recorded");
    },
    replayNow,
    async pending() {
      let n = 0;
      for (const dir of dirs) n += (await listTombstones(dir)).length;
      return n;
    },
    stop: () => clearInterval(timer),
  };
}

async function listTombstones(cniDir: string): Promise<string[]> {
  const dir = join(cniDir, TOMBSTONE_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  return names.filter((n) => n.endsWith(".json") && !n.startsWith(".")).map((n) => join(dir, n));
}

/** Replays one tombstone's DEL; true when it succeeded and the tombstone is gone. */
async function replayOne(file: string, opts: ReplayerOptions): Promise<boolean> {
  let stone: Tombstone;
  try {
    stone = v.parse(TombstoneSchema, JSON.parse(await readFile(file, "utf8")));
  } catch (err) {
    opts.log.error(`tombstone ${file} is unreadable, left in place: ${(err as Error).message}`);
    return false;
  }
  const list = confListFromBytes(JSON.stringify(stone.config));
  // The netns was gone when the tombstone was written: replay as a runtime does for a
  // sandbox whose netns is gone, with an empty CNI_NETNS.
  const rc: RuntimeConf = {
    containerId: stone.containerId,
    netns: "",
    ifname: stone.ifname,
    args: parseCniArgs(stone.env.CNI_ARGS),
    runtimeConfig: stone.capabilityArgs,
  };
  const del = async () => {
    await delNetworkList({ ...opts.rt, binDirs: stone.binDirs }, list, rc);
    await removeDeviceInfo(stone.capabilityArgs, opts.log);
    await removeIfPresent(file);
  };
  try {
    await (opts.locks ? opts.locks.run(stone.containerId, del) : del());
  } catch (err) {
    // Still not installed: nothing to say until it is. Anything else is worth a line.
    if (!(err instanceof PluginNotFoundError)) {
      opts.log.warn(`replay of tombstone ${file} failed, kept for the next pass: ${toCniError(err).message}`);
    }
    return false;
  }
  opts.log.verbose(`tombstone replayed: network "${stone.network}" (${stone.ifname}) of ${stone.containerId} deleted`);
  opts.onEvent?.("replayed");
  return true;
}
