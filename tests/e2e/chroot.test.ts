// chrootDir: the daemon runs each delegate chrooted, the way the
// reference DaemonSet runs them in /hostroot. The test builds a small root
// with bridge + host-local (and the libraries they link) at /usr/lib/cni, plus
// private bind mounts of /proc, /sys and the pod's netns file.
import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { copyWithLibs, must } from "../helpers/chroot.ts";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createWorkdir, runCni, shimConf, startDaemon } from "../helpers/multus.ts";
import { createCleanup, createNetns, deleteNetns, randomSuffix, type NetnsFixture } from "../helpers/netns.ts";
import {
  bridgeConflist,
  canRunE2e,
  containerId,
  deleteBridge,
  ensureBinary,
  exists,
  PLUGIN_DIR,
  randomPrefix,
  storeIps,
  writeJson,
} from "../helpers/e2e.ts";

const canChroot = canRunE2e && Bun.which("ldd") !== null && Bun.which("mount") !== null;

let work: Awaited<ReturnType<typeof createWorkdir>>;
let ns: NetnsFixture;
let cleanup: ReturnType<typeof createCleanup>;
let mounts: string[];

beforeAll(async () => {
  if (canChroot) await ensureBinary();
});
beforeEach(async () => {
  if (!canChroot) return;
  cleanup = createCleanup();
  mounts = [];
  work = await createWorkdir();
  ns = await createNetns("mtchroot");
});
afterEach(async () => {
  if (!canChroot) return;
  await cleanup.run();
  const problems: string[] = [];
  for (const m of mounts.reverse()) {
    const r = Bun.spawnSync({ cmd: ["umount", m], stderr: "pipe" });
    if (r.exitCode !== 0 && Bun.spawnSync({ cmd: ["umount", "-l", m] }).exitCode !== 0) problems.push(`umount ${m}`);
  }
  await deleteNetns(ns.name);
  // never remove a tree that still has something mounted in it
  const table = await readFile("/proc/self/mounts", "utf8");
  if (table.split("\n").some((l) => l.split(" ")[1]?.startsWith(`${work.dir}/`)))
    problems.push(`mounts left under ${work.dir}`);
  else await work.remove();
  if (problems.length) throw new Error(problems.join("; "));
});

async function bindMount(src: string, dest: string, isFile: boolean): Promise<void> {
  if (isFile) await writeFile(dest, "");
  else await mkdir(dest, { recursive: true });
  must(["mount", "--bind", src, dest]);
  mounts.push(dest);
  must(["mount", "--make-private", dest]); // our unmount must never propagate to the host
}

describe.skipIf(!canChroot)("a daemon with chrootDir", () => {
  test("runs the delegates inside the chroot: host-local's store is under <root>/var/lib/cni/networks", async () => {
    const root = join(work.dir, "root");
    for (const p of ["bridge", "host-local"]) await copyWithLibs(root, join(PLUGIN_DIR, p));
    await bindMount("/proc", join(root, "proc"), false);
    await bindMount("/sys", join(root, "sys"), false);
    await mkdir(join(root, "var/run/netns"), { recursive: true });
    await bindMount(ns.path, join(root, "var/run/netns", ns.name), true);

    const s = randomSuffix(5);
    const name = `chrooted-${s}`;
    const bridge = `mtch${s}`;
    cleanup.add(() => deleteBridge(bridge));
    const list = bridgeConflist({ name, bridge, prefix: randomPrefix(), dataDir: "" });
    // host-local's default dataDir, /var/lib/cni/networks, as seen from inside the chroot
    delete (list.plugins as Array<{ ipam: Record<string, unknown> }>)[0]!.ipam.dataDir;
    const clusterFile = await writeJson(join(work.dir, "cluster.conflist"), list);
    const cniDir = join(work.dir, "cache");
    const daemon = await startDaemon(work.dir, {
      cniDir,
      binDir: PLUGIN_DIR,
      clusterNetwork: clusterFile,
      chrootDir: root,
    });
    cleanup.add(() => daemon.stop());

    const id = containerId();
    const call = { containerId: id, netns: ns.path, stdin: shimConf(daemon.socketDir) };
    const add = await runCni(work.shim, { command: "ADD", ...call });
    expect(add.code).toBe(0);
    const address = add.json().ips[0].address as string;
    const ip = address.split("/")[0]!;
    expect(await ns.addrs("eth0")).toEqual([address]);
    expect(await storeIps(join(root, "var/lib/cni/networks"), name)).toEqual([ip]);
    expect(await exists(join("/var/lib/cni/networks", name))).toBe(false);
    // the daemon itself is not chrooted: its caches are where its config says
    expect(await exists(join(cniDir, id))).toBe(true);

    expect((await runCni(work.shim, { command: "CHECK", ...call })).code).toBe(0);
    const del = await runCni(work.shim, { command: "DEL", ...call });
    expect([del.code, del.stdout]).toEqual([0, ""]);
    expect(await storeIps(join(root, "var/lib/cni/networks"), name)).toEqual([]);
    expect(await ns.links()).toEqual(["lo"]);
    expect(await exists(join(cniDir, id))).toBe(false);
  });
});
