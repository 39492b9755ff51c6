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
  config: () => import("./config.ts").then((m) => m.configCommand as CommandDef),
  status: () => import("./status.ts").then((m) => m.statusCommand as CommandDef),
  validate: () => import("./validate.ts").then((m) => m.validateCommand as CommandDef),
  "thin-entrypoint": () => import("./thin-entrypoint.ts").then((m) => m.thinEntrypointCommand as CommandDef),
  "cert-approver": () => import("./cert-approver.ts").then((m) => m.certApproverCommand as CommandDef),
  "kubeconfig-generator": () =>
    import("./kubeconfig-generator.ts").then((m) => m.kubeconfigGeneratorCommand as CommandDef),
};

export const rootCommand = defineCommand({
  meta: {
    name: "multus",
    description: "Multus CNI thick plugin: shim, daemon, installer and diagnostics in one binary",
  },
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
  if (!sub) {
    process.stderr.write(`multus: unknown command "${rawArgs[0]}"\n${await renderUsage(rootCommand)}\n`);
    return 2;
  }
  const chosen = await resolveNested(typeof sub === "function" ? await sub() : sub, rawArgs.slice(1));
  if (wantsHelp || (chosen.cmd.subCommands && !chosen.cmd.run)) {
    // citty's runCommand does not handle --help: render it here, never run the command.
    // A command group without a subcommand named gets its usage too (exit 2: nothing was done).
    const parent = defineCommand({ meta: { name: ["multus", ...chosen.path.slice(0, -1)].join(" ") } });
    // A command may carry examples (citty's usage has no place for them): they follow the options.
    const examples = (chosen.cmd as { examples?: string }).examples;
    const usage = `${await renderUsage(chosen.cmd, parent)}${examples ? `\nEXAMPLES\n\n${examples}` : ""}`;
    if (wantsHelp) process.stdout.write(`${usage}\n`);
    else if (chosen.rest[0] && !chosen.rest[0].startsWith("-"))
      process.stderr.write(`multus: unknown command "${chosen.path.join(" ")} ${chosen.rest[0]}"\n${usage}\n`);
    else process.stderr.write(`${usage}\n`);
    return wantsHelp ? 0 : 2;
  }
  try {
    // citty drops a subcommand's return value, so the chosen one is run directly: its result is the exit code.
    const { result } = await runCommand(chosen.cmd, { rawArgs: normalizeGoFlags(chosen.rest) });
    return typeof result === "number" ? result : 0;
  } catch (err) {
    process.stderr.write(`multus: ${(err as Error).message}\n`);
    return 2;
  }
}

/** `multus config generate ...`: the innermost subcommand named, its path of names and the arguments after it. */
async function resolveNested(
  cmd: CommandDef,
  args: string[],
): Promise<{ cmd: CommandDef; path: string[]; rest: string[] }> {
  const meta = (typeof cmd.meta === "function" ? await cmd.meta() : await cmd.meta) ?? {};
  const path = [meta.name ?? ""];
  let rest = args;
  for (;;) {
    const subs = typeof cmd.subCommands === "function" ? await cmd.subCommands() : await cmd.subCommands;
    const next = rest[0] === undefined ? undefined : subs?.[rest[0]];
    if (!next) return { cmd, path, rest };
    const resolved = typeof next === "function" ? await next() : await next;
    path.push(rest[0]!);
    cmd = resolved as CommandDef;
    rest = rest.slice(1);
  }
}
