// The `multus` command line. Only citty is imported statically; each
// subcommand module is loaded when it is chosen.
import { defineCommand, runCommand, renderUsage, type CommandDef } from "citty";
import { normalizeGoFlags } from "./flags.ts";

const versionCommand = defineCommand({
  meta: { name: "version", description: "Print the version" },
  async run() {
    const { versionLine } = await import("../version.ts");
    process.stdout.write(`${versionLine("multus")}\n`);
    return 0;
  },
});

const shimCommand = defineCommand({
  meta: { name: "shim", description: "Run as the CNI plugin (same as invoking the binary as multus-shim)" },
});

const subCommands: Record<string, CommandDef | (() => Promise<CommandDef>)> = {
  shim: shimCommand,
  daemon: () => import("./daemon.ts").then((m) => m.daemonCommand as CommandDef),
  install: () => import("./install.ts").then((m) => m.installCommand as CommandDef),
  version: versionCommand,
  probe: () => import("./probe.ts").then((m) => m.probeCommand as CommandDef),
};

export const rootCommand = defineCommand({
  meta: { name: "multus", description: "Multus CNI thick plugin: shim, daemon and installer in one binary" },
  subCommands,
});

/** Every command but `daemon` and `shim`, which main.ts runs without loading citty. */
export async function runCli(rawArgs: string[]): Promise<number> {
  if (rawArgs[0] === "--version" || rawArgs[0] === "-version" || rawArgs[0] === "-v") rawArgs = ["version"];
  const sub = rawArgs[0] === undefined ? undefined : subCommands[rawArgs[0]];
  const wantsHelp = rawArgs.includes("--help") || rawArgs.includes("-h");
  if (rawArgs.length === 0 || (wantsHelp && !sub)) {
    process.stdout.write(`${await renderUsage(rootCommand)}\n`);
    return rawArgs.length === 0 ? 1 : 0;
  }
  if (sub && wantsHelp) {
    // citty's runCommand does not handle --help: render it here, never run the command.
    const cmd = typeof sub === "function" ? await sub() : sub;
    process.stdout.write(`${await renderUsage(cmd, rootCommand)}\n`);
    return 0;
  }
  if (!sub) {
    process.stderr.write(`multus: unknown command "${rawArgs[0]}"\n${await renderUsage(rootCommand)}\n`);
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
