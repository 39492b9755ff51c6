// `multus config generate`: the 00-multus.conf a daemon with this config would
// write now, printed byte for byte, by the daemon's own code path (config
// validation, primary discovery, forceCNIVersion, generation) without writing
// anything, so a config change can be checked before it is rolled out.
import { defineCommand } from "citty";
import { readFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { loadDaemonConfig, type LoadedDaemonConfig } from "../config/daemon-config.ts";
import { previewForDaemonConfig } from "../config/watch.ts";

export const DEFAULT_DAEMON_CONFIG = "/etc/cni/net.d/multus.d/daemon-config.json";

/** What the daemon would put into cniConfigDir, or why it would write nothing or fail. */
export interface GeneratedConf {
  path: string;
  content: Buffer | string;
  /** The primary it follows (auto) or the user file it copies. */
  source: string;
}

/** The daemon's config as it validates it at start (the core's keys too), or a CniError. */
export async function loadDaemonConfigLikeTheDaemon(path: string): Promise<LoadedDaemonConfig> {
  const { MultusConfSchema } = await import("../multus/netconf.ts");
  return loadDaemonConfig(path, [MultusConfSchema]);
}

export async function generateConf(opts: { configPath: string; primaryPath?: string }): Promise<GeneratedConf> {
  const loaded = await loadDaemonConfigLikeTheDaemon(opts.configPath);
  const { config } = loaded;
  if (config.multusConfigFile === "auto") {
    const preview = await previewForDaemonConfig(loaded, opts.primaryPath);
    return { path: preview.path, content: preview.content, source: preview.primaryPath };
  }
  if (opts.primaryPath !== undefined) {
    throw new Error(
      `--primary applies only when multusConfigFile is "auto" (it is ${JSON.stringify(config.multusConfigFile)})`,
    );
  }
  if (config.multusConfigFile === "") {
    throw new Error(`multusConfigFile is "" in ${opts.configPath}: the daemon writes no configuration file`);
  }
  // A user-provided file is copied as it is, under its own name.
  const source = config.multusConfigFile;
  const content = await readFile(source).catch((err: Error) => {
    throw new Error(`cannot read multusConfigFile ${source}: ${err.message}`);
  });
  return { path: join(config.cniConfigDir, basename(source)), content, source };
}

const EXAMPLES = `  multus config generate --config /etc/cni/net.d/multus.d/daemon-config.json > /tmp/00-multus.conf
  diff /tmp/00-multus.conf /etc/cni/net.d/00-multus.conf     is the node's file what this config gives?
  multus config generate --config new-config.json --primary /etc/cni/net.d/10-calico.conflist

  Exit 0: printed; 1: the daemon would fail to start on this config, or writes no file. More in docs/cli.md.
`;

const generateCommand = defineCommand({
  meta: {
    name: "generate",
    description:
      "Print the CNI configuration file the daemon would write for this daemon config (00-multus.conf in auto mode), byte for byte; writes nothing",
  },
  args: {
    config: { type: "string", description: "daemon configuration file", default: DEFAULT_DAEMON_CONFIG },
    primary: {
      type: "string",
      description: "primary CNI conf to generate from (default: the one the daemon would pick in multusAutoconfigDir)",
    },
    quiet: { type: "boolean", description: "do not say on stderr where the file would go", default: false },
  },
  async run({ args }) {
    try {
      const out = await generateConf({ configPath: args.config, primaryPath: args.primary || undefined });
      process.stdout.write(out.content);
      // The file has no final newline; on a terminal the note goes on a line of its own.
      const nl = process.stdout.isTTY ? "\n" : "";
      if (!args.quiet) process.stderr.write(`${nl}multus config generate: ${out.path} (from ${out.source})\n`);
      return 0;
    } catch (err) {
      process.stderr.write(`multus config generate: ${(err as Error).message}\n`);
      return 1;
    }
  },
});

Object.assign(generateCommand, { examples: EXAMPLES });

export const configCommand = defineCommand({
  meta: { name: "config", description: "Daemon configuration tools (`multus config generate --help`)" },
  subCommands: { generate: generateCommand },
});
