// The /delegate endpoint: one delegate, given inline, with
// the interface attributes the client posted. No cache, no network-status.
import { CniError, ErrorCode } from "../../cni/errors.ts";
import { addNetworkList, checkNetworkList, delNetworkList, statusNetworkList } from "../../cni/conf.ts";
import type { Result100 } from "../../cni/result.ts";
import { applySelectionToConfig, delegateFromBytes } from "../delegates.ts";
import { cniRuntimeFor, delegateRuntimeConfig, runtimeConfFor, type MultusRequest } from "../request.ts";
import type { MultusDeps } from "../ports.ts";
import type { NetworkSelection } from "../selection.ts";

export interface HotplugAttributes {
  ips?: string[] | null;
  mac?: string | null;
  "cni-args"?: Record<string, unknown> | null;
}

export async function cmdHotplug(
  req: MultusRequest,
  deps: MultusDeps,
  raw: Record<string, unknown>,
  attrs: HotplugAttributes | undefined,
): Promise<Result100 | undefined> {
  const selection: NetworkSelection = {
    name: typeof raw.name === "string" ? raw.name : "",
    namespace: req.pod.namespace ?? "",
    ips: attrs?.ips ?? undefined,
    mac: attrs?.mac ?? undefined,
    cniArgs: attrs?.["cni-args"] ?? undefined,
  };
  const conf = applySelectionToConfig(raw, selection);
  const spec = delegateFromBytes({
    raw: conf,
    bytes: conf === raw ? new TextDecoder().decode(req.args.stdin) : JSON.stringify(conf),
  });
  const delegate = { ...spec, ifname: req.args.ifname, selection };
  const rt = cniRuntimeFor(req.conf, deps);
  const runtimeConfig = delegateRuntimeConfig(req, { delegate, deviceInfoDir: deps.deviceInfoDir });
  const rc = runtimeConfFor(req, { delegate, runtimeConfig, forAdd: req.args.command === "ADD" });
  switch (req.args.command) {
    case "ADD":
      return addNetworkList(rt, delegate.list, rc);
    case "DEL":
      await delNetworkList(rt, delegate.list, rc);
      return undefined;
    case "CHECK":
      await checkNetworkList(rt, delegate.list, rc);
      return undefined;
    case "STATUS":
      await statusNetworkList(rt, delegate.list);
      return undefined;
    default:
      throw new CniError(ErrorCode.InvalidEnv, `command ${req.args.command} is not supported by /delegate`);
  }
}
