// `multus kubeconfig-generator` (also run when invoked as `kubeconfig_generator`): Go
// Multus's kubeconfig_generator, for thin mode with per-node certificates. It obtains this
// node's client certificate (CN system:multus:<node>) with the bootstrap kubeconfig, exactly
// as the daemon's perNodeCertificate does, writes a kubeconfig naming the certificate's
// current file for the thin plugin to use, keeps renewing the certificate while it runs,
// and removes the kubeconfig on SIGTERM or SIGINT. Go's flags, defaults and messages; a
// check that fails exits 255, as klog.Fatalf does.
import { defineCommand } from "citty";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";

interface Flag {
  name: string;
  dflt: string;
  help: string;
}

/** Go's flags, names and defaults. */
const FLAGS: readonly Flag[] = [
  { name: "certdir", dflt: "/tmp", help: "specify cert directory" },
  { name: "bootstrap-config", dflt: "/tmp/kubeconfig", help: "specify bootstrap kubernetes config" },
  { name: "kubeconfig", dflt: "/run/multus/kubeconfig", help: "specify output kubeconfig path" },
  { name: "cert-duration", dflt: "10m", help: "specify certificate duration" },
];

/** klog.Fatalf's exit code. */
const FATAL = 255;

/** pflag's way: `--name=value` or `--name value`; an unknown flag or a stray argument is an error. */
export function parseGeneratorFlags(argv: readonly string[]): Record<string, string> {
  const out: Record<string, string> = Object.fromEntries(FLAGS.map((f) => [f.name, f.dflt]));
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([^=]+)(?:=([\s\S]*))?$/.exec(argv[i]!);
    if (!m) throw new Error(`unexpected argument "${argv[i]}"`);
    const flag = FLAGS.find((f) => f.name === m[1]);
    if (!flag) throw new Error(`unknown flag: --${m[1]}`);
    if (m[2] !== undefined) out[flag.name] = m[2];
    else if (i + 1 < argv.length) out[flag.name] = argv[++i]!;
    else throw new Error(`flag needs an argument: --${flag.name}`);
  }
  return out;
}

/** Go's kubeConfigTemplate, line for line. */
export function renderKubeconfig(o: { caData: string; server: string; certDir: string }): string {
  return `apiVersion: v1
clusters:
  - cluster:
      certificate-authority-data: ${o.caData}
      server: ${o.server}
    name: default-cluster
contexts:
  - context:
      cluster: default-cluster
      namespace: default
      user: default-auth
    name: default-context
current-context: default-context
kind: Config
preferences: {}
users:
  - name: default-auth
    user:
      client-certificate: ${o.certDir}/multus-client-current.pem
      client-key: ${o.certDir}/multus-client-current.pem
`;
}

/** Go's %q for the paths in messages. */
const q = (s: string) => JSON.stringify(s);

export const kubeconfigGeneratorCommand = defineCommand({
  meta: {
    name: "kubeconfig-generator",
    description:
      "Thin mode with per-node certificates: obtain this node's client certificate, write a kubeconfig naming it, keep it renewed until SIGTERM",
  },
  args: Object.fromEntries(
    FLAGS.map((f) => [f.name, { type: "string", description: f.help, default: f.dflt }]),
  ) as Record<string, { type: "string"; description: string; default: string }>,
  async run({ rawArgs }) {
    let flags: Record<string, string>;
    try {
      flags = parseGeneratorFlags(rawArgs);
    } catch (err) {
      process.stderr.write(`multus kubeconfig-generator: ${(err as Error).message}\n`);
      return 2;
    }
    return runGenerator(flags);
  },
});

async function runGenerator(f: Record<string, string>): Promise<number> {
  const { createLogger } = await import("../util/log.ts");
  const log = createLogger({ level: "verbose", toStderr: true });
  const fatal = (msg: string) => {
    log.error(msg);
    return FATAL;
  };
  const bootstrapConfig = f["bootstrap-config"]!;
  const certDirRaw = f.certdir!;
  // Go meant the --kubeconfig flag here (its code reads the default before parsing the flags).
  const kubeconfigPath = resolve(f.kubeconfig!);

  if (!(await stat(bootstrapConfig).catch(() => undefined)))
    return fatal(`failed to read bootstrap config ${q(bootstrapConfig)}`);
  const st = await stat(certDirRaw).catch(() => undefined);
  if (!st) return fatal(`failed to find cert directory ${q(certDirRaw)}`);
  if (!st.isDirectory()) return fatal(`cert directory ${q(certDirRaw)} is not directory`);
  const { parseGoDuration } = await import("../util/go-duration.ts");
  const durationMs = parseGoDuration(f["cert-duration"]!);
  if (durationMs === undefined)
    return fatal(
      `failed to parse duration ${q(f["cert-duration"]!)}: time: invalid duration ${q(f["cert-duration"]!)}`,
    );
  const nodeName = process.env.MULTUS_NODE_NAME;
  if (!nodeName) return fatal("cannot identify node name from MULTUS_NODE_NAME env variables");
  // The kubeconfig is read by the plugin from any working directory.
  const certDir = resolve(certDirRaw);

  const [{ connectWithNodeCertificate }, { writeFileAtomic }] = await Promise.all([
    import("../k8s/client.ts"),
    import("../util/atomic-write.ts"),
  ]);
  let conn: Awaited<ReturnType<typeof connectWithNodeCertificate>>;
  try {
    conn = await connectWithNodeCertificate({
      nodeName,
      bootstrapKubeconfig: bootstrapConfig,
      certDir,
      durationMs,
      logger: log,
    });
  } catch (err) {
    return fatal(`failed to start cert manager: ${(err as Error).message}`);
  }
  const stopped = new Promise<string>((resolveSignal) => {
    process.once("SIGTERM", () => resolveSignal("SIGTERM"));
    process.once("SIGINT", () => resolveSignal("SIGINT"));
  });
  try {
    // The bootstrap kubeconfig's server and CA (inline or a file), as Go reads them.
    const { tls } = await conn.bootstrapTarget.read();
    const caData = tls.ca ? Buffer.from(tls.ca as Buffer | string).toString("base64") : "";
    const text = renderKubeconfig({ caData, server: conn.bootstrapTarget.server, certDir });
    await writeFileAtomic(kubeconfigPath, text, 0o600);
  } catch (err) {
    conn.nodeCertificate.close();
    conn.http.close();
    return fatal(`cannot create kubeconfig file ${q(kubeconfigPath)}: ${(err as Error).message}`);
  }
  log.verbose(`kubeconfig ${q(kubeconfigPath)} is saved`);

  await stopped;
  log.verbose(`signal received. remove kubeconfig ${q(kubeconfigPath)} and quit.`);
  conn.nodeCertificate.close();
  conn.http.close();
  const { rm } = await import("node:fs/promises");
  await rm(kubeconfigPath).catch((err: Error) =>
    log.error(`failed to remove kubeconfig ${q(kubeconfigPath)}: ${err.message}`),
  );
  return 0;
}
