// connectionLimit 1 with a short queue deadline: a second request that cannot
// get the slot in time is refused with CNI code 11 (try again later).
import { afterAll, describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildRecordingPlugin } from "../helpers/build-fixtures.ts";
import { canRunE2e, containerId, createBinDir, ensureBinary, writeJson } from "../helpers/e2e.ts";
import { createWorkdir, runCni, shimConf, startDaemon, type DaemonHandle } from "../helpers/multus.ts";
import { createCleanup, createNetns, deleteNetns } from "../helpers/netns.ts";

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
