// Floors mode: what a paced ADD costs before multus does anything. Each
// process is started the way the A/B mode starts the shim (bench/proc.ts
// timeExec: spawn, pipes, wait), one call every `interval` ms with the commands
// interleaved, so every row sees the same machine and the same idle gaps:
//
//   /bin/true                       exec and reap, the kernel's share
//   trivial delegate                the A/B mode's dash script, as the daemon runs it twice per ADD
//   empty compiled Bun program      the runtime's start and exit (compiled with build.ts's flags)
//   minimal Bun shim                read stdin, POST it over a unix socket, print the answer
//   multus-shim ADD                 ours, against an instant daemon (a canned 1.1.0 result)
//
// The daemon here is a Bun.serve in this process that answers at once: the rows
// time the client side only. No root needed.
import { chmod, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BenchMode } from "./mode.ts";
import { timeExec } from "./proc.ts";
import { fmtMs, summarize, type Table } from "./stats.ts";
import { NOOP_SCRIPT } from "./k8s.ts";

const EMPTY = "process.exit(0);\n";
// The least a Bun shim can do: the request is the shim's (env + base64 stdin), the reply is printed.
const MINIMAL_SHIM = `const stdin = new Uint8Array(await Bun.stdin.arrayBuffer());
const body = JSON.stringify({ env: { CNI_COMMAND: "ADD" }, config: Buffer.from(stdin).toString("base64") });
const res = await fetch("http://multus/cni", { unix: process.argv[2], method: "POST", body });
await Bun.write(Bun.stdout, await res.text());
process.exit(0);
`;
const RESULT = {
  cniVersion: "1.1.0",
  interfaces: [{ name: "eth0", sandbox: "/var/run/netns/bench" }],
  ips: [{ address: "10.250.0.5/24", interface: 0 }],
};

/** Compiles `source` as build.ts compiles src/main.ts (bytecode, ESM, no .env/bunfig autoload). */
async function compile(dir: string, name: string, source: string): Promise<string> {
  const src = join(dir, `${name}.ts`);
  const out = join(dir, name);
  await writeFile(src, source);
  const flags = [
    "--minify",
    "--bytecode",
    "--format=esm",
    "--no-compile-autoload-dotenv",
    "--no-compile-autoload-bunfig",
  ];
  const proc = Bun.spawn([process.execPath, "build", "--compile", ...flags, src, "--outfile", out], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
  if (code !== 0) throw new Error(`compiling ${name} failed: ${err}`);
  return out;
}

export const floorsMode: BenchMode = {
  name: "floors",
  title: "Floors of a paced ADD",
  flags: { rounds: { type: "string" }, interval: { type: "string" } },
  async run({ values, quick, binary, progress }) {
    const rounds = typeof values.rounds === "string" ? Number.parseInt(values.rounds, 10) : quick ? 10 : 60;
    const intervalMs = typeof values.interval === "string" ? Number.parseInt(values.interval, 10) : 100;
    const dir = await mkdtemp(join(tmpdir(), "multus-bench-floors-"));
    const socket = join(dir, "multus.sock");
    const server = Bun.serve({ unix: socket, fetch: () => Response.json({ Result: RESULT }) });
    try {
      progress("compiling the empty program and the minimal shim");
      const empty = await compile(dir, "empty", EMPTY);
      const minimal = await compile(dir, "minimal-shim", MINIMAL_SHIM);
      const delegate = join(dir, "bench-noop");
      await writeFile(delegate, NOOP_SCRIPT);
      await chmod(delegate, 0o755);
      const shim = join(dir, "multus-shim");
      await symlink(binary, shim);
      // What the daemon's 00-multus.conf gives the shim under the DaemonSet's config.
      const shimConf = JSON.stringify({
        cniVersion: "0.3.1",
        name: "multus-cni-network",
        type: "multus-shim",
        logLevel: "verbose",
        logToStderr: true,
        daemonSocketDir: dir,
      });
      const cniEnv = {
        CNI_COMMAND: "ADD",
        CNI_CONTAINERID: "0123456789abcdef",
        CNI_NETNS: "/var/run/netns/bench",
        CNI_IFNAME: "eth0",
        CNI_PATH: dir,
        CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web;K8S_POD_UID=1234",
      };
      const delegateConf = JSON.stringify({ cniVersion: "1.0.0", name: "cluster", type: "bench-noop" });
      const rows: Array<{ name: string; cmd: string[]; env: Record<string, string>; stdin?: string }> = [
        { name: "/bin/true", cmd: ["/bin/true"], env: {} },
        { name: "trivial delegate (dash script), ADD", cmd: [delegate], env: cniEnv, stdin: delegateConf },
        { name: "empty compiled Bun program", cmd: [empty], env: {} },
        { name: "minimal Bun shim (stdin, POST, print)", cmd: [minimal, socket], env: {}, stdin: shimConf },
        { name: "multus-shim ADD, instant daemon", cmd: [shim], env: cniEnv, stdin: shimConf },
      ];
      const ms = rows.map(() => [] as number[]);
      const cpu = rows.map(() => [] as number[]);
      progress(`${rounds} rounds, one call every ${intervalMs} ms, the ${rows.length} commands interleaved`);
      for (let r = 0; r < rounds; r++) {
        for (const [i, row] of rows.entries()) {
          await Bun.sleep(intervalMs);
          const t = await timeExec({ cmd: row.cmd, env: row.env, stdin: row.stdin });
          if (t.code !== 0) throw new Error(`${row.name}: exit ${t.code}: ${t.stdout}${t.stderr}`);
          ms[i]!.push(t.ms);
          cpu[i]!.push(t.cpuMs);
        }
      }
      const table: Table = {
        title: `Floors: spawn to reaped, one call every ${intervalMs} ms (ms)`,
        headers: ["process", "wall p50", "wall p99", "CPU p50"],
        rows: rows.map((row, i) => {
          const w = summarize(ms[i]!);
          return [row.name, fmtMs(w.p50), fmtMs(w.p99), fmtMs(summarize(cpu[i]!).p50)];
        }),
        notes: [
          `${rounds} rounds; wall from spawn to exit as the A/B mode times the shim (bench/proc.ts timeExec); CPU: rusage.`,
          "The empty program and the minimal shim are compiled with build.ts's flags; the daemon is an in-process Bun.serve that answers at once.",
        ],
      };
      const p50 = (i: number) => summarize(ms[i]!).p50;
      return {
        tables: [table],
        targets: [
          `runtime floor (empty compiled Bun program) p50 ${fmtMs(p50(2))} ms; ours over the minimal Bun shim: ${fmtMs(p50(4) - p50(3))} ms`,
        ],
        settings: { rounds, intervalMs },
        json: { rows: rows.map((row, i) => ({ name: row.name, wall: summarize(ms[i]!), cpu: summarize(cpu[i]!) })) },
      };
    } finally {
      server.stop(true);
      await rm(dir, { recursive: true, force: true });
    }
  },
};
