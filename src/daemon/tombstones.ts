// The daemon's side of tombstones (multus/tombstones.ts): one replayer for the
// node, run once at start and then every tombstoneReplaySeconds, invoking
// plugins with the daemon configuration's deadlines and bounds.
import * as v from "valibot";
import type { LoadedDaemonConfig } from "../config/daemon-config.ts";
import { MultusConfSchema } from "../multus/netconf.ts";
import type { MultusDeps } from "../multus/ports.ts";
import { cniRuntimeFor } from "../multus/request.ts";
import { createTombstoneReplayer, type TombstoneEvent, type TombstoneReplayer } from "../multus/tombstones.ts";
import type { Logger } from "../util/log.ts";

export interface TombstoneReplayerOptions {
  loaded: LoadedDaemonConfig;
  multus: MultusDeps;
  log: Logger;
  onEvent?(event: TombstoneEvent): void;
}

export function startTombstoneReplayer(o: TombstoneReplayerOptions): TombstoneReplayer {
  // The daemon config alone (the keys every request gets): cniDir, binDir, the delegate deadline.
  const conf = v.parse(MultusConfSchema, o.loaded.raw);
  const replayer = createTombstoneReplayer({
    cniDir: conf.cniDir,
    rt: cniRuntimeFor(conf, o.multus),
    log: o.log,
    locks: o.multus.locks,
    intervalMs: o.loaded.config.tombstoneReplaySeconds * 1000,
    onEvent: o.onEvent,
  });
  // Not awaited: a plugin that hangs on its replay must not hold the socket back.
  void replayer.replayNow().then(({ replayed, left }) => {
    if (replayed + left > 0) o.log.verbose(`tombstones at start: ${replayed} replayed, ${left} still waiting`);
  });
  return replayer;
}
