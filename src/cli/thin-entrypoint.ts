// `multus thin-entrypoint`: the thin DaemonSet's main container, with the flags
// of Go's thin_entrypoint (same names, same defaults). Parsed as pflag parses
// them: `--name=value` or `--name value`; a boolean alone means true and takes
// a value only after `=`; an unknown flag is an error (exit 2).
import { defineCommand } from "citty";
import { stat } from "node:fs/promises";
import { installSelf } from "./install.ts";
import { parseBoolFlag } from "./flags.ts";

interface Flag {
  name: string;
  dflt: string | boolean;
  help: string;
  /** Go hides it from --help (testing aids). */
  hidden?: boolean;
}

const S = (name: string, dflt: string, help: string): Flag => ({ name, dflt, help });
const B = (name: string, dflt: boolean, help: string, hidden = false): Flag => ({ name, dflt, help, hidden });

/** Go's flags, in Go's order, then ours (--skip-config-watch, --service-account-dir). */
export const THIN_FLAGS: readonly Flag[] = [
  S("cni-bin-dir", "/host/opt/cni/bin", "CNI binary directory"),
  S("cni-conf-dir", "/host/etc/cni/net.d", "CNI config directory"),
  S("cni-version", "", "CNI version for multus CNI config (e.g. '0.3.1'); must match the master's"),
  S("multus-conf-file", "auto", "multus CNI config file (auto: generate it)"),
  S("multus-bin-file", "/usr/src/multus-cni/bin/multus", "multus binary file path"),
  S("multus-cni-conf-dir", "/host/etc/cni/multus/net.d", "multus specific CNI config directory"),
  B("skip-multus-binary-copy", false, "skip multus binary file copy"),
  S(
    "multus-kubeconfig-file-host",
    "/etc/cni/net.d/multus.d/multus.kubeconfig",
    "kubeconfig path the conf names (host's view)",
  ),
  S("multus-master-cni-file-name", "", "master CNI file in multus-autoconfig-dir (default: first by name)"),
  B("namespace-isolation", false, "namespace isolation"),
  S("global-namespaces", "", "global namespaces, comma separated (with --namespace-isolation)"),
  S("multus-autoconfig-dir", "/host/etc/cni/net.d", "where the master CNI config is looked for"),
  B("multus-log-to-stderr", true, "log to stderr"),
  S("multus-log-level", "", "multus log level (debug, verbose, error, panic)"),
  S("multus-log-file", "", "multus log file"),
  B("override-network-name", false, "use the master's network name"),
  B("cleanup-config-on-exit", false, "remove the generated files on SIGTERM"),
  B("rename-conf-file", false, "rename the master config file to <name>.old"),
  S("readiness-indicator-file", "", "readiness indicator file"),
  S("additional-bin-dir", "", "adds binDir option to configuration"),
  B("skip-tls-verify", false, "skip TLS verify", true),
  B("force-cni-version", false, "force cni version to '--cni-version' (only for e2e testing)", true),
  B("skip-config-watch", false, "write the files once, do not keep them current"),
  S("service-account-dir", "", "token and ca.crt (default $MULTUS_SERVICE_ACCOUNT_DIR, else the pod's)"),
];

export type ThinFlagValues = Record<string, string | boolean>;

/** The command line to flag name -> value, every flag present (its default when not given). */
export function parseThinFlags(argv: readonly string[]): ThinFlagValues {
  const out: ThinFlagValues = Object.fromEntries(THIN_FLAGS.map((f) => [f.name, f.dflt]));
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(arg);
    if (!m) throw new Error(`unexpected argument "${arg}"`);
    const flag = THIN_FLAGS.find((f) => f.name === m[1]);
    if (!flag) throw new Error(`unknown flag: --${m[1]}`);
    if (typeof flag.dflt === "boolean") {
      out[flag.name] = m[2] === undefined ? true : parseBoolFlag(flag.name, m[2]);
      continue;
    }
    if (m[2] !== undefined) out[flag.name] = m[2];
    else if (i + 1 < argv.length) out[flag.name] = argv[++i]!;
    else throw new Error(`flag needs an argument: --${flag.name}`);
  }
  return out;
}

export const thinEntrypointCommand = defineCommand({
  meta: {
    name: "thin-entrypoint",
    description:
      "Thin DaemonSet entrypoint: install multus, write its kubeconfig and 00-multus.conf(list), keep them current",
  },
  args: Object.fromEntries(
    THIN_FLAGS.filter((f) => !f.hidden).map((f) => [
      f.name,
      { type: typeof f.dflt === "boolean" ? "boolean" : "string", description: f.help, default: f.dflt },
    ]),
  ) as Record<string, { type: "string"; description: string; default: string }>,
  async run({ rawArgs }) {
    let flags: ThinFlagValues;
    try {
      flags = parseThinFlags(rawArgs);
    } catch (err) {
      process.stderr.write(`multus thin-entrypoint: ${(err as Error).message}\n`);
      return 2;
    }
    return runThinEntrypoint(flags);
  },
});

async function runThinEntrypoint(f: ThinFlagValues): Promise<number> {
  const s = (name: string) => f[name] as string;
  const b = (name: string) => f[name] as boolean;
  const { checkLogLevel } = await import("../thin/entrypoint-conf.ts");
  const { runEntrypoint, SERVICE_ACCOUNT_DIR } = await import("../thin/entrypoint.ts");
  try {
    // Before anything is written (Go finds it only when rendering the conf), in Go's words.
    try {
      checkLogLevel(s("multus-log-level"));
    } catch (err) {
      throw new Error(`failed to create multus config: ${(err as Error).message}`);
    }
    await verifyFilesExist(f);
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    return 1;
  }
  if (!b("skip-multus-binary-copy")) {
    try {
      await installSelf({ source: s("multus-bin-file"), dest: s("cni-bin-dir"), type: "thin", passthru: false });
    } catch (err) {
      process.stderr.write(`failed at multus copy: ${(err as Error).message}\n`);
      return 1;
    }
  }
  return runEntrypoint({
    cniConfDir: s("cni-conf-dir"),
    cniVersion: s("cni-version"),
    forceCniVersion: b("force-cni-version"),
    multusConfFile: s("multus-conf-file"),
    multusCniConfDir: s("multus-cni-conf-dir"),
    multusKubeconfigFileHost: s("multus-kubeconfig-file-host"),
    multusMasterCniFileName: s("multus-master-cni-file-name"),
    namespaceIsolation: b("namespace-isolation"),
    globalNamespaces: s("global-namespaces"),
    multusAutoconfigDir: s("multus-autoconfig-dir"),
    multusLogToStderr: b("multus-log-to-stderr"),
    multusLogLevel: s("multus-log-level"),
    multusLogFile: s("multus-log-file"),
    overrideNetworkName: b("override-network-name"),
    cleanupConfigOnExit: b("cleanup-config-on-exit"),
    renameConfFile: b("rename-conf-file"),
    readinessIndicatorFile: s("readiness-indicator-file"),
    additionalBinDir: s("additional-bin-dir"),
    skipTlsVerify: b("skip-tls-verify"),
    skipConfigWatch: b("skip-config-watch"),
    serviceAccountDir: s("service-account-dir") || process.env.MULTUS_SERVICE_ACCOUNT_DIR || SERVICE_ACCOUNT_DIR,
    env: process.env,
  });
}

/** Go's checks and messages; the binary only when it is to be copied. */
async function verifyFilesExist(f: ThinFlagValues): Promise<void> {
  const checks: Array<[string, boolean]> = [
    ["cni-conf-dir", true],
    ["cni-bin-dir", !f["skip-multus-binary-copy"]],
    ["multus-bin-file", !f["skip-multus-binary-copy"]],
    ["multus-conf-file", f["multus-conf-file"] !== "auto"],
  ];
  for (const [name, needed] of checks) {
    if (!needed) continue;
    await stat(f[name] as string).catch((err: Error) => {
      throw new Error(`${name} is not found: ${err.message}`);
    });
  }
}
