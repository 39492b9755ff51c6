// Picks the role before anything heavy is imported: by the invoked name
// (multus-shim, multus-daemon, multus in thin mode, passthru, kubeconfig_generator) or by subcommand.
// Each role module sits behind import(), so in the compiled binary the shim
// never evaluates the daemon's graph. In a compiled binary argv[0] is "bun" and
// argv[1] an internal path, so user arguments start at argv[2];
// process.argv0 is the name we were invoked as.
import type { SkelIO } from "./cni/skel.ts";

const invoked = (process.argv0.split("/").pop() ?? "").replace(/\.exe$/, "");
const args = process.argv.slice(2);

/** Runs a CNI plugin role (shim or thin) with the process's env, stdin and stdout. */
async function runPluginRole(load: () => Promise<(io: SkelIO) => Promise<number>>): Promise<number> {
  const { readStdinIfCni, writeStdout } = await import("./shim/io.ts");
  const run = await load();
  const env = process.env;
  let out = "";
  const code = await run({
    env,
    stdin: await readStdinIfCni(env),
    stdout: (s) => {
      out += s;
    },
    stderr: (s) => {
      process.stderr.write(s);
    },
  });
  await writeStdout(out);
  return code;
}

async function runShimRole(): Promise<number> {
  if (args[0] === "-version" || args[0] === "-v" || args[0] === "--version") {
    const { versionLine } = await import("./version.ts");
    process.stdout.write(`${versionLine("multus-shim")}\n`);
    return 0;
  }
  return runPluginRole(async () => (await import("./shim/run.ts")).runShim);
}

/** The passthru CNI plugin (head of the auxiliary chain), as light as the shim. */
function runPassthruRole(): Promise<number> {
  return runPluginRole(async () => (await import("./passthru/run.ts")).runPassthru);
}

/**
 * `multus probe`, the DaemonSet's exec probes: a process every few seconds, charged to the
 * pod's memory, so it skips the CLI (citty) as the shim does. `--help` still goes through it.
 */
async function runProbeRole(): Promise<number> {
  const { runProbe } = await import("./cli/probe-run.ts");
  return runProbe(args.slice(1));
}

async function main(): Promise<number> {
  if (invoked === "multus-shim") return runShimRole();
  if (invoked === "passthru") return runPassthruRole();
  // Installed as `multus` (thin mode) and called by a runtime: no arguments, CNI_COMMAND set.
  if (invoked === "multus" && args.length === 0 && process.env.CNI_COMMAND) {
    return runPluginRole(async () => (await import("./thin/run.ts")).runThin);
  }
  // `multus daemon` too goes straight to the daemon: through cli/root.ts it would
  // evaluate citty (and consola's full entry), daemon memory held for good.
  if (invoked === "multus-daemon" || args[0] === "daemon") {
    const { runDaemonCommand } = await import("./cli/daemon.ts");
    return runDaemonCommand(invoked === "multus-daemon" ? args : args.slice(1));
  }
  if (args[0] === "probe" && !args.includes("--help") && !args.includes("-h")) return runProbeRole();
  if (args[0] === "shim") {
    args.shift();
    return runShimRole();
  }
  const { runCli } = await import("./cli/root.ts");
  // Go ships it as a binary of its own: a symlink of that name runs the subcommand.
  if (invoked === "kubeconfig_generator") return runCli(["kubeconfig-generator", ...args]);
  return runCli(args);
}

const code = await main();
// A plugin role is done once stdout is written: exit now rather than wait for
// idle sockets to close, a cost on every shim call. Long-running roles return
// only when they are finished too.
process.exit(code);
