import { describe, expect, test } from "bun:test";
import { canonicalIp, isMacAddress, parseCidr, parseIp } from "./ip.ts";

describe("parseIp / canonicalIp (Go net.ParseIP + IP.String)", () => {
  const cases: Array<[string, string | undefined]> = [
    ["10.1.1.2", "10.1.1.2"],
    ["0.0.0.0", "0.0.0.0"],
    ["255.255.255.255", "255.255.255.255"],
    ["256.1.1.1", undefined],
    ["01.2.3.4", undefined],
    ["1.2.3", undefined],
    ["1.2.3.4.5", undefined],
    ["::", "::"],
    ["::0", "::"],
    ["::1", "::1"],
    ["2001:DB8::1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"],
    ["2001:db8:0:1:0:0:0:1", "2001:db8:0:1::1"],
    ["2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"],
    ["1:0:2:3:4:5:6:7", "1:0:2:3:4:5:6:7"],
    ["fe80::1%eth0", undefined],
    ["::ffff:10.1.2.3", "10.1.2.3"],
    ["64:ff9b::10.1.2.3", "64:ff9b::a01:203"],
    ["1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"],
    ["1:2:3:4:5:6:7:8::", undefined],
    ["1:2:3:4:5:6:7::8", undefined],
    ["1:::2", undefined],
    [":1::2", undefined],
    ["1:2", undefined],
    ["12345::1", undefined],
    ["", undefined],
    ["zz", undefined],
  ];
  for (const [input, want] of cases) {
    test(JSON.stringify(input), () => {
      expect(canonicalIp(input)).toBe(want);
    });
  }
  test("IPv4-mapped addresses count as IPv4 (Go To4)", () => {
    expect(parseIp("::ffff:1.2.3.4")!.isV4).toBe(true);
    expect(parseIp("::1")!.isV4).toBe(false);
  });
});

describe("parseCidr (Go net.ParseCIDR)", () => {
  const cases: Array<[string, boolean]> = [
    ["10.1.1.2/24", true],
    ["10.1.1.2/32", true],
    ["10.1.1.2/33", false],
    ["2001:db8::1/64", true],
    ["2001:db8::1/128", true],
    ["2001:db8::1/129", false],
    ["::ffff:1.2.3.4/96", true],
    ["10.1.1.2/", false],
    ["10.1.1.2/x", false],
    ["/24", false],
    ["10.1.1.2", false],
  ];
  for (const [input, ok] of cases) {
    test(JSON.stringify(input), () => {
      expect(parseCidr(input) !== undefined).toBe(ok);
    });
  }
});

describe("isMacAddress (Go net.ParseMAC)", () => {
  const cases: Array<[string, boolean]> = [
    ["00:00:5e:00:53:01", true],
    ["02:00:5e:10:00:00:00:01", true],
    ["00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01", true],
    ["00-00-5e-00-53-01", true],
    ["02-00-5e-10-00-00-00-01", true],
    ["0000.5e00.5301", true],
    ["0200.5e10.0000.0001", true],
    ["0000.0000.fe80.0000.0000.0000.0200.5e10.0000.0001", true],
    ["AA:BB:CC:DD:EE:FF", true],
    ["00:00:5e:00:53", false],
    ["00:00:5e:00:53:01:02", false],
    ["00:00-5e:00:53:01", false],
    ["0:00:5e:00:53:01:", false],
    ["zz:00:5e:00:53:01", false],
    ["0000.5e00.530", false],
    ["zz", false],
    ["", false],
  ];
  for (const [input, ok] of cases) {
    test(JSON.stringify(input), () => {
      expect(isMacAddress(input)).toBe(ok);
    });
  }
});
