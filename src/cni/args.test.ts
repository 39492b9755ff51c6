import { describe, expect, test } from "bun:test";
import { cmdArgsFromEnv, formatCniArgs, getCniArg, ifnameProblem, parseCniArgs } from "./args.ts";
import { thrown } from "../../tests/helpers/thrown.ts";

describe("parseCniArgs", () => {
  test.each([
    [undefined, []],
    ["", []],
    [";", []],
    ["A=1", [["A", "1"]]],
    ["A=1;", [["A", "1"]]],
    [
      "A=1;;B=2",
      [
        ["A", "1"],
        ["B", "2"],
      ],
    ],
    [
      " A = 1 ; B=2 ",
      [
        ["A", "1"],
        ["B", "2"],
      ],
    ],
    [
      "IgnoreUnknown=true;K8S_POD_NAME=web-0;K8S_POD_NAMESPACE=default",
      [
        ["IgnoreUnknown", "true"],
        ["K8S_POD_NAME", "web-0"],
        ["K8S_POD_NAMESPACE", "default"],
      ],
    ],
    [
      "TOKEN=abc==;X=a=b=c",
      [
        ["TOKEN", "abc=="],
        ["X", "a=b=c"],
      ],
    ],
    ["EMPTY=", [["EMPTY", ""]]],
  ] as const)("%p", (input, want) => expect(parseCniArgs(input)).toEqual(want.map(([k, v]) => [k, v])));

  test.each(["A=1;B", "novalue", "A=1; junk ;B=2"])("item without = in %p is code 4", (input) => {
    const e = thrown(() => parseCniArgs(input));
    expect(e.code).toBe(4);
    expect(e.msg).toMatch(/^invalid CNI_ARGS item "/);
  });
  test("names the bad item", () => expect(thrown(() => parseCniArgs("A=1;B")).msg).toBe('invalid CNI_ARGS item "B"'));
});

test("formatCniArgs round-trips", () => {
  const pairs: Array<[string, string]> = [
    ["K8S_POD_NAME", "web-0"],
    ["X", "a=b"],
  ];
  expect(formatCniArgs(pairs)).toBe("K8S_POD_NAME=web-0;X=a=b");
  expect(parseCniArgs(formatCniArgs(pairs))).toEqual(pairs);
  expect(formatCniArgs([])).toBe("");
});

test("getCniArg: last occurrence wins, missing is undefined", () => {
  const pairs = parseCniArgs("A=1;B=2;A=3");
  expect(getCniArg(pairs, "A")).toBe("3");
  expect(getCniArg(pairs, "B")).toBe("2");
  expect(getCniArg(pairs, "C")).toBeUndefined();
});

describe("cmdArgsFromEnv", () => {
  const full = {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: "abc123",
    CNI_NETNS: "/var/run/netns/x",
    CNI_IFNAME: "eth0",
    CNI_ARGS: "K8S_POD_NAME=p",
    CNI_PATH: "/opt/cni/bin",
  };
  const stdin = new TextEncoder().encode("{}");

  test("reads every field", () => {
    expect(cmdArgsFromEnv(full, stdin)).toEqual({
      command: "ADD",
      containerId: "abc123",
      netns: "/var/run/netns/x",
      ifname: "eth0",
      args: "K8S_POD_NAME=p",
      path: "/opt/cni/bin",
      stdin,
    });
  });

  test.each([
    ["missing", {}, "required env variables [CNI_COMMAND] missing"],
    ["empty", { CNI_COMMAND: "" }, "required env variables [CNI_COMMAND] missing"],
    ["unknown", { CNI_COMMAND: "GET" }, "unknown CNI_COMMAND: GET"],
    ["lower case", { CNI_COMMAND: "add" }, "unknown CNI_COMMAND: add"],
  ])("CNI_COMMAND %s -> code 4", (_, env, msg) => {
    const e = thrown(() => cmdArgsFromEnv(env, stdin));
    expect([e.code, e.msg]).toEqual([4, msg]);
  });

  // Which variables each command requires, all missing at once.
  test.each([
    ["ADD", "CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH"],
    ["CHECK", "CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH"],
    ["DEL", "CNI_CONTAINERID,CNI_IFNAME,CNI_PATH"],
    ["GC", "CNI_PATH"],
    ["STATUS", "CNI_PATH"],
  ])("%s with nothing else set", (command, list) => {
    const e = thrown(() => cmdArgsFromEnv({ CNI_COMMAND: command }, stdin));
    expect(e.toJSON()).toEqual({ code: 4, msg: `required env variables [${list}] missing` });
  });

  test("VERSION needs only CNI_COMMAND", () => {
    expect(cmdArgsFromEnv({ CNI_COMMAND: "VERSION" }, stdin)).toMatchObject({
      command: "VERSION",
      containerId: "",
      path: "",
    });
  });
  test("DEL without netns is fine", () => {
    const { CNI_NETNS: _, ...env } = full;
    expect(cmdArgsFromEnv({ ...env, CNI_COMMAND: "DEL" }, stdin).netns).toBe("");
  });
  test("GC/STATUS do not validate container ID or ifname", () => {
    for (const command of ["GC", "STATUS"] as const) {
      const a = cmdArgsFromEnv(
        { CNI_COMMAND: command, CNI_PATH: "/p", CNI_CONTAINERID: "bad id", CNI_IFNAME: "a/b" },
        stdin,
      );
      expect(a.command).toBe(command);
    }
  });

  test.each(["ADD", "CHECK", "DEL"])("%s: bad container ID is code 4", (command) => {
    const e = thrown(() => cmdArgsFromEnv({ ...full, CNI_COMMAND: command, CNI_CONTAINERID: "-abc" }, stdin));
    expect(e.toJSON()).toEqual({
      code: 4,
      msg: "invalid characters in containerID",
      details: 'CNI_CONTAINERID "-abc" must match ^[a-zA-Z0-9][a-zA-Z0-9_.\\-]*$',
    });
  });
  test("a bad container ID is reported before a missing CNI_PATH (Go's order)", () => {
    const e = thrown(() => cmdArgsFromEnv({ ...full, CNI_CONTAINERID: "a b", CNI_PATH: undefined }, stdin));
    expect(e.msg).toBe("invalid characters in containerID");
  });
  test("container IDs with _ . - are fine", () => {
    expect(cmdArgsFromEnv({ ...full, CNI_CONTAINERID: "a_b.c-d" }, stdin).containerId).toBe("a_b.c-d");
  });

  test.each([
    ["sixteen-chars-xx", "is 16 bytes long, the limit is 15"],
    ["ééééééééé", "is 18 bytes long, the limit is 15"],
    [".", `must not be "." or ".."`],
    ["..", `must not be "." or ".."`],
    ["a/b", "must not contain whitespace, '/' or ':'"],
    ["eth0:1", "must not contain whitespace, '/' or ':'"],
    ["eth 0", "must not contain whitespace, '/' or ':'"],
    ["eth\t0", "must not contain whitespace, '/' or ':'"],
  ])("ifname %p is code 4 naming CNI_IFNAME", (ifname, why) => {
    for (const command of ["ADD", "CHECK", "DEL"]) {
      const e = thrown(() => cmdArgsFromEnv({ ...full, CNI_COMMAND: command, CNI_IFNAME: ifname }, stdin));
      expect(e.toJSON()).toEqual({
        code: 4,
        msg: "invalid CNI_IFNAME",
        details: `interface name ${JSON.stringify(ifname)} ${why}`,
      });
    }
  });
  test("15-character ifname is fine", () => {
    expect(cmdArgsFromEnv({ ...full, CNI_IFNAME: "fifteen-chars-x" }, stdin).ifname).toBe("fifteen-chars-x");
  });
});

describe("ifnameProblem", () => {
  const cases: Array<[string, string | undefined]> = [
    ["eth0", undefined],
    ["abcdefghijklmno", undefined],
    ["net-1_x.y", undefined],
    ["", "must not be empty"],
    ["abcdefghijklmnop", "is 16 bytes long, the limit is 15"],
    ["ééééééééé", "is 18 bytes long, the limit is 15"],
    [".", `must not be "." or ".."`],
    ["..", `must not be "." or ".."`],
    ["a b", "must not contain whitespace, '/' or ':'"],
    ["a\tb", "must not contain whitespace, '/' or ':'"],
    ["a/b", "must not contain whitespace, '/' or ':'"],
    ["a:b", "must not contain whitespace, '/' or ':'"],
  ];
  for (const [name, want] of cases) {
    test(JSON.stringify(name), () => {
      expect(ifnameProblem(name)).toBe(want);
    });
  }
});

describe("a huge value in the env is quoted short", () => {
  const env = { CNI_COMMAND: "DEL", CNI_CONTAINERID: "c1", CNI_PATH: "/x" };
  test.each([
    ["CNI_IFNAME", { ...env, CNI_IFNAME: "x".repeat(1 << 20) }],
    ["CNI_CONTAINERID", { ...env, CNI_IFNAME: "eth0", CNI_CONTAINERID: `-${"x".repeat(1 << 20)}` }],
    ["CNI_COMMAND", { ...env, CNI_IFNAME: "eth0", CNI_COMMAND: "X".repeat(1 << 20) }],
  ])("%s of a megabyte: the message quotes 256 characters and says how long it was", (name, e) => {
    const err = thrown(() => cmdArgsFromEnv(e, new Uint8Array()));
    expect(err.code).toBe(4);
    expect(err.message).toContain(name);
    expect(err.message.length).toBeLessThan(500);
    expect(err.message).toMatch(/\.\.\. \(104857[0-9] characters\)/);
  });
  test("CNI_ARGS item without '='", () => {
    const err = thrown(() => parseCniArgs("y".repeat(1 << 20)));
    expect(err.message.length).toBeLessThan(400);
  });
});
