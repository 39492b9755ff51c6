// Records the bytecode-order profiles build.ts lays the executable out by
// (`bun build --bytecode-order`): which functions a shim call and a working
// daemon run, so their bytecode sits together at the front of the executable
// and the rest is never paged in. Run as root after `bun run build.ts`:
//
//   bun bench/bytecode-order.ts [--binary=dist/multus]
//
// writes build/bytecode-order/shim.txt (one shim ADD and DEL) and daemon.txt
// (a daemon with the DaemonSet's config against the fake API with 1,000 other
// pods and 500 NADs: three bursts of 32 ADDs and DELs, two networks each). A
// profile from an older build still applies; re-record when the code a role
// runs changed a lot.
import { copyFile, mkdir, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { BINARY } from "../tests/helpers/multus.ts";
import {
  callCni,
  cniEnv,
  createHost,
  createWorkdir,
  newContainerId,
  planHost,
  removeHost,
  startCluster,
  startDaemon,
} from "./k8s.ts";
import { runPool, timeExec } from "./proc.ts";

const OUT = resolve(import.meta.dir, "../build/bytecode-order");
const { values } = parseArgs({ args: Bun.argv.slice(2), options: { binary: { type: "string", default: BINARY } } });
const h = planHost(32);
await mkdir(OUT, { recursive: true });
await createHost(h);
const w = await createWorkdir(values.binary, h, "trivial");
try {
  const { fake, pods } = await startCluster(h, w, { name: "order", nodePods: 32, otherPods: 1000, nads: 500 });
  const tmp = join(w.dir, "order");
  const d = await startDaemon(w, { tag: "d", env: { BUN_BYTECODE_ORDER_OUT: `${tmp}-daemon` }, fake });
  for (let r = 0; r < 3; r++) {
    const ids = pods.map(newContainerId);
    for (const command of ["ADD", "DEL"] as const) {
      await runPool(32, 32, async (i) => {
        const res = await callCni(w, d, "shim", pods[i]!, command, ids[i]!);
        if (res.error) throw new Error(`${command}: ${res.error}`);
      });
    }
  }
  const id = newContainerId();
  for (const command of ["ADD", "DEL"]) {
    // The shim's profile: the ADD's (a DEL runs the same functions).
    const env = {
      ...cniEnv(pods[0]!, command, id),
      CNI_PATH: w.binDir,
      BUN_BYTECODE_ORDER_OUT: `${tmp}-shim-${command}`,
    };
    const r = await timeExec({ cmd: [w.shim], env, stdin: d.shimConf });
    if (r.code !== 0) throw new Error(`shim ${command}: exit ${r.code}: ${r.stdout}${r.stderr}`);
  }
  await d.stop(); // the daemon writes its profile as it exits
  await fake.stop();
  await copyFile(`${tmp}-shim-ADD`, join(OUT, "shim.txt"));
  await copyFile(`${tmp}-daemon`, join(OUT, "daemon.txt"));
  console.log(`written: ${join(OUT, "shim.txt")}, ${join(OUT, "daemon.txt")}`);
} finally {
  await rm(w.dir, { recursive: true, force: true });
  await removeHost(h);
}
