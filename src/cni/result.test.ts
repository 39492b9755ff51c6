import { describe, expect, test } from "bun:test";
import { CniError } from "./errors.ts";
import { convertResult, formatCniJson, placeholderResult, type Result100, toCurrentResult } from "./result.ts";
import { SUPPORTED_VERSIONS } from "./spec.ts";
import { thrown } from "../../tests/helpers/thrown.ts";

// A dual-stack macvlan-like result with every field each generation can carry.
const hub: Result100 = {
  cniVersion: "1.1.0",
  interfaces: [
    { name: "net1", mac: "0a:58:0a:f4:02:05", mtu: 1500, sandbox: "/var/run/netns/cni-5f2a" },
    { name: "vhost0", socketPath: "/run/vhost/s0", pciID: "0000:00:1f.6" },
  ],
  ips: [
    { interface: 0, address: "10.244.2.5/24", gateway: "10.244.2.1" },
    { interface: 0, address: "fd00:10:244:2::5/64", gateway: "fd00:10:244:2::1" },
  ],
  routes: [
    { dst: "0.0.0.0/0", gw: "10.244.2.1" },
    { dst: "10.96.0.0/12", mtu: 1400, advmss: 1360, priority: 100, table: 0, scope: 253 },
    { dst: "::/0", gw: "fd00:10:244:2::1" },
  ],
  dns: {
    nameservers: ["10.96.0.10"],
    domain: "cluster.local",
    search: ["default.svc.cluster.local"],
    options: ["ndots:5"],
  },
};

const dns = {
  nameservers: ["10.96.0.10"],
  domain: "cluster.local",
  search: ["default.svc.cluster.local"],
  options: ["ndots:5"],
};

// The wire form per generation, keys in the order Go prints them.
const wire1x = (v: string) => ({
  cniVersion: v,
  dns: {
    domain: "cluster.local",
    nameservers: ["10.96.0.10"],
    options: ["ndots:5"],
    search: ["default.svc.cluster.local"],
  },
  interfaces: [
    { mac: "0a:58:0a:f4:02:05", mtu: 1500, name: "net1", sandbox: "/var/run/netns/cni-5f2a" },
    { name: "vhost0", pciID: "0000:00:1f.6", socketPath: "/run/vhost/s0" },
  ],
  ips: [
    { address: "10.244.2.5/24", gateway: "10.244.2.1", interface: 0 },
    { address: "fd00:10:244:2::5/64", gateway: "fd00:10:244:2::1", interface: 0 },
  ],
  routes: [
    { dst: "0.0.0.0/0", gw: "10.244.2.1" },
    { advmss: 1360, dst: "10.96.0.0/12", mtu: 1400, priority: 100, scope: 253, table: 0 },
    { dst: "::/0", gw: "fd00:10:244:2::1" },
  ],
});
const wire04 = (v: string) => ({
  cniVersion: v,
  interfaces: [{ name: "net1", mac: "0a:58:0a:f4:02:05", sandbox: "/var/run/netns/cni-5f2a" }, { name: "vhost0" }],
  ips: [
    { version: "4", interface: 0, address: "10.244.2.5/24", gateway: "10.244.2.1" },
    { version: "6", interface: 0, address: "fd00:10:244:2::5/64", gateway: "fd00:10:244:2::1" },
  ],
  routes: [
    { dst: "0.0.0.0/0", gw: "10.244.2.1" },
    { dst: "10.96.0.0/12", mtu: 1400, advmss: 1360, priority: 100, table: 0, scope: 253 },
    { dst: "::/0", gw: "fd00:10:244:2::1" },
  ],
  dns,
});
const wire02 = (v: string) => ({
  cniVersion: v,
  ip4: {
    ip: "10.244.2.5/24",
    gateway: "10.244.2.1",
    routes: [{ dst: "0.0.0.0/0", gw: "10.244.2.1" }, { dst: "10.96.0.0/12" }],
  },
  ip6: { ip: "fd00:10:244:2::5/64", gateway: "fd00:10:244:2::1", routes: [{ dst: "::/0", gw: "fd00:10:244:2::1" }] },
  dns,
});
const wireFor = (v: string) =>
  v.startsWith("1.") ? wire1x(v) : v === "0.1.0" || v === "0.2.0" ? wire02(v) : wire04(v);

// What survives a trip through each generation and back into the hub.
const hubAfter = (v: string): Result100 => {
  if (v.startsWith("1.")) return hub;
  if (v === "0.1.0" || v === "0.2.0") {
    return {
      cniVersion: "1.1.0",
      ips: [
        { address: "10.244.2.5/24", gateway: "10.244.2.1" },
        { address: "fd00:10:244:2::5/64", gateway: "fd00:10:244:2::1" },
      ],
      routes: [
        { dst: "0.0.0.0/0", gw: "10.244.2.1" },
        { dst: "10.96.0.0/12" },
        { dst: "::/0", gw: "fd00:10:244:2::1" },
      ],
      dns,
    };
  }
  return {
    ...hub,
    interfaces: [{ name: "net1", mac: "0a:58:0a:f4:02:05", sandbox: "/var/run/netns/cni-5f2a" }, { name: "vhost0" }],
  };
};

describe.each(SUPPORTED_VERSIONS.map((v) => [v]))("cniVersion %s", (version) => {
  test("hub -> wire, exact bytes", () => {
    const out = convertResult(hub, version);
    expect(JSON.stringify(out)).toBe(JSON.stringify(wireFor(version)));
  });
  test("wire -> hub", () => {
    expect(toCurrentResult(wireFor(version), "1.1.0")).toEqual(hubAfter(version));
  });
  test("round trip is stable after the first lossy step", () => {
    const once = toCurrentResult(convertResult(hub, version), "0.1.0");
    const twice = toCurrentResult(convertResult(once, version), "0.1.0");
    expect(twice).toEqual(once);
    expect(convertResult(twice, version)).toEqual(convertResult(hub, version));
  });
  test("result without cniVersion is read in the fallback version", () => {
    const { cniVersion: _, ...noVersion } = wireFor(version);
    expect(toCurrentResult(noVersion, version)).toEqual(hubAfter(version));
  });
  test.each(SUPPORTED_VERSIONS.map((to) => [to]))("-> %s via the hub", (to) => {
    const viaHub = convertResult(toCurrentResult(convertResult(hub, version), "1.1.0"), to);
    expect(viaHub.cniVersion).toBe(to);
    // The lossier of the two generations decides what is left.
    const lossy =
      ["0.1.0", "0.2.0"].includes(version) || ["0.1.0", "0.2.0"].includes(to)
        ? hubAfter("0.2.0")
        : version.startsWith("0.") || to.startsWith("0.")
          ? hubAfter("0.4.0")
          : hub;
    expect(toCurrentResult(viaHub, "x")).toEqual(lossy);
  });
  test("placeholderResult", () => {
    const p = placeholderResult({ cniVersion: version, ifname: "net1", netns: "/var/run/netns/gone" });
    const want = version.startsWith("1.")
      ? {
          cniVersion: version,
          interfaces: [{ name: "net1", sandbox: "/var/run/netns/gone" }],
          ips: [{ address: "0.0.0.0/0", gateway: "0.0.0.0" }],
        }
      : version === "0.1.0" || version === "0.2.0"
        ? { cniVersion: version, ip4: { ip: "0.0.0.0/0", gateway: "0.0.0.0" }, dns: {} }
        : {
            cniVersion: version,
            interfaces: [{ name: "net1", sandbox: "/var/run/netns/gone" }],
            ips: [{ version: "4", address: "0.0.0.0/0", gateway: "0.0.0.0" }],
            dns: {},
          };
    expect(JSON.stringify(p)).toBe(JSON.stringify(want));
  });
});

describe("toCurrentResult from real plugin output", () => {
  test("0.2.0 host-local style (ip4 only, routes)", () => {
    const raw = {
      cniVersion: "0.2.0",
      ip4: { ip: "10.1.0.7/16", gateway: "10.1.0.1", routes: [{ dst: "0.0.0.0/0" }] },
      dns: {},
    };
    expect(toCurrentResult(raw, "0.2.0")).toEqual({
      cniVersion: "1.1.0",
      ips: [{ address: "10.1.0.7/16", gateway: "10.1.0.1" }],
      routes: [{ dst: "0.0.0.0/0" }],
    });
  });
  test("0.3.1 bridge output: version field dropped, interface index kept", () => {
    const raw = {
      cniVersion: "0.3.1",
      interfaces: [
        { name: "cni0", mac: "aa:bb:cc:00:00:01" },
        { name: "veth1", mac: "aa:bb:cc:00:00:02" },
        { name: "eth0", mac: "aa:bb:cc:00:00:03", sandbox: "/proc/4/ns/net" },
      ],
      ips: [{ version: "4", interface: 2, address: "10.22.0.2/16", gateway: "10.22.0.1" }],
      routes: [{ dst: "0.0.0.0/0" }],
      dns: {},
    };
    expect(toCurrentResult(raw, "1.0.0")).toEqual({
      cniVersion: "1.1.0",
      interfaces: raw.interfaces,
      ips: [{ interface: 2, address: "10.22.0.2/16", gateway: "10.22.0.1" }],
      routes: [{ dst: "0.0.0.0/0" }],
    });
  });
  test("a 0.4.0 result cannot smuggle 1.x interface fields", () => {
    const raw = { cniVersion: "0.4.0", interfaces: [{ name: "e", mtu: 9000, pciID: "x" }] };
    expect(toCurrentResult(raw, "")).toEqual({ cniVersion: "1.1.0", interfaces: [{ name: "e" }] });
  });
  test("unknown fields are tolerated, nulls and empty strings read as absent (as Go)", () => {
    const raw = {
      cniVersion: "1.0.0",
      future: { x: 1 },
      interfaces: [{ name: "e", mac: "", extra: true }],
      ips: [{ address: "10.0.0.2/24", gateway: null, interface: null }],
      routes: null,
      dns: { nameservers: [], domain: "" },
    };
    expect(toCurrentResult(raw, "")).toEqual({
      cniVersion: "1.1.0",
      interfaces: [{ name: "e" }],
      ips: [{ address: "10.0.0.2/24" }],
    });
  });
  test("missing cniVersion and empty fallback means 0.1.0", () => {
    expect(toCurrentResult({ ip4: { ip: "10.0.0.2/8" } }, "")).toEqual({
      cniVersion: "1.1.0",
      ips: [{ address: "10.0.0.2/8" }],
    });
  });
  test("an empty 1.x result", () =>
    expect(toCurrentResult({ cniVersion: "1.0.0" }, "")).toEqual({ cniVersion: "1.1.0" }));

  test("a route without dst (libcni accepts it) is kept without one and converts by its gateway's family", () => {
    const hub = toCurrentResult(
      {
        cniVersion: "1.0.0",
        ips: [{ address: "10.0.0.3/8" }],
        routes: [{ dst: "10.1.0.0/16" }, { gw: "10.0.0.1" }, { dst: "", gw: "fd00::1" }],
      },
      "",
    );
    expect(hub.routes).toEqual([{ dst: "10.1.0.0/16" }, { gw: "10.0.0.1" }, { gw: "fd00::1" }]);
    expect(convertResult(hub, "0.2.0")).toEqual({
      cniVersion: "0.2.0",
      ip4: { ip: "10.0.0.3/8", routes: [{ dst: "10.1.0.0/16" }, { gw: "10.0.0.1" }] },
      dns: {},
    });
  });

  test.each([
    [
      { cniVersion: "1.0.0", routes: [{ dst: "default" }] },
      'invalid result: field "routes[0].dst": expected an address in CIDR form',
    ],
    [
      { cniVersion: "1.0.0", ips: [{ address: "10.0.0.300/24" }] },
      'invalid result: field "ips[0].address": expected an address in CIDR form',
    ],
    [
      { cniVersion: "1.0.0", ips: [{ address: "10.0.0.3" }] },
      'invalid result: field "ips[0].address": expected an address in CIDR form',
    ],
    [
      { cniVersion: "1.0.0", ips: [{ address: "10.0.0.3/33" }] },
      'invalid result: field "ips[0].address": expected an address in CIDR form',
    ],
    [{ cniVersion: "1.0.0", ips: [{ gateway: "10.0.0.1" }] }, 'invalid result: field "ips[0].address": required'],
    [
      { cniVersion: "1.0.0", ips: [{ address: "10.0.0.3/8", gateway: "gw" }] },
      'invalid result: field "ips[0].gateway": expected an IP address',
    ],
    [
      { cniVersion: "1.1.0", ips: [{ address: "::1/128", interface: "0" }] },
      'invalid result: field "ips[0].interface": expected number, got "0"',
    ],
    [
      { cniVersion: "1.1.0", routes: { dst: "0.0.0.0/0" } },
      'invalid result: field "routes": expected Array, got Object',
    ],
    [
      { cniVersion: "1.1.0", routes: [{ dst: "0.0.0.0/0", table: 1.5 }] },
      'invalid result: field "routes[0].table": expected an integer',
    ],
    [
      { cniVersion: "1.1.0", dns: { nameservers: "8.8.8.8" } },
      'invalid result: field "dns.nameservers": expected Array, got "8.8.8.8"',
    ],
    [
      { cniVersion: "0.4.0", ips: [{ version: 4, address: "10.0.0.3/8" }] },
      'invalid result: field "ips[0].version": expected string, got 4',
    ],
    [{ cniVersion: "0.2.0", ip4: { gateway: "10.0.0.1" } }, 'invalid result: field "ip4.ip": required'],
    [
      { cniVersion: "0.2.0", ip6: { ip: "fe80::1%eth0/64" } },
      'invalid result: field "ip6.ip": expected an address in CIDR form',
    ],
    [{ cniVersion: 1 }, 'invalid result: field "cniVersion": expected string, got 1'],
    // An array where Go decodes a struct is an UnmarshalTypeError: libcni refuses the result.
    [{ cniVersion: "1.1.0", dns: [] }, 'invalid result: field "dns": expected an object, got an array'],
    [{ cniVersion: "1.1.0", dns: ["8.8.8.8"] }, 'invalid result: field "dns": expected an object, got an array'],
    [{ cniVersion: "0.4.0", dns: [] }, 'invalid result: field "dns": expected an object, got an array'],
    [{ cniVersion: "0.2.0", dns: [] }, 'invalid result: field "dns": expected an object, got an array'],
    [
      { cniVersion: "1.1.0", interfaces: [["eth0"]] },
      'invalid result: field "interfaces[0]": expected an object, got an array',
    ],
    [
      { cniVersion: "0.3.1", interfaces: [[]] },
      'invalid result: field "interfaces[0]": expected an object, got an array',
    ],
    [
      { cniVersion: "1.0.0", ips: [["10.0.0.3/8"]] },
      'invalid result: field "ips[0]": expected an object, got an array',
    ],
    [
      { cniVersion: "0.4.0", ips: [{ address: "10.0.0.3/8" }, []] },
      'invalid result: field "ips[1]": expected an object, got an array',
    ],
    [{ cniVersion: "1.1.0", routes: [[]] }, 'invalid result: field "routes[0]": expected an object, got an array'],
    [{ cniVersion: "0.2.0", ip4: ["10.0.0.3/8"] }, 'invalid result: field "ip4": expected an object, got an array'],
    [
      { cniVersion: "0.2.0", ip4: { ip: "10.0.0.3/8", routes: [[]] } },
      'invalid result: field "ip4.routes[0]": expected an object, got an array',
    ],
  ])("%#: malformed input is code 6 naming the field", (raw, msg) => {
    expect(thrown(() => toCurrentResult(raw, "1.1.0")).toJSON()).toEqual({ code: 6, msg });
  });
  test.each([[null], [[]], ["x"], [3]])("non-object %p is code 6", (raw) => {
    expect(thrown(() => toCurrentResult(raw, "1.1.0")).code).toBe(6);
  });
  test.each(["1.2.0", "0.5.0", "1.0"])("unsupported result version %p is code 1", (version) => {
    const e = thrown(() => toCurrentResult({ cniVersion: version }, "1.1.0"));
    expect(e.code).toBe(1);
    expect(e.msg).toBe(`unsupported CNI result version ${JSON.stringify(version)}`);
    expect(thrown(() => toCurrentResult({}, version)).code).toBe(1);
  });
});

describe("convertResult edge cases", () => {
  test("1.x omits empty dns and empty lists", () => {
    expect(
      JSON.stringify(convertResult({ cniVersion: "1.1.0", interfaces: [], ips: [], routes: [], dns: {} }, "1.0.0")),
    ).toBe('{"cniVersion":"1.0.0"}');
  });
  test("0.4 always prints dns", () => {
    expect(JSON.stringify(convertResult({ cniVersion: "1.1.0" }, "0.3.0"))).toBe('{"cniVersion":"0.3.0","dns":{}}');
  });
  test("0.2.0 keeps the first address of each family (as Go)", () => {
    const r: Result100 = {
      cniVersion: "1.1.0",
      ips: [
        { address: "2001:db8::2/64" },
        { address: "10.0.0.2/24", gateway: "10.0.0.1" },
        { address: "10.0.1.2/24" },
        { address: "2001:db8::3/64" },
      ],
      routes: [{ dst: "10.2.0.0/16", gw: "10.0.0.1", mtu: 1400 }, { dst: "2001:db8:1::/48" }],
    };
    expect(JSON.stringify(convertResult(r, "0.2.0"))).toBe(
      JSON.stringify({
        cniVersion: "0.2.0",
        ip4: { ip: "10.0.0.2/24", gateway: "10.0.0.1", routes: [{ dst: "10.2.0.0/16", gw: "10.0.0.1" }] },
        ip6: { ip: "2001:db8::2/64", routes: [{ dst: "2001:db8:1::/48" }] },
        dns: {},
      }),
    );
  });
  test("0.2.0 drops routes of a family without an address", () => {
    const r: Result100 = {
      cniVersion: "1.1.0",
      ips: [{ address: "10.0.0.2/24" }],
      routes: [{ dst: "::/0", gw: "fe80::1" }],
    };
    expect(convertResult(r, "0.1.0")).toEqual({ cniVersion: "0.1.0", ip4: { ip: "10.0.0.2/24" }, dns: {} });
  });
  test("IPv4-mapped IPv6 counts as IPv4 (Go's To4)", () => {
    const r: Result100 = { cniVersion: "1.1.0", ips: [{ address: "::ffff:10.0.0.2/120" }] };
    expect(convertResult(r, "0.4.0").ips).toEqual([{ version: "4", address: "::ffff:10.0.0.2/120" }]);
  });
  test.each(["0.1.0", "0.2.0"])("no address cannot be represented in %s: code 1", (version) => {
    const e = thrown(() => convertResult({ cniVersion: "1.1.0", interfaces: [{ name: "e" }] }, version));
    expect(e.toJSON()).toEqual({
      code: 1,
      msg: `cannot convert result to cniVersion ${version}`,
      details: "no valid IP addresses (0.1.0/0.2.0 results need at least one)",
    });
  });
  test("empty target version means 0.1.0", () => {
    expect(convertResult({ cniVersion: "1.1.0", ips: [{ address: "10.0.0.2/24" }] }, "").cniVersion).toBe("0.1.0");
  });
  test("unsupported target version is code 1", () => {
    expect(thrown(() => convertResult(hub, "1.2.0")).code).toBe(1);
  });
  test("does not modify its input", () => {
    const copy = structuredClone(hub);
    for (const v of SUPPORTED_VERSIONS) convertResult(hub, v);
    expect(hub).toEqual(copy);
  });
});

test("placeholderResult with empty cniVersion prints the 0.1.0 shape", () => {
  expect(placeholderResult({ cniVersion: "", ifname: "eth0", netns: "" })).toEqual({
    cniVersion: "0.1.0",
    ip4: { ip: "0.0.0.0/0", gateway: "0.0.0.0" },
    dns: {},
  });
});

describe("formatCniJson", () => {
  test("4-space indent, no trailing newline", () => {
    expect(formatCniJson({ cniVersion: "1.0.0", ips: [{ address: "10.0.0.2/24" }], dns: {} })).toBe(
      '{\n    "cniVersion": "1.0.0",\n    "ips": [\n        {\n            "address": "10.0.0.2/24"\n        }\n    ],\n    "dns": {}\n}',
    );
  });
  test("escapes <, >, & and line separators like Go", () => {
    expect(formatCniJson({ msg: "a<b>&c\u2028\u2029" })).toBe(
      '{\n    "msg": "a\\u003cb\\u003e\\u0026c\\u2028\\u2029"\n}',
    );
  });
  test("escaped text still parses to the same value", () => {
    const value = { code: 7, msg: "<&>", details: 'x "y"' };
    expect(JSON.parse(formatCniJson(value))).toEqual(value);
  });
  test("error object as a Go plugin prints it", () => {
    expect(formatCniJson(new CniError(7, "missing network name").toJSON())).toBe(
      '{\n    "code": 7,\n    "msg": "missing network name"\n}',
    );
  });
});
