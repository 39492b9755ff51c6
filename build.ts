// Builds ONE executable, dist/multus. Flags:
// --bytecode needs --format=esm; --splitting makes each import() its own chunk,
// parsed only when that branch runs, so the shim neither parses nor evaluates
// the daemon's graph (without it the shim starts about twice as slow, measured
// in bench/results.md); a CNI plugin runs in the runtime's cwd, so
// .env/bunfig.toml auto-loading is turned off.
//
// `bun run build.ts [--target <target>] [--outfile <path>]`: without a target the
// executable is for this machine (dist/multus); a target cross-compiles (Bun fetches
// that runtime from the npm registry) into dist/multus-<target> unless --outfile says
// otherwise. Targets: linux-x64 (needs AVX2), linux-x64-baseline (x86-64 CPUs without
// AVX2), linux-arm64.
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { $ } from "bun";

const TARGETS = {
  "linux-x64": "bun-linux-x64",
  "linux-x64-baseline": "bun-linux-x64-baseline",
  "linux-arm64": "bun-linux-arm64",
} as const;
type Target = keyof typeof TARGETS;

const { values: cli } = parseArgs({
  args: Bun.argv.slice(2),
  options: { target: { type: "string" }, outfile: { type: "string" } },
});
if (cli.target !== undefined && !(cli.target in TARGETS)) {
  console.error(`build: unknown --target ${JSON.stringify(cli.target)}; accepted: ${Object.keys(TARGETS).join(", ")}`);
  process.exit(2);
}
const target = cli.target as Target | undefined;
const outfile = cli.outfile ?? (target ? `dist/multus-${target}` : "dist/multus");

const pkg = (await Bun.file(new URL("./package.json", import.meta.url)).json()) as { version: string };
// MULTUS_COMMIT lets an image build (no .git inside) name the commit it was built from.
const commit =
  process.env.MULTUS_COMMIT || (await $`git rev-parse --short HEAD`.nothrow().quiet().text()).trim() || "unknown";
const date = new Date().toISOString();

// Profile-guided bytecode layout (bench/bytecode-order.ts records the profiles):
// the functions a shim call and a working daemon run sit together at the front
// of the executable, so the daemon pages in ~2.5 MB less of it (bench/results.md,
// "Memory, MB by MB"). The shim's comes first: it starts on every CNI call.
const ORDER = ["shim.txt", "daemon.txt"].map((f) => join(import.meta.dir, "build", "bytecode-order", f));
const order = ORDER.every((f) => existsSync(f)) ? [`--bytecode-order=${ORDER.join(",")}`] : [];

const args = [
  "build",
  "--compile",
  "--splitting",
  "--minify",
  "--bytecode",
  "--format=esm",
  "--no-compile-autoload-dotenv",
  "--no-compile-autoload-bunfig",
  // The JIT tiers up 1000x later: a daemon's hot path is short and I/O-bound, and the
  // JIT's code and profiling data were most of its peak memory; ADD is no slower
  // (bench/results.md, "JIT tier-up policy"). No env var needed.
  "--compile-jit-policy=1000",
  ...order,
  `--define=MULTUS_VERSION=${JSON.stringify(pkg.version)}`,
  `--define=MULTUS_COMMIT=${JSON.stringify(commit)}`,
  `--define=MULTUS_BUILD_DATE=${JSON.stringify(date)}`,
  ...(target ? [`--target=${TARGETS[target]}`] : []),
  "src/main.ts",
  "--outfile",
  outfile,
];
const proc = Bun.spawnSync([process.execPath, ...args], { cwd: import.meta.dir, stdout: "inherit", stderr: "inherit" });
if (proc.exitCode !== 0) {
  console.error("build failed");
  process.exit(proc.exitCode ?? 1);
}
