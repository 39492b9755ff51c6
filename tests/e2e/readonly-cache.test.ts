// cniDir on a read-only mount (a node whose disk went read-only, or a
// misconfigured hostPath): DEL must never hold a pod's teardown forever because
// there is nothing it can remove, and what cannot be written is an I/O failure
// (code 5), not an internal error.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { $ } from "bun";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createWorkdir, runCni, shimConf, startDaemon, type DaemonHandle } from "../helpers/multus.ts";
import { createCleanup, type Cleanup } from "../helpers/netns.ts";
import { canRunE2e, containerId, ensureBinary, netnsPerTest, writeBridgeNetwork } from "../helpers/e2e.ts";

let work: Awaited<ReturnType<typeof createWorkdir>>;
let daemon: DaemonHandle;
let cniDir: string;
const fileCleanup = createCleanup();

beforeAll(async () => {
  if (!canRunE2e) return;
  await ensureBinary();
  work = await createWorkdir();
  fileCleanup.add(() => work.remove());
  cniDir = join(work.dir, "cache");
  await mkdir(cniDir);
  await $`mount -t tmpfs -o size=1m tmpfs ${cniDir} && mkdir ${cniDir}/results && mount -o remount,ro ${cniDir}`.quiet();
  fileCleanup.add(async () => {
    await $`umount ${cniDir}`.nothrow().quiet();
  });
  daemon = await startDaemon(work.dir, { cniDir, binDir: "/usr/lib/cni" });
  fileCleanup.add(() => daemon.stop());
});
afterAll(() => fileCleanup.run());

const ns = netnsPerTest("mtro");
let clusterFile: string;
let cleanup: Cleanup;
beforeEach(async () => {
  if (!canRunE2e) return;
  cleanup = createCleanup();
  ({ file: clusterFile } = await writeBridgeNetwork({ dir: work.dir, tag: "ro", cleanup }));
});
afterEach(async () => {
  if (canRunE2e) await cleanup.run();
});

const shim = (command: string, id: string, netns = ns.path) =>
  runCni(work.shim, {
    command,
    containerId: id,
    netns,
    stdin: shimConf(daemon.socketDir, { clusterNetwork: clusterFile }),
  });

describe.skipIf(!canRunE2e)("cniDir on a read-only mount", () => {
  test("DEL of a container that was never added succeeds, with and without a netns", async () => {
    const id = containerId();
    const del = await shim("DEL", id);
    expect([del.code, del.stdout]).toEqual([0, ""]);
    // containerd's second DEL, at RemovePodSandbox, comes without a netns.
    const again = await shim("DEL", id, "");
    expect([again.code, again.stdout]).toEqual([0, ""]);
  });

  test("ADD fails with code 5 naming the cache it cannot write, before any delegate runs", async () => {
    const id = containerId();
    const add = await shim("ADD", id);
    expect(add.code).toBe(1);
    const err = add.json();
    expect(err.code).toBe(5);
    expect(`${err.msg} ${err.details ?? ""}`).toContain(cniDir);
    // No delegate ran: the pod's netns is untouched.
    expect(await ns.links()).toEqual(["lo"]);
  });
});
