// CHECK every delegate the pod was attached with (docs/compatibility.md, difference 6),
// except the auxiliary chain: its plugins act on an interface (`net<i>`) no
// delegate creates, so theirs would fail; Go never CHECKs it either.
import { CniError, ErrorCode } from "../../cni/errors.ts";
import { checkNetworkList } from "../../cni/conf.ts";
import { readDelegateCache } from "../delegate-cache.ts";
import { cniRuntimeFor, runtimeConfFor, type MultusRequest } from "../request.ts";
import type { MultusDeps } from "../ports.ts";

export async function cmdCheck(req: MultusRequest, deps: MultusDeps): Promise<void> {
  const entries = await readDelegateCache({
    cniDir: req.conf.cniDir,
    containerId: req.args.containerId,
    requestIfname: req.args.ifname,
  });
  if (!entries) {
    throw new CniError(ErrorCode.UnknownContainer, `no attachment is known for container ${req.args.containerId}`);
  }
  const rt = cniRuntimeFor(req.conf, deps);
  for (const { delegate, runtimeConfig } of entries) {
    if (delegate.role === "auxiliary") continue;
    await checkNetworkList(rt, delegate.list, runtimeConfFor(req, { delegate, runtimeConfig, forAdd: false }));
  }
}
