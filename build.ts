// Builds ONE executable, dist/multus. Flags:
// --bytecode needs --format=esm; --splitting keeps role modules behind import()
// so the shim never evaluates the daemon's graph; a CNI plugin runs in the
// runtime's cwd, so .env/bunfig.toml auto-loading is turned off.
import { $ } from "bun";

const pkg = (await Bun.file(new URL("./package.json", import.meta.url)).json()) as { version: string };
// MULTUS_COMMIT lets an image build (no .git inside) name the commit it was built from.
const commit =
  process.env.MULTUS_COMMIT || (await $`git rev-parse --short HEAD`.nothrow().quiet().text()).trim() || "unknown";
const date = new Date().toISOString();

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
  // JIT's code and profiling data were most of its peak. Measured side by side (daemon,
  // two trivial delegates, 32 in flight): peak RSS 64-67 -> 52-53 MB, RssAnon after the
  // burst 19-22 -> 13-14 MB, ADD p50 no slower (bench/results.md). No env var needed.
  "--compile-jit-policy=1000",
  `--define=MULTUS_VERSION=${JSON.stringify(pkg.version)}`,
  `--define=MULTUS_COMMIT=${JSON.stringify(commit)}`,
  `--define=MULTUS_BUILD_DATE=${JSON.stringify(date)}`,
  "src/main.ts",
  "--outfile",
  "dist/multus",
];
const proc = Bun.spawnSync([process.execPath, ...args], { cwd: import.meta.dir, stdout: "inherit", stderr: "inherit" });
if (proc.exitCode !== 0) {
  console.error("build failed");
  process.exit(proc.exitCode ?? 1);
}
