// Fault case b: the API server failing in each of the ways a real one does
// (slow, 500, 429 with Retry-After, refusing connections, accepting and never
// answering) while pods come and go. ADD fails with code 11 within its
// deadline and leaves nothing attached, DEL works from the delegate cache, and
// once the API is back the informers recover within a bound (measured).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { bridgeConflist, bridgeNet, canRunE2e, deleteBridge, waitFor } from "../helpers/e2e.ts";
import { describeRun, startK8sEnv, type K8sEnv, type PodHandle } from "../helpers/k8s-e2e.ts";
import { createNetns, deleteNetns, randomSuffix, type NetnsFixture } from "../helpers/netns.ts";
import { auditLeaks } from "./audit.ts";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";
const API_TIMEOUT_S = 0.5;
/** What ADD may take past its deadline (delegates, rollback, a loaded machine). */
const SLACK_MS = 2_500;
/** The informers must watch again this soon after the API is back (their backoff starts at 200 ms). */
const RECOVERY_BOUND_MS = 10_000;

/** "slow": every reply and watch start this late, well past apiTimeoutSeconds. */
const SLOW_S = 3;

type Fault = "slow" | "500" | "429" | "refuse" | "hang";
const FAULTS: Fault[] = ["slow", "500", "429", "refuse", "hang"];

let env: K8sEnv;
const tag = `fapi${randomSuffix(4)}`;
beforeAll(async () => {
  if (canRunE2e) env = await startK8sEnv();
});
afterAll(() => env?.stop());

async function startFault(fault: Fault): Promise<void> {
  if (fault === "refuse" || fault === "hang") await env.fake.setDown(true, fault);
  else if (fault === "slow") env.fake.setDelay(SLOW_S);
  else {
    const rule = fault === "429" ? { status: 429, retryAfterSeconds: 1 } : { status: 500 };
    for (const verb of ["GET", "LIST", "WATCH", "PATCH", "POST"])
      env.fake.failNext({ verb, times: 1_000_000, ...rule });
  }
  // The informers' streams end too: they must reconnect through the fault.
  env.fake.cutWatches("error");
}

async function endFault(): Promise<void> {
  env.fake.setDelay(0);
  env.fake.clearFailures();
  await env.fake.setDown(false);
}

function watching(): boolean {
  return env.fake.openWatches("pods") >= 1 && env.fake.openWatches("nads") >= 1;
}

describe.skipIf(!canRunE2e)("the API server failing", () => {
  for (const fault of FAULTS) {
    test(`(${fault}) ADD is code 11 within apiTimeoutSeconds and rolled back, DEL works, the informers recover`, async () => {
      const net = bridgeNet("fapi", env.dataDir);
      env.cleanup.add(() => deleteBridge(net.bridge));
      env.createNad({ name: net.name, config: bridgeConflist(net) });
      const annotations = { [NETWORKS]: net.name };
      const [attached, known] = [env.createPod({ annotations }), env.createPod({ annotations })];
      const spaces: NetnsFixture[] = [];
      const pods = new Map<PodHandle, { id: string; ns: NetnsFixture }>();
      const sandbox = async (pod: PodHandle) => {
        const ns = await createNetns("mtapi");
        spaces.push(ns);
        pods.set(pod, { id: `${tag}-${randomSuffix(10)}`, ns });
      };
      const cni = (command: string, pod: PodHandle) => {
        const { id, ns } = pods.get(pod)!;
        const conf = { apiTimeoutSeconds: API_TIMEOUT_S, podLookupTimeoutSeconds: API_TIMEOUT_S };
        return env.cni(command, { pod, containerId: id, netns: ns.path, conf });
      };
      try {
        await waitFor("the informers to watch", watching, 20_000, 50);
        for (const pod of [attached, known]) await sandbox(pod);
        const first = await cni("ADD", attached);
        expect(first.code, describeRun(first)).toBe(0);

        const faultAt = performance.now();
        await startFault(fault);
        // Created while the API fails: only a live GET could find it.
        const unseen = env.createPod({ annotations });
        await sandbox(unseen);

        // Known to the informer: both networks attached, then the network-status write fails.
        const add = await cni("ADD", known);
        expect(add.code, describeRun(add)).toBe(1);
        expect(add.json()).toMatchObject({ code: 11 });
        expect(add.json().msg).toContain("network-status");
        expect(add.ms).toBeLessThan(API_TIMEOUT_S * 1000 + SLACK_MS);
        expect(await pods.get(known)!.ns.links()).toEqual(["lo"]);

        const lookup = await cni("ADD", unseen);
        expect(lookup.code, describeRun(lookup)).toBe(1);
        expect(lookup.json().code).toBe(11);
        expect(lookup.json().msg).toContain(`cannot get pod default/${unseen.name}`);
        expect(lookup.ms).toBeLessThan(API_TIMEOUT_S * 1000 + SLACK_MS);

        const del = await cni("DEL", attached);
        expect(del.code, describeRun(del)).toBe(0);
        expect(await pods.get(attached)!.ns.links()).toEqual(["lo"]);

        if (fault === "slow") {
          // Slow is not down: the informers' streams, cut when it began, open again through it.
          await waitFor("the informers to watch through the slow API", watching, SLOW_S * 1000 + RECOVERY_BOUND_MS, 20);
          const ms = Math.round(performance.now() - faultAt);
          console.log(
            `API fault slow: informers watching again ${ms} ms after their streams were cut (${SLOW_S} s per reply)`,
          );
          expect(ms).toBeGreaterThanOrEqual(SLOW_S * 1000);
        }

        const t0 = performance.now();
        await endFault();
        await waitFor("the informers to watch again", watching, RECOVERY_BOUND_MS, 20).catch((e) => {
          console.log(
            env.daemon
              .stderr()
              .split("\n")
              .filter((l) => /inform|watch|list/i.test(l))
              .slice(-30)
              .join("\n"),
          );
          console.log(
            JSON.stringify(
              env.fake
                .requests()
                .slice(-20)
                .map((r) => [r.verb, r.path, r.status, r.at]),
            ),
          );
          throw e;
        });
        console.log(
          `API fault ${fault}: ADD failed in ${Math.round(add.ms)} ms (pod known) and ${Math.round(lookup.ms)} ms (pod unseen); informers watching again ${Math.round(performance.now() - t0)} ms after it ended`,
        );

        for (const pod of [known, unseen]) {
          const again = await cni("ADD", pod);
          expect(again.code, describeRun(again)).toBe(0);
          expect((await pods.get(pod)!.ns.links()).sort()).toEqual(["eth0", "lo", "net1"]);
          const gone = await cni("DEL", pod);
          expect(gone.code, describeRun(gone)).toBe(0);
        }
        const audit = await auditLeaks({ cniDir: env.cniDir, networks: [env.cluster, net], containerTag: tag });
        expect(audit).toEqual([]);
      } finally {
        await endFault();
        for (const ns of spaces) await deleteNetns(ns.name);
      }
    }, 60_000);
  }
});
