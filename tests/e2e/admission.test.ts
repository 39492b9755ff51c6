// connectionLimit through the compiled daemon: at most `limit` requests run
// their delegates at once, waiting requests are admitted DEL first, a request
// that cannot get a slot in time is refused with CNI code 11, and probes and
// /metrics answer while every slot is taken.
import { afterAll, describe, expect, test } from "bun:test";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildRecordingPlugin, readRecords, type PluginRecord } from "../helpers/build-fixtures.ts";
import {
  canRunE2e,
  containerId,
  createBinDir,
  ensureBinary,
  socketRequest,
  waitFor,
  writeJson,
} from "../helpers/e2e.ts";
import { createWorkdir, runCni, shimConf, startDaemon, type DaemonHandle } from "../helpers/multus.ts";
import { createCleanup, createNetns, deleteNetns } from "../helpers/netns.ts";
import { freePort, scrapeMetrics } from "../helpers/prom-text.ts";

const cleanup = createCleanup();
afterAll(() => cleanup.run());

describe.skipIf(!canRunE2e)("queue deadline", () => {
  test("a request waiting past queueDeadlineSeconds gets code 11 naming saturation", async () => {
    const [, recorder] = await Promise.all([ensureBinary(), buildRecordingPlugin()]);
    const work = await createWorkdir();
    cleanup.add(() => work.remove());
    // The recorder's ADD answers only once the gate exists: the first request holds the slot until then.
    const gate = join(work.dir, "gate");
    const slow = await writeJson(join(work.dir, "slow.conflist"), {
      cniVersion: "1.0.0",
      name: "slow",
      plugins: [{ type: "recorder", recordFile: join(work.dir, "rec"), waitForFile: gate }],
    });
    const binDir = await createBinDir(join(work.dir, "plugins"), { extra: { recorder } });
    const daemon: DaemonHandle = await startDaemon(work.dir, {
      cniDir: join(work.dir, "cache"),
      binDir,
      clusterNetwork: slow,
      connectionLimit: 1,
      queueDeadlineSeconds: 0.3,
    });
    cleanup.add(() => daemon.stop());
    const [a, b] = [await createNetns("mtq"), await createNetns("mtq")];
    cleanup.add(() => deleteNetns(a.name));
    cleanup.add(() => deleteNetns(b.name));
    const call = (ns: typeof a) =>
      runCni(work.shim, {
        command: "ADD",
        containerId: containerId(),
        netns: ns.path,
        stdin: shimConf(daemon.socketDir),
      });
    // Whichever reaches the daemon first holds the only slot; the other must be refused meanwhile.
    const calls = [call(a), call(b)];
    const first = await Promise.race(calls);
    expect(first.code).toBe(1);
    expect(first.json()).toMatchObject({ code: 11, msg: expect.stringContaining("saturated") });
    await writeFile(gate, "");
    const runs = await Promise.all(calls);
    expect(runs.map((r) => r.code).sort()).toEqual([0, 1]);
  });
});

/** The most plugin runs that were between their start and end record at once. */
function maxOverlap(records: PluginRecord[]): number {
  let running = 0;
  let max = 0;
  for (const r of records) {
    running += r.command === "end" ? -1 : 1;
    max = Math.max(max, running);
  }
  return max;
}

const starts = (records: PluginRecord[]) =>
  records.filter((r) => r.command !== "end").map((r) => `${r.command} ${r.env.CNI_CONTAINERID}`);

describe.skipIf(!canRunE2e)("connectionLimit 2 with blocking delegates", () => {
  test("two run at once, a DEL queued after ADDs runs before them, probes and /metrics answer meanwhile", async () => {
    const [, recorder] = await Promise.all([ensureBinary(), buildRecordingPlugin()]);
    const work = await createWorkdir();
    cleanup.add(() => work.remove());
    const record = join(work.dir, "rec");
    const gates = join(work.dir, "gates");
    await mkdir(gates);
    const open = (id: string) => writeFile(join(gates, id), "");
    const gated = await writeJson(join(work.dir, "gated.conflist"), {
      cniVersion: "1.0.0",
      name: "gated",
      plugins: [{ type: "recorder", recordFile: record, gateDir: gates, recordEnd: true }],
    });
    const metricsPort = await freePort();
    const daemon = await startDaemon(work.dir, {
      cniDir: join(work.dir, "cache"),
      binDir: await createBinDir(join(work.dir, "plugins"), { extra: { recorder } }),
      clusterNetwork: gated,
      connectionLimit: 2,
      queueDeadlineSeconds: 120,
      metricsPort,
    });
    cleanup.add(() => daemon.stop());
    const ns = await createNetns("mtq");
    cleanup.add(() => deleteNetns(ns.name));
    const cni = (command: string, id: string) =>
      runCni(work.shim, { command, containerId: id, netns: ns.path, stdin: shimConf(daemon.socketDir) });
    const gauges = async () => {
      const page = await scrapeMetrics(metricsPort);
      if (!page) return undefined;
      const queued = (command: string) => page.value("multus_requests_queued", { command }) ?? 0;
      return { inFlight: page.value("multus_requests_in_flight"), add: queued("ADD"), del: queued("DEL") };
    };

    const adds = ["a1", "a2", "a3", "a4"].map((t) => containerId(t));
    const addRuns = adds.map((id) => cni("ADD", id));
    // Two ADDs run (their plugins are blocked on their gates), two wait: the gauges say so.
    await waitFor("2 ADDs running and 2 queued", async () => {
      const g = await gauges();
      return g?.inFlight === 2 && g.add === 2 && (await readRecords(record)).length === 2;
    });
    const running = starts(await readRecords(record)).map((s) => s.split(" ")[1]!);
    expect(running).toHaveLength(2);

    // A saturated daemon is not a dead one: probes never queue.
    const socket = join(daemon.socketDir, "multus.sock");
    expect((await socketRequest(socket, "/healthz", { method: "GET" })).status).toBe(200);
    expect((await socketRequest(socket, "/readyz", { method: "GET" })).status).toBe(200);

    const del = containerId("d1");
    await open(del);
    const delRun = cni("DEL", del);
    await waitFor("the DEL to be queued", async () => (await gauges())?.del === 1);

    // One slot frees: the DEL, queued last, gets it before the two ADDs queued before it.
    await open(running[0]!);
    await waitFor("the DEL to run", async () => (await readRecords(record)).some((r) => r.command === "DEL"));
    expect((await delRun).code).toBe(0);
    for (const id of adds) await open(id);
    const results = await Promise.all(addRuns);
    expect(results.map((r) => r.code)).toEqual([0, 0, 0, 0]);

    const records = await readRecords(record);
    const order = starts(records);
    expect(order.slice(0, 3)).toEqual([`ADD ${running[0]}`, `ADD ${running[1]}`, `DEL ${del}`]);
    expect(order.slice(3).sort()).toEqual(
      adds
        .filter((id) => !running.includes(id))
        .map((id) => `ADD ${id}`)
        .sort(),
    );
    expect(maxOverlap(records)).toBe(2);
    const after = await gauges();
    expect(after).toEqual({ inFlight: 0, add: 0, del: 0 });
  });
});
