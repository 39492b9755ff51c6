// readinessindicatorfile per request, end to end: in thick mode with a
// user-supplied conf (the key comes in the runtime's stdin, nothing strips it)
// and in thin mode. ADD, GC and STATUS wait for the file, bounded, then code 11
// naming it; DEL goes ahead with a warning.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  BINARY,
  createWorkdir,
  runCni,
  shimConf,
  startDaemon,
  type DaemonHandle,
  type ShimRun,
} from "../helpers/multus.ts";
import { createCleanup, randomSuffix } from "../helpers/netns.ts";
import {
  canRunE2e,
  containerId,
  ensureBinary,
  exists,
  PLUGIN_DIR,
  storeIps,
  waitFor,
  type BridgeNet,
  writeBridgeNetwork,
  netnsPerTest,
} from "../helpers/e2e.ts";

let work: Awaited<ReturnType<typeof createWorkdir>>;
let daemon: DaemonHandle;
let cluster: BridgeNet;
let clusterFile: string;
let cniDir: string;
let thin: string;
const fileCleanup = createCleanup();

beforeAll(async () => {
  if (!canRunE2e) return;
  await ensureBinary();
  work = await createWorkdir();
  fileCleanup.add(() => work.remove());
  cniDir = join(work.dir, "cache");
  ({ net: cluster, file: clusterFile } = await writeBridgeNetwork({
    dir: work.dir,
    tag: "cluster",
    cleanup: fileCleanup,
  }));
  // The binary installed as `multus` is the thin plugin.
  await mkdir(join(work.dir, "thin"));
  thin = join(work.dir, "thin", "multus");
  await symlink(BINARY, thin);
  // No readinessindicatorfile here: the daemon would wait for it at start. It comes with each request.
  daemon = await startDaemon(work.dir, { cniDir, binDir: PLUGIN_DIR, logToStderr: true, logLevel: "verbose" });
  fileCleanup.add(() => daemon.stop());
});

afterAll(() => fileCleanup.run());

const ns = netnsPerTest("mtrdy");

/** A path no test has created yet. */
const indicator = () => join(work.dir, `ready-${randomSuffix(8)}`);

/** A call through the shim, the user's conf naming the readiness indicator file. */
function thick(command: string, id: string, extra: Record<string, unknown>): Promise<ShimRun> {
  return runCni(work.shim, {
    command,
    containerId: id,
    netns: ns.path,
    stdin: shimConf(daemon.socketDir, { cniVersion: "1.1.0", clusterNetwork: clusterFile, ...extra }),
  });
}

async function expectNothingAttached(id: string): Promise<void> {
  expect(await ns.links()).toEqual(["lo"]);
  expect(await storeIps(cluster.dataDir, cluster.name)).toEqual([]);
  expect(await exists(join(cniDir, id))).toBe(false);
}

describe.skipIf(!canRunE2e)("readinessindicatorfile in thick mode, from the user's conf", () => {
  test("ADD waits for the file, then attaches once it appears", async () => {
    const file = indicator();
    const id = containerId("rdywait");
    const add = thick("ADD", id, { readinessindicatorfile: file });
    await waitFor(
      "the daemon to say ADD waits",
      () => daemon.stderr().includes(`for readiness indicator file ${file}`),
      20_000,
    );
    // Waiting: nothing was done for the pod yet.
    expect(await exists(join(cniDir, id))).toBe(false);
    expect(await ns.links()).toEqual(["lo"]);
    await writeFile(file, "");
    const r = await add;
    expect(r.code).toBe(0);
    expect(r.json().interfaces.some((i: { name: string }) => i.name === "eth0")).toBe(true);
    expect(await ns.links()).toContain("eth0");
    expect((await thick("DEL", id, { readinessindicatorfile: file })).code).toBe(0);
    await expectNothingAttached(id);
  });

  test("ADD gives up at its bound with code 11 naming the file; nothing attached", async () => {
    const file = indicator();
    const id = containerId("rdyto");
    const r = await thick("ADD", id, { readinessindicatorfile: file, readinessIndicatorTimeoutSeconds: 0.4 });
    expect(r.code).toBe(1);
    expect(r.json()).toMatchObject({ code: 11, msg: `still waiting for readinessindicatorfile @ ${file}` });
    expect(r.json().details).toContain("waited 0.4 s");
    await expectNothingAttached(id);
  });

  test("STATUS and GC wait too, and give up the same way", async () => {
    const file = indicator();
    for (const command of ["STATUS", "GC"]) {
      const r = await thick(command, "", { readinessindicatorfile: file, readinessIndicatorTimeoutSeconds: 0.3 });
      expect([command, r.code]).toEqual([command, 1]);
      expect(r.json()).toMatchObject({ code: 11, msg: `still waiting for readinessindicatorfile @ ${file}` });
    }
  });

  test("DEL goes ahead without the file, with a warning", async () => {
    const file = indicator();
    await writeFile(file, "");
    const id = containerId("rdydel");
    expect((await thick("ADD", id, { readinessindicatorfile: file })).code).toBe(0);
    const gone = indicator();
    const del = await thick("DEL", id, { readinessindicatorfile: gone, readinessIndicatorTimeoutSeconds: 0.3 });
    expect(del.code).toBe(0);
    await expectNothingAttached(id);
    const warned = daemon
      .stderr()
      .split("\n")
      .filter((l) => l.includes(`not found on CNI DEL @ ${gone}`));
    expect(warned).toHaveLength(1);
    expect(warned[0]).toContain(`containerID=${id}`);
  });
});

describe.skipIf(!canRunE2e)("readinessindicatorfile in thin mode", () => {
  const thinConf = (extra: Record<string, unknown>) => ({
    cniVersion: "1.1.0",
    name: "multus-cni-network",
    type: "multus",
    clusterNetwork: clusterFile,
    binDir: PLUGIN_DIR,
    cniDir,
    logLevel: "verbose",
    ...extra,
  });

  test("ADD waits and gives up with code 11; DEL goes ahead with a warning", async () => {
    const file = indicator();
    const id = containerId("rdythin");
    const add = await runCni(thin, {
      command: "ADD",
      containerId: id,
      netns: ns.path,
      stdin: thinConf({ readinessindicatorfile: file, readinessIndicatorTimeoutSeconds: 0.3 }),
    });
    expect(add.code).toBe(1);
    expect(add.json()).toMatchObject({ code: 11, msg: `still waiting for readinessindicatorfile @ ${file}` });
    expect(add.stderr).toContain(`waiting up to 0.3 s for readiness indicator file ${file}`);
    await expectNothingAttached(id);
    const del = await runCni(thin, {
      command: "DEL",
      containerId: id,
      netns: ns.path,
      stdin: thinConf({ readinessindicatorfile: file }),
    });
    expect(del.code).toBe(0);
    expect(del.stderr).toContain(`readiness indicator file not found on CNI DEL @ ${file}`);
  });

  test("ADD proceeds when the file is there", async () => {
    const file = indicator();
    await writeFile(file, "");
    const id = containerId("rdythok");
    const call = (command: string) =>
      runCni(thin, { command, containerId: id, netns: ns.path, stdin: thinConf({ readinessindicatorfile: file }) });
    const add = await call("ADD");
    expect(add.code).toBe(0);
    expect(await ns.links()).toContain("eth0");
    // The thin plugin says what the request did, as the daemon does.
    const [addr] = await ns.addrs("eth0");
    expect(add.stderr).toMatch(
      new RegExp(`\\[verbose\\] ADD finished in [\\d.]+ ms: ${cluster.name}\\(bridge\\) eth0 ${addr}`),
    );
    expect((await call("DEL")).code).toBe(0);
    await expectNothingAttached(id);
  });
});
