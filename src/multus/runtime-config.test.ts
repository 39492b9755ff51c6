import { describe, expect, test } from "bun:test";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { composeRuntimeConfig, editEachPlugin, injectDeviceId, mergeCniArgsIntoConfig } from "./runtime-config.ts";
import { type NetworkSelection, parseNetworkSelections } from "./selection.ts";

const FULL: NetworkSelection = {
  name: "net-a",
  namespace: "ns1",
  ips: ["10.1.1.5/24"],
  mac: "02:00:00:00:00:05",
  infinibandGuid: "c2:11:22:33:44:55:66:77",
  portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
  bandwidth: { ingressRate: 1000, ingressBurst: 2000 },
  deviceId: "0000:03:00.7",
};

const BASE = {
  portMappings: [{ hostPort: 443, containerPort: 8443, protocol: "tcp" }],
  bandwidth: { ingressRate: 1, ingressBurst: 2, egressRate: 3, egressBurst: 4 },
  ips: ["10.9.9.9"],
  mac: "02:00:00:00:00:99",
  dns: { servers: ["10.0.0.10"] },
  "io.kubernetes.cri.pod-annotations": { a: "b" },
};

const INFO = "/var/run/k8s.cni.cncf.io/devinfo/cni/ns1-net-a-cid_net1-device-info.json";

describe("composeRuntimeConfig", () => {
  const cases: Array<{
    title: string;
    opts: Parameters<typeof composeRuntimeConfig>[0];
    want: Record<string, unknown>;
  }> = [
    { title: "nothing", opts: { role: "network" }, want: {} },
    {
      title: "master: runtime values only, other keys kept",
      opts: { base: BASE, selection: FULL, role: "cluster" },
      want: BASE,
    },
    {
      title: "master: selection values never applied",
      opts: { selection: FULL, role: "cluster", deviceId: "0000:03:00.1" },
      want: {},
    },
    {
      title: "non-master: per-network values override the runtime's",
      opts: { base: BASE, selection: FULL, role: "network", deviceInfoFile: INFO },
      want: {
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
        bandwidth: { ingressRate: 1000, ingressBurst: 2000, egressRate: 0, egressBurst: 0 },
        ips: ["10.1.1.5/24"],
        mac: "02:00:00:00:00:05",
        dns: { servers: ["10.0.0.10"] },
        "io.kubernetes.cri.pod-annotations": { a: "b" },
        infinibandGUID: "c2:11:22:33:44:55:66:77",
        deviceID: "0000:03:00.7",
        CNIDeviceInfoFile: INFO,
      },
    },
    {
      title: "non-master without per-network values: the runtime's",
      opts: { base: BASE, selection: { name: "a", namespace: "b" }, role: "network" },
      want: BASE,
    },
    {
      title: "non-master: resource-map device wins over the selection's deviceID",
      opts: { selection: FULL, role: "network", deviceId: "0000:03:00.1", deviceInfoFile: INFO },
      want: {
        portMappings: [{ hostPort: 8080, containerPort: 80, protocol: "tcp" }],
        bandwidth: { ingressRate: 1000, ingressBurst: 2000, egressRate: 0, egressBurst: 0 },
        ips: ["10.1.1.5/24"],
        mac: "02:00:00:00:00:05",
        infinibandGUID: "c2:11:22:33:44:55:66:77",
        deviceID: "0000:03:00.1",
        CNIDeviceInfoFile: INFO,
      },
    },
    {
      title: "non-master without selection: resource-map device",
      opts: { role: "network", deviceId: "0000:03:00.1", deviceInfoFile: INFO },
      want: { deviceID: "0000:03:00.1", CNIDeviceInfoFile: INFO },
    },
    {
      title: "deviceID without a device-info path: no CNIDeviceInfoFile",
      opts: { role: "network", deviceId: "0000:03:00.1" },
      want: { deviceID: "0000:03:00.1" },
    },
    { title: "no deviceID: device-info path unused", opts: { role: "network", deviceInfoFile: INFO }, want: {} },
    {
      title: "master: runtime deviceID gets the device-info file",
      opts: { base: { deviceID: "0000:01:00.0" }, role: "cluster", deviceInfoFile: INFO },
      want: { deviceID: "0000:01:00.0", CNIDeviceInfoFile: INFO },
    },
    {
      title: "non-master: empty per-network lists clear the runtime's",
      opts: { base: BASE, selection: { name: "a", namespace: "b", ips: [], portMappings: [] }, role: "network" },
      want: {
        bandwidth: BASE.bandwidth,
        mac: BASE.mac,
        dns: BASE.dns,
        "io.kubernetes.cri.pod-annotations": BASE["io.kubernetes.cri.pod-annotations"],
      },
    },
    {
      title: "empty runtime values are left out",
      opts: { base: { portMappings: [], ips: [], mac: "", bandwidth: null, deviceID: "", other: [] }, role: "cluster" },
      want: { other: [] },
    },
  ];
  for (const c of cases) {
    test(c.title, () => {
      const before = structuredClone(c.opts);
      expect(composeRuntimeConfig(c.opts)).toEqual(c.want);
      expect(c.opts).toEqual(before);
    });
  }

  test("result does not share objects with the inputs", () => {
    const base = structuredClone(BASE);
    const selection = structuredClone(FULL);
    const out = composeRuntimeConfig({ base, selection, role: "network" });
    (out.portMappings as unknown[]).push("x");
    (out.dns as { servers: string[] }).servers.push("x");
    expect(selection.portMappings).toHaveLength(1);
    expect(base.dns.servers).toEqual(["10.0.0.10"]);
  });

  test("from a parsed annotation", () => {
    const [selection] = parseNetworkSelections(
      '[{"name":"net-a","portMappings":[{"hostPort":1,"containerPort":2}],"bandwidth":{"egressRate":5,"egressBurst":6}}]',
      "pods",
    );
    expect(composeRuntimeConfig({ selection, role: "network" })).toEqual({
      portMappings: [{ hostPort: 1, containerPort: 2 }],
      bandwidth: { ingressRate: 0, ingressBurst: 0, egressRate: 5, egressBurst: 6 },
    });
  });
});

describe("mergeCniArgsIntoConfig", () => {
  const cases: Array<{
    title: string;
    plugin: Record<string, unknown>;
    args: Record<string, unknown>;
    want: Record<string, unknown>;
  }> = [
    {
      title: "no args yet",
      plugin: { type: "macvlan" },
      args: { a: 1 },
      want: { type: "macvlan", args: { cni: { a: 1 } } },
    },
    {
      title: "args without cni",
      plugin: { type: "macvlan", args: { other: { x: 1 } } },
      args: { a: 1 },
      want: { type: "macvlan", args: { other: { x: 1 }, cni: { a: 1 } } },
    },
    {
      title: "merged, same keys overridden",
      plugin: { type: "macvlan", args: { cni: { a: 0, b: 2 } } },
      args: { a: 1, c: [3] },
      want: { type: "macvlan", args: { cni: { a: 1, b: 2, c: [3] } } },
    },
    {
      title: "empty cni-args still creates args.cni",
      plugin: { type: "x" },
      args: {},
      want: { type: "x", args: { cni: {} } },
    },
    {
      title: "null args treated as absent",
      plugin: { type: "x", args: null },
      args: { a: 1 },
      want: { type: "x", args: { cni: { a: 1 } } },
    },
  ];
  for (const c of cases) {
    test(c.title, () => {
      const before = structuredClone(c.plugin);
      expect(mergeCniArgsIntoConfig(c.plugin, c.args)).toEqual(c.want);
      expect(c.plugin).toEqual(before);
    });
  }
  for (const plugin of [
    { type: "x", args: "k=v" },
    { type: "x", args: { cni: [1] } },
  ]) {
    test(`refuses ${JSON.stringify(plugin)}`, () => {
      let err: unknown;
      try {
        mergeCniArgsIntoConfig(plugin, { a: 1 });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CniError);
      expect((err as CniError).code).toBe(ErrorCode.InvalidConfig);
    });
  }
});

describe("injectDeviceId and editEachPlugin", () => {
  test("single config", () => {
    const conf = { cniVersion: "1.0.0", name: "sriov", type: "sriov", vlan: 5 };
    expect(injectDeviceId(conf, "0000:03:00.1")).toEqual({
      ...conf,
      deviceID: "0000:03:00.1",
      pciBusID: "0000:03:00.1",
    });
    expect(conf).not.toHaveProperty("deviceID");
  });
  test("every plugin of a conflist, list keys kept", () => {
    const list = {
      cniVersion: "1.0.0",
      name: "l",
      disableCheck: true,
      plugins: [{ type: "sriov" }, { type: "tuning", sysctl: {} }],
    };
    const before = structuredClone(list);
    expect(editEachPlugin(list, (p) => injectDeviceId(p, "d"))).toEqual({
      cniVersion: "1.0.0",
      name: "l",
      disableCheck: true,
      plugins: [
        { type: "sriov", deviceID: "d", pciBusID: "d" },
        { type: "tuning", sysctl: {}, deviceID: "d", pciBusID: "d" },
      ],
    });
    expect(editEachPlugin(list, (p) => mergeCniArgsIntoConfig(p, { k: "v" }))).toEqual({
      ...before,
      plugins: [
        { type: "sriov", args: { cni: { k: "v" } } },
        { type: "tuning", sysctl: {}, args: { cni: { k: "v" } } },
      ],
    });
    expect(list).toEqual(before);
  });
  test("a conflist plugin that is not an object is a config error", () => {
    expect(() => editEachPlugin({ plugins: [1] }, (p) => p)).toThrow(CniError);
  });
});
