// GC covers every delegate of every network (docs/compatibility.md, difference 7): cached
// attachments the runtime no longer lists are deleted, then each delegate
// network gets GC with the attachments that are still valid.
import { readdir } from "node:fs/promises";
import { toCniError } from "../../cni/errors.ts";
import { gcNetworkList, type NetworkConfigList } from "../../cni/conf.ts";
import { CNI_IDENTIFIER, VALID_ATTACHMENTS_KEY } from "../../cni/spec.ts";
import { resolveDelegates } from "../delegates.ts";
import { readDelegateCache } from "../delegate-cache.ts";
import { cniRuntimeFor, requestContext, type MultusRequest } from "../request.ts";
import type { MultusDeps } from "../ports.ts";
import { cmdDel } from "./del.ts";

export async function cmdGc(req: MultusRequest, deps: MultusDeps, raw: Record<string, unknown>): Promise<void> {
  const log = deps.log.with(requestContext(req));
  const valid = validContainerIds(raw[VALID_ATTACHMENTS_KEY]);
  const cached = await cachedContainerIds(req.conf.cniDir);

  const networks = new Map<
    string,
    { list: NetworkConfigList; attachments: Array<{ containerID: string; ifname: string }> }
  >();
  const track = (list: NetworkConfigList) => {
    if (!networks.has(list.name)) networks.set(list.name, { list, attachments: [] });
    return networks.get(list.name)!;
  };
  try {
    const [master] = await resolveDelegates({ conf: req.conf, kube: deps.kube, ifname: "eth0" });
    if (master) track(master.list);
  } catch (err) {
    log.warn(`GC: cluster network not resolvable: ${toCniError(err).message}`);
  }

  for (const id of cached) {
    // No valid-attachments list at all means we cannot tell stale from live: delete nothing.
    if (valid && !valid.has(id)) {
      log.verbose(`GC: deleting stale attachment of container ${id}`);
      const stale: MultusRequest = {
        ...req,
        args: { ...req.args, command: "DEL", containerId: id, netns: "", ifname: req.args.ifname || "eth0" },
      };
      // Under the container's lock: an ADD or DEL of it in flight finishes first.
      const del = () => cmdDel(stale, deps);
      await (deps.locks ? deps.locks.run(id, del) : del()).catch((err) =>
        log.error(`GC: DEL of ${id} failed: ${toCniError(err).message}`),
      );
      continue;
    }
    const entries = await readDelegateCache({ cniDir: req.conf.cniDir, containerId: id, requestIfname: "eth0" }).catch(
      () => undefined,
    );
    for (const { delegate } of entries ?? [])
      track(delegate.list).attachments.push({ containerID: id, ifname: delegate.ifname });
  }

  const rt = cniRuntimeFor(req.conf, deps);
  for (const { list, attachments } of networks.values()) {
    await gcNetworkList(rt, list, attachments);
  }
}

function validContainerIds(value: unknown): Set<string> | undefined {
  if (!Array.isArray(value)) return undefined;
  const ids = new Set<string>();
  for (const a of value) {
    const id = (a as { containerID?: unknown })?.containerID;
    if (typeof id === "string") ids.add(id);
  }
  return ids;
}

async function cachedContainerIds(cniDir: string): Promise<string[]> {
  try {
    const entries = await readdir(cniDir, { withFileTypes: true });
    return entries
      .filter((e) => e.isFile() && CNI_IDENTIFIER.test(e.name) && !e.name.includes(".tmp"))
      .map((e) => e.name);
  } catch {
    return [];
  }
}
