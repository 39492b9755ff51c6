// ADD checks the pod's netns before the first delegate runs: a netns that is
// gone, or a path that is not a network namespace, fails the ADD with
// `failed to open netns "<path>"` and no delegate is invoked, nothing cached.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { canRunE2e, containerId, exists, writeJson } from "../helpers/e2e.ts";
import { readRecords } from "../helpers/build-fixtures.ts";
import { describeRun, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";
import { $ } from "bun";
import { createNetns, deleteNetns, randomSuffix } from "../helpers/netns.ts";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";

let env: K8sEnv;
beforeAll(async () => {
  if (canRunE2e) env = await startK8sEnv({ withRecorder: true });
});
afterAll(() => env?.stop());

/** A recorder conf file as the cluster network: the first delegate, which would run (and succeed) unchecked. */
async function recorderCluster(recordFile: string): Promise<string> {
  const name = `rec-${randomSuffix(5)}`;
  return writeJson(join(env.dir, `${name}.conf`), { cniVersion: "1.0.0", name, type: "recorder", recordFile });
}

describe.skipIf(!canRunE2e)("the netns pre-check of ADD", () => {
  test("an interface name the ADD would create that already exists in the netns: Go's error, no delegate called", async () => {
    const recordFile = join(env.dir, `rec-${randomSuffix(5)}.jsonl`);
    const clusterNetwork = await recorderCluster(recordFile);
    const nad = `rec2-${randomSuffix(5)}`;
    env.createNad({ name: nad, config: { cniVersion: "1.0.0", name: nad, type: "recorder", recordFile } });
    const pod = env.createPod({ annotations: { [NETWORKS]: `${nad}@data1` } });
    const ns = await createNetns("mtpre");
    try {
      await $`ip -n ${ns.name} link add data1 type veth peer name data1p`.quiet();
      const id = containerId();
      const add = await env.cni("ADD", { pod, containerId: id, netns: ns.path, conf: { clusterNetwork } });
      expect(add.code, describeRun(add)).toBe(1);
      const err = add.json();
      expect(err.code).toBe(999);
      expect(err.msg).toBe("validateIfName: interface name data1 already exists");
      expect(await readRecords(recordFile)).toEqual([]);
      expect(await exists(join(env.cniDir, id))).toBe(false);

      // Free again: the same ADD goes through both delegates.
      await $`ip -n ${ns.name} link del data1`.quiet();
      const ok = await env.cni("ADD", { pod, containerId: id, netns: ns.path, conf: { clusterNetwork } });
      expect(ok.code, describeRun(ok)).toBe(0);
      const adds = (await readRecords(recordFile)).filter((r) => r.command === "ADD");
      expect(adds.map((r) => r.env.CNI_IFNAME)).toEqual(["eth0", "data1"]);
      expect((await env.cni("DEL", { pod, containerId: id, netns: ns.path, conf: { clusterNetwork } })).code).toBe(0);
    } finally {
      await deleteNetns(ns.name);
    }
  });

  test("a missing netns and a path that is not a netns: a clear error, no delegate called", async () => {
    // The recorder is the cluster network, so it would be the first delegate to run
    // (and, not touching the netns, it would succeed) without the pre-check.
    const recordFile = join(env.dir, `rec-${randomSuffix(5)}.jsonl`);
    const name = `rec-${randomSuffix(5)}`;
    const clusterNetwork = await writeJson(join(env.dir, `${name}.conf`), {
      cniVersion: "1.0.0",
      name,
      type: "recorder",
      recordFile,
    });
    const nad = `rec2-${randomSuffix(5)}`;
    env.createNad({ name: nad, config: { cniVersion: "1.0.0", name: nad, type: "recorder", recordFile } });
    const pod = env.createPod({ annotations: { [NETWORKS]: nad } });
    const notNetns = join(env.dir, "not-a-netns");
    await writeFile(notNetns, "");
    const cases: Array<[string, string]> = [
      [`/var/run/netns/mt-gone-${randomSuffix(5)}`, "no such file or directory"],
      [notNetns, "is not a network namespace"],
    ];
    for (const [netns, why] of cases) {
      const id = containerId();
      const add = await env.cni("ADD", { pod, containerId: id, netns, conf: { clusterNetwork } });
      expect(add.code, describeRun(add)).toBe(1);
      const err = add.json();
      expect(err.code).toBe(999);
      expect(err.msg).toStartWith(`failed to open netns "${netns}"`);
      expect(`${err.msg} ${err.details}`.toLowerCase()).toContain(why);
      // No delegate ran, nothing was cached.
      expect(await readRecords(recordFile)).toEqual([]);
      expect(await exists(join(env.cniDir, id))).toBe(false);
    }
  });
});
