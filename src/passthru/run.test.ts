import { describe, expect, test } from "bun:test";
import { PASSTHRU_ABOUT, runPassthru } from "./run.ts";

async function run(env: Record<string, string | undefined>, stdin: string | object = "") {
  let stdout = "";
  let stderr = "";
  const bytes = new TextEncoder().encode(typeof stdin === "string" ? stdin : JSON.stringify(stdin));
  const code = await runPassthru({ env, stdin: bytes, stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) });
  return { code, stdout, stderr };
}

const env = (command: string) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: "ctr1",
  CNI_NETNS: "/var/run/netns/passthru-none",
  CNI_IFNAME: "net1",
  CNI_PATH: "/opt/cni/bin",
  CNI_ARGS: "IgnoreUnknown=true;K8S_POD_NAME=p",
});
const conf = (cniVersion: string, extra: object = {}) => ({
  cniVersion,
  name: "aux-chain",
  type: "passthru",
  ...extra,
});

const VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

describe("passthru", () => {
  test("VERSION: 0.3.0 through 1.1.0, like Go's PluginSupports", async () => {
    const r = await run({ CNI_COMMAND: "VERSION" });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: "1.1.0", supportedVersions: VERSIONS });
  });

  test("no CNI_COMMAND: about text and versions on stderr", async () => {
    const r = await run({});
    expect(r).toEqual({
      code: 0,
      stdout: "",
      stderr: `${PASSTHRU_ABOUT}\nCNI protocol versions supported: ${VERSIONS.join(", ")}\n`,
    });
  });

  test.each(VERSIONS)("ADD %s: an empty result in the config's version", async (v) => {
    const r = await run(env("ADD"), conf(v));
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.cniVersion).toBe(v);
    expect(result.interfaces ?? []).toEqual([]);
    expect(result.ips ?? []).toEqual([]);
    expect(result.routes ?? []).toEqual([]);
  });

  test.each(VERSIONS)("ADD %s with a prevResult: still the empty result (Go does not pass it on)", async (v) => {
    const prevResult = {
      cniVersion: v,
      ips: [{ address: "10.1.0.5/24", ...(v.startsWith("0.") ? { version: "4" } : {}) }],
    };
    const r = await run(env("ADD"), conf(v, { prevResult }));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).ips ?? []).toEqual([]);
  });

  test.each(["DEL", "CHECK"])("%s: nothing printed, exit 0", async (command) => {
    expect(await run(env(command), conf("1.0.0"))).toEqual({ code: 0, stdout: "", stderr: "" });
  });

  test("DEL of a 0.3.1 config, GC and STATUS of a 1.1.0 one: no-ops", async () => {
    expect((await run(env("DEL"), conf("0.3.1"))).code).toBe(0);
    expect(await run({ CNI_COMMAND: "GC", CNI_PATH: "/opt/cni/bin" }, conf("1.1.0"))).toEqual({
      code: 0,
      stdout: "",
      stderr: "",
    });
    expect(await run({ CNI_COMMAND: "STATUS", CNI_PATH: "/opt/cni/bin" }, conf("1.1.0"))).toEqual({
      code: 0,
      stdout: "",
      stderr: "",
    });
  });

  test("a config version it does not support is code 1", async () => {
    const r = await run(env("ADD"), conf("0.2.0"));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 1, msg: "incompatible CNI versions" });
  });

  test("stdin that is not a config is an error, not a crash", async () => {
    const r = await run(env("ADD"), "{");
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout).code).toBe(6);
  });
});
