// The one loader of CNI conf files and directories: which files a directory
// offers, what each extension means, libcni's subdirectory chaining and
// loadOnlyInlinedPlugins.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { rejection } from "../../tests/helpers/thrown.ts";
import { findConfByName, listConfFiles, loadConfFile, loadConfPath, loadPluginDir } from "./conf-files.ts";
import { ErrorCode } from "./errors.ts";

let tmp = "";
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "conf-files-"));
});
afterEach(() => rm(tmp, { recursive: true, force: true }));

/** Writes `files` (relative path -> JSON value or raw text) under tmp. */
async function put(files: Record<string, unknown>): Promise<void> {
  for (const [rel, value] of Object.entries(files)) {
    const path = join(tmp, rel);
    await mkdir(join(path, ".."), { recursive: true });
    await writeFile(path, typeof value === "string" ? value : JSON.stringify(value));
  }
}

const BRIDGE = { cniVersion: "1.0.0", name: "net", type: "bridge" };
const LIST = { cniVersion: "1.0.0", name: "net", plugins: [{ type: "bridge" }] };
const types = (raw: Record<string, unknown>) => (raw.plugins as Array<{ type: string }>).map((p) => p.type);

describe("loadConfFile", () => {
  test.each([".conf", ".json"])("%s is one plugin conf, kept byte for byte", async (ext) => {
    const text = `{ "cniVersion": "1.0.0", "name": "net", "type": "bridge" }`;
    await put({ [`a${ext}`]: text });
    expect(await loadConfFile(join(tmp, `a${ext}`))).toEqual({
      path: join(tmp, `a${ext}`),
      raw: BRIDGE,
      bytes: text,
      isList: false,
    });
  });

  test.each([
    ["a .json without type", "a.json", { name: "net" }, ErrorCode.InvalidConfig],
    ["a .conf holding a list (the extension decides)", "a.conf", LIST, ErrorCode.InvalidConfig],
    ["a .conflist without plugins", "a.conflist", { name: "net" }, ErrorCode.InvalidConfig],
    ["a .conflist with a typeless plugin", "a.conflist", { name: "net", plugins: [{}] }, ErrorCode.InvalidConfig],
    ["text that is not JSON", "a.conf", "{", ErrorCode.DecodeFailure],
  ])("%s is refused", async (_what, file, value, code) => {
    await put({ [file]: value });
    expect((await rejection(loadConfFile(join(tmp, file)))).code).toBe(code);
  });

  test("a missing file is an I/O failure (code 5)", async () => {
    expect((await rejection(loadConfFile(join(tmp, "missing.conf")))).code).toBe(ErrorCode.IoFailure);
  });

  test("a .conflist gains the .conf files of <dir>/<list name>/, sorted; other files there are not plugins", async () => {
    await put({
      "net.conflist": LIST,
      "net/20-b.conf": { type: "tuning" },
      "net/10-a.conf": { type: "portmap", capabilities: { portMappings: true } },
      "net/30-c.json": { type: "ignored" },
      "net/40-d.conflist": { type: "ignored" },
    });
    await mkdir(join(tmp, "net", "50-dir.conf"));
    const loaded = await loadConfFile(join(tmp, "net.conflist"));
    expect(loaded.isList).toBe(true);
    expect(types(loaded.raw)).toEqual(["bridge", "portmap", "tuning"]);
    expect(JSON.parse(loaded.bytes)).toEqual(loaded.raw);
  });

  test("a .conflist without a plugins key takes its plugins from <dir>/<list name>/ alone", async () => {
    await put({ "net.conflist": { name: "net" }, "net/10-a.conf": { type: "tuning" } });
    expect(types((await loadConfFile(join(tmp, "net.conflist"))).raw)).toEqual(["tuning"]);
  });

  test("a .conflist with nothing to chain keeps its exact bytes", async () => {
    const text = `{"name": "net",  "plugins": [{"type": "bridge"}]}`;
    await put({ "net.conflist": text });
    expect((await loadConfFile(join(tmp, "net.conflist"))).bytes).toBe(text);
  });

  test.each([
    [true, ["bridge"]],
    ["true", ["bridge"]],
    ["TRUE", ["bridge"]],
    [false, ["bridge", "tuning"]],
    ["False", ["bridge", "tuning"]],
  ])("loadOnlyInlinedPlugins %p: plugins %p", async (value, expected) => {
    await put({ "net.conflist": { ...LIST, loadOnlyInlinedPlugins: value }, "net/10-a.conf": { type: "tuning" } });
    expect(types((await loadConfFile(join(tmp, "net.conflist"))).raw)).toEqual(expected);
  });

  test.each([["maybe"], [1]])("loadOnlyInlinedPlugins %p is a config error naming the key", async (value) => {
    await put({ "net.conflist": { ...LIST, loadOnlyInlinedPlugins: value } });
    const err = await rejection(loadConfFile(join(tmp, "net.conflist")));
    expect(err.code).toBe(ErrorCode.InvalidConfig);
    expect(err.message).toContain("loadOnlyInlinedPlugins");
  });
});

describe("conf files read again only when they change", () => {
  test("an edit in place, even to the same size, is seen by the next load", async () => {
    await put({ "a.conf": { ...BRIDGE, mtu: 1400 } });
    const path = join(tmp, "a.conf");
    expect((await loadConfFile(path)).raw.mtu).toBe(1400);
    await writeFile(path, JSON.stringify({ ...BRIDGE, mtu: 1500 }));
    expect((await loadConfFile(path)).raw.mtu).toBe(1500);
  });

  test("a file replaced by rename (as config tools write) is seen; a deleted one is an error again", async () => {
    await put({ "a.conf": { ...BRIDGE, mtu: 1400 }, "b.tmp": { ...BRIDGE, mtu: 9000 } });
    const path = join(tmp, "a.conf");
    expect((await loadConfFile(path)).raw.mtu).toBe(1400);
    await rename(join(tmp, "b.tmp"), path);
    expect((await loadConfFile(path)).raw.mtu).toBe(9000);
    await rm(path);
    expect((await rejection(loadConfFile(path))).code).toBe(ErrorCode.IoFailure);
  });

  test("each load returns its own objects: a caller's edit does not leak into the next", async () => {
    await put({ "a.conf": BRIDGE });
    const first = await loadConfFile(join(tmp, "a.conf"));
    first.raw.name = "changed";
    expect((await loadConfFile(join(tmp, "a.conf"))).raw.name).toBe("net");
  });
});

describe("conf directories", () => {
  test("listConfFiles: .conf, .conflist and .json in byte order; nothing else, no directories", async () => {
    await put({ "b.json": BRIDGE, "a.conflist": LIST, "C.conf": BRIDGE, "d.yaml": "x", "e.conf.bak": "x" });
    await mkdir(join(tmp, "f.conf"));
    expect(await listConfFiles(tmp)).toEqual(["C.conf", "a.conflist", "b.json"].map((f) => join(tmp, f)));
    expect(await listConfFiles(join(tmp, "missing"))).toEqual([]);
  });

  test("loadConfPath: a file as loadConfFile reads it; a directory's first conf file, .json included", async () => {
    await put({ "d/20-b.conflist": LIST, "d/10-a.json": { ...BRIDGE, name: "first" } });
    expect((await loadConfPath(join(tmp, "d"))).raw.name).toBe("first");
    expect((await loadConfPath(join(tmp, "d", "20-b.conflist"))).isList).toBe(true);
  });

  test.each([
    ["a missing path", "missing"],
    ["a directory with no conf file", "empty"],
  ])("loadConfPath: %s is a config error (code 7)", async (_what, rel) => {
    await mkdir(join(tmp, "empty"));
    const err = await rejection(loadConfPath(join(tmp, rel)));
    expect(err.code).toBe(ErrorCode.InvalidConfig);
    expect(err.message).toContain(join(tmp, rel));
  });

  test("findConfByName: the first file whose name matches, any extension; others' problems are passed over", async () => {
    await put({
      "05-broken.conf": "{",
      "10-other.conf": { ...BRIDGE, name: "other" },
      "20-net.json": { ...BRIDGE, type: "macvlan" },
      "30-net.conflist": LIST,
      "net/10-a.conf": { type: "tuning" },
    });
    const found = await findConfByName(tmp, "net");
    expect(found?.path).toBe(join(tmp, "20-net.json"));
    expect(found?.raw.type).toBe("macvlan");
    // A list found by name chains its subdirectory too: one loader, one behaviour.
    await rm(join(tmp, "20-net.json"));
    expect(types((await findConfByName(tmp, "net"))!.raw)).toEqual(["bridge", "tuning"]);
    expect(await findConfByName(tmp, "absent")).toBeUndefined();
    expect(await findConfByName(join(tmp, "missing"), "net")).toBeUndefined();
  });

  test("findConfByName: the matching file must load (a typeless .conf is code 7, not 'not found')", async () => {
    await put({ "10-net.conf": { name: "net" } });
    expect((await rejection(findConfByName(tmp, "net"))).code).toBe(ErrorCode.InvalidConfig);
  });

  test("loadPluginDir: only a valid network name is looked up as a directory", async () => {
    await put({ "ok/10-a.conf": { type: "tuning" }, "bad name/10-a.conf": { type: "tuning" } });
    expect(await loadPluginDir(tmp, "ok")).toEqual([{ type: "tuning" }]);
    expect(await loadPluginDir(tmp, "bad name")).toEqual([]);
    expect(await loadPluginDir(join(tmp, "ok"), "..")).toEqual([]);
  });
});
