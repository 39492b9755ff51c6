// One entry for both roles that run the core: the daemon (thick) and the
// in-process thin plugin.
import { CniError, ErrorCode } from "../../cni/errors.ts";
import type { Result100 } from "../../cni/result.ts";
import type { MultusRequest } from "../request.ts";
import type { MultusDeps } from "../ports.ts";
import { cmdAdd } from "./add.ts";
import { cmdDel } from "./del.ts";
import { cmdCheck } from "./check.ts";
import { cmdGc } from "./gc.ts";
import { cmdStatus } from "./status.ts";

/** Runs the request's command; ADD returns the master's result, the rest undefined. */
export async function dispatchRequest(
  req: MultusRequest,
  deps: MultusDeps,
  raw: Record<string, unknown>,
): Promise<Result100 | undefined> {
  switch (req.args.command) {
    case "ADD":
      return cmdAdd(req, deps);
    case "DEL":
      return void (await cmdDel(req, deps));
    case "CHECK":
      return void (await cmdCheck(req, deps));
    case "GC":
      return void (await cmdGc(req, deps, raw));
    case "STATUS":
      return void (await cmdStatus(req, deps));
    default:
      throw new CniError(ErrorCode.InvalidEnv, `unexpected or missing CNI_COMMAND "${req.args.command}"`);
  }
}
