// Hostile plugin lookups through the compiled shim and daemon: a NAD whose
// type is a path, and a bin dir entry that is a symlink out of the bin dirs
// into a place others can write. Both are refused before exec with a CNI
// error naming the plugin; a symlink to Debian's root-owned plugins (what the
// test bin dir is made of) keeps working.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, chown, mkdir, stat, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  canRunE2e,
  containerId,
  exists,
  goShimBody,
  netnsPerTest,
  socketRequest,
  workdirPerTest,
} from "../helpers/e2e.ts";
import { startDaemon } from "../helpers/multus.ts";
import { describeRun, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";
import { randomSuffix } from "../helpers/netns.ts";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";

let env: K8sEnv;
let marker = "";

beforeAll(async () => {
  if (!canRunE2e) return;
  env = await startK8sEnv({ withRecorder: true });
  // A plugin in a world-writable dir: anyone could have put it there. Running it leaves a marker.
  const open = join(env.dir, "world-writable");
  await mkdir(open);
  await chmod(open, 0o777);
  marker = join(env.dir, "evil-ran");
  await writeFile(join(open, "evil"), `#!/bin/sh\ntouch ${marker}\necho '{}'\n`, { mode: 0o755 });
  await symlink(join(open, "evil"), join(env.binDir, "evil"));
});
afterAll(() => env?.stop());

const ns = netnsPerTest("mts");

describe.skipIf(!canRunE2e)("plugin lookup refuses what could run another file", () => {
  test.each([
    ["an absolute path", "/usr/lib/cni/bridge", "invalid plugin type"],
    ["a parent traversal", "../../../../bin/sh", "invalid plugin type"],
    ["a symlink into a world-writable dir", "evil", 'plugin "evil" refused'],
  ])("a NAD whose type is %s: code 7 naming the plugin, nothing run or attached", async (_what, type, msg) => {
    const name = `hostile-${randomSuffix(5)}`;
    env.createNad({ name, config: { cniVersion: "1.0.0", name, type } });
    const pod = env.createPod({ annotations: { [NETWORKS]: name } });
    const id = containerId();
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
    expect(r.code, describeRun(r)).toBe(1);
    const err = r.json();
    expect(err.code).toBe(7);
    expect(err.msg).toContain(msg);
    expect(`${err.msg} ${err.details ?? ""}`).toContain(JSON.stringify(type));
    expect(await exists(marker)).toBe(false);
    expect(await ns.links()).toEqual(["lo"]);
    const d = await env.cni("DEL", { pod, containerId: id, netns: ns.path });
    expect(d.code, describeRun(d)).toBe(0);
  });

  test("the bin dir's symlinks to root-owned plugins keep working", async () => {
    const pod = env.createPod({});
    const id = containerId();
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
    expect(r.code, describeRun(r)).toBe(0);
    expect(await ns.links()).toEqual(["lo", "eth0"]);
    const d = await env.cni("DEL", { pod, containerId: id, netns: ns.path });
    expect(d.code, describeRun(d)).toBe(0);
  });
});

describe.skipIf(!canRunE2e)("the daemon's socket", () => {
  const { work, cleanup } = workdirPerTest();

  test.each([
    ["writable by others", 0o777, 0, "is writable by group or others (mode 0777)"],
    ["writable by its group", 0o770, 0, "is writable by group or others (mode 0770)"],
    ["owned by another user", 0o700, 4321, "(mode 0700) is owned by uid 4321, not the daemon's uid 0"],
  ])("an existing socket dir %s: the daemon exits 3 naming the dir and its mode", async (_what, mode, uid, why) => {
    const socketDir = join(work.dir, "sock");
    await mkdir(socketDir);
    await chmod(socketDir, mode);
    if (uid !== 0) await chown(socketDir, uid, uid);
    const started = startDaemon(work.dir, { socketDir });
    started.then((d) => cleanup.add(() => d.stop("SIGKILL"))).catch(() => undefined);
    await expect(started).rejects.toThrow(`daemon exited with 3: `);
    await expect(started).rejects.toThrow(`socket dir ${socketDir} ${why}`);
    expect(await exists(join(socketDir, "multus.sock"))).toBe(false);
  });

  test("an existing socket dir of ours that only we can write (0755) is served and tightened to 0700", async () => {
    const socketDir = join(work.dir, "sock");
    await mkdir(socketDir, { mode: 0o755 });
    const d = await startDaemon(work.dir, { socketDir });
    cleanup.add(() => d.stop());
    expect((await stat(socketDir)).mode & 0o7777).toBe(0o700);
  });

  test("enableDelegateEndpoint false: /delegate answers 403 with a CNI error; /cni is served as before", async () => {
    const d = await startDaemon(work.dir, { enableDelegateEndpoint: false });
    cleanup.add(() => d.stop());
    const sock = join(d.socketDir, "multus.sock");
    const body = goShimBody(
      { CNI_COMMAND: "ADD", CNI_CONTAINERID: "c1", CNI_NETNS: "/proc/1/ns/net", CNI_IFNAME: "net9", CNI_PATH: "/x" },
      { cniVersion: "1.0.0", name: "n", type: "bridge" },
    );
    const r = await socketRequest(sock, "/delegate", { body });
    expect(r.status).toBe(403);
    expect(r.json()).toEqual({
      code: 7,
      msg: "/delegate is disabled in the daemon config",
      details: expect.stringContaining('"enableDelegateEndpoint": false'),
    });
    // /cni still reaches the handler: a body without config is its 400, not the switch's 403.
    const c = await socketRequest(sock, "/cni", { body: "{}" });
    expect(c.status).toBe(400);
  });

  test("by default (as Go) /delegate is served: the same body reaches the handler", async () => {
    const d = await startDaemon(work.dir, {});
    cleanup.add(() => d.stop());
    const r = await socketRequest(join(d.socketDir, "multus.sock"), "/delegate", { body: "{}" });
    expect(r.status).toBe(400);
    expect(r.json().msg).not.toContain("disabled");
  });
});
