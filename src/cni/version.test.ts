import { describe, expect, test } from "bun:test";
import { SUPPORTED_VERSIONS } from "./spec.ts";
import { thrown } from "../../tests/helpers/thrown.ts";
import {
  compareVersions,
  configVersion,
  isSupportedVersion,
  parseVersion,
  reconcileVersion,
  type ResultGeneration,
  resultGeneration,
  versionAtLeast,
} from "./version.ts";

describe("parseVersion", () => {
  test.each([
    ["0.1.0", [0, 1, 0]],
    ["1.1.0", [1, 1, 0]],
    ["10.20.30", [10, 20, 30]],
  ] as const)("%s", (s, want) => expect(parseVersion(s)).toEqual([...want]));

  test.each(["1.0", "x", "", "1.0.0.0", "v1.0.0", "1.0.0 ", "1.-1.0"])("rejects %p with code 1 naming it", (s) => {
    const e = thrown(() => parseVersion(s));
    expect(e.code).toBe(1);
    expect(e.msg).toBe(`invalid CNI version ${JSON.stringify(s)}`);
  });
});

describe("compareVersions / versionAtLeast", () => {
  test.each([
    ["0.3.1", "0.4.0", -1],
    ["0.4.0", "0.4.0", 0],
    ["1.0.0", "0.4.0", 1],
    ["0.10.0", "0.9.0", 1], // numeric, not lexical
    ["1.1.0", "1.0.0", 1],
  ] as const)("%s vs %s", (a, b, want) => {
    expect(compareVersions(a, b)).toBe(want);
    expect(versionAtLeast(a, b)).toBe(want >= 0);
  });
  test("invalid operand throws code 1", () => expect(thrown(() => compareVersions("1.0", "1.0.0")).code).toBe(1));
});

describe("isSupportedVersion / resultGeneration", () => {
  const gens: Record<(typeof SUPPORTED_VERSIONS)[number], ResultGeneration> = {
    "0.1.0": "0.2",
    "0.2.0": "0.2",
    "0.3.0": "0.4",
    "0.3.1": "0.4",
    "0.4.0": "0.4",
    "1.0.0": "1.x",
    "1.1.0": "1.x",
  };
  test.each(SUPPORTED_VERSIONS.map((v) => [v]))("%s is supported", (v) => {
    expect(isSupportedVersion(v)).toBe(true);
    expect(resultGeneration(v)).toBe(gens[v]);
  });
  test.each(["0.5.0", "1.2.0", "2.0.0", "", "1.0"])("%p is not", (v) => {
    expect(isSupportedVersion(v)).toBe(false);
    expect(thrown(() => resultGeneration(v)).code).toBe(1);
  });
});

describe("configVersion", () => {
  test("missing, null or empty means 0.1.0 (libcni)", () => {
    expect(configVersion({})).toBe("0.1.0");
    expect(configVersion({ cniVersion: null })).toBe("0.1.0");
    expect(configVersion({ cniVersion: "" })).toBe("0.1.0");
  });
  test("returns the string as given", () => expect(configVersion({ cniVersion: "0.3.1" })).toBe("0.3.1"));
  test("non-string is code 6", () => {
    const e = thrown(() => configVersion({ cniVersion: 1 }));
    expect(e.code).toBe(6);
    expect(e.details).toBe('field "cniVersion": expected string, got 1');
  });
});

describe("reconcileVersion", () => {
  test.each(SUPPORTED_VERSIONS.map((v) => [v]))("accepts %s", (v) => expect(() => reconcileVersion(v)).not.toThrow());
  test.each(["1.2.0", "0.5.0", "x", "1.0"])("rejects %p with Go's details", (v) => {
    const e = thrown(() => reconcileVersion(v));
    expect(e.toJSON()).toEqual({
      code: 1,
      msg: "incompatible CNI versions",
      details: `config is ${JSON.stringify(v)}, plugin supports ["0.1.0" "0.2.0" "0.3.0" "0.3.1" "0.4.0" "1.0.0" "1.1.0"]`,
    });
  });
  test("custom supported list", () => {
    expect(() => reconcileVersion("1.0.0", ["1.0.0"])).not.toThrow();
    expect(thrown(() => reconcileVersion("0.4.0", ["1.0.0"])).details).toBe(
      'config is "0.4.0", plugin supports ["1.0.0"]',
    );
  });
});
