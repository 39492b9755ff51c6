// The `passthru` CNI plugin: the same binary invoked as
// `passthru`. It heads the auxiliary chain so the chained
// plugins after it get a prevResult: ADD prints an empty result in the
// config's version, every other command does nothing. Like Go's
// cmd/passthru-cni, a prevResult in the config is not passed on.
import { runSkel, type SkelHandlers, type SkelIO } from "../cni/skel.ts";
import { convertResult } from "../cni/result.ts";
import { configVersion } from "../cni/version.ts";

/** The versions Go's passthru declares (PluginSupports). */
export const PASSTHRU_VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export const PASSTHRU_ABOUT = "Passthrough CNI Plugin v1.0";

const handlers: SkelHandlers = {
  async add(_args, conf) {
    const version = configVersion(conf);
    return convertResult({ cniVersion: version, interfaces: [], ips: [], routes: [], dns: {} }, version);
  },
  async del() {},
  async check() {},
  async gc() {},
  async status() {},
};

export function runPassthru(io: SkelIO): Promise<number> {
  return runSkel(io, handlers, PASSTHRU_ABOUT, PASSTHRU_VERSIONS);
}
