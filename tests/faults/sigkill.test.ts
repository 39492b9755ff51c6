// Fault case a: the daemon SIGKILLed at random points while pods come and go,
// restarted at once, and the runtime doing what kubelet and containerd do: a
// failed ADD is followed by DEL until it succeeds and then an ADD of a new
// sandbox; a pod's DEL is repeated until it succeeds. Every pod must end up
// fully attached (both networks, addresses) after a successful ADD and fully
// clean after a successful DEL, and the node must hold nothing at the end.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { canRunE2e } from "../helpers/e2e.ts";
import { describeRun } from "../helpers/k8s-e2e.ts";
import { createNetns, deleteNetns, type NetnsFixture } from "../helpers/netns.ts";
import { startFaultNode, type FaultNode } from "./env.ts";

/** ADD/DEL pairs and how many at once: 200 at 16 take ~9 s on a shared 2-core machine. */
const PAIRS = 200;
const CONCURRENCY = 16;
const KILLS = 8;
/** Sandboxes a pod gets before the test gives up on it (the runtime would go on). */
const ADD_ATTEMPTS = 4;
const DEL_ATTEMPTS = 10;

let node: FaultNode;
beforeAll(async () => {
  if (canRunE2e) node = await startFaultNode();
});
afterAll(() => node?.stop());

interface Stats {
  addsOk: number;
  addsFailed: number;
  delsFailed: number;
  kills: number;
  restartMs: number[];
}

describe.skipIf(!canRunE2e)("the daemon SIGKILLed during ADD/DEL storms", () => {
  test(`${PAIRS} pods at concurrency ${CONCURRENCY}, ${KILLS} kills: each pod attached or clean, nothing left`, async () => {
    const stats: Stats = { addsOk: 0, addsFailed: 0, delsFailed: 0, kills: 0, restartMs: [] };
    let done = 0;
    let next = 0;
    const worker = async () => {
      while (next < PAIRS) {
        next++;
        await podLifecycle(stats);
        done++;
      }
    };
    const killer = async () => {
      for (let k = 1; k <= KILLS; k++) {
        // Spread over the storm, each at a random point between two progress marks.
        const mark = Math.floor((k * PAIRS) / (KILLS + 1));
        while (done < mark) await Bun.sleep(5);
        await Bun.sleep(Math.random() * 150);
        await node.daemon.stop("SIGKILL");
        stats.kills++;
        const t0 = performance.now();
        await node.restart();
        stats.restartMs.push(Math.round(performance.now() - t0));
      }
    };
    await Promise.all([killer(), ...Array.from({ length: CONCURRENCY }, worker)]);
    console.log(`sigkill storm: ${JSON.stringify(stats)}`);
    expect(stats.kills).toBe(KILLS);
    // The kills must have landed on requests in flight, or the storm proved nothing.
    expect(stats.addsFailed + stats.delsFailed).toBeGreaterThan(0);
    expect(stats.addsOk).toBe(PAIRS);
    expect(await node.audit()).toEqual([]);
  }, 240_000);
});

/** One pod: ADD (new sandboxes while it fails, each failure torn down), then DEL until it succeeds. */
async function podLifecycle(stats: Stats): Promise<void> {
  const ns = await createNetns("mtkill");
  try {
    for (let attempt = 1; attempt <= ADD_ATTEMPTS; attempt++) {
      const id = node.containerId();
      const add = await node.cni({ command: "ADD", containerId: id, netns: ns.path });
      if (add.code === 0) {
        stats.addsOk++;
        await expectAttached(ns);
        await delUntilOk(id, ns, stats);
        return;
      }
      stats.addsFailed++;
      await delUntilOk(id, ns, stats);
    }
    throw new Error(`no ADD succeeded in ${ADD_ATTEMPTS} sandboxes`);
  } finally {
    await deleteNetns(ns.name);
  }
}

async function delUntilOk(id: string, ns: NetnsFixture, stats: Stats): Promise<void> {
  let last = "";
  for (let i = 0; i < DEL_ATTEMPTS; i++) {
    const del = await node.cni({ command: "DEL", containerId: id, netns: ns.path });
    if (del.code === 0) {
      expect(await ns.links()).toEqual(["lo"]);
      return;
    }
    stats.delsFailed++;
    last = describeRun(del);
  }
  throw new Error(`DEL of ${id} failed ${DEL_ATTEMPTS} times; last: ${last}`);
}

async function expectAttached(ns: NetnsFixture): Promise<void> {
  expect((await ns.links()).sort()).toEqual(["eth0", "lo", "net1"]);
  expect((await ns.addrs("eth0"))[0]).toStartWith(`${node.cluster.prefix}.`);
  expect((await ns.addrs("net1"))[0]).toStartWith(`${node.second.prefix}.`);
}
