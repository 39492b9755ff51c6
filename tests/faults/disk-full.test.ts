// Fault case f: cniDir on a disk that is full, or has one page free. What the
// daemon cannot write is an I/O failure (code 5), never an internal error; ADD
// fails before any delegate runs or is rolled back, leaving nothing behind;
// DEL never holds a teardown for good: it succeeds when it only has to remove
// things, and when it must write (a tombstone) it answers code 5 until there
// is space, then succeeds.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { $ } from "bun";
import { rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canRunE2e, exists, PLUGIN_DIR, randomPrefix, storeIps, waitFor, writeJson } from "../helpers/e2e.ts";
import { describeRun } from "../helpers/k8s-e2e.ts";
import { createNetns, deleteNetns, randomSuffix, type NetnsFixture } from "../helpers/netns.ts";
import { startFaultNode, type FaultNode } from "./env.ts";

const PAGE = 4096;

let node: FaultNode;
let filler: string;
const ptp = { name: `dp-${randomSuffix(5)}`, prefix: randomPrefix(), dataDir: "" };
const spaces: NetnsFixture[] = [];
// A delegate whose DEL refuses (code 11, in its own words), as this file says: after
// filling the disk at the path it names ("fill:<path>"), or not at all ("allow").
const REFUSE_DEL_MODE = join(tmpdir(), `mt-refuse-del-${randomSuffix(6)}`);
const REFUSE_DEL = `#!/bin/sh
cat >/dev/null
[ "$CNI_COMMAND" = DEL ] || { [ "$CNI_COMMAND" = ADD ] && echo '{"cniVersion":"1.0.0"}'; exit 0; }
mode=$(cat ${REFUSE_DEL_MODE} 2>/dev/null)
[ "$mode" = allow ] && exit 0
case "$mode" in fill:*) dd if=/dev/zero of="\${mode#fill:}" bs=4096 oflag=append conv=notrunc status=none ;; esac
echo '{"cniVersion":"1.0.0","code":11,"msg":"refuse-del: busy"}'
exit 1
`;

beforeAll(async () => {
  if (!canRunE2e) return;
  node = await startFaultNode({
    cniDirTmpfsSize: "256k",
    daemonConfig: { tombstoneReplaySeconds: 1 },
    scripts: { "refuse-del": REFUSE_DEL },
  });
  await writeJson(join(node.confDir, "refuse-del.conf"), {
    cniVersion: "1.0.0",
    name: "refuse-del",
    type: "refuse-del",
  });
  filler = join(node.cniDir, "filler");
  ptp.dataDir = node.cluster.dataDir;
  await writeJson(join(node.confDir, `${ptp.name}.conf`), {
    cniVersion: "1.0.0",
    name: ptp.name,
    type: "ptp",
    ipam: { type: "host-local", dataDir: ptp.dataDir, ranges: [[{ subnet: `${ptp.prefix}.0/24` }]] },
  });
});
afterEach(async () => {
  if (!canRunE2e) return;
  await freeSpace();
  for (const ns of spaces.splice(0)) await deleteNetns(ns.name);
});
afterAll(async () => {
  await rm(REFUSE_DEL_MODE, { force: true });
  await node?.stop();
});

async function sandbox(): Promise<NetnsFixture> {
  const ns = await createNetns("mtfull");
  spaces.push(ns);
  return ns;
}

/** Bytes a writer can still get on cniDir's filesystem. */
async function freeBytes(): Promise<number> {
  const [avail, size] = (await $`stat -f -c "%a %S" ${node.cniDir}`.text()).trim().split(" ").map(Number);
  return avail! * size!;
}

/** Fills cniDir's filesystem up, then gives `pages` back. */
async function fill(pages = 0): Promise<void> {
  // dd stops at ENOSPC; tmpfs allocates whole pages, so the filler ends on a page boundary.
  await $`dd if=/dev/zero of=${filler} bs=${PAGE} status=none`.nothrow().quiet();
  if (pages > 0) await $`truncate -s -${pages * PAGE} ${filler}`.quiet();
  expect(await freeBytes()).toBe(pages * PAGE);
}

async function freeSpace(): Promise<void> {
  await rm(filler, { force: true });
}

/** The leak audit, once there is space again (the filler is not a leak). */
async function audit(): Promise<string[]> {
  await freeSpace();
  return node.audit({ networks: [node.cluster, node.second, ptp] });
}

describe.skipIf(!canRunE2e)("cniDir full or with one page free", () => {
  for (const pages of [0, 1]) {
    const state = pages === 0 ? "full" : "one page free";

    test(`${state}: ADD fails with code 5 and leaves nothing; its DEL succeeds`, async () => {
      const ns = await sandbox();
      const id = node.containerId();
      await fill(pages);
      const add = await node.cni({ command: "ADD", containerId: id, netns: ns.path });
      expect(add.code, describeRun(add)).toBe(1);
      const err = add.json();
      expect(err.code, describeRun(add)).toBe(5);
      // Full: the delegate cache, written before any delegate runs. One page: the delegate
      // cache fits, the first delegate's result cache does not, and the ADD is rolled back.
      console.log(`disk ${state}: ADD answered ${JSON.stringify(add.json())}`);
      if (pages === 0) expect(err.msg).toBe(`cannot write delegate cache ${join(node.cniDir, id)}`);
      else
        expect(err.msg).toStartWith(
          `failed to write cached network "${node.cluster.name}" result ${node.cniDir}/results/`,
        );
      expect(err.details).toContain("ENOSPC");
      expect(await ns.links()).toEqual(["lo"]);
      const del = await node.cni({ command: "DEL", containerId: id, netns: ns.path });
      expect(del.code, describeRun(del)).toBe(0);
      const again = await node.cni({ command: "DEL", containerId: id, netns: "" });
      expect(again.code, describeRun(again)).toBe(0);
      expect(await audit()).toEqual([]);
    });

    test(`${state}: DEL of an attached pod succeeds and removes everything`, async () => {
      const ns = await sandbox();
      const id = node.containerId();
      const add = await node.cni({ command: "ADD", containerId: id, netns: ns.path });
      expect(add.code, describeRun(add)).toBe(0);
      await fill(pages);
      const del = await node.cni({ command: "DEL", containerId: id, netns: ns.path });
      expect(del.code, describeRun(del)).toBe(0);
      expect(await ns.links()).toEqual(["lo"]);
      expect(await audit()).toEqual([]);
    });
  }

  test("disk full during DEL: the delegate refusing DEL is what the runtime hears, and the retry reaches it", async () => {
    const ns = await sandbox();
    const id = node.containerId();
    // refuse-del as the cluster network: attached first, so its DEL runs last, with
    // nothing after it to free a page before the cache is rewritten.
    const call = {
      containerId: id,
      defaultNetworks: [ptp.name],
      conf: { clusterNetwork: join(node.confDir, "refuse-del.conf") },
    };
    const add = await node.cni({ command: "ADD", ...call, netns: ns.path });
    expect(add.code, describeRun(add)).toBe(0);
    try {
      // ptp's DEL succeeds; refuse-del's fills the disk and refuses: the cache cannot
      // then be cut down to it.
      await writeFile(REFUSE_DEL_MODE, `fill:${filler}`);
      const refused = await node.cni({ command: "DEL", ...call, netns: ns.path });
      expect(refused.code, describeRun(refused)).toBe(1);
      const err = refused.json();
      expect(err.code, describeRun(refused)).toBe(11);
      expect(err.msg).toBe("refuse-del: busy");
      expect(err.details).toContain("the delegate cache was not rewritten");
      expect(err.details).toContain("ENOSPC");
      // The old cache stays: the retry runs DEL for every network again.
      expect(await exists(join(node.cniDir, id))).toBe(true);
      await freeSpace();
      await writeFile(REFUSE_DEL_MODE, "allow");
      const retry = await node.cni({ command: "DEL", ...call, netns: ns.path });
      expect(retry.code, describeRun(retry)).toBe(0);
    } finally {
      await rm(REFUSE_DEL_MODE, { force: true });
    }
    expect(await ns.links()).toEqual(["lo"]);
    expect(await audit()).toEqual([]);
  });

  test("a DEL that must write a tombstone answers code 5 while full, succeeds with one page free", async () => {
    const ns = await sandbox();
    const id = node.containerId();
    const call = { containerId: id, defaultNetworks: [ptp.name] };
    const add = await node.cni({ command: "ADD", ...call, netns: ns.path });
    expect(add.code, describeRun(add)).toBe(0);
    await rm(join(node.binDir, "ptp"));
    try {
      await deleteNetns(ns.name);
      await fill(0);
      const full = await node.cni({ command: "DEL", ...call, netns: "" });
      expect(full.code, describeRun(full)).toBe(1);
      console.log(`disk full: DEL answered ${JSON.stringify(full.json())}`);
      expect(full.json().code, describeRun(full)).toBe(5);
      expect(await exists(join(node.cniDir, id))).toBe(true);

      await freeSpace();
      await fill(1);
      const roomy = await node.cni({ command: "DEL", ...call, netns: "" });
      expect(roomy.code, describeRun(roomy)).toBe(0);
      expect(await exists(join(node.cniDir, "tombstones", `${id}-net1.json`))).toBe(true);
    } finally {
      await symlink(join(PLUGIN_DIR, "ptp"), join(node.binDir, "ptp")).catch(() => undefined);
    }
    // The plugin back (and space again), the replay releases what ptp owed.
    await freeSpace();
    await waitFor(
      "the tombstone to be replayed",
      async () => (await storeIps(ptp.dataDir, ptp.name)).length === 0,
      10_000,
    );
    await waitFor(
      "the tombstone to go",
      async () => !(await exists(join(node.cniDir, "tombstones", `${id}-net1.json`))),
      10_000,
    );
    expect(await audit()).toEqual([]);
  });
});
