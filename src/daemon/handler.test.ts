// The daemon's handler called in-process with a Request: no socket, no daemon.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DaemonStatus } from "../api/api.ts";
import { parseDaemonConfig } from "../config/daemon-config.ts";
import { createLogger } from "../util/log.ts";
import { createKeyedLock } from "../util/keyed-lock.ts";
import { handleRequest, type HandlerDeps } from "./handler.ts";

let tmp = "";
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "handler-test-"));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function cniRequest(env: Record<string, string>, config: Record<string, unknown>): Request {
  return new Request("http://dummy/cni", {
    method: "POST",
    body: JSON.stringify({ env, config: Buffer.from(JSON.stringify(config)).toString("base64") }),
  });
}

test("every CNI command is observed with its duration and outcome", async () => {
  const observed: Array<{ command: string; seconds: number; ok: boolean }> = [];
  const deps: HandlerDeps = {
    daemon: parseDaemonConfig("{}"),
    multus: { log: createLogger({}), delegateBaseEnv: { PATH: "/usr/bin:/bin" }, locks: createKeyedLock() },
    isReady: () => true,
    observeCommand: (command, seconds, ok) => observed.push({ command, seconds, ok }),
  };
  const conf = { cniVersion: "1.1.0", name: "multus", type: "multus-shim", cniDir: tmp };
  // Nothing cached and no pod to ask: DEL succeeds.
  const started = performance.now();
  const del = await handleRequest(
    cniRequest(
      {
        CNI_COMMAND: "DEL",
        CNI_CONTAINERID: "c1",
        CNI_IFNAME: "eth0",
        CNI_PATH: "/opt/cni/bin",
      },
      { ...conf, delegates: [{ cniVersion: "1.1.0", name: "n", type: "no-such-plugin" }] },
    ),
    deps,
  );
  expect(del.status).toBe(200);
  // No delegate configured: STATUS fails.
  const status = await handleRequest(cniRequest({ CNI_COMMAND: "STATUS", CNI_PATH: "/opt/cni/bin" }, conf), deps);
  expect(status.status).toBe(400);
  // Not even a command to name: nothing observed.
  const junk = await handleRequest(new Request("http://dummy/cni", { method: "POST", body: "{" }), deps);
  expect(junk.status).toBe(400);

  expect(observed.map(({ command, ok }) => ({ command, ok }))).toEqual([
    { command: "DEL", ok: true },
    { command: "STATUS", ok: false },
  ]);
  // Seconds, not milliseconds: each duration is positive and within the wall time of the calls.
  const wallSeconds = (performance.now() - started) / 1000;
  for (const o of observed) {
    expect(o.seconds).toBeGreaterThan(0);
    expect(o.seconds).toBeLessThanOrEqual(wallSeconds);
  }
});

test("GET /status answers what deps.status builds, read-only: other methods 405, no provider 404", async () => {
  const base = {
    daemon: parseDaemonConfig("{}"),
    multus: { log: createLogger({}), delegateBaseEnv: { PATH: "/usr/bin:/bin" } },
    isReady: () => false,
  };
  const report = { ready: false, version: "x" } as unknown as DaemonStatus;
  const deps: HandlerDeps = { ...base, status: () => report };
  const get = await handleRequest(new Request("http://dummy/status"), deps);
  expect(get.status).toBe(200);
  expect(await get.json()).toEqual({ ready: false, version: "x" });
  const post = await handleRequest(new Request("http://dummy/status", { method: "POST" }), deps);
  expect(post.status).toBe(405);
  const none = await handleRequest(new Request("http://dummy/status"), base);
  expect(none.status).toBe(404);
});

test("a body nested past 10000 levels, an env or a config object that is an array: refused by type, nothing run", async () => {
  const calls: string[] = [];
  const deps: HandlerDeps = {
    daemon: parseDaemonConfig(JSON.stringify({ cniDir: tmp, binDir: tmp })),
    multus: {
      log: createLogger({}),
      delegateBaseEnv: { PATH: "/usr/bin:/bin" },
      observer: { delegateCall: (c) => calls.push(c.pluginType), networkStatusWrite: () => {} },
    },
    isReady: () => true,
  };
  const env = {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: "c1",
    CNI_NETNS: "/proc/self/ns/net",
    CNI_IFNAME: "eth0",
    CNI_PATH: "/x",
  };
  const conf = { cniVersion: "1.0.0", name: "multus", type: "multus-shim", delegates: [{ name: "n", type: "rec" }] };
  const answer = async (body: string) => {
    const res = await handleRequest(new Request("http://dummy/cni", { method: "POST", body }), deps);
    return { status: res.status, body: (await res.json()) as { code: number; msg: string; details?: string } };
  };
  const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64");
  const deep = `${"[".repeat(50_000)}${"]".repeat(50_000)}`;
  expect(await answer(`{"env":${JSON.stringify(env)},"config":"${b64(conf)}","x":${deep}}`)).toEqual({
    status: 400,
    body: { code: 6, msg: "could not decode the CNI request body", details: "nested more than 10000 levels deep" },
  });
  // valibot takes an array for an object with keys "0", "1", ...; Go's decoder refuses it.
  expect(await answer(JSON.stringify({ env: ["ADD"], config: b64(conf) }))).toEqual({
    status: 400,
    body: { code: 6, msg: 'invalid CNI request: field "env": expected an object, got an array' },
  });
  expect(await answer(JSON.stringify({ env, config: b64({ ...conf, runtimeConfig: [1] }) }))).toEqual({
    status: 400,
    body: { code: 7, msg: 'invalid multus configuration: field "runtimeConfig": expected an object, got an array' },
  });
  expect(calls).toEqual([]);
  // The same request with a config object that is one: the delegate is looked for.
  expect((await answer(JSON.stringify({ env, config: b64({ ...conf, runtimeConfig: {} }) }))).body.code).toBe(7);
  expect(calls).toContain("rec");
});
