import { describe, expect, test } from "bun:test";
import type { Result100 } from "../cni/result.ts";
import { type NetworkStatus, buildNetworkStatus, formatNetworkStatus } from "./network-status.ts";

// Results reach this code converted to the 1.x hub; both 1.x versions share it.
const HUB_VERSIONS = ["1.0.0", "1.1.0"] as const;

interface Case {
  title: string;
  name?: string;
  isDefault: boolean;
  result: Omit<Result100, "cniVersion">;
  deviceInfo?: unknown;
  want: NetworkStatus[];
}

const cases: Case[] = [
  {
    title: "one sandbox interface: interface, mac, mtu, all IPs, default-route gateway",
    isDefault: false,
    result: {
      interfaces: [{ name: "net1", mac: "aa:bb:cc:dd:ee:ff", mtu: 1400, sandbox: "/var/run/netns/p" }],
      ips: [
        { address: "10.1.1.2/24", gateway: "10.1.1.1", interface: 0 },
        { address: "2001:DB8:0:0::2/64", interface: 0 },
      ],
      routes: [
        { dst: "0.0.0.0/0", gw: "10.1.1.1" },
        { dst: "10.2.0.0/16", gw: "10.1.1.254" },
      ],
    },
    want: [
      {
        name: "ns1/net-a",
        interface: "net1",
        ips: ["10.1.1.2", "2001:db8::2"],
        mac: "aa:bb:cc:dd:ee:ff",
        mtu: 1400,
        dns: {},
        gateway: ["10.1.1.1"],
      },
    ],
  },
  {
    title: "one host-side interface (calico style master): no interface fields, default true",
    isDefault: true,
    result: {
      interfaces: [{ name: "cali12345", mac: "ee:ee:ee:ee:ee:ee" }],
      ips: [{ address: "10.244.1.5/32" }, { address: "fd00:10:244:1::5/128" }],
    },
    want: [{ name: "ns1/net-a", ips: ["10.244.1.5", "fd00:10:244:1::5"], default: true, dns: {} }],
  },
  {
    title: "one interface, DNS copied, empty DNS lists dropped",
    isDefault: false,
    result: {
      interfaces: [{ name: "eth0", sandbox: "/ns" }],
      dns: { nameservers: ["10.0.0.10"], domain: "cluster.local", search: [], options: ["ndots:5"] },
    },
    want: [
      {
        name: "ns1/net-a",
        interface: "eth0",
        dns: { nameservers: ["10.0.0.10"], domain: "cluster.local", options: ["ndots:5"] },
      },
    ],
  },
  {
    title: "dual-stack default-route gateways: 0.0.0.0/0, ::/0, ::0/0 and a missing dst",
    isDefault: false,
    result: {
      interfaces: [{ name: "net1", sandbox: "/ns" }],
      ips: [{ address: "10.1.1.2/24", interface: 0 }],
      routes: [
        { dst: "0.0.0.0/0", gw: "10.1.1.1" },
        { dst: "::/0", gw: "2001:db8::1" },
        { dst: "::0/0", gw: "2001:DB8:0::2" },
        { dst: "", gw: "10.1.1.3" },
        { dst: "0.0.0.0/0" },
        { dst: "10.0.0.0/8", gw: "10.1.1.4" },
      ],
    },
    want: [
      {
        name: "ns1/net-a",
        interface: "net1",
        ips: ["10.1.1.2"],
        dns: {},
        gateway: ["10.1.1.1", "2001:db8::1", "2001:db8::2", "10.1.1.3"],
      },
    ],
  },
  {
    title: "several interfaces: IPs placed by index, host interfaces skipped, every entry gets gateways",
    isDefault: false,
    result: {
      interfaces: [
        { name: "veth-host", mac: "00:00:00:00:00:01" },
        { name: "eth1", mac: "00:00:00:00:00:02", sandbox: "/ns", mtu: 9000 },
        { name: "eth2", mac: "00:00:00:00:00:03", sandbox: "/ns" },
      ],
      ips: [
        { address: "10.1.1.5/24", interface: 1, gateway: "10.1.1.1" },
        { address: "fd00::5/64", interface: 2 },
        { address: "192.168.0.9/24", interface: 0 },
      ],
      routes: [{ dst: "0.0.0.0/0", gw: "10.1.1.1" }],
      dns: { nameservers: ["1.1.1.1"] },
    },
    want: [
      {
        name: "ns1/net-a",
        interface: "eth1",
        ips: ["10.1.1.5"],
        mac: "00:00:00:00:00:02",
        mtu: 9000,
        dns: { nameservers: ["1.1.1.1"] },
        gateway: ["10.1.1.1"],
      },
      {
        name: "ns1/net-a",
        interface: "eth2",
        ips: ["fd00::5"],
        mac: "00:00:00:00:00:03",
        dns: { nameservers: ["1.1.1.1"] },
        gateway: ["10.1.1.1"],
      },
    ],
  },
  {
    title: "several interfaces: IPs without an index go to the LAST sandbox entry",
    isDefault: false,
    result: {
      interfaces: [{ name: "eth1", sandbox: "/ns" }, { name: "eth2", sandbox: "/ns" }, { name: "host0" }],
      ips: [{ address: "10.1.1.5/24" }, { address: "10.1.1.6/24", interface: 0 }, { address: "10.1.1.7/24" }],
    },
    want: [
      { name: "ns1/net-a", interface: "eth1", ips: ["10.1.1.6"], dns: {} },
      { name: "ns1/net-a", interface: "eth2", ips: ["10.1.1.5", "10.1.1.7"], dns: {} },
    ],
  },
  {
    title: "master, several interfaces: default on the interface of the first IP with a gateway",
    isDefault: true,
    result: {
      interfaces: [
        { name: "eth0", sandbox: "/ns" },
        { name: "eth1", sandbox: "/ns" },
      ],
      ips: [
        { address: "10.1.1.5/24", interface: 0 },
        { address: "10.2.2.5/24", interface: 1, gateway: "10.2.2.1" },
        { address: "10.1.1.6/24", interface: 0, gateway: "10.1.1.1" },
      ],
    },
    want: [
      { name: "ns1/net-a", interface: "eth0", ips: ["10.1.1.5", "10.1.1.6"], dns: {} },
      { name: "ns1/net-a", interface: "eth1", ips: ["10.2.2.5"], default: true, dns: {} },
    ],
  },
  {
    title: "master, several interfaces, no gateway: default on the first sandbox interface",
    isDefault: true,
    result: {
      interfaces: [{ name: "host" }, { name: "eth0", sandbox: "/ns" }, { name: "eth1", sandbox: "/ns" }],
      ips: [
        { address: "10.1.1.5/24", interface: 1 },
        { address: "10.2.2.5/24", interface: 2 },
      ],
    },
    want: [
      { name: "ns1/net-a", interface: "eth0", ips: ["10.1.1.5"], default: true, dns: {} },
      { name: "ns1/net-a", interface: "eth1", ips: ["10.2.2.5"], dns: {} },
    ],
  },
  {
    title: "master, gateway IP on a host interface: first sandbox interface is default (Go marks none)",
    isDefault: true,
    result: {
      interfaces: [{ name: "host" }, { name: "eth0", sandbox: "/ns" }, { name: "eth1", sandbox: "/ns" }],
      ips: [
        { address: "10.9.9.9/24", interface: 0, gateway: "10.9.9.1" },
        { address: "10.1.1.5/24", interface: 2 },
      ],
    },
    want: [
      { name: "ns1/net-a", interface: "eth0", default: true, dns: {} },
      { name: "ns1/net-a", interface: "eth1", ips: ["10.1.1.5"], dns: {} },
    ],
  },
  {
    title: "several interfaces, device-info on every entry",
    isDefault: false,
    deviceInfo: { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:03:00.1" } },
    result: {
      interfaces: [
        { name: "a", sandbox: "/ns" },
        { name: "b", sandbox: "/ns" },
      ],
    },
    want: [
      {
        name: "ns1/net-a",
        interface: "a",
        dns: {},
        "device-info": { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:03:00.1" } },
      },
      {
        name: "ns1/net-a",
        interface: "b",
        dns: {},
        "device-info": { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:03:00.1" } },
      },
    ],
  },
  {
    title: "zero interfaces with IPs: one entry without interface fields (Go: none)",
    isDefault: true,
    result: { ips: [{ address: "10.1.1.5/24", gateway: "10.1.1.1" }], routes: [{ dst: "0.0.0.0/0", gw: "10.1.1.1" }] },
    want: [{ name: "ns1/net-a", ips: ["10.1.1.5"], default: true, dns: {}, gateway: ["10.1.1.1"] }],
  },
  {
    title: "several host-only interfaces with IPs: one entry without interface fields",
    isDefault: false,
    result: { interfaces: [{ name: "h1" }, { name: "h2" }], ips: [{ address: "10.1.1.5/24", interface: 1 }] },
    want: [{ name: "ns1/net-a", ips: ["10.1.1.5"], dns: {} }],
  },
  {
    title: "zero interfaces and no IPs: no entry",
    isDefault: true,
    result: { dns: { nameservers: ["10.0.0.10"] } },
    want: [],
  },
  {
    title: "host-only interfaces and no IPs: no entry",
    isDefault: false,
    result: { interfaces: [{ name: "h1" }, { name: "h2" }] },
    want: [],
  },
];

describe("buildNetworkStatus", () => {
  for (const version of HUB_VERSIONS) {
    for (const c of cases) {
      test(`${version}: ${c.title}`, () => {
        const result: Result100 = { cniVersion: version, ...structuredClone(c.result) };
        const before = structuredClone(result);
        const got = buildNetworkStatus({
          name: c.name ?? "ns1/net-a",
          result,
          isDefault: c.isDefault,
          deviceInfo: c.deviceInfo,
        });
        expect(got).toEqual(c.want);
        expect(result).toEqual(before);
      });
    }
  }
});

describe("formatNetworkStatus: Go's exact text", () => {
  test("two delegates, master first", () => {
    const list = [
      ...buildNetworkStatus({
        name: "k8s-pod-network",
        isDefault: true,
        result: {
          cniVersion: "1.0.0",
          interfaces: [{ name: "cali1" }],
          ips: [{ address: "10.244.1.5/32" }, { address: "fd00:10:244:1::5/128" }],
        },
      }),
      ...buildNetworkStatus({
        name: "ns1/net-a",
        isDefault: false,
        deviceInfo: { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:03:00.1" } },
        result: {
          cniVersion: "1.1.0",
          interfaces: [{ name: "net1", mac: "aa:bb:cc:dd:ee:ff", mtu: 1400, sandbox: "/var/run/netns/p" }],
          ips: [{ address: "10.1.1.2/24", gateway: "10.1.1.1", interface: 0 }],
          routes: [{ dst: "0.0.0.0/0", gw: "10.1.1.1" }],
          dns: { nameservers: ["10.0.0.10"], domain: "cluster.local", search: ["a.svc"] },
        },
      }),
    ];
    expect(formatNetworkStatus(list)).toBe(`[{
    "name": "k8s-pod-network",
    "ips": [
        "10.244.1.5",
        "fd00:10:244:1::5"
    ],
    "default": true,
    "dns": {}
},{
    "name": "ns1/net-a",
    "interface": "net1",
    "ips": [
        "10.1.1.2"
    ],
    "mac": "aa:bb:cc:dd:ee:ff",
    "mtu": 1400,
    "dns": {
        "nameservers": [
            "10.0.0.10"
        ],
        "domain": "cluster.local",
        "search": [
            "a.svc"
        ]
    },
    "device-info": {
        "type": "pci",
        "version": "1.1.0",
        "pci": {
            "pci-address": "0000:03:00.1"
        }
    },
    "gateway": [
        "10.1.1.1"
    ]
}]`);
  });

  test("empty list", () => {
    expect(formatNetworkStatus([])).toBe("[]");
  });

  test("field order and omitempty do not depend on the input object", () => {
    const scrambled = {
      gateway: [],
      dns: {},
      default: false,
      mtu: 0,
      mac: "",
      ips: [],
      interface: "",
      name: "x",
    } as NetworkStatus;
    expect(formatNetworkStatus([scrambled])).toBe(`[{
    "name": "x",
    "dns": {}
}]`);
    const full = {
      gateway: ["1.1.1.1"],
      dns: { options: ["a"], domain: "d" },
      default: true,
      mtu: 1,
      mac: "m",
      ips: ["i"],
      interface: "e",
      name: "x",
    } as NetworkStatus;
    expect(formatNetworkStatus([full])).toBe(`[{
    "name": "x",
    "interface": "e",
    "ips": [
        "i"
    ],
    "mac": "m",
    "mtu": 1,
    "default": true,
    "dns": {
        "domain": "d",
        "options": [
            "a"
        ]
    },
    "gateway": [
        "1.1.1.1"
    ]
}]`);
  });

  test("strings escaped as Go does (<, >, &, U+2028, control characters, lone surrogates)", () => {
    const s = { name: 'a<b>&"c"\\\n\t\b\f\u0001\u2028\u2029\ud800é😀', dns: {} } as NetworkStatus;
    expect(formatNetworkStatus([s])).toBe(
      `[{\n    "name": "a\\u003cb\\u003e\\u0026\\"c\\"\\\\\\n\\t\\b\\f\\u0001\\u2028\\u2029\\ufffdé😀",\n    "dns": {}\n}]`,
    );
  });

  test("empty arrays and objects inside device-info stay compact; nulls are written", () => {
    const s: NetworkStatus = { name: "x", dns: {}, "device-info": { a: [], b: {}, c: null, d: 1.5, e: false } };
    expect(formatNetworkStatus([s])).toBe(`[{
    "name": "x",
    "dns": {},
    "device-info": {
        "a": [],
        "b": {},
        "c": null,
        "d": 1.5,
        "e": false
    }
}]`);
  });
});

describe("formatNetworkStatus output", () => {
  test("is JSON that reads back as the entries it was given", () => {
    const list: NetworkStatus[] = [
      { name: "a", ips: ["10.1.1.2"], default: true, dns: {} },
      {
        name: "b",
        interface: "net1",
        mac: "m",
        mtu: 1500,
        dns: { nameservers: ["1.1.1.1"] },
        "device-info": { type: "pci" },
        gateway: ["10.1.1.1"],
      },
    ];
    expect(JSON.parse(formatNetworkStatus(list))).toEqual(list);
  });
});
