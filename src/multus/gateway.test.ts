import { describe, expect, test } from "bun:test";
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { Result100, Route } from "../cni/result.ts";
import {
  ECMP_MESSAGE,
  checkEcmp,
  gatewayFamilies,
  gatewayFilterFlags,
  isDefaultRouteDst,
  rewriteDefaultRoutes,
} from "./gateway.ts";

describe("isDefaultRouteDst", () => {
  const cases: Array<[string | undefined, boolean]> = [
    [undefined, true],
    ["", true],
    ["0.0.0.0/0", true],
    ["::/0", true],
    ["::0/0", true],
    ["0:0:0:0:0:0:0:0/0", true],
    ["0.0.0.0", true],
    ["::", true],
    ["0.0.0.0/8", false],
    ["::/64", false],
    ["10.0.0.0/0", false],
    ["10.0.0.0/8", false],
    ["2001:db8::/32", false],
    ["garbage", false],
  ];
  for (const [dst, want] of cases) {
    test(JSON.stringify(dst ?? null), () => {
      expect(isDefaultRouteDst(dst)).toBe(want);
    });
  }
});

describe("checkEcmp", () => {
  const ok: Array<Array<string[] | undefined>> = [
    [],
    [undefined, undefined],
    [["10.0.0.1"]],
    [["10.0.0.1", "2001:db8::1"]],
    [["10.0.0.1"], ["2001:db8::1"], [], undefined],
    [[], []],
  ];
  for (const requests of ok) {
    test(`allows ${JSON.stringify(requests)}`, () => {
      expect(() => checkEcmp(requests)).not.toThrow();
    });
  }
  const ecmp: Array<Array<string[] | undefined>> = [
    [["10.0.0.1", "10.0.0.2"]],
    [["10.0.0.1"], ["10.0.1.1"]],
    [["2001:db8::1"], undefined, ["2001:db8::2"]],
    [["::ffff:10.0.0.1"], ["10.0.0.2"]], // IPv4-mapped counts as IPv4, as Go's To4()
  ];
  for (const requests of ecmp) {
    test(`refuses ${JSON.stringify(requests)}`, () => {
      let err: unknown;
      try {
        checkEcmp(requests);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CniError);
      expect((err as CniError).code).toBe(ErrorCode.InvalidConfig);
      expect((err as CniError).msg).toBe(ECMP_MESSAGE);
      expect(ECMP_MESSAGE).toBe("multus does not support ECMP for default-route");
    });
  }
  test("an invalid gateway is a config error", () => {
    expect(() => checkEcmp([["nope"]])).toThrow(CniError);
  });
});

test("gatewayFamilies", () => {
  expect(gatewayFamilies([])).toEqual({ v4: false, v6: false });
  expect(gatewayFamilies(["10.0.0.1"])).toEqual({ v4: true, v6: false });
  expect(gatewayFamilies(["2001:db8::1"])).toEqual({ v4: false, v6: true });
  expect(gatewayFamilies(["2001:db8::1", "10.0.0.1"])).toEqual({ v4: true, v6: true });
});

const V4_DEFAULT: Route = { dst: "0.0.0.0/0", gw: "10.1.1.1" };
const V6_DEFAULT: Route = { dst: "::/0", gw: "2001:db8::1" };
const V6_DEFAULT_0: Route = { dst: "::0/0", gw: "2001:db8::2" };
const V4_OTHER: Route = { dst: "10.2.0.0/16", gw: "10.1.1.254" };
const V6_OTHER: Route = { dst: "fd00::/8", gw: "2001:db8::fe" };

// The result cache may hold any version; what we edit is the 1.x hub.
const HUB_VERSIONS = ["1.0.0", "1.1.0"] as const;

describe("gatewayFilterFlags (Go's IsFilterV4Gateway/IsFilterV6Gateway in the delegate cache)", () => {
  const flags = (requests: Array<string[] | undefined>) => gatewayFilterFlags(requests).map((f) => [f.v4, f.v6]);
  test("no delegate asks for a default route: every filter off", () => {
    expect(flags([undefined, undefined])).toEqual([
      [false, false],
      [false, false],
    ]);
  });
  test("one asks for IPv4: it keeps IPv4 and filters IPv6; the others filter both", () => {
    expect(flags([undefined, ["10.1.1.1"], undefined])).toEqual([
      [true, true],
      [false, true],
      [true, true],
    ]);
  });
  test("dual stack split across two delegates", () => {
    expect(flags([["fd00::1"], ["10.1.1.1"]])).toEqual([
      [true, false],
      [false, true],
    ]);
  });
  test("an empty default-route list still turns filtering on, and filters both for its delegate", () => {
    expect(flags([undefined, []])).toEqual([
      [true, true],
      [true, true],
    ]);
  });
});

describe("rewriteDefaultRoutes", () => {
  const cases: Array<{
    title: string;
    routes?: Route[];
    keepV4: boolean;
    keepV6: boolean;
    gateways: string[];
    want?: Route[];
  }> = [
    {
      title: "keep both: unchanged",
      routes: [V4_DEFAULT, V6_DEFAULT, V4_OTHER],
      keepV4: true,
      keepV6: true,
      gateways: [],
      want: [V4_DEFAULT, V6_DEFAULT, V4_OTHER],
    },
    {
      title: "drop v4 defaults only",
      routes: [V4_DEFAULT, V6_DEFAULT, V4_OTHER, V6_OTHER],
      keepV4: false,
      keepV6: true,
      gateways: [],
      want: [V6_DEFAULT, V4_OTHER, V6_OTHER],
    },
    {
      title: "drop v6 defaults: ::/0 and ::0/0 alike",
      routes: [V4_DEFAULT, V6_DEFAULT, V6_DEFAULT_0, V6_OTHER],
      keepV4: true,
      keepV6: false,
      gateways: [],
      want: [V4_DEFAULT, V6_OTHER],
    },
    {
      title: "[] request: every default route removed",
      routes: [V4_DEFAULT, V6_DEFAULT, V6_DEFAULT_0, V4_OTHER],
      keepV4: false,
      keepV6: false,
      gateways: [],
      want: [V4_OTHER],
    },
    {
      title: "nothing left: routes dropped",
      routes: [V4_DEFAULT, V6_DEFAULT],
      keepV4: false,
      keepV6: false,
      gateways: [],
      want: undefined,
    },
    { title: "no routes at all", routes: undefined, keepV4: false, keepV6: false, gateways: [], want: undefined },
    {
      title: "dst-less route with a v4 gw goes with v4",
      routes: [
        { dst: "", gw: "10.1.1.1" },
        { dst: "", gw: "2001:db8::1" },
      ],
      keepV4: false,
      keepV6: true,
      gateways: [],
      want: [{ dst: "", gw: "2001:db8::1" }],
    },
    {
      title: "route of unknown family goes when either family goes",
      routes: [{ dst: "" }, V4_OTHER],
      keepV4: true,
      keepV6: false,
      gateways: [],
      want: [V4_OTHER],
    },
    {
      title: "replace with a v4 gateway",
      routes: [V4_DEFAULT, V6_DEFAULT, V4_OTHER],
      keepV4: true,
      keepV6: false,
      gateways: ["10.1.1.9"],
      want: [V4_OTHER, { dst: "0.0.0.0/0", gw: "10.1.1.9" }],
    },
    {
      title: "replace with a v6 gateway (canonical text)",
      routes: [V4_DEFAULT, V6_DEFAULT_0],
      keepV4: false,
      keepV6: true,
      gateways: ["2001:DB8:0::9"],
      want: [{ dst: "::/0", gw: "2001:db8::9" }],
    },
    {
      title: "replace with both families",
      routes: [V4_DEFAULT, V6_DEFAULT],
      keepV4: true,
      keepV6: true,
      gateways: ["10.1.1.9", "2001:db8::9"],
      want: [
        { dst: "0.0.0.0/0", gw: "10.1.1.9" },
        { dst: "::/0", gw: "2001:db8::9" },
      ],
    },
    {
      title: "add a gateway where there was no route",
      routes: undefined,
      keepV4: true,
      keepV6: false,
      gateways: ["10.1.1.9"],
      want: [{ dst: "0.0.0.0/0", gw: "10.1.1.9" }],
    },
  ];
  for (const version of HUB_VERSIONS) {
    for (const c of cases) {
      test(`${version}: ${c.title}`, () => {
        const result: Result100 = {
          cniVersion: version,
          interfaces: [{ name: "net1", sandbox: "/ns" }],
          ips: [{ address: "10.1.1.2/24", gateway: "10.1.1.1", interface: 0 }],
          dns: { nameservers: ["10.0.0.10"] },
        };
        if (c.routes) result.routes = structuredClone(c.routes);
        const before = structuredClone(result);
        const got = rewriteDefaultRoutes(result, { keepV4: c.keepV4, keepV6: c.keepV6, gateways: c.gateways });
        expect(got.routes).toEqual(c.want);
        expect("routes" in got).toBe(c.want !== undefined);
        // Everything else is carried over, and the input is untouched.
        expect({ ...got, routes: undefined }).toEqual({ ...before, routes: undefined });
        expect(result).toEqual(before);
        expect(got.interfaces).not.toBe(result.interfaces);
      });
    }
  }
});
