// `multus validate`: what a pod would get, offline (the work is diag/validate.ts,
// loaded only for this command). Exit 0 when the pod would be attached as
// shown, 1 when there are errors, 2 when an input file cannot be read.
import { defineCommand } from "citty";
import { readFile } from "node:fs/promises";
import type { DelegateReport, Finding, InputFile, ValidateInput, ValidateReport } from "../diag/validate.ts";
import { DEFAULT_DAEMON_CONFIG } from "./config.ts";

async function readInput(path: string): Promise<InputFile> {
  try {
    return { path, text: await readFile(path, "utf8") };
  } catch (err) {
    throw new Error(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

const list = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

function finding(f: Finding): string {
  return `${f.source}${f.where ? `: ${f.where}` : ""}: ${f.message}`;
}

function selectionText(d: DelegateReport): string {
  const s = d.selection;
  if (!s) return "";
  const parts: string[] = [];
  if (s.ips) parts.push(`ips=${s.ips.join(",")}`);
  if (s.mac) parts.push(`mac=${s.mac}`);
  if (s.defaultRoute) parts.push(`default-route=${s.defaultRoute.join(",") || "[]"}`);
  if (s.portMappings) parts.push(`portMappings=${s.portMappings.length}`);
  if (s.bandwidth) parts.push("bandwidth");
  if (s.cniArgs) parts.push(`cni-args=${JSON.stringify(s.cniArgs)}`);
  return parts.join(" ");
}

/** The human form: the pod, its interfaces (one table), each delegate's runtimeConfig, the default route, then notes and errors. */
export function formatReport(r: ValidateReport): string {
  const out: string[] = [];
  if (r.pod) {
    out.push(`pod ${r.pod.namespace}/${r.pod.name}${r.pod.uid ? ` (uid ${r.pod.uid})` : ""}`);
    out.push(
      `networks annotation: ${r.networks.length === 0 ? "none" : r.networks.map((s) => `${s.namespace}/${s.name}${s.interface ? `@${s.interface}` : ""}`).join(", ")}`,
    );
    out.push(
      `default-network override: ${r.defaultNetwork ? `${r.defaultNetwork.namespace}/${r.defaultNetwork.name}` : "none"}`,
    );
  }
  if (r.delegates.length > 0) {
    const rows = [["IFNAME", "NETWORK", "ROLE", "PLUGINS", "CNI", "FROM THE ANNOTATION"]];
    for (const d of r.delegates) {
      const plugins = d.checked ? d.plugins.map((p) => p.type).join(",") : "(not checked)";
      rows.push([d.ifname, d.network, d.role, plugins, d.cniVersion ?? "", selectionText(d)]);
    }
    const widths = rows[0]!.map((_, c) => Math.max(...rows.map((row) => row[c]!.length)));
    out.push(
      "",
      ...rows.map((row) =>
        row
          .map((cell, c) => cell.padEnd(widths[c]!))
          .join("  ")
          .trimEnd(),
      ),
    );
    const withRc = r.delegates.filter((d) => d.plugins.some((p) => p.runtimeConfig));
    if (withRc.length > 0) out.push("", "runtimeConfig (what each plugin receives):");
    for (const d of withRc) {
      for (const p of d.plugins.filter((x) => x.runtimeConfig))
        out.push(`  ${d.ifname} ${p.type}: ${JSON.stringify(p.runtimeConfig)}`);
    }
  }
  if (r.pod) out.push("", `default route: ${defaultRouteText(r)}`);
  if (r.notes.length > 0) out.push("", "notes:", ...r.notes.map((n) => `  ${finding(n)}`));
  if (r.errors.length > 0) out.push("", `errors (${r.errors.length}):`, ...r.errors.map((e) => `  ${finding(e)}`));
  out.push("", r.ok ? "ok: the daemon would attach these networks" : "not ok: the daemon would refuse this pod");
  return `${out.join("\n")}\n`;
}

function defaultRouteText(r: ValidateReport): string {
  if (!r.defaultRoute.requested) {
    return "not asked for: as the plugins' results set it (usually the cluster network's)";
  }
  if (r.defaultRoute.kept.length === 0) return "default-route asked for with no gateway: the pod gets no default route";
  return `${r.defaultRoute.kept.map((k) => `${k.family} via ${k.via} on ${k.ifname}`).join(", ")}; every other default route is removed`;
}

const EXAMPLES = `  multus validate --pod web.yaml --nad nads.yaml
  kubectl get pod web -o yaml > web.yaml; kubectl get net-attach-def -A -o yaml > nads.yaml
  multus validate --pod web.yaml --nad nads.yaml --config /etc/cni/net.d/multus.d/daemon-config.json --json

  Exit 0: the daemon would attach the networks shown; 1: it would refuse the pod (every error is
  listed with its file and place); 2: a file cannot be read. More in docs/cli.md.
`;

export const validateCommand = defineCommand({
  meta: {
    name: "validate",
    description:
      "Show what a pod would get from multus, offline: its network selections, the delegates in order with interface names, each plugin's runtimeConfig and the default route, or every error with where it is; exit 1 on errors",
  },
  args: {
    pod: {
      type: "string",
      description:
        "the pod manifest (YAML or JSON, as kubectl get -o yaml prints it; a workload's pod template counts)",
      required: true,
    },
    nad: {
      type: "string",
      description:
        "a file of NetworkAttachmentDefinitions (several documents or a List allowed); repeat for more files",
    },
    config: {
      type: "string",
      description: `the daemon config (e.g. ${DEFAULT_DAEMON_CONFIG}); without it the cluster network is not checked`,
    },
    ifname: { type: "string", description: "the runtime's CNI_IFNAME", default: "eth0" },
    json: { type: "boolean", description: "print the report as JSON", default: false },
  },
  async run({ args }) {
    const stray = list((args as { _?: unknown })._);
    if (stray.length > 0)
      throw new Error(`unexpected argument "${stray[0]}" (one file per --nad, and the pod with --pod)`);
    let input: ValidateInput;
    try {
      input = {
        pod: await readInput(args.pod),
        nads: await Promise.all(list(args.nad).map(readInput)),
        config: args.config ? await readInput(args.config) : undefined,
        ifname: args.ifname,
      };
    } catch (err) {
      process.stderr.write(`multus validate: ${(err as Error).message}\n`);
      return 2;
    }
    const { validatePod } = await import("../diag/validate.ts");
    const report = await validatePod(input);
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
    return report.ok ? 0 : 1;
  },
});
Object.assign(validateCommand, { examples: EXAMPLES });
