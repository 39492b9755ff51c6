// The `multus` command line. Only citty is imported statically; each
// subcommand module is loaded when it is chosen.
import { defineCommand, runCommand, renderUsage, type CommandDef } from "citty";
import { normalizeGoFlags } from "./flags.ts";

const versionCommand = defineCommand({
  meta: { name: "version", description: "Print the version" },
  async run() {
    const { versionLine } = await import("../version.ts");
    process.stdout.write(versionLine("multus") + "\n");
    return 0;
  },
});

const shimCommand = defineCommand({
  meta: { name: "shim", description: "Run as the CNI plugin (same as invoking the binary as multus-shim)" },
});

/** Exit 0 when the daemon answers 200 on the endpoint: an exec probe that needs no curl in the image. */
const probeCommand = defineCommand({
  meta: { name: "probe", description: "Probe the daemon's /healthz or /readyz over its unix socket (exit 0 when 200)" },
  args: {
    socket: { type: "string", description: "daemon socket path", default: "/run/multus/multus.sock" },
    endpoint: { type: "string", description: "healthz or readyz", default: "readyz" },
    timeout: { type: "string", description: "seconds to wait for the answer", default: "5" },
  },
  async run({ args }) {
    if (args.endpoint !== "healthz" && args.endpoint !== "readyz") throw new Error(`--endpoint must be healthz or readyz, got "${args.endpoint}"`);
    try {
      const res = await fetch(`http://dummy/${args.endpoint}`, {
        unix: args.socket, signal: AbortSignal.timeout(Number(args.timeout) * 1000 || 5000),
      });
      process.stdout.write(`${args.endpoint}: ${res.status}\n`);
      return res.status === 200 ? 0 : 1;
    } catch (err) {
      process.stdout.write(`${args.endpoint}: ${(err as Error).message}\n`);
      return 1;
    }
  },
});

const subCommands: Record<string, CommandDef | (() => Promise<CommandDef>)> = {
  shim: shimCommand,
  daemon: () => import("./daemon.ts").then((m) => m.daemonCommand as CommandDef),
  install: () => import("./install.ts").then((m) => m.installCommand as CommandDef),
  version: versionCommand,
  probe: probeCommand as CommandDef,
};

export const rootCommand = defineCommand({
  meta: { name: "multus", description: "Multus CNI thick plugin: shim, daemon and installer in one binary" },
  subCommands,
});

export async function runCli(rawArgs: string[]): Promise<number> {
  if (rawArgs[0] === "daemon") {
    const { runDaemonCommand } = await import("./daemon.ts");
    return runDaemonCommand(rawArgs.slice(1));
  }
  if (rawArgs[0] === "--version" || rawArgs[0] === "-version" || rawArgs[0] === "-v") rawArgs = ["version"];
  const sub = rawArgs[0] === undefined ? undefined : subCommands[rawArgs[0]];
  const wantsHelp = rawArgs.includes("--help") || rawArgs.includes("-h");
  if (rawArgs.length === 0 || (wantsHelp && !sub)) {
    process.stdout.write((await renderUsage(rootCommand)) + "\n");
    return rawArgs.length === 0 ? 1 : 0;
  }
  if (sub && wantsHelp) {
    // citty's runCommand does not handle --help: render it here, never run the command.
    const cmd = typeof sub === "function" ? await sub() : sub;
    process.stdout.write((await renderUsage(cmd, rootCommand)) + "\n");
    return 0;
  }
  if (!sub) {
    process.stderr.write(`multus: unknown command "${rawArgs[0]}"\n` + (await renderUsage(rootCommand)) + "\n");
    return 2;
  }
  try {
    // citty drops a subcommand's return value, so the chosen one is run directly: its result is the exit code.
    const cmd = typeof sub === "function" ? await sub() : sub;
    const { result } = await runCommand(cmd, { rawArgs: normalizeGoFlags(rawArgs.slice(1)) });
    return typeof result === "number" ? result : 0;
  } catch (err) {
    process.stderr.write(`multus: ${(err as Error).message}\n`);
    return 2;
  }
}
