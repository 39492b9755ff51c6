import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cachedResultPath, deleteCachedResult, readCachedResult, writeCachedResult } from "./cache.ts";
import { CniError, ErrorCode } from "./errors.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "cni-cache-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const key = { networkName: "mynet", containerId: "abc123", ifName: "eth0" };
const confBytes = `{"cniVersion":"1.0.0","name":"mynet","plugins":[{"type":"bridge","x":1}]}`;
const result = { cniVersion: "1.0.0", ips: [{ address: "10.1.0.2/24" }] };

describe("result cache", () => {
  test("path as libcni names it", () => {
    expect(cachedResultPath("/var/lib/cni", key)).toBe("/var/lib/cni/results/mynet-abc123-eth0");
  });

  test.each([
    [{ ...key, networkName: "" }],
    [{ ...key, ifName: "" }],
    [{ ...key, containerId: "../x" }],
    [{ ...key, networkName: "a/b" }],
  ])("refuses an unusable key %j", (k) => {
    expect(() => cachedResultPath(dir, k)).toThrow(CniError);
  });

  test("round trip with libcni's field names, base64 config, 0700 dir and 0600 file", async () => {
    await writeCachedResult(dir, {
      ...key,
      netns: "/var/run/netns/p",
      config: confBytes,
      cniArgs: [
        ["IgnoreUnknown", "1"],
        ["K8S_POD_NAME", "p"],
      ],
      capabilityArgs: { portMappings: [] },
      result,
    });
    const path = cachedResultPath(dir, key);
    const onDisk = JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
    expect(Object.keys(onDisk)).toEqual([
      "kind",
      "containerId",
      "config",
      "ifName",
      "networkName",
      "netns",
      "cniArgs",
      "capabilityArgs",
      "result",
    ]);
    expect(onDisk.kind).toBe("cniCacheV1");
    expect(Buffer.from(onDisk.config as string, "base64").toString()).toBe(confBytes);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, "results"))).mode & 0o777).toBe(0o700);

    const back = await readCachedResult(dir, key);
    expect(back).toBeDefined();
    expect(new TextDecoder().decode(back!.config)).toBe(confBytes);
    expect(back!.result).toEqual(result);
    expect(back!.cniArgs).toEqual([
      ["IgnoreUnknown", "1"],
      ["K8S_POD_NAME", "p"],
    ]);
    expect(back!.capabilityArgs).toEqual({ portMappings: [] });
    expect(back!.netns).toBe("/var/run/netns/p");
  });

  test("empty optional fields are omitted as Go's omitempty does", async () => {
    await writeCachedResult(dir, {
      ...key,
      netns: "",
      config: "{}",
      cniArgs: [],
      capabilityArgs: {},
      result: undefined,
    });
    const onDisk = JSON.parse(await readFile(cachedResultPath(dir, key), "utf8")) as Record<string, unknown>;
    expect(Object.keys(onDisk)).toEqual(["kind", "containerId", "config", "ifName", "networkName"]);
  });

  test("absent entry reads undefined; delete is idempotent", async () => {
    expect(await readCachedResult(dir, key)).toBeUndefined();
    await writeCachedResult(dir, { ...key, netns: "", config: "{}", cniArgs: [], capabilityArgs: {}, result });
    await deleteCachedResult(dir, key);
    await deleteCachedResult(dir, key);
    expect(await readCachedResult(dir, key)).toBeUndefined();
  });

  test("a legacy (bare result) file reads as its result; garbage is a decode failure", async () => {
    await mkdir(join(dir, "results"), { recursive: true });
    await writeFile(cachedResultPath(dir, key), JSON.stringify(result));
    expect((await readCachedResult(dir, key))?.result).toEqual(result);
    await writeFile(cachedResultPath(dir, key), "{not json");
    const err = await readCachedResult(dir, key).then(
      () => undefined,
      (e: unknown) => e as CniError,
    );
    expect(err?.code).toBe(ErrorCode.DecodeFailure);
  });
});
