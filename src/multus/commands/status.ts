// STATUS: the daemon answering at all is its own readiness; then the cluster
// network's STATUS (docs/compatibility.md, difference 7).
import { CniError, ErrorCode, toCniError } from "../../cni/errors.ts";
import { statusNetworkList } from "../../cni/conf.ts";
import { type Delegate, resolveDelegates } from "../delegates.ts";
import { cniRuntimeFor, type MultusRequest } from "../request.ts";
import type { MultusDeps } from "../ports.ts";

export async function cmdStatus(req: MultusRequest, deps: MultusDeps): Promise<void> {
  let master: Delegate | undefined;
  try {
    [master] = await resolveDelegates({ conf: req.conf, kube: deps.kube, ifname: req.args.ifname || "eth0" });
  } catch (err) {
    const e = toCniError(err);
    throw new CniError(ErrorCode.NotAvailable, "cluster network is not available", e.message);
  }
  if (master) await statusNetworkList(cniRuntimeFor(req.conf, deps), master.list);
}
