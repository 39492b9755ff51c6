// Hostile plugin lookups through the compiled shim and daemon: a NAD whose
// type is a path, and a bin dir entry that is a symlink out of the bin dirs
// into a place others can write. Both are refused before exec with a CNI
// error naming the plugin; a symlink to Debian's root-owned plugins (what the
// test bin dir is made of) keeps working.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { canRunE2e, containerId, exists, netnsPerTest } from "../helpers/e2e.ts";
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
