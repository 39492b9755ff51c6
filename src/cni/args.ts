// The one CNI_ARGS parser/formatter, and the CNI_* env map -> CmdArgs step
// of containernetworking/cni pkg/skel (same required vars, order and codes).

import { CniError, ErrorCode, quoteInput } from "./errors.ts";
import { CNI_IDENTIFIER, type CniCommand, Env, isCniCommand, REQUIRED_ENV } from "./spec.ts";

/**
 * "K1=V1;K2=V2" -> [["K1","V1"],["K2","V2"]]. Deliberately more tolerant than
 * Go's (which fails the whole request): empty items and a trailing ";" are
 * skipped, and a value may contain "=" since we split at the first one.
 * An item without "=" is still an error: it is not a key/value pair at all.
 */
export function parseCniArgs(s: string | undefined): Array<[string, string]> {
  const pairs: Array<[string, string]> = [];
  for (const item of (s ?? "").split(";")) {
    if (item.trim() === "") continue;
    const eq = item.indexOf("=");
    if (eq < 0) throw new CniError(ErrorCode.InvalidEnv, `invalid CNI_ARGS item ${quoteInput(item)}`);
    pairs.push([item.slice(0, eq).trim(), item.slice(eq + 1).trim()]);
  }
  return pairs;
}

export function formatCniArgs(pairs: ReadonlyArray<readonly [string, string]>): string {
  return pairs.map(([k, val]) => `${k}=${val}`).join(";");
}

/** The last value given for `key` (a later item overrides an earlier one). */
export function getCniArg(pairs: ReadonlyArray<readonly [string, string]>, key: string): string | undefined {
  let found: string | undefined;
  for (const [k, val] of pairs) if (k === key) found = val;
  return found;
}

/** Everything a plugin receives: the CNI_* env vars plus the config on stdin. */
export interface CmdArgs {
  command: CniCommand;
  containerId: string;
  netns: string;
  ifname: string;
  args: string;
  path: string;
  stdin: Uint8Array;
}

/** Linux IFNAMSIZ - 1: the longest name the kernel accepts, in bytes. */
const MAX_IFNAME_BYTES = 15;

function validateContainerId(id: string): void {
  if (id === "") throw new CniError(ErrorCode.UnknownContainer, "missing containerID", `${Env.CONTAINERID} is empty`);
  if (!CNI_IDENTIFIER.test(id)) {
    throw new CniError(
      ErrorCode.InvalidEnv,
      "invalid characters in containerID",
      `${Env.CONTAINERID} ${quoteInput(id)} must match ${CNI_IDENTIFIER.source}`,
    );
  }
}

/**
 * Why `name` cannot be a Linux interface name, or undefined when it can. The
 * kernel's rules (net/core/dev.c dev_valid_name), as Go's ValidateInterfaceName:
 * non-empty, at most 15 bytes, not `.` or `..`, no `/`, `:` or whitespace.
 */
export function ifnameProblem(name: string): string | undefined {
  if (name === "") return "must not be empty";
  const bytes = new TextEncoder().encode(name).length;
  if (bytes > MAX_IFNAME_BYTES) return `is ${bytes} bytes long, the limit is ${MAX_IFNAME_BYTES}`;
  if (name === "." || name === "..") return `must not be "." or ".."`;
  if (/[\s/:]/.test(name)) return "must not contain whitespace, '/' or ':'";
  return undefined;
}

function validateIfname(name: string): void {
  const problem = ifnameProblem(name);
  if (problem)
    throw new CniError(ErrorCode.InvalidEnv, `invalid ${Env.IFNAME}`, `interface name ${quoteInput(name)} ${problem}`);
}

const VALIDATORS: Partial<Record<string, (v: string) => void>> = {
  [Env.CONTAINERID]: validateContainerId,
  [Env.IFNAME]: validateIfname,
};

/**
 * The request as a plugin sees it. As in Go's skel, an empty variable counts
 * as missing, missing ones are reported together (code 4), and a present
 * container ID / ifname is validated where the command requires it, in the
 * order of the env table (so a bad CNI_CONTAINERID is reported before a
 * missing CNI_PATH).
 */
export function cmdArgsFromEnv(env: Record<string, string | undefined>, stdin: Uint8Array): CmdArgs {
  const get = (name: string) => env[name] ?? "";
  const command = get(Env.COMMAND);
  if (command === "") throw new CniError(ErrorCode.InvalidEnv, `required env variables [${Env.COMMAND}] missing`);
  if (!isCniCommand(command))
    throw new CniError(
      ErrorCode.InvalidEnv,
      `unknown ${Env.COMMAND}: ${command.length > 64 ? quoteInput(command) : command}`,
    );

  const missing: string[] = [];
  for (const name of REQUIRED_ENV[command]) {
    const value = get(name);
    if (value === "") missing.push(name);
    else VALIDATORS[name]?.(value);
  }
  if (missing.length > 0) {
    throw new CniError(ErrorCode.InvalidEnv, `required env variables [${missing.join(",")}] missing`);
  }
  return {
    command,
    containerId: get(Env.CONTAINERID),
    netns: get(Env.NETNS),
    ifname: get(Env.IFNAME),
    args: get(Env.ARGS),
    path: get(Env.PATH),
    stdin,
  };
}
