// Plugin side of the protocol (containernetworking/cni pkg/skel): env + stdin
// -> checks -> handler -> stdout and exit code. The edges are injected so the
// whole path runs in tests without a process.

import { type CmdArgs, cmdArgsFromEnv } from "./args.ts";
import { CniError, ErrorCode, quoteInput, toCniError } from "./errors.ts";
import { formatCniJson } from "./result.ts";
import { decodeJsonObject } from "./schemas.ts";
import { CNI_IDENTIFIER, type CniCommand, CURRENT_VERSION, Env, SUPPORTED_VERSIONS } from "./spec.ts";
import { configVersion, isSupportedVersion, reconcileVersion, versionAtLeast } from "./version.ts";

export interface SkelIO {
  env: Record<string, string | undefined>;
  stdin: Uint8Array;
  /** Only CNI output (result, error object, VERSION reply) is written here. */
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

export interface SkelHandlers {
  /** Returns the result ALREADY in wire form for the config's version; skel prints it. */
  add(args: CmdArgs, conf: Record<string, unknown>): Promise<unknown>;
  del(args: CmdArgs, conf: Record<string, unknown>): Promise<void>;
  check(args: CmdArgs, conf: Record<string, unknown>): Promise<void>;
  gc(args: CmdArgs, conf: Record<string, unknown>): Promise<void>;
  status(args: CmdArgs, conf: Record<string, unknown>): Promise<void>;
}

/** The handler of each command that prints nothing on success. */
const HANDLER_OF = { DEL: "del", CHECK: "check", GC: "gc", STATUS: "status" } as const;

/** The config version each command first appeared in (SPEC "Version considerations"). */
const MIN_CONFIG_VERSION: Partial<Record<CniCommand, string>> = { CHECK: "0.4.0", GC: "1.1.0", STATUS: "1.1.0" };

/** Go's validateConfig: `name` must be a non-empty string of safe characters. */
function checkNetworkName(conf: Record<string, unknown>): void {
  const name = conf.name;
  if (name !== undefined && name !== null && typeof name !== "string") {
    // Go's json fails to decode a non-string into its string field.
    throw new CniError(
      ErrorCode.DecodeFailure,
      "failed to decode network configuration",
      `field "name": expected string, got ${quoteInput(name)}`,
    );
  }
  if (!name) throw new CniError(ErrorCode.InvalidConfig, "missing network name");
  if (!CNI_IDENTIFIER.test(name))
    throw new CniError(
      ErrorCode.InvalidConfig,
      "invalid characters found in network name",
      name.length > 64 ? quoteInput(name) : name,
    );
}

/**
 * Runs one CNI invocation and returns the exit code. Errors (ours, the
 * handler's CniError untouched, anything else as 999) go to stdout as the
 * spec's error object with exit code 1. `supported` is what VERSION reports
 * and what a config's version must be one of (Go's PluginSupports).
 */
export async function runSkel(
  io: SkelIO,
  handlers: SkelHandlers,
  about: string,
  supported: readonly string[] = SUPPORTED_VERSIONS,
): Promise<number> {
  if (!io.env[Env.COMMAND] && about) {
    io.stderr(`${about}\nCNI protocol versions supported: ${supported.join(", ")}\n`);
    return 0;
  }
  let errorVersion: string | undefined;
  try {
    const args = cmdArgsFromEnv(io.env, io.stdin);
    if (args.command === "VERSION") {
      // Go writes this with json.Encoder: compact, newline-terminated; stdin is ignored.
      io.stdout(`${JSON.stringify({ cniVersion: CURRENT_VERSION, supportedVersions: supported })}\n`);
      return 0;
    }
    const conf = decodeJsonObject(args.stdin, "network configuration");
    const version = configVersion(conf);
    // From here on errors carry the config's version (when it is one we speak).
    if (isSupportedVersion(version)) errorVersion = version;
    checkNetworkName(conf);

    const min = MIN_CONFIG_VERSION[args.command];
    if (min && !versionAtLeast(version, min)) {
      throw new CniError(
        ErrorCode.IncompatibleVersion,
        `config version does not allow ${args.command}`,
        `config is ${quoteInput(version)}, ${args.command} needs at least ${JSON.stringify(min)}`,
      );
    }
    reconcileVersion(version, supported);
    await refuseOwnNetns(args, io.env);

    // ADD alone prints a result; the others print nothing on success.
    if (args.command === "ADD") io.stdout(formatCniJson(await handlers.add(args, conf)));
    else await handlers[HANDLER_OF[args.command]](args, conf);
    return 0;
  } catch (err) {
    io.stdout(formatCniJson(toCniError(err).toJSON(errorVersion)));
    return 1;
  }
}

/**
 * CNI_NETNS naming the plugin's own netns would configure the host (libcni's
 * skel refuses it, code 8, unless CNI_NETNS_OVERRIDE is 1/true). Checked before
 * the command runs; the Go skel checks after ADD/DEL have done their work.
 */
async function refuseOwnNetns(args: CmdArgs, env: SkelIO["env"]): Promise<void> {
  if (!args.netns || args.command === "GC" || args.command === "STATUS") return;
  const override = env[Env.NETNS_OVERRIDE]?.toLowerCase();
  if (override === "1" || override === "true") return;
  let same = false;
  try {
    const [target, own] = await Promise.all([Bun.file(args.netns).stat(), Bun.file("/proc/self/ns/net").stat()]);
    same = target.dev === own.dev && target.ino === own.ino;
  } catch {
    return; // a netns that is already gone (DEL) or unreadable is the plugin's business
  }
  if (same) {
    throw new CniError(
      ErrorCode.InvalidNetns,
      "plugin's netns and netns from CNI_NETNS should not be the same",
      `CNI_NETNS=${args.netns}`,
    );
  }
}
