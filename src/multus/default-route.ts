// The `default-route` selection (Go Multus's gateway filter): once any network asks for
// it, only the requested gateways stay default routes. The pod's routes are
// edited in its netns, and the libcni result cache is rewritten to match so
// CHECK agrees with what is there.
import { CniError, ErrorCode } from "../cni/errors.ts";
import { convertResult, toCurrentResult } from "../cni/result.ts";
import { readCachedResult, writeCachedResult } from "../cni/cache.ts";
import { gatewayFamilies, rewriteDefaultRoutes } from "./gateway.ts";
import type { MultusRequest } from "./request.ts";
import type { Attached } from "./delegates.ts";

export async function applyDefaultRoutes(req: MultusRequest, attached: Attached[]): Promise<void> {
  if (!attached.some((a) => a.delegate.selection?.defaultRoute !== undefined)) return;
  for (const a of attached) {
    const gateways = a.delegate.selection?.defaultRoute ?? [];
    const before = a.result;
    const after = rewriteDefaultRoutes(before, routeEdit(gateways));
    if (JSON.stringify(before.routes ?? []) === JSON.stringify(after.routes ?? [])) continue;
    await setNetnsDefaultRoutes(req.args.netns, a.delegate.ifname, gateways);
    a.result = after;
    await rewriteCachedResult(req, a);
  }
}

/** A network keeps the default routes of the families its own `default-route` names (none for `[]`). */
function routeEdit(gateways: string[]): { keepV4: boolean; keepV6: boolean; gateways: string[] } {
  const { v4, v6 } = gatewayFamilies(gateways);
  return { keepV4: v4, keepV6: v6, gateways };
}

/**
 * Once default-route is in play every family's default routes on `ifname` go:
 * a family this network did not request is removed, a requested one is
 * replaced by the listed gateway.
 */
async function setNetnsDefaultRoutes(netns: string, ifname: string, gateways: string[]): Promise<void> {
  await ipInNetns(netns, ["-4", "route", "flush", "exact", "0.0.0.0/0", "dev", ifname], true);
  await ipInNetns(netns, ["-6", "route", "flush", "exact", "::/0", "dev", ifname], true);
  for (const gw of gateways) {
    const flag = gw.includes(":") ? "-6" : "-4";
    await ipInNetns(netns, [flag, "route", "add", "default", "via", gw, "dev", ifname], false);
  }
}

/** An `ip` that does not return in this long is killed: the request holds its container's lock meanwhile. */
const IP_TIMEOUT_MS = 10_000;

async function ipInNetns(netns: string, args: string[], tolerateFailure: boolean): Promise<void> {
  const proc = Bun.spawn(["nsenter", `--net=${netns}`, "ip", ...args], {
    stdout: "ignore",
    stderr: "pipe",
    timeout: IP_TIMEOUT_MS,
    killSignal: "SIGKILL",
  });
  const [code, stderr] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0 && !tolerateFailure) {
    const why = proc.signalCode === "SIGKILL" ? `no answer within ${IP_TIMEOUT_MS} ms (killed)` : stderr.trim();
    throw new CniError(ErrorCode.IoFailure, `cannot set default route in ${netns}: ip ${args.join(" ")}`, why);
  }
}

async function rewriteCachedResult(req: MultusRequest, a: Attached): Promise<void> {
  const key = { networkName: a.delegate.list.name, containerId: req.args.containerId, ifName: a.delegate.ifname };
  const cached = await readCachedResult(req.conf.cniDir, key);
  if (!cached?.result) return;
  const version = typeof cached.result.cniVersion === "string" ? cached.result.cniVersion : a.delegate.list.cniVersion;
  const rewritten = rewriteDefaultRoutes(
    toCurrentResult(cached.result, version),
    routeEdit(a.delegate.selection?.defaultRoute ?? []),
  );
  await writeCachedResult(req.conf.cniDir, { ...cached, result: convertResult(rewritten, version) });
}
