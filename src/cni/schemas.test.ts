import { describe, expect, test } from "bun:test";
import { thrown } from "../../tests/helpers/thrown.ts";
import { ConfListSchema, decodeJsonObject, NetConfSchema, validate } from "./schemas.ts";

describe("decodeJsonObject", () => {
  test("bytes and strings", () => {
    expect(decodeJsonObject(new TextEncoder().encode('{"a":1}'), "x")).toEqual({ a: 1 });
    expect(decodeJsonObject(' {"b":[true]} \n', "x")).toEqual({ b: [true] });
  });
  test.each([
    ["", "empty input"],
    ["   ", "empty input"],
    ["[1]", "expected a JSON object, got an array"],
    ["null", "expected a JSON object, got null"],
    ['"s"', "expected a JSON object, got string"],
    ["3", "expected a JSON object, got number"],
  ])("%p is code 6", (input, details) => {
    const e = thrown(() => decodeJsonObject(input, "network configuration"));
    expect(e.toJSON()).toEqual({ code: 6, msg: "failed to decode network configuration", details });
  });
  test("syntax error carries the parser's message", () => {
    const e = thrown(() => decodeJsonObject("{nope", "result"));
    expect(e.code).toBe(6);
    expect(e.msg).toBe("failed to decode result");
    expect(e.details).toBeTruthy();
  });
  test("nesting past Go's 10000 levels is code 6, where JSON.stringify would later throw RangeError", () => {
    const deep = (d: number) => `{"cniVersion":"1.0.0","name":"n","type":"t","x":${"[".repeat(d)}${"]".repeat(d)}}`;
    expect(decodeJsonObject(deep(9_999), "x").name).toBe("n");
    const e = thrown(() => decodeJsonObject(deep(100_000), "network configuration"));
    expect(e.toJSON()).toEqual({
      code: 6,
      msg: "failed to decode network configuration",
      details: "nested more than 10000 levels deep",
    });
    // Brackets inside strings are text, not nesting.
    expect(decodeJsonObject(`{"s":"${"[".repeat(20_000)}"}`, "x").s).toHaveLength(20_000);
  });
});

describe("validate", () => {
  const conflist = {
    cniVersion: "1.0.0",
    name: "net",
    plugins: [
      { type: "bridge", bridge: "br0", ipam: { type: "host-local", subnet: "10.1.0.0/16" } },
      { type: "tuning" },
    ],
  };
  test("keeps unknown fields (looseObject)", () => {
    const out = validate(ConfListSchema, conflist, 7, "network configuration");
    expect(out).toEqual(conflist);
    expect(out.plugins[0]!.bridge).toBe("br0");
    expect(out.plugins[0]!.ipam).toEqual({ type: "host-local", subnet: "10.1.0.0/16" });
  });
  test.each([
    [
      { ...conflist, plugins: [{ type: 5 }] },
      'invalid network configuration: field "plugins[0].type": expected string, got 5',
    ],
    [{ ...conflist, plugins: [{ type: "a" }, {}] }, 'invalid network configuration: field "plugins[1].type": required'],
    [
      { ...conflist, plugins: [{ type: "" }] },
      'invalid network configuration: field "plugins[0].type": must not be empty',
    ],
    [{ ...conflist, plugins: [] }, 'invalid network configuration: field "plugins": must not be empty'],
    [{ ...conflist, name: undefined }, 'invalid network configuration: field "name": required'],
    [
      { ...conflist, disableCheck: "yes" },
      'invalid network configuration: field "disableCheck": expected (boolean | ("true" | "false")), got "yes"',
    ],
    [
      { ...conflist, plugins: [{ type: "a", capabilities: { portMappings: "yes" } }] },
      'invalid network configuration: field "plugins[0].capabilities.portMappings": expected boolean, got "yes"',
    ],
    ["str", 'invalid network configuration: expected Object, got "str"'],
  ])("%#: names the field", (value, msg) => {
    const e = thrown(() => validate(ConfListSchema, value, 7, "network configuration"));
    expect(e.toJSON()).toEqual({ code: 7, msg });
  });
  test("disableCheck as string is accepted", () => {
    expect(validate(ConfListSchema, { ...conflist, disableCheck: "true" }, 7, "x").disableCheck).toBe("true");
  });
  test("the code is the caller's", () => {
    expect(thrown(() => validate(NetConfSchema, { name: "x" }, 4, "env")).code).toBe(4);
  });
  test("NetConf: name optional, type required", () => {
    expect(validate(NetConfSchema, { type: "macvlan", master: "eth0" }, 7, "x")).toEqual({
      type: "macvlan",
      master: "eth0",
    });
  });
});
