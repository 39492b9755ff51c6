// Hostile request bodies for POST /cni and /delegate through the daemon's handler,
// in-process (daemon/handler.ts with its deps): every invalid body is answered 400
// with a CNI error of the right code naming the problem, and no delegate is even
// looked for (the observer hears of every plugin run, found or not). A valid ADD
// reaches its delegate.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseDaemonConfig } from "../../src/config/daemon-config.ts";
import { handleRequest, type HandlerDeps } from "../../src/daemon/handler.ts";
import type { DelegateCall } from "../../src/multus/ports.ts";
import { createKeyedLock } from "../../src/util/keyed-lock.ts";
import { createLogger } from "../../src/util/log.ts";
import { CASES_PER_SURFACE, expectCniErrorObject, fc, fcParams } from "./fc.ts";
import { type BodyCase, invalidRequests, mentions, RECORDER_TYPE, validRequests } from "./requests.ts";

let tmp = "";
let calls: DelegateCall[] = [];
let deps: HandlerDeps;

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), "handler-fuzz-"));
  // Laid over every request's config: the caches and the (empty) bin dir are the test's.
  const daemon = parseDaemonConfig(JSON.stringify({ cniDir: join(tmp, "cni"), binDir: join(tmp, "bin") }));
  deps = {
    daemon,
    multus: {
      log: createLogger({ level: "panic" }),
      delegateBaseEnv: { PATH: "/usr/bin:/bin" },
      locks: createKeyedLock(),
      observer: { delegateCall: (c) => calls.push(c), networkStatusWrite: () => {} },
    },
    isReady: () => true,
  };
});
afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function post(c: BodyCase): Promise<{ status: number; body: unknown }> {
  const path = c.isDelegate ? "/delegate" : "/cni";
  const res = await handleRequest(new Request(`http://dummy${path}`, { method: "POST", body: c.body }), deps);
  const text = await res.text();
  return { status: res.status, body: text === "" ? undefined : JSON.parse(text) };
}

const containerId = fc.constantFrom("ctr1", "c-2", "a.b_c");
const NETNS = "/var/run/netns/fuzz-no-such-netns";

describe("socket request bodies", () => {
  test(`${CASES_PER_SURFACE} bodies wrong in one way: 400, the right code, the problem named, no delegate`, async () => {
    await fc.assert(
      fc.asyncProperty(invalidRequests({ containerId, netns: NETNS }), async (c) => {
        calls = [];
        const { status, body } = await post(c);
        if (c.expected === "valid") throw new Error("a generator of invalid requests made a valid one");
        expect(status).toBe(400);
        const err = expectCniErrorObject(body);
        expect({ fault: c.fault, code: err.code }).toEqual({ fault: c.fault, code: c.expected.code });
        expect({ fault: c.fault, msg: err.msg, mentions: mentions(err, c.expected.mentions) }).toMatchObject({
          mentions: true,
        });
        expect(calls).toEqual([]);
      }),
      fcParams(CASES_PER_SURFACE),
    );
    // Nothing was cached for any of them.
    expect(await readdir(join(tmp, "cni")).catch(() => [])).toEqual([]);
  });

  test("valid ADDs reach their delegate (here not installed: code 7 naming it, after the lookup)", async () => {
    await fc.assert(
      // Our own netns: it exists, so the ADD gets as far as the delegate's lookup.
      fc.asyncProperty(validRequests({ containerId, netns: "/proc/self/ns/net" }), async (c) => {
        calls = [];
        const { status, body } = await post(c);
        expect(status).toBe(400);
        const err = expectCniErrorObject(body);
        expect(err.code).toBe(7);
        expect(`${err.msg} ${err.details ?? ""}`).toContain(RECORDER_TYPE);
        expect(calls.map((x) => `${x.command} ${x.pluginType}`)).toContain(`ADD ${RECORDER_TYPE}`);
      }),
      fcParams(500),
    );
  });
});
