// Issue 8 item 5, credentials that heal: the daemon's kubeconfig user reads its bearer
// token from a file laid out as kubelet projects a service-account token (`token` ->
// `..data/token`, `..data` swapped atomically). The fake API then accepts only the new
// token, as the real one does once the old token expired: ADD keeps working without a
// restart and without one request answered 401; a change the daemon could not see
// (rewritten in place within the timestamp granularity) costs one 401 and one retry.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { canRunE2e, containerId, netnsPerTest, waitFor } from "../helpers/e2e.ts";
import { describeRun, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";
import { createProjectedToken, type ProjectedToken } from "../helpers/projected-token.ts";

let env: K8sEnv;
let token: ProjectedToken;
beforeAll(async () => {
  if (!canRunE2e) return;
  env = await startK8sEnv({
    kubeconfig: (fake, dir) => {
      token = createProjectedToken(join(dir, "serviceaccount"), fake.token);
      return fake.writeKubeconfig(join(dir, "kubeconfig"), { tokenFile: token.path });
    },
  });
});
afterAll(() => env?.stop());

const ns = netnsPerTest("mtr");

/** ADD then DEL of a fresh pod through the shim; the network-status PATCH must have reached the API. */
async function addAndDelete(name: string): Promise<void> {
  const pod = env.createPod({ name });
  const id = containerId();
  const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
  expect(r.code, describeRun(r)).toBe(0);
  expect(env.networkStatus(pod)).toContain(env.cluster.name);
  // The AddedInterface event is posted after the reply: wait for it, so that no request of
  // this pod's is still on its way when the test changes the token file next.
  await env.events(pod, 1);
  const d = await env.cni("DEL", { pod, containerId: id, netns: ns.path });
  expect(d.code, describeRun(d)).toBe(0);
}

const statuses = () => env.fake.requests().map((r) => `${r.verb} ${r.resource} ${r.status}`);

describe.skipIf(!canRunE2e)("a rotating service-account token", () => {
  test("a token swapped by kubelet is used from the next request: no restart, no 401", async () => {
    await addAndDelete("before-rotation");
    const pid = env.daemon.proc.pid;
    env.fake.acceptTokens(env.fake.token, "rotated-1"); // kubelet rotates while the old token is still valid
    token.rotate("rotated-1");
    env.fake.acceptTokens("rotated-1"); // then the old one expires
    env.fake.resetCounts();
    await addAndDelete("after-rotation");
    // Watches opened with the old token keep streaming; when cut they reconnect with the new one.
    env.fake.cutWatches("end");
    await waitFor(
      "the informers to watch again",
      () => env.fake.count("WATCH pods") > 0 && env.fake.count("WATCH nads") > 0,
    );
    expect(statuses().filter((s) => s.endsWith(" 401"))).toEqual([]);
    expect(statuses().some((s) => s.startsWith("PATCH pods/status 200"))).toBe(true);
    expect(env.daemon.proc.pid).toBe(pid);
    expect(env.daemon.proc.exitCode).toBeNull();
  });

  test("a 401 before the change is noticed re-reads the token and retries once", async () => {
    // Pin the mtime first (a change the daemon does see), then rewrite in place with the
    // same size and mtime: a change no stat can see.
    const mtime = new Date("2026-01-01T00:00:00Z");
    env.fake.acceptTokens("rotated-1", "rotated-2");
    await writeFile(token.path, "rotated-2");
    await utimes(token.path, mtime, mtime);
    await addAndDelete("pinned-mtime");
    await writeFile(token.path, "rotated-3");
    await utimes(token.path, mtime, mtime);
    env.fake.acceptTokens("rotated-3");
    env.fake.resetCounts();
    await addAndDelete("after-401");
    const seen = statuses();
    // One request answered 401, then the same request again with the re-read token, and nothing else refused.
    const refused = seen.findIndex((s) => s.endsWith(" 401"));
    expect(refused, seen.join("\n")).toBeGreaterThanOrEqual(0);
    expect(seen[refused + 1]).toBe(seen[refused]!.replace(/ 401$/, " 200"));
    expect(seen.filter((s) => s.endsWith(" 401")).length).toBe(1);
  });
});
