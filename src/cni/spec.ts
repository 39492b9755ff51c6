// Commands, env var names and versions of the CNI spec (containernetworking/cni SPEC.md).

export const CNI_COMMANDS = ["ADD", "DEL", "CHECK", "GC", "STATUS", "VERSION"] as const;
export type CniCommand = (typeof CNI_COMMANDS)[number];

export function isCniCommand(s: string): s is CniCommand {
  return (CNI_COMMANDS as readonly string[]).includes(s);
}

export const SUPPORTED_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
export type SupportedVersion = (typeof SUPPORTED_VERSIONS)[number];
export const CURRENT_VERSION = "1.1.0";

export const Env = {
  COMMAND: "CNI_COMMAND",
  CONTAINERID: "CNI_CONTAINERID",
  NETNS: "CNI_NETNS",
  IFNAME: "CNI_IFNAME",
  ARGS: "CNI_ARGS",
  PATH: "CNI_PATH",
  NETNS_OVERRIDE: "CNI_NETNS_OVERRIDE",
} as const;

/** Env vars each command requires. */
export const REQUIRED_ENV: Record<CniCommand, readonly string[]> = {
  ADD: [Env.COMMAND, Env.CONTAINERID, Env.NETNS, Env.IFNAME, Env.PATH],
  CHECK: [Env.COMMAND, Env.CONTAINERID, Env.NETNS, Env.IFNAME, Env.PATH],
  DEL: [Env.COMMAND, Env.CONTAINERID, Env.IFNAME, Env.PATH],
  GC: [Env.COMMAND, Env.PATH],
  STATUS: [Env.COMMAND, Env.PATH],
  VERSION: [Env.COMMAND],
};

/** Keys the runtime injects into a GC config (SPEC.md "GC"). */
export const VALID_ATTACHMENTS_KEY = "cni.dev/valid-attachments";
export const ATTACHMENTS_KEY = "cni.dev/attachments";

/**
 * What libcni accepts as a container ID and a network name (pkg/utils
 * `cniReg`). The source text is libcni's too, escape included, because error
 * details quote it and users compare them with libcni's.
 */
// biome-ignore lint/complexity/noUselessEscapeInRegex: libcni's source text, quoted in error details
export const CNI_IDENTIFIER = /^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$/;
