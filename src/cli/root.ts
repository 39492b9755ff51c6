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

export const rootCommand = defineCommand({
  meta: { name: "multus", description: "Multus CNI thick plugin: shim, daemon and installer in one binary" },
  subCommands: {
    shim: shimCommand,
    daemon: () => import("./daemon.ts").then((m) => m.daemonCommand as CommandDef),
    install: () => import("./install.ts").then((m) => m.installCommand as CommandDef),
    version: versionCommand,
  },
});

export async function runCli(rawArgs: string[]): Promise<number> {
  if (rawArgs[0] === "daemon") {
    const { runDaemonCommand } = await import("./daemon.ts");
    return runDaemonCommand(rawArgs.slice(1));
  }
  if (rawArgs.length === 0 || rawArgs.includes("--help") || rawArgs.includes("-h")) {
    process.stdout.write((await renderUsage(rootCommand)) + "\n");
    return rawArgs.length === 0 ? 1 : 0;
  }
  if (rawArgs[0] === "--version" || rawArgs[0] === "-version" || rawArgs[0] === "-v") rawArgs = ["version"];
  try {
    const { result } = await runCommand(rootCommand, { rawArgs: normalizeGoFlags(rawArgs) });
    return typeof result === "number" ? result : 0;
  } catch (err) {
    process.stderr.write(`multus: ${(err as Error).message}\n`);
    return 2;
  }
}
