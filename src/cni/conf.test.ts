import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { buildRecordingPlugin, readRecords } from "../../tests/helpers/build-fixtures.ts";
import { cachedResultPath, readCachedResult } from "./cache.ts";
import {
  addNetworkList,
  buildPluginConfig,
  checkNetworkList,
  confListFromBytes,
  confListFromConf,
  delNetworkList,
  gcNetworkList,
  statusNetworkList,
  type CniRuntime,
  type RuntimeConf,
} from "./conf.ts";
import { ErrorCode } from "./errors.ts";
import { convertResult, toCurrentResult, type Result100 } from "./result.ts";
import { SUPPORTED_VERSIONS } from "./spec.ts";
import { rejection, thrown } from "../../tests/helpers/thrown.ts";

let binDir = "";
let tmp = "";
let recordFile = "";
let rt: CniRuntime;

beforeAll(async () => {
  binDir = dirname(await buildRecordingPlugin());
});
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "conf-test-"));
  recordFile = join(tmp, "records.jsonl");
  rt = { binDirs: [binDir], cacheDir: join(tmp, "cache"), timeoutMs: 10_000, baseEnv: { PATH: "/usr/bin:/bin" } };
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const HUB: Result100 = {
  cniVersion: "1.1.0",
  interfaces: [{ name: "eth0", mac: "0a:58:0a:01:02:03", sandbox: "/var/run/netns/x" }],
  ips: [{ interface: 0, address: "10.1.2.3/24", gateway: "10.1.2.1" }],
  routes: [{ dst: "0.0.0.0/0", gw: "10.1.2.1" }],
  dns: { nameservers: ["10.1.2.53"] },
};
const resultIn = (v: string) => convertResult(HUB, v);

const rc: RuntimeConf = {
  containerId: "ctr1",
  netns: "/var/run/netns/x",
  ifname: "eth0",
  args: [
    ["IgnoreUnknown", "1"],
    ["K8S_POD_NAME", "p"],
  ],
  runtimeConfig: {
    portMappings: [{ hostPort: 80, containerPort: 8080, protocol: "tcp" }],
    mac: "0a:00:00:00:00:01",
    ips: ["10.9.9.9/24"],
  },
};

function listJson(
  cniVersion: string,
  extra: Record<string, unknown> = {},
  pluginsExtra: Record<string, unknown>[] = [{}, {}, {}],
) {
  return {
    cniVersion,
    name: "testnet",
    ...extra,
    plugins: [
      {
        type: "recorder",
        id: "first",
        recordFile,
        result: resultIn(cniVersion),
        unknownField: { keep: true },
        capabilities: { portMappings: true, mac: false },
        ...pluginsExtra[0],
      },
      {
        type: "recorder",
        id: "second",
        recordFile,
        echoPrevResult: true,
        capabilities: { ips: true },
        runtimeConfig: { static: 1 },
        ...pluginsExtra[1],
      },
      { type: "recorder", id: "third", recordFile, echoPrevResult: true, ...pluginsExtra[2] },
    ],
  };
}

describe("conf lists", () => {
  test("parse name, version, flags; keep raw plugin JSON", () => {
    const l = confListFromBytes(
      JSON.stringify(listJson("1.0.0", { disableCheck: "TRUE", disableGC: true, custom: 1 })),
    );
    expect(l.name).toBe("testnet");
    expect(l.cniVersion).toBe("1.0.0");
    expect(l.disableCheck).toBe(true);
    expect(l.disableGC).toBe(true);
    expect(l.plugins[0]?.unknownField).toEqual({ keep: true });
    expect(l.raw.custom).toBe(1);
  });

  test("missing cniVersion reads as 0.1.0; cniVersions picks the highest we know", () => {
    expect(confListFromBytes(`{"name":"n","plugins":[{"type":"x"}]}`).cniVersion).toBe("0.1.0");
    const l = confListFromBytes(
      `{"name":"n","cniVersion":"0.3.1","cniVersions":["0.4.0","1.0.0","9.0.0"],"plugins":[{"type":"x"}]}`,
    );
    expect(l.cniVersion).toBe("1.0.0");
  });

  test.each([
    ["not json", "{", ErrorCode.DecodeFailure],
    ["array", "[]", ErrorCode.DecodeFailure],
    ["no name", `{"cniVersion":"1.0.0","plugins":[{"type":"x"}]}`, ErrorCode.InvalidConfig],
    ["no plugins", `{"name":"n","cniVersion":"1.0.0"}`, ErrorCode.InvalidConfig],
    ["empty plugins", `{"name":"n","cniVersion":"1.0.0","plugins":[]}`, ErrorCode.InvalidConfig],
    ["plugin without type", `{"name":"n","cniVersion":"1.0.0","plugins":[{"a":1}]}`, ErrorCode.InvalidConfig],
    ["bad disableCheck", `{"name":"n","disableCheck":"maybe","plugins":[{"type":"x"}]}`, ErrorCode.InvalidConfig],
  ])("rejects %s", (_what, text, code) => {
    expect(thrown(() => confListFromBytes(text)).code).toBe(code);
  });

  test("confListFromConf wraps a single conf", () => {
    const conf = { cniVersion: "0.4.0", name: "single", type: "bridge", bridge: "br9" };
    const l = confListFromConf(conf);
    expect(l).toMatchObject({ name: "single", cniVersion: "0.4.0", disableCheck: false, disableGC: false });
    expect(l.plugins).toEqual([conf]);
    expect(l.raw).toEqual({ name: "single", cniVersion: "0.4.0", plugins: [conf] });
    expect(thrown(() => confListFromConf({ name: "x" })).code).toBe(ErrorCode.InvalidConfig);
  });
});

describe.each(SUPPORTED_VERSIONS.map((v) => [v]))("cniVersion %s", (version) => {
  test("buildPluginConfig: name/version injected, prevResult, runtimeConfig only for declared capabilities", () => {
    const list = confListFromBytes(JSON.stringify(listJson(version)));
    const [p0, p1, p2] = list.plugins;
    const prev = resultIn(version);
    const c0 = buildPluginConfig(list, { ...p0!, name: "own", cniVersion: "0.0.1" }, undefined, rc);
    expect(c0.name).toBe("testnet");
    expect(c0.cniVersion).toBe(version);
    expect(c0.unknownField).toEqual({ keep: true });
    expect(c0.prevResult).toBeUndefined();
    expect(c0.runtimeConfig).toEqual({ portMappings: rc.runtimeConfig.portMappings }); // mac declared false
    const c1 = buildPluginConfig(list, p1!, prev, rc);
    expect(c1.prevResult).toEqual(prev);
    expect(c1.runtimeConfig).toEqual({ ips: ["10.9.9.9/24"] }); // replaces the static one, as libcni does
    const c2 = buildPluginConfig(list, p2!, prev, rc);
    expect(c2.runtimeConfig).toBeUndefined();
    const c3 = buildPluginConfig(
      list,
      { type: "x", capabilities: { bandwidth: true }, runtimeConfig: { static: 1 } },
      undefined,
      rc,
    );
    expect(c3.runtimeConfig).toEqual({ static: 1 }); // nothing offered: left as configured
  });

  test("ADD chains prevResult, caches the result, returns the 1.1.0 hub", async () => {
    const list = confListFromBytes(JSON.stringify(listJson(version)));
    const hub = await addNetworkList(rt, list, rc);
    expect(hub).toEqual(toCurrentResult(resultIn(version), version));
    expect(hub.cniVersion).toBe("1.1.0");

    const recs = await readRecords(recordFile);
    expect(recs.map((r) => [r.command, r.conf.id])).toEqual([
      ["ADD", "first"],
      ["ADD", "second"],
      ["ADD", "third"],
    ]);
    for (const r of recs) {
      expect(r.conf.name).toBe("testnet");
      expect(r.conf.cniVersion).toBe(version);
      expect(r.env).toEqual({
        CNI_COMMAND: "ADD",
        CNI_CONTAINERID: "ctr1",
        CNI_NETNS: "/var/run/netns/x",
        CNI_IFNAME: "eth0",
        CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAME=p",
        CNI_PATH: binDir,
      });
    }
    const expectedPrev = convertResult(toCurrentResult(resultIn(version), version), version);
    expect(recs[0]!.conf.prevResult).toBeUndefined();
    expect(recs[1]!.conf.prevResult).toEqual(expectedPrev);
    expect(recs[2]!.conf.prevResult).toEqual(expectedPrev);
    expect(recs[0]!.conf.runtimeConfig).toEqual({ portMappings: rc.runtimeConfig.portMappings });
    expect(recs[1]!.conf.runtimeConfig).toEqual({ ips: ["10.9.9.9/24"] });
    expect(recs[2]!.conf.runtimeConfig).toBeUndefined();

    const cached = await readCachedResult(rt.cacheDir, { networkName: "testnet", containerId: "ctr1", ifName: "eth0" });
    expect(cached?.result).toEqual(expectedPrev);
    expect(JSON.parse(new TextDecoder().decode(cached!.config))).toEqual(list.raw);
    expect(cached?.cniArgs).toEqual(rc.args);
    expect(cached?.capabilityArgs).toEqual(rc.runtimeConfig);
    expect(cached?.netns).toBe(rc.netns);
  });

  test("DEL runs in reverse order, with the cached result from 0.4.0 on, and drops the cache entry", async () => {
    const list = confListFromBytes(JSON.stringify(listJson(version)));
    await addNetworkList(rt, list, rc);
    await rm(recordFile);
    await delNetworkList(rt, list, rc);
    const recs = await readRecords(recordFile);
    expect(recs.map((r) => [r.command, r.conf.id])).toEqual([
      ["DEL", "third"],
      ["DEL", "second"],
      ["DEL", "first"],
    ]);
    const withPrev = version >= "0.4.0";
    for (const r of recs) {
      if (withPrev)
        expect(r.conf.prevResult).toEqual(convertResult(toCurrentResult(resultIn(version), version), version));
      else expect(r.conf.prevResult).toBeUndefined();
    }
    expect(
      await stat(cachedResultPath(rt.cacheDir, { networkName: "testnet", containerId: "ctr1", ifName: "eth0" })).catch(
        () => "gone",
      ),
    ).toBe("gone");
    // repeated DEL (no cache) still calls every plugin and succeeds
    await delNetworkList(rt, list, rc);
  });

  test("CHECK uses the cache from 0.4.0 on and is refused before", async () => {
    const list = confListFromBytes(JSON.stringify(listJson(version)));
    if (version < "0.4.0") {
      const err = await rejection(checkNetworkList(rt, list, rc));
      expect(err.code).toBe(ErrorCode.IncompatibleVersion);
      expect(err.msg).toBe(`configuration version "${version}" does not support the CHECK command`);
      expect(await readRecords(recordFile)).toEqual([]);
      return;
    }
    const missing = await rejection(checkNetworkList(rt, list, rc));
    expect(missing.msg).toBe(`failed to get network "testnet" cached result`);
    await addNetworkList(rt, list, rc);
    await rm(recordFile);
    await checkNetworkList(rt, list, rc);
    const recs = await readRecords(recordFile);
    expect(recs.map((r) => [r.command, r.conf.id])).toEqual([
      ["CHECK", "first"],
      ["CHECK", "second"],
      ["CHECK", "third"],
    ]);
    for (const r of recs)
      expect(r.conf.prevResult).toEqual(convertResult(toCurrentResult(resultIn(version), version), version));
    // disableCheck: nothing is called
    await rm(recordFile);
    await checkNetworkList(rt, { ...list, disableCheck: true }, rc);
    expect(await readRecords(recordFile)).toEqual([]);
  });

  test("GC injects the valid attachments from 1.1.0 on; STATUS reaches every plugin from 1.1.0 on", async () => {
    const list = confListFromBytes(JSON.stringify(listJson(version)));
    const valid = [
      { containerID: "c1", ifname: "eth0" },
      { containerID: "c2", ifname: "net1" },
    ];
    await gcNetworkList(rt, list, valid);
    await statusNetworkList(rt, list);
    const recs = await readRecords(recordFile);
    if (version !== "1.1.0") {
      expect(recs).toEqual([]);
      return;
    }
    expect(recs.map((r) => [r.command, r.conf.id])).toEqual([
      ["GC", "first"],
      ["GC", "second"],
      ["GC", "third"],
      ["STATUS", "first"],
      ["STATUS", "second"],
      ["STATUS", "third"],
    ]);
    for (const r of recs) {
      expect(r.env).toEqual({ CNI_COMMAND: r.command, CNI_PATH: binDir });
      expect(r.conf.name).toBe("testnet");
      expect(r.conf.cniVersion).toBe("1.1.0");
      expect(r.conf.prevResult).toBeUndefined();
      // Plugin-specific fields reach the plugin untouched; no plugin gets another one's.
      expect(r.conf.unknownField).toEqual(r.conf.id === "first" ? { keep: true } : undefined);
      if (r.command === "GC") {
        expect(r.conf["cni.dev/valid-attachments"]).toEqual(valid);
        expect(r.conf["cni.dev/attachments"]).toEqual(valid);
      } else {
        expect(r.conf["cni.dev/valid-attachments"]).toBeUndefined();
      }
    }
    await rm(recordFile);
    await gcNetworkList(rt, { ...list, disableGC: true }, valid);
    expect(await readRecords(recordFile)).toEqual([]);
  });
});

describe("failures", () => {
  test("an ADD failure stops the chain, passes the error unchanged, caches nothing", async () => {
    const list = confListFromBytes(
      JSON.stringify(listJson("1.0.0", {}, [{}, { error: { code: 11, msg: "try later", details: "busy" } }, {}])),
    );
    const err = await rejection(addNetworkList(rt, list, rc));
    expect([err.code, err.msg, err.details]).toEqual([11, "try later", "busy"]);
    expect((await readRecords(recordFile)).map((r) => r.conf.id)).toEqual(["first", "second"]);
    expect(
      await readCachedResult(rt.cacheDir, { networkName: "testnet", containerId: "ctr1", ifName: "eth0" }),
    ).toBeUndefined();
  });

  test("a DEL failure keeps the cache entry for the retry", async () => {
    const list = confListFromBytes(
      JSON.stringify(listJson("1.0.0", {}, [{ failOn: ["DEL"], error: { code: 5, msg: "io" } }, {}, {}])),
    );
    await addNetworkList(rt, list, rc);
    expect((await rejection(delNetworkList(rt, list, rc))).code).toBe(5);
    expect(
      await readCachedResult(rt.cacheDir, { networkName: "testnet", containerId: "ctr1", ifName: "eth0" }),
    ).toBeDefined();
  });

  test("an unreadable cache entry does not block DEL (libcni drops it)", async () => {
    const list = confListFromBytes(JSON.stringify(listJson("1.0.0")));
    const path = cachedResultPath(rt.cacheDir, { networkName: "testnet", containerId: "ctr1", ifName: "eth0" });
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, "{garbage");
    await delNetworkList(rt, list, rc);
    const recs = await readRecords(recordFile);
    expect(recs.length).toBe(3);
    expect(recs.every((r) => r.conf.prevResult === undefined)).toBe(true);
  });

  test("STATUS passes a plugin's error through unchanged and stops there", async () => {
    const list = confListFromBytes(
      JSON.stringify(listJson("1.1.0", {}, [{}, { error: { code: 50, msg: "not available" } }, {}])),
    );
    const err = await rejection(statusNetworkList(rt, list));
    expect([err.code, err.msg]).toEqual([50, "not available"]);
    expect((await readRecords(recordFile)).map((r) => r.conf.id)).toEqual(["first", "second"]);
  });

  test("GC calls every plugin and throws the first error", async () => {
    const list = confListFromBytes(
      JSON.stringify(
        listJson("1.1.0", {}, [{ error: { code: 5, msg: "first" } }, {}, { error: { code: 7, msg: "third" } }]),
      ),
    );
    const err = await rejection(gcNetworkList(rt, list, []));
    expect([err.code, err.msg]).toEqual([5, "first"]);
    expect((await readRecords(recordFile)).map((r) => r.conf.id)).toEqual(["first", "second", "third"]);
  });

  test("an ADD that prints nothing is an error", async () => {
    const list = confListFromBytes(JSON.stringify(listJson("1.0.0", {}, [{ stdout: "" }, {}, {}])));
    expect((await rejection(addNetworkList(rt, list, rc))).code).toBe(ErrorCode.DecodeFailure);
  });

  test("a result in another version is converted to the list's before it is chained and cached", async () => {
    const list = confListFromBytes(JSON.stringify(listJson("0.4.0", {}, [{ result: resultIn("1.0.0") }, {}, {}])));
    await addNetworkList(rt, list, rc);
    const recs = await readRecords(recordFile);
    expect(recs[1]!.conf.prevResult).toEqual(resultIn("0.4.0"));
    const cached = await readCachedResult(rt.cacheDir, { networkName: "testnet", containerId: "ctr1", ifName: "eth0" });
    expect(cached?.result).toEqual(resultIn("0.4.0"));
  });

  test("a same-version result is chained as printed, even one 0.2.0 could not convert (no IP)", async () => {
    const printed = { cniVersion: "0.2.0", dns: { nameservers: ["1.1.1.1"] }, extra: "kept" };
    const list = confListFromBytes(JSON.stringify(listJson("0.2.0", {}, [{ result: printed }, {}, {}])));
    const hub = await addNetworkList(rt, list, rc);
    expect(hub).toEqual({ cniVersion: "1.1.0", dns: { nameservers: ["1.1.1.1"] } });
    expect((await readRecords(recordFile))[2]!.conf.prevResult).toEqual(printed);
  });

  test("a result that is not a result is a decode failure", async () => {
    const list = confListFromBytes(
      JSON.stringify(listJson("1.0.0", {}, [{ result: { cniVersion: "1.0.0", ips: "nope" } }, {}, {}])),
    );
    expect((await rejection(addNetworkList(rt, list, rc))).code).toBe(ErrorCode.DecodeFailure);
  });

  test("a result without cniVersion is read in the list's version", async () => {
    const noVersion = { ...resultIn("0.4.0") };
    delete noVersion.cniVersion;
    const list = confListFromBytes(JSON.stringify(listJson("0.4.0", {}, [{ result: noVersion }, {}, {}])));
    expect(await addNetworkList(rt, list, rc)).toEqual(toCurrentResult(resultIn("0.4.0"), "0.4.0"));
  });
});
