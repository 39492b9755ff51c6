// readinessindicatorfile per request, as the Go Multus does it: ADD, GC and
// STATUS wait (bounded) for the default network to say it is ready, then fail
// with code 11 naming the file so that the runtime retries; DEL must be able to
// tear a pod down whatever state the default network is in, so it only warns.
// In auto mode the key is stripped from requests (the daemon watches the file).
import { exists } from "../util/exists.ts";
import { waitForReadinessIndicator } from "../config/readiness-indicator.ts";
import type { Logger } from "../util/log.ts";
import { requestContext, type MultusRequest } from "./request.ts";

const WAITS = new Set(["ADD", "GC", "STATUS"]);

export async function awaitReadinessIndicator(req: MultusRequest, log: Logger): Promise<void> {
  const file = req.conf.readinessindicatorfile;
  const { command } = req.args;
  if (!file || (command !== "DEL" && !WAITS.has(command))) return;
  if (await exists(file)) return;
  const ctx = requestContext(req);
  if (command === "DEL") {
    log.warn(`readiness indicator file not found on CNI DEL @ ${file}: deleting anyway`, ctx);
    return;
  }
  const timeoutMs = req.conf.readinessIndicatorTimeoutSeconds * 1000;
  await waitForReadinessIndicator(file, { timeoutMs, log: log.with(ctx) });
  log.verbose(`readiness indicator file ${file} is there`, ctx);
}
