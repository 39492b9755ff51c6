// One entry for both roles that run the core: the daemon (thick) and the
// in-process thin plugin.
import { CniError, ErrorCode } from "../../cni/errors.ts";
import type { Result100 } from "../../cni/result.ts";
import type { MultusRequest } from "../request.ts";
import type { MultusDeps } from "../ports.ts";
import { awaitReadinessIndicator } from "../readiness.ts";
import { summarizeAttachments, type NetworkSummary } from "../request-log.ts";
import { cmdAdd } from "./add.ts";
import { cmdDel } from "./del.ts";
import { cmdCheck } from "./check.ts";
import { cmdGc } from "./gc.ts";
import { cmdStatus } from "./status.ts";

export interface CommandOutcome {
  /** ADD: the master's result. */
  result?: Result100;
  /** ADD: every network attached, for the request's log line. */
  networks?: NetworkSummary[];
}

/** Runs the request's command. */
export async function dispatchRequest(
  req: MultusRequest,
  deps: MultusDeps,
  raw: Record<string, unknown>,
): Promise<CommandOutcome> {
  await awaitReadinessIndicator(req, deps.log);
  switch (req.args.command) {
    case "ADD": {
      const { result, attached } = await cmdAdd(req, deps);
      return { result, networks: summarizeAttachments(attached) };
    }
    case "DEL":
      await cmdDel(req, deps);
      return {};
    case "CHECK":
      await cmdCheck(req, deps);
      return {};
    case "GC":
      await cmdGc(req, deps, raw);
      return {};
    case "STATUS":
      await cmdStatus(req, deps);
      return {};
    default:
      throw new CniError(ErrorCode.InvalidEnv, `unexpected or missing CNI_COMMAND "${req.args.command}"`);
  }
}
