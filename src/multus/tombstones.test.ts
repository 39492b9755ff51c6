// When a DEL becomes a tombstone, and what a replay does with it; plugins are
// injected runners (the real ones: tests/faults/tombstone.test.ts).
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { confListFromConf, type CniRuntime, type RuntimeConf } from "../cni/conf.ts";
import { PluginNotFoundError, type PluginRunner } from "../cni/invoke.ts";
import { createLogger } from "../util/log.ts";
import { createTombstoneReplayer, delOrTombstone, type TombstoneEvent } from "./tombstones.ts";

let tmp = "";
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "tombstone-test-"));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const log = createLogger({});
const list = confListFromConf({ cniVersion: "1.0.0", name: "net", type: "gone" });
const missing: PluginRunner = async (req) => {
  throw new PluginNotFoundError(req.pluginType, req.binDirs);
};
const rt = (run: PluginRunner): CniRuntime => ({ binDirs: ["/nowhere"], cacheDir: tmp, timeoutMs: 1000, run });
const rc = (netns: string): RuntimeConf => ({
  containerId: "ctr1",
  netns,
  ifname: "net1",
  args: [["K8S_POD_NAME", "p"]],
  runtimeConfig: { portMappings: [] },
});
const stones = () => readdir(join(tmp, "tombstones")).catch(() => [] as string[]);

test("a missing plugin with the netns gone is a tombstone; with the netns there, or without a replayer, it fails", async () => {
  const recorded: string[] = [];
  const tombstones = { recorded: (dir: string) => void recorded.push(dir) };
  const base = { rt: rt(missing), list, cniDir: tmp, log };
  await expect(delOrTombstone({ ...base, rc: rc(tmp), tombstones })).rejects.toBeInstanceOf(PluginNotFoundError);
  await expect(delOrTombstone({ ...base, rc: rc("") })).rejects.toBeInstanceOf(PluginNotFoundError);
  expect(await stones()).toEqual([]);
  expect(await delOrTombstone({ ...base, rc: rc(join(tmp, "gone-netns")), tombstones })).toBe("tombstoned");
  expect(recorded).toEqual([tmp]);
  expect(await stones()).toEqual(["ctr1-net1.json"]);
});

test("a plugin that fails otherwise is not a tombstone", async () => {
  const fails: PluginRunner = async () => {
    throw new Error("boom");
  };
  const tombstones = { recorded: () => undefined };
  await expect(delOrTombstone({ rt: rt(fails), list, rc: rc(""), cniDir: tmp, log, tombstones })).rejects.toThrow(
    "boom",
  );
  expect(await stones()).toEqual([]);
});

test("a replay keeps the tombstone while the plugin is missing and removes it once DEL succeeds", async () => {
  const tombstones = { recorded: () => undefined };
  await delOrTombstone({ rt: rt(missing), list, rc: rc(""), cniDir: tmp, log, tombstones });
  let installed = false;
  const seen: Array<Record<string, unknown>> = [];
  const run: PluginRunner = async (req) => {
    if (!installed) throw new PluginNotFoundError(req.pluginType, req.binDirs);
    seen.push({ command: req.command, ...req.cniEnv, binDirs: req.binDirs });
    return undefined;
  };
  const events: TombstoneEvent[] = [];
  const replayer = createTombstoneReplayer({
    cniDir: tmp,
    rt: { ...rt(run), binDirs: ["/elsewhere"] },
    log,
    intervalMs: 3_600_000,
    onEvent: (e) => void events.push(e),
  });
  try {
    expect(await replayer.replayNow()).toEqual({ replayed: 0, left: 1 });
    expect(await replayer.pending()).toBe(1);
    installed = true;
    expect(await replayer.replayNow()).toEqual({ replayed: 1, left: 0 });
    expect(await stones()).toEqual([]);
    expect(events).toEqual(["replayed"]);
    // The tombstone's own bin dirs and env, with an empty netns.
    expect(seen).toEqual([
      { command: "DEL", containerId: "ctr1", netns: "", ifname: "net1", args: "K8S_POD_NAME=p", binDirs: ["/nowhere"] },
    ]);
  } finally {
    replayer.stop();
  }
});

test.each([
  ["config", [{ cniVersion: "1.0.0", name: "net", type: "gone" }]],
  ["env", ["CNI_ARGS=K8S_POD_NAME=p"]],
  ["capabilityArgs", []],
])("a tombstone whose %s is an array is unreadable: left in place, nothing replayed", async (field, value) => {
  await delOrTombstone({
    rt: rt(missing),
    list,
    rc: rc(""),
    cniDir: tmp,
    log,
    tombstones: { recorded: () => undefined },
  });
  const file = join(tmp, "tombstones", "ctr1-net1.json");
  const stone = JSON.parse(await readFile(file, "utf8")) as Record<string, unknown>;
  await writeFile(file, JSON.stringify({ ...stone, [field]: value }));
  const runs: string[] = [];
  const replayer = createTombstoneReplayer({
    cniDir: tmp,
    rt: rt(async (req) => void runs.push(req.command)),
    log: createLogger({ level: "panic" }),
    intervalMs: 3_600_000,
  });
  try {
    expect(await replayer.replayNow()).toEqual({ replayed: 0, left: 1 });
    expect(runs).toEqual([]);
    expect(await stones()).toEqual(["ctr1-net1.json"]);
  } finally {
    replayer.stop();
  }
});
