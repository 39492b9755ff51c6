// `multus daemon` / `multus-daemon`: the thick plugin's flags (seeds), each
// overriding the matching daemon-config key.
import { defineCommand, runCommand, renderUsage, type ArgsDef } from "citty";
import { normalizeGoFlags, parseBoolFlag } from "./flags.ts";

const DEFAULT_CONFIG = "/etc/cni/net.d/multus.d/daemon-config.json";

/** flag -> [config key, kind] */
const FLAG_KEYS: Record<string, [string, "string" | "number" | "boolean"]> = {
  "metrics-port": ["metricsPort", "number"],
  "additional-bin-dir": ["additionalBinDir", "string"],
  "multus-log-level": ["logLevel", "string"],
  "multus-log-file": ["logFile", "string"],
  "multus-log-to-stderr": ["logToStderr", "boolean"],
  "cni-version": ["cniVersion", "string"],
  "cni-conf-dir": ["cniConfigDir", "string"],
  "multus-conf-file": ["multusConfigFile", "string"],
  "namespace-isolation": ["namespaceIsolation", "boolean"],
  "global-namespaces": ["globalNamespaces", "string"],
  "readiness-indicator-file": ["readinessindicatorfile", "string"],
  "multus-autoconfig-dir": ["multusAutoconfigDir", "string"],
  "multus-master-cni-file-name": ["multusMasterCNI", "string"],
  "override-network-name": ["overrideNetworkName", "boolean"],
  "socket-dir": ["socketDir", "string"],
  kubeconfig: ["kubeconfig", "string"],
  "node-name": ["nodeName", "string"],
};

const args = {
  config: { type: "string", description: "daemon configuration file", default: DEFAULT_CONFIG },
  metricsPort: { type: "string", description: "alias of --metrics-port (seeds spell it metricsPort)" },
  version: { type: "boolean", description: "print the version and exit" },
  ...Object.fromEntries(Object.entries(FLAG_KEYS).map(([flag, [key, kind]]) => [flag, {
    type: "string", description: `overrides "${key}" (${kind})`,
  }])),
} as ArgsDef;

export const daemonCommand = defineCommand({
  meta: { name: "daemon", description: "Run the multus daemon (thick plugin server)" },
  args,
  async run({ args: parsed }) {
    const values = parsed as Record<string, unknown>;
    if (values.version) {
      const { versionLine } = await import("../version.ts");
      process.stdout.write(versionLine("multus-daemon") + "\n");
      return 0;
    }
    const overrides: Record<string, unknown> = {};
    if (values.metricsPort !== undefined && values["metrics-port"] === undefined) values["metrics-port"] = values.metricsPort;
    for (const [flag, [key, kind]] of Object.entries(FLAG_KEYS)) {
      const value = values[flag];
      if (value === undefined) continue;
      if (kind === "number") {
        const n = Number(value);
        if (!Number.isInteger(n)) throw new Error(`flag --${flag}: expected a whole number, got "${String(value)}"`);
        overrides[key] = n;
      } else if (kind === "boolean") {
        overrides[key] = parseBoolFlag(flag, value);
      } else {
        overrides[key] = String(value);
      }
    }
    const { runDaemon } = await import("../daemon/run.ts");
    return runDaemon({ configPath: String(values.config), overrides, env: process.env });
  },
});

/** Entry for the `multus-daemon` name and the `daemon` subcommand. */
export async function runDaemonCommand(rawArgs: string[]): Promise<number> {
  const argv = normalizeGoFlags(rawArgs);
  if (argv.includes("--help") || argv.includes("-h")) {
    process.stdout.write((await renderUsage(daemonCommand)) + "\n");
    return 0;
  }
  try {
    const { result } = await runCommand(daemonCommand, { rawArgs: argv });
    return typeof result === "number" ? result : 0;
  } catch (err) {
    process.stderr.write(`multus-daemon: ${(err as Error).message}\n`);
    return 2;
  }
}
