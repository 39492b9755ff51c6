// Fault case d: what runtimes really send around teardown. A DEL repeated
// (the second with an empty CNI_NETNS, as containerd sends it once the
// sandbox is gone), a DEL of a container never added, ADD and DEL of one
// container racing, and caches cut in half by a crash. DEL always succeeds
// and the node is left clean.
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { readFile, truncate } from "node:fs/promises";
import { join } from "node:path";
import { canRunE2e, listDir } from "../helpers/e2e.ts";
import { describeRun } from "../helpers/k8s-e2e.ts";
import { createNetns, deleteNetns, type NetnsFixture } from "../helpers/netns.ts";
import { startFaultNode, type FaultNode } from "./env.ts";

/** ADD/DEL races of one container, each with a random head start for one side. */
const RACES = 6;

let node: FaultNode;
beforeAll(async () => {
  if (canRunE2e) node = await startFaultNode();
});
afterAll(() => node?.stop());

let ns: NetnsFixture;
beforeEach(async () => {
  if (canRunE2e) ns = await createNetns("mtedg");
});
afterEach(async () => {
  if (canRunE2e) await deleteNetns(ns.name);
});

async function addOk(id: string): Promise<void> {
  const add = await node.cni({ command: "ADD", containerId: id, netns: ns.path });
  expect(add.code, describeRun(add)).toBe(0);
}

async function delOk(id: string, netns = ns.path): Promise<void> {
  const del = await node.cni({ command: "DEL", containerId: id, netns });
  expect(del.code, describeRun(del)).toBe(0);
}

describe.skipIf(!canRunE2e)("DEL around the edges", () => {
  test("a repeated DEL, the second with an empty CNI_NETNS after the netns is gone, succeeds", async () => {
    const id = node.containerId();
    await addOk(id);
    await delOk(id);
    await deleteNetns(ns.name);
    await delOk(id, "");
    expect(await node.audit()).toEqual([]);
  });

  test("a DEL of a container never added succeeds, with and without a netns", async () => {
    const id = node.containerId();
    await delOk(id);
    await delOk(id, "");
    expect(await node.audit()).toEqual([]);
  });

  test(`ADD and DEL of one container sent together (${RACES} times): attached or clean, never half`, async () => {
    for (let i = 0; i < RACES; i++) {
      const id = node.containerId();
      const headStart = Math.random() * 60;
      const [add, del] = await Promise.all([
        node.cni({ command: "ADD", containerId: id, netns: ns.path }),
        Bun.sleep(headStart).then(() => node.cni({ command: "DEL", containerId: id, netns: ns.path })),
      ]);
      expect(del.code, describeRun(del)).toBe(0);
      expect(add.code, describeRun(add)).toBe(0);
      // One container's requests run one at a time: whichever came second decides.
      const links = (await ns.links()).sort();
      const cached = (await listDir(node.cniDir)).includes(id);
      if (links.length === 1) expect(cached).toBe(false);
      else {
        expect(links).toEqual(["eth0", "lo", "net1"]);
        expect(cached).toBe(true);
      }
      // The runtime's DEL of the pod, later.
      await delOk(id);
      expect(await ns.links()).toEqual(["lo"]);
    }
    expect(await node.audit()).toEqual([]);
  });

  test("a delegate cache and a result cache cut in half: DEL releases everything from the configuration", async () => {
    const id = node.containerId();
    await addOk(id);
    const cache = join(node.cniDir, id);
    await truncate(cache, Math.floor((await readFile(cache)).length / 2));
    const [result] = (await listDir(join(node.cniDir, "results"))).filter((f) => f.startsWith(`${node.second.name}-`));
    const resultPath = join(node.cniDir, "results", result!);
    await truncate(resultPath, Math.floor((await readFile(resultPath)).length / 2));
    await delOk(id);
    expect(await ns.links()).toEqual(["lo"]);
    expect(node.daemon.stderr()).toContain("unreadable delegate cache removed, treated as missing");
    expect(await node.audit()).toEqual([]);
  });
});
