import { afterAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PROBE_DEFAULTS, parseProbeArgs, probeDaemon } from "./probe-run.ts";

describe("parseProbeArgs", () => {
  test.each([
    [[], PROBE_DEFAULTS],
    [["--socket", "/s", "--endpoint", "readyz"], { ...PROBE_DEFAULTS, socket: "/s", endpoint: "readyz" }],
    [["--socket=/s", "--timeout=5"], { ...PROBE_DEFAULTS, socket: "/s", timeout: "5" }],
    [["-socket", "/s", "-endpoint=readyz"], { ...PROBE_DEFAULTS, socket: "/s", endpoint: "readyz" }],
    [["--verbose", "--socket", "/s"], { ...PROBE_DEFAULTS, socket: "/s" }],
  ])("%j", (args, want) => {
    expect(parseProbeArgs(args)).toEqual(want);
  });

  test("a flag without its value is an error naming it", () => {
    expect(() => parseProbeArgs(["--socket"])).toThrow("--socket needs a value");
  });
});

describe("probeDaemon", () => {
  const answers = new Map([
    ["/healthz", 200],
    ["/readyz", 500],
  ]);
  let dir = "";
  let server: ReturnType<typeof Bun.serve> | undefined;
  const socket = async () => {
    dir = await mkdtemp(join(tmpdir(), "multus-probe-"));
    const path = join(dir, "s.sock");
    server = Bun.serve({
      unix: path,
      fetch: (r) => new Response("", { status: answers.get(new URL(r.url).pathname) ?? 404 }),
    });
    return path;
  };
  afterAll(async () => {
    server?.stop(true);
    await rm(dir, { recursive: true, force: true });
  });

  test("0 on 200, 1 on another status or no daemon; bad arguments throw", async () => {
    const path = await socket();
    expect(await probeDaemon({ ...PROBE_DEFAULTS, socket: path })).toBe(0);
    expect(await probeDaemon({ ...PROBE_DEFAULTS, socket: path, endpoint: "readyz" })).toBe(1);
    expect(await probeDaemon({ ...PROBE_DEFAULTS, socket: join(dir, "none.sock") })).toBe(1);
    await expect(probeDaemon({ ...PROBE_DEFAULTS, endpoint: "metrics" })).rejects.toThrow("--endpoint must be");
    await expect(probeDaemon({ ...PROBE_DEFAULTS, timeout: "0" })).rejects.toThrow("--timeout must be");
  });
});
