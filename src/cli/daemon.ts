// `multus daemon` / `multus-daemon`: the thick plugin's flags (the Go
// daemon's), each overriding the matching daemon-config key.
//
// Parsed by hand, as Go's flag package does it, because citty's parser lets a
// bare boolean flag swallow the next flag as its value
// (`-namespace-isolation -cni-version 1.0.0`). Rules: one dash or two; the
// value after `=` or as the next argument; a boolean flag alone means true and
// takes a separate value only when that is true/false/1/0; `--` ends the
// flags; an unknown flag or a stray argument is an error (exit 2).
import type { CommandDef } from "citty";
import { parseBoolFlag } from "./flags.ts";

const DEFAULT_CONFIG = "/etc/cni/net.d/multus.d/daemon-config.json";

type Kind = "string" | "number" | "boolean";
interface FlagSpec {
  /** Spellings, without dashes; the first is the one shown. */
  names: string[];
  /** The daemon-config key it overrides. */
  key: string;
  kind: Kind;
  /** What applies when neither the flag nor the config key is given. */
  dflt: string;
}

/** Flag -> config key. Order is the order of --help. */
export const DAEMON_FLAGS: readonly FlagSpec[] = [
  { names: ["metrics-port", "metricsPort"], key: "metricsPort", kind: "number", dflt: "unset: no metrics server" },
  { names: ["additional-bin-dir"], key: "additionalBinDir", kind: "string", dflt: "unset: binDir only" },
  { names: ["multus-log-level"], key: "logLevel", kind: "string", dflt: "panic" },
  { names: ["multus-log-file"], key: "logFile", kind: "string", dflt: "unset: no log file" },
  { names: ["multus-log-to-stderr"], key: "logToStderr", kind: "boolean", dflt: "false" },
  { names: ["cni-version"], key: "cniVersion", kind: "string", dflt: "unset; required when multusConfigFile is auto" },
  { names: ["cni-conf-dir"], key: "cniConfigDir", kind: "string", dflt: "/etc/cni/net.d" },
  { names: ["multus-conf-file"], key: "multusConfigFile", kind: "string", dflt: 'auto ("": manage no file)' },
  { names: ["namespace-isolation"], key: "namespaceIsolation", kind: "boolean", dflt: "false" },
  { names: ["global-namespaces"], key: "globalNamespaces", kind: "string", dflt: '""' },
  { names: ["readiness-indicator-file"], key: "readinessindicatorfile", kind: "string", dflt: "unset" },
  { names: ["multus-autoconfig-dir"], key: "multusAutoconfigDir", kind: "string", dflt: "the cniConfigDir" },
  {
    names: ["multus-master-cni-file-name"],
    key: "multusMasterCNI",
    kind: "string",
    dflt: "unset: first .conf/.conflist",
  },
  { names: ["override-network-name"], key: "overrideNetworkName", kind: "boolean", dflt: "false" },
  { names: ["socket-dir"], key: "socketDir", kind: "string", dflt: "/run/multus/" },
  { names: ["kubeconfig"], key: "kubeconfig", kind: "string", dflt: "unset: in-cluster, else no cluster" },
  { names: ["node-name"], key: "nodeName", kind: "string", dflt: "$MULTUS_NODE_NAME" },
];

export interface DaemonArgs {
  configPath: string;
  /** Config key -> value from the command line. */
  overrides: Record<string, unknown>;
  version: boolean;
  help: boolean;
}

const BOOL_LITERALS = new Set(["true", "false", "1", "0"]);

/** Parses the daemon's command line; throws an Error naming the flag on misuse. */
export function parseDaemonArgs(argv: readonly string[]): DaemonArgs {
  const out: DaemonArgs = { configPath: DEFAULT_CONFIG, overrides: {}, version: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      if (i + 1 < argv.length) throw new Error(`unexpected argument "${argv[i + 1]}"`);
      break;
    }
    const m = /^--?([^=-][^=]*)(?:=([\s\S]*))?$/.exec(arg);
    if (!m) throw new Error(`unexpected argument "${arg}"`);
    const name = m[1]!;
    let value = m[2];
    if (name === "help" || name === "h") {
      out.help = true;
      continue;
    }
    if (name === "version" || name === "v") {
      out.version = value === undefined ? true : parseBoolFlag(name, value);
      continue;
    }
    const spec = name === "config" ? undefined : DAEMON_FLAGS.find((f) => f.names.includes(name));
    if (name !== "config" && !spec) throw new Error(`flag provided but not defined: -${name}`);
    const kind: Kind = spec?.kind ?? "string";
    if (value === undefined) {
      const next = argv[i + 1];
      if (kind === "boolean") {
        if (next !== undefined && BOOL_LITERALS.has(next)) {
          value = next;
          i++;
        } else {
          value = "true";
        }
      } else {
        if (next === undefined || isKnownFlag(next)) throw new Error(`flag needs an argument: -${name}`);
        value = next;
        i++;
      }
    }
    if (!spec) {
      out.configPath = value;
      continue;
    }
    out.overrides[spec.key] = convert(spec, name, value);
  }
  return out;
}

function convert(spec: FlagSpec, name: string, value: string): unknown {
  if (spec.kind === "boolean") return parseBoolFlag(name, value);
  if (spec.kind === "number") {
    const n = Number(value);
    if (value.trim() === "" || !Number.isInteger(n))
      throw new Error(`invalid value "${value}" for flag -${name}: expected a whole number`);
    return n;
  }
  return value;
}

function isKnownFlag(arg: string): boolean {
  const m = /^--?([^=-][^=]*)(?:=|$)/.exec(arg);
  if (!m) return false;
  const name = m[1]!;
  return ["config", "help", "h", "version", "v"].includes(name) || DAEMON_FLAGS.some((f) => f.names.includes(name));
}

/** --help: every flag with the config key it sets and the default. */
export function daemonUsage(): string {
  const rows: Array<[string, string]> = [
    ["-config <path>", `daemon configuration file (default ${DEFAULT_CONFIG})`],
    ...DAEMON_FLAGS.map((f): [string, string] => [
      f.names.map((n) => `-${n}`).join(", ") +
        (f.kind === "boolean" ? "[=true|false]" : f.kind === "number" ? " <n>" : " <value>"),
      `sets "${f.key}" (default ${f.dflt})`,
    ]),
    ["-version", "print the version and exit"],
    ["-help", "print this help and exit"],
  ];
  const width = Math.max(...rows.map(([l]) => l.length));
  return [
    "Usage: multus-daemon [flags]   (or: multus daemon [flags])",
    "",
    "Runs the multus daemon, the server half of the thick plugin. Flags take one dash or two and",
    "their value after = or as the next argument; each overrides the daemon-config key named.",
    "",
    ...rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`),
    "",
  ].join("\n");
}

/** For `multus --help`: the root lists the subcommand; running it goes through runDaemonCommand. */
export const daemonCommand: CommandDef = {
  meta: {
    name: "daemon",
    description: "Run the multus daemon (thick plugin server); `multus daemon --help` lists its flags",
  },
};

/** Entry for the `multus-daemon` name and the `daemon` subcommand. */
export async function runDaemonCommand(rawArgs: string[]): Promise<number> {
  let parsed: DaemonArgs;
  try {
    parsed = parseDaemonArgs(rawArgs);
  } catch (err) {
    process.stderr.write(`multus-daemon: ${(err as Error).message}\n\n${daemonUsage()}`);
    return 2;
  }
  if (parsed.help) {
    process.stdout.write(daemonUsage());
    return 0;
  }
  if (parsed.version) {
    const { versionLine } = await import("../version.ts");
    process.stdout.write(`${versionLine("multus-daemon")}\n`);
    return 0;
  }
  const { runDaemon } = await import("../daemon/run.ts");
  const code = await runDaemon({ configPath: parsed.configPath, overrides: parsed.overrides, env: process.env });
  // The stop sequence is over: a request cut at the end of the grace period may
  // still hold a delegate's child process open, which must not keep us alive.
  setTimeout(() => process.exit(code), 1000).unref();
  return code;
}
