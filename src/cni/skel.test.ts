import { describe, expect, test } from "bun:test";
import type { CmdArgs } from "./args.ts";
import { CniError } from "./errors.ts";
import { runSkel, type SkelHandlers } from "./skel.ts";

const ABOUT = "meta-plugin that delegates to other CNI plugins";

interface Call {
  command: string;
  args: CmdArgs;
  conf: Record<string, unknown>;
}

/** Runs the skel with injected io; records what reached the handlers. */
async function run(
  env: Record<string, string | undefined>,
  stdin: string | object = "",
  opts: { about?: string; handlers?: Partial<SkelHandlers> } = {},
) {
  let stdout = "";
  let stderr = "";
  const calls: Call[] = [];
  const record = (command: string) => async (args: CmdArgs, conf: Record<string, unknown>) => {
    calls.push({ command, args, conf });
  };
  const handlers: SkelHandlers = {
    add: async (args, conf) => {
      calls.push({ command: "ADD", args, conf });
      return { cniVersion: conf.cniVersion, ips: [{ address: "10.1.0.5/24" }] };
    },
    del: record("DEL"),
    check: record("CHECK"),
    gc: record("GC"),
    status: record("STATUS"),
    ...opts.handlers,
  };
  const bytes = new TextEncoder().encode(typeof stdin === "string" ? stdin : JSON.stringify(stdin));
  const code = await runSkel(
    { env, stdin: bytes, stdout: (s) => (stdout += s), stderr: (s) => (stderr += s) },
    handlers,
    opts.about ?? ABOUT,
  );
  return { code, stdout, stderr, calls };
}

const env = (command: string, extra: Record<string, string | undefined> = {}) => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: "ctr1",
  CNI_NETNS: "/var/run/netns/ns1",
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
  CNI_ARGS: "K8S_POD_NAME=p",
  ...extra,
});
const conf = (cniVersion: string | undefined, extra: object = {}) => ({
  ...(cniVersion === undefined ? {} : { cniVersion }),
  name: "multus-cni-network",
  type: "multus-shim",
  ...extra,
});
const errorJson = (o: object) => JSON.stringify(o, null, 4);

describe("no CNI_COMMAND", () => {
  test("prints about and the versions to stderr, exit 0, nothing on stdout", async () => {
    const r = await run({});
    expect(r).toMatchObject({ code: 0, stdout: "" });
    expect(r.stderr).toBe(
      `${ABOUT}\nCNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0\n`,
    );
  });
  test("without about text it is a code 4 error", async () => {
    const r = await run({ CNI_COMMAND: "" }, "", { about: "" });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(errorJson({ code: 4, msg: "required env variables [CNI_COMMAND] missing" }));
  });
});

describe("VERSION", () => {
  const reply =
    '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}\n';
  test.each([
    ["empty stdin", ""],
    ["stdin with cniVersion", '{"cniVersion":"0.4.0"}'],
    ["garbage stdin", "{"],
  ])("%s", async (_, stdin) => {
    const r = await run({ CNI_COMMAND: "VERSION" }, stdin);
    expect(r).toEqual({ code: 0, stdout: reply, stderr: "", calls: [] });
  });
});

describe("ADD", () => {
  test.each(["0.3.1", "1.0.0", "1.1.0"])(
    "prints the handler's result (%s) with 4-space indent, no newline",
    async (v) => {
      const r = await run(env("ADD"), conf(v));
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(
        `{\n    "cniVersion": "${v}",\n    "ips": [\n        {\n            "address": "10.1.0.5/24"\n        }\n    ]\n}`,
      );
      expect(r.stderr).toBe("");
    },
  );
  test("handler gets CmdArgs and the raw conf with unknown fields", async () => {
    const c = conf("1.0.0", { delegates: [{ type: "flannel" }], kubeconfig: "/etc/k" });
    const r = await run(env("ADD"), c);
    expect(r.calls).toHaveLength(1);
    expect(r.calls[0]!.conf).toEqual(c);
    expect(r.calls[0]!.args).toMatchObject({
      command: "ADD",
      containerId: "ctr1",
      netns: "/var/run/netns/ns1",
      ifname: "eth0",
      path: "/opt/cni/bin",
      args: "K8S_POD_NAME=p",
    });
    expect(new TextDecoder().decode(r.calls[0]!.args.stdin)).toBe(JSON.stringify(c));
  });
  test("missing cniVersion is 0.1.0 and accepted", async () => {
    const r = await run(env("ADD"), conf(undefined));
    expect(r.code).toBe(0);
  });
});

describe.each(["DEL", "CHECK", "GC", "STATUS"])("%s success", (command) => {
  test("prints nothing, exit 0, handler called once", async () => {
    const r = await run(env(command), conf("1.1.0"));
    expect(r).toMatchObject({ code: 0, stdout: "", stderr: "" });
    expect(r.calls.map((c) => c.command)).toEqual([command]);
  });
});

describe("errors go to stdout as the CNI error object, exit 1", () => {
  const cases: Array<[string, Record<string, string | undefined>, string | object, object]> = [
    ["unknown command", { CNI_COMMAND: "GET" }, conf("1.0.0"), { code: 4, msg: "unknown CNI_COMMAND: GET" }],
    [
      "missing env",
      { CNI_COMMAND: "ADD", CNI_PATH: "/p" },
      conf("1.0.0"),
      { code: 4, msg: "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME] missing" },
    ],
    [
      "bad container ID",
      env("ADD", { CNI_CONTAINERID: "a/b" }),
      conf("1.0.0"),
      {
        code: 4,
        msg: "invalid characters in containerID",
        details: 'CNI_CONTAINERID "a/b" must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$',
      },
    ],
    [
      "bad ifname",
      env("DEL", { CNI_IFNAME: "a-very-long-ifname" }),
      conf("1.0.0"),
      {
        code: 4,
        msg: "invalid CNI_IFNAME",
        details: 'interface name "a-very-long-ifname" is 18 bytes long, the limit is 15',
      },
    ],
    ["empty stdin", env("ADD"), "", { code: 6, msg: "failed to decode network configuration", details: "empty input" }],
    [
      "stdin not an object",
      env("ADD"),
      "[]",
      { code: 6, msg: "failed to decode network configuration", details: "expected a JSON object, got an array" },
    ],
    [
      "name not a string",
      env("ADD"),
      { name: 3 },
      {
        cniVersion: "0.1.0",
        code: 6,
        msg: "failed to decode network configuration",
        details: 'field "name": expected string, got 3',
      },
    ],
    [
      "missing name",
      env("ADD"),
      { cniVersion: "1.0.0", type: "x" },
      { cniVersion: "1.0.0", code: 7, msg: "missing network name" },
    ],
    [
      "empty name",
      env("ADD"),
      { cniVersion: "1.0.0", name: "" },
      { cniVersion: "1.0.0", code: 7, msg: "missing network name" },
    ],
    [
      "bad name",
      env("ADD"),
      { cniVersion: "1.0.0", name: "a b" },
      { cniVersion: "1.0.0", code: 7, msg: "invalid characters found in network name", details: "a b" },
    ],
    [
      "unsupported version",
      env("ADD"),
      conf("1.2.0"),
      {
        code: 1,
        msg: "incompatible CNI versions",
        details: 'config is "1.2.0", plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]',
      },
    ],
    [
      "invalid version",
      env("DEL"),
      conf("1.0"),
      {
        code: 1,
        msg: "incompatible CNI versions",
        details: 'config is "1.0", plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]',
      },
    ],
    [
      "non-string version",
      env("ADD"),
      conf(undefined, { cniVersion: 1 }),
      { code: 6, msg: "failed to decode network configuration", details: 'field "cniVersion": expected string, got 1' },
    ],
    [
      "CHECK on 0.3.1",
      env("CHECK"),
      conf("0.3.1"),
      {
        cniVersion: "0.3.1",
        code: 1,
        msg: "config version does not allow CHECK",
        details: 'config is "0.3.1", CHECK needs at least "0.4.0"',
      },
    ],
    [
      "CHECK without cniVersion (0.1.0)",
      env("CHECK"),
      conf(undefined),
      {
        cniVersion: "0.1.0",
        code: 1,
        msg: "config version does not allow CHECK",
        details: 'config is "0.1.0", CHECK needs at least "0.4.0"',
      },
    ],
    [
      "GC on 1.0.0",
      env("GC"),
      conf("1.0.0"),
      {
        cniVersion: "1.0.0",
        code: 1,
        msg: "config version does not allow GC",
        details: 'config is "1.0.0", GC needs at least "1.1.0"',
      },
    ],
    [
      "STATUS on 0.4.0",
      env("STATUS"),
      conf("0.4.0"),
      {
        cniVersion: "0.4.0",
        code: 1,
        msg: "config version does not allow STATUS",
        details: 'config is "0.4.0", STATUS needs at least "1.1.0"',
      },
    ],
    ["CHECK on an invalid version", env("CHECK"), conf("x"), { code: 1, msg: 'invalid CNI version "x"' }],
  ];
  test.each(cases)("%s", async (_, e, stdin, want) => {
    const r = await run(e, stdin);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe("");
    expect(r.calls).toEqual([]);
    expect(r.stdout).toBe(errorJson(want));
  });

  test("undecodable stdin is code 6 with the parser's message as details", async () => {
    const r = await run(env("ADD"), "{not json");
    expect(r.code).toBe(1);
    const out = JSON.parse(r.stdout);
    expect(Object.keys(out)).toEqual(["code", "msg", "details"]);
    expect(out).toMatchObject({ code: 6, msg: "failed to decode network configuration" });
  });

  test("CHECK on 0.4.0 is allowed", async () => {
    expect((await run(env("CHECK"), conf("0.4.0"))).code).toBe(0);
  });

  test("a handler's CniError passes through untouched, with the conf's cniVersion", async () => {
    const r = await run(env("ADD"), conf("0.4.0"), {
      handlers: {
        add: async () => {
          throw new CniError(11, "daemon not ready", "retry later");
        },
      },
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe(
      errorJson({ cniVersion: "0.4.0", code: 11, msg: "daemon not ready", details: "retry later" }),
    );
  });
  test("a plain Error from a handler becomes 999", async () => {
    const r = await run(env("DEL"), conf("1.1.0"), {
      handlers: {
        del: async () => {
          throw new Error("boom <x>");
        },
      },
    });
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('{\n    "cniVersion": "1.1.0",\n    "code": 999,\n    "msg": "boom \\u003cx\\u003e"\n}');
  });
  test.each(["GC", "STATUS", "CHECK"])("a thrown non-Error from %s becomes 999", async (command) => {
    const key = command.toLowerCase() as "gc" | "status" | "check";
    const r = await run(env(command), conf("1.1.0"), {
      handlers: {
        [key]: async () => {
          throw "nope";
        },
      },
    });
    expect(JSON.parse(r.stdout)).toEqual({ cniVersion: "1.1.0", code: 999, msg: "nope" });
  });
});

describe("CNI_NETNS naming the plugin's own netns", () => {
  test.each(["ADD", "DEL", "CHECK"])("%s is refused with code 8 before the handler runs", async (command) => {
    const r = await run(env(command, { CNI_NETNS: "/proc/self/ns/net" }), conf("1.0.0"));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      cniVersion: "1.0.0",
      code: 8,
      msg: "plugin's netns and netns from CNI_NETNS should not be the same",
      details: "CNI_NETNS=/proc/self/ns/net",
    });
    expect(r.calls).toEqual([]);
  });
  test.each(["1", "true", "TRUE"])("CNI_NETNS_OVERRIDE=%s lets it through", async (override) => {
    const r = await run(env("ADD", { CNI_NETNS: "/proc/self/ns/net", CNI_NETNS_OVERRIDE: override }), conf("1.0.0"));
    expect(r.code).toBe(0);
    expect(r.calls.map((c) => c.command)).toEqual(["ADD"]);
  });
  test("a netns path that does not exist (already gone on DEL) is the handler's business", async () => {
    const r = await run(env("DEL", { CNI_NETNS: "/var/run/netns/does-not-exist-here" }), conf("1.0.0"));
    expect(r.code).toBe(0);
    expect(r.calls.map((c) => c.command)).toEqual(["DEL"]);
  });
});
