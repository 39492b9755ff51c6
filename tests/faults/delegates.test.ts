// Fault case c: a third delegate that misbehaves (hangs on every command,
// crashes, prints garbage, exits 0 saying nothing) after two real bridges
// attached. Each time: a clear error naming the network, both bridges rolled
// back, the daemon alive and serving, no process of the pod left running.
// (A delegate hanging on ADD only and one printing without end are in
// tests/e2e/failures.test.ts.)
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { canRunE2e, isAlive, waitFor, writeJson } from "../helpers/e2e.ts";
import { describeRun } from "../helpers/k8s-e2e.ts";
import { createNetns, deleteNetns, type NetnsFixture } from "../helpers/netns.ts";
import { orphanProcesses } from "./audit.ts";
import { startFaultNode, type FaultNode } from "./env.ts";

const DELEGATE_TIMEOUT_S = 2;
const SCRIPTS: Record<string, string> = {
  // Every command hangs, with a child of its own: ADD and its rollback DEL are both killed.
  hangall: "#!/bin/sh\ncat >/dev/null\nsleep 60 &\nwait\n",
  crash: '#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] && kill -SEGV $$\nexit 0\n',
  garbage: '#!/bin/sh\ncat >/dev/null\n[ "$CNI_COMMAND" = ADD ] && echo "this is {not json"\nexit 0\n',
  silent: "#!/bin/sh\ncat >/dev/null\nexit 0\n",
};

let node: FaultNode;
beforeAll(async () => {
  if (!canRunE2e) return;
  node = await startFaultNode({ scripts: SCRIPTS, daemonConfig: { delegateTimeoutSeconds: DELEGATE_TIMEOUT_S } });
  for (const type of Object.keys(SCRIPTS))
    await writeJson(join(node.confDir, `${type}.conf`), { cniVersion: "1.0.0", name: type, type });
});
afterAll(() => node?.stop());

let ns: NetnsFixture;
beforeEach(async () => {
  if (canRunE2e) ns = await createNetns("mtdlg");
});
afterEach(async () => {
  if (canRunE2e) await deleteNetns(ns.name);
});

const CASES: Array<{ type: string; code: number; msg: string; maxMs?: number }> = [
  {
    type: "hangall",
    code: 999,
    msg: `plugin "hangall" timed out after ${DELEGATE_TIMEOUT_S * 1000} ms (killed)`,
    // ADD and the rollback's DEL each wait out the deadline.
    maxMs: 2 * DELEGATE_TIMEOUT_S * 1000 + 4000,
  },
  { type: "crash", code: 999, msg: "netplugin failed with no error message: signal: SIGSEGV" },
  { type: "garbage", code: 6, msg: 'failed to unmarshal result of plugin "garbage"' },
  { type: "silent", code: 6, msg: "failed to unmarshal raw result" },
];

describe.skipIf(!canRunE2e)("a delegate that misbehaves", () => {
  for (const c of CASES) {
    test(`${c.type}: code ${c.code}, the two bridges rolled back, the daemon serves, nothing left`, async () => {
      const pid = node.daemon.proc.pid;
      const id = node.containerId();
      const call = { containerId: id, netns: ns.path, defaultNetworks: [node.second.name, c.type] };
      const add = await node.cni({ command: "ADD", ...call });
      expect(add.code, describeRun(add)).toBe(1);
      const err = add.json();
      expect(err.code).toBe(c.code);
      expect(err.msg).toBe(c.msg);
      expect(err.details).toContain(`error adding container to network "${c.type}"`);
      expect(add.ms).toBeLessThan(c.maxMs ?? DELEGATE_TIMEOUT_S * 1000);
      expect(await ns.links()).toEqual(["lo"]);
      // Killed with their process group: nothing of the pod runs on.
      await waitFor("the pod's processes to be gone", async () => (await orphanProcesses(node.tag)).length === 0, 3000);

      // The runtime tears the failed sandbox down; DEL succeeds.
      const del = await node.cni({ command: "DEL", ...call });
      expect(del.code, describeRun(del)).toBe(0);
      expect(await isAlive(pid)).toBe(true);
      const good = node.containerId();
      const ok = await node.cni({ command: "ADD", containerId: good, netns: ns.path });
      expect(ok.code, describeRun(ok)).toBe(0);
      expect((await node.cni({ command: "DEL", containerId: good, netns: ns.path })).code).toBe(0);
      expect(await node.audit()).toEqual([]);
    }, 30_000);
  }
});
