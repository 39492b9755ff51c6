// CNI 1.1 GC and STATUS end to end. Debian's plugins stop at 1.0.0, so the
// cluster network is the recording plugin (it writes down every call it gets).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import { createWorkdir, runCni, shimConf, startDaemon, type DaemonHandle, type ShimRun } from "../helpers/multus.ts";
import { createCleanup, randomSuffix } from "../helpers/netns.ts";
import { buildRecordingPlugin, readRecords } from "../helpers/build-fixtures.ts";
import {
  canRunE2e,
  containerId,
  ensureBinary,
  exists,
  resultCacheEntries,
  writeJson,
  netnsPerTest,
} from "../helpers/e2e.ts";

let work: Awaited<ReturnType<typeof createWorkdir>>;
let daemon: DaemonHandle;
let recorderBin: string;
let cniDir: string;
let record: string;
const network = `rec-cluster-${randomSuffix(5)}`;
const fileCleanup = createCleanup();

/** The recorder as a 1.1.0 cluster network (a conflist file). */
function recorderList(name: string, recordFile: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion: "1.1.0",
    name,
    plugins: [
      {
        type: "recorder",
        recordFile,
        result: {
          cniVersion: "1.1.0",
          interfaces: [{ name: "eth0" }],
          ips: [{ address: "10.55.0.2/24", interface: 0 }],
        },
        ...extra,
      },
    ],
  };
}

beforeAll(async () => {
  if (!canRunE2e) return;
  const [, recorder] = await Promise.all([ensureBinary(), buildRecordingPlugin()]);
  recorderBin = dirname(recorder);
  work = await createWorkdir();
  fileCleanup.add(() => work.remove());
  cniDir = join(work.dir, "cache");
  record = join(work.dir, "cluster.record");
  const clusterFile = await writeJson(join(work.dir, "cluster.conflist"), recorderList(network, record));
  daemon = await startDaemon(work.dir, { cniDir, binDir: recorderBin, clusterNetwork: clusterFile });
  fileCleanup.add(() => daemon.stop());
});
afterAll(() => fileCleanup.run());

const ns = netnsPerTest("mtgc");

function shim(
  command: string,
  id: string,
  extra: Record<string, unknown> = {},
  socketDir = daemon.socketDir,
): Promise<ShimRun> {
  return runCni(work.shim, {
    command,
    containerId: id,
    netns: id ? ns.path : "",
    stdin: shimConf(socketDir, { cniVersion: "1.1.0", ...extra }),
  });
}

const ok = (run: ShimRun) => expect([run.code, run.stdout, run.stderr]).toEqual([0, "", ""]);

describe.skipIf(!canRunE2e)("GC with cniVersion 1.1.0", () => {
  test("deletes cached attachments missing from cni.dev/valid-attachments and passes the valid ones on", async () => {
    const live = containerId("live");
    const stale = containerId("stale");
    for (const id of [live, stale]) {
      const add = await shim("ADD", id);
      expect(add.code).toBe(0);
      expect(add.json()).toEqual({
        cniVersion: "1.1.0",
        interfaces: [{ name: "eth0" }],
        ips: [{ address: "10.55.0.2/24", interface: 0 }],
      });
      expect(await exists(join(cniDir, id))).toBe(true);
      expect(await resultCacheEntries(cniDir, id)).toEqual([`${network}-${id}-eth0`]);
    }
    const before = (await readRecords(record)).length;

    const valid = [{ containerID: live, ifname: "eth0" }];
    ok(await shim("GC", "", { "cni.dev/valid-attachments": valid }));

    const calls = (await readRecords(record)).slice(before);
    expect(calls.map((c) => [c.command, c.env.CNI_CONTAINERID ?? "", c.env.CNI_IFNAME ?? ""])).toEqual([
      ["DEL", stale, "eth0"],
      ["GC", "", ""],
    ]);
    const gc = calls[1]!.conf;
    expect(gc.name).toBe(network);
    expect(gc.cniVersion).toBe("1.1.0");
    expect(gc["cni.dev/valid-attachments"]).toEqual(valid);
    expect(gc["cni.dev/attachments"]).toEqual(valid);

    expect(await exists(join(cniDir, stale))).toBe(false);
    expect(await resultCacheEntries(cniDir, stale)).toEqual([]);
    expect(await exists(join(cniDir, live))).toBe(true);
    expect(await resultCacheEntries(cniDir, live)).toEqual([`${network}-${live}-eth0`]);

    // without a valid-attachments list nothing can be told stale: nothing is deleted
    const mark = (await readRecords(record)).length;
    ok(await shim("GC", ""));
    const again = (await readRecords(record)).slice(mark);
    expect(again.map((c) => c.command)).toEqual(["GC"]);
    expect(again[0]!.conf["cni.dev/valid-attachments"]).toEqual(valid);
    expect(await exists(join(cniDir, live))).toBe(true);

    ok(await shim("DEL", live));
    expect(await exists(join(cniDir, live))).toBe(false);
  });

  test("a config older than 1.1.0 may not GC or STATUS (code 1); the daemon is not asked", async () => {
    const before = (await readRecords(record)).length;
    for (const command of ["GC", "STATUS"]) {
      const run = await shim(command, "", { cniVersion: "1.0.0" });
      expect(run.code).toBe(1);
      expect(run.json()).toMatchObject({
        cniVersion: "1.0.0",
        code: 1,
        msg: `config version does not allow ${command}`,
      });
    }
    expect((await readRecords(record)).length).toBe(before);
  });
});

describe.skipIf(!canRunE2e)("STATUS with cniVersion 1.1.0", () => {
  test("reaches the cluster network's plugin", async () => {
    const before = (await readRecords(record)).length;
    ok(await shim("STATUS", ""));
    const calls = (await readRecords(record)).slice(before);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.command).toBe("STATUS");
    expect(Object.keys(calls[0]!.env).sort()).toEqual(["CNI_COMMAND", "CNI_PATH"]);
    expect(calls[0]!.conf).toMatchObject({ name: network, cniVersion: "1.1.0", type: "recorder" });
  });

  test("the plugin's own error (code 50) reaches the runtime unchanged", async () => {
    const dir = join(work.dir, "status-failing");
    await mkdir(dir);
    const failRecord = join(dir, "record");
    const list = recorderList(`down-${randomSuffix(5)}`, failRecord, {
      error: { code: 50, msg: "plugin not available", details: "the test network is down" },
      failOn: ["STATUS"],
    });
    const clusterFile = await writeJson(join(dir, "cluster.conflist"), list);
    const failing = await startDaemon(dir, {
      cniDir: join(dir, "cache"),
      binDir: recorderBin,
      clusterNetwork: clusterFile,
    });
    try {
      const run = await shim("STATUS", "", {}, failing.socketDir);
      expect(run.code).toBe(1);
      expect(run.json()).toEqual({
        cniVersion: "1.1.0",
        code: 50,
        msg: "plugin not available",
        details: "the test network is down",
      });
      expect((await readRecords(failRecord)).map((c) => c.command)).toEqual(["STATUS"]);
    } finally {
      await failing.stop();
    }
  });
});
