import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtemp, mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { createLogger } from "../util/log.ts";
import { delegateFromBytes, type Delegate, type DelegateRole } from "./delegates.ts";
import {
  assignDeviceIds,
  assignPodDevices,
  cniDeviceInfoPath,
  copyDeviceInfoFiles,
  deviceInfoFileFor,
  dpDeviceInfoPath,
  readDeviceInfo,
  removeDeviceInfo,
} from "./devices.ts";
import type { DevicePort, PodInfo, ResourcePort } from "./ports.ts";
import { composeRuntimeConfig } from "./runtime-config.ts";

const VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
const log = createLogger({});
const SRIOV = "intel.com/sriov_netdevice";

function conf(name: string, cniVersion: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    cniVersion,
    name,
    type: "sriov",
    vlan: 100,
    ipam: { type: "host-local", subnet: "10.56.217.0/24" },
    ...extra,
  };
}
function delegate(
  raw: Record<string, unknown>,
  opts: { name?: string; resourceName?: string; role?: DelegateRole; ifname?: string } = {},
): Delegate {
  // Bytes with odd spacing: injection must rewrite them, not keep stale ones.
  const bytes = JSON.stringify(raw, null, 1);
  return {
    ...delegateFromBytes({ raw, bytes, role: opts.role, statusName: opts.name }),
    ifname: opts.ifname ?? "net1",
    resourceName: opts.resourceName,
  };
}
const POD: PodInfo = { namespace: "ns1", name: "pod1", uid: "uid-1", annotations: {}, isStatic: false };

describe.each(VERSIONS)("assignDeviceIds, cniVersion %s", (v) => {
  test("NADs of one resource take its devices in delegate order; others are untouched", () => {
    const ds = [
      delegate(conf("cluster", v), { role: "cluster", ifname: "eth0" }),
      delegate(conf("sriov-a", v), { name: "ns1/sriov-a", resourceName: SRIOV }),
      delegate(conf("plain", v), { name: "ns1/plain" }),
      delegate(conf("sriov-b", v), { name: "ns1/sriov-b", resourceName: SRIOV, ifname: "net3" }),
    ];
    const out = assignDeviceIds(ds, new Map([[SRIOV, ["0000:03:02.1", "0000:03:02.3"]]]));
    expect(out.map((d) => d.deviceId)).toEqual([undefined, "0000:03:02.1", undefined, "0000:03:02.3"]);
    expect(out[0]).toBe(ds[0]!);
    expect(out[2]).toBe(ds[2]!);
    for (const [i, id] of [
      [1, "0000:03:02.1"],
      [3, "0000:03:02.3"],
    ] as const) {
      const d = out[i]!;
      const plugin = d.list.plugins[0]!;
      expect(plugin.deviceID).toBe(id);
      expect(plugin.pciBusID).toBe(id);
      expect(JSON.parse(d.bytes)).toEqual({ ...conf(d.list.name, v), deviceID: id, pciBusID: id });
      expect(d.list.cniVersion).toBe(v);
      expect(d.isConfList).toBe(false);
      expect(d.name).toBe(ds[i]!.name);
      expect(d.ifname).toBe(ds[i]!.ifname);
      expect(d.resourceName).toBe(SRIOV);
    }
    // Inputs are not touched.
    expect(ds[1]!.deviceId).toBeUndefined();
    expect(ds[1]!.list.plugins[0]!.deviceID).toBeUndefined();
  });

  test("more NADs than devices: the extra ones get none; an unknown resource gets none (as Go)", () => {
    const ds = [
      delegate(conf("a", v), { resourceName: SRIOV }),
      delegate(conf("b", v), { resourceName: SRIOV }),
      delegate(conf("c", v), { resourceName: "example.com/other" }),
    ];
    const out = assignDeviceIds(ds, new Map([[SRIOV, ["0000:03:02.1"]]]));
    expect(out.map((d) => d.deviceId)).toEqual(["0000:03:02.1", undefined, undefined]);
    expect(out[1]).toBe(ds[1]!);
    expect(out[1]!.bytes).not.toContain("deviceID");
  });

  test("a conflist gets deviceID and pciBusID in every plugin; the list's own keys and plugin fields survive", () => {
    const raw = {
      cniVersion: v,
      name: "sriov-chain",
      disableCheck: true,
      plugins: [
        { type: "sriov", vlan: 7, args: { cni: { x: 1 } } },
        { type: "tuning", sysctl: { "net.ipv4.conf.all.log_martians": "1" } },
      ],
    };
    const [d] = assignDeviceIds(
      [delegate(raw, { name: "ns1/sriov-chain", resourceName: SRIOV })],
      new Map([[SRIOV, ["0000:81:00.2"]]]),
    );
    expect(d!.isConfList).toBe(true);
    expect(d!.list.disableCheck).toBe(true);
    expect(d!.list.plugins).toEqual([
      { type: "sriov", vlan: 7, args: { cni: { x: 1 } }, deviceID: "0000:81:00.2", pciBusID: "0000:81:00.2" },
      {
        type: "tuning",
        sysctl: { "net.ipv4.conf.all.log_martians": "1" },
        deviceID: "0000:81:00.2",
        pciBusID: "0000:81:00.2",
      },
    ]);
    expect(JSON.parse(d!.bytes)).toEqual({ ...raw, plugins: d!.list.plugins });
    expect(d!.list.raw).toEqual(JSON.parse(d!.bytes));
  });

  test("runtimeConfig: the resource-map device wins over the selection's deviceID, which is used only without one", () => {
    const sel = { name: "a", namespace: "ns1", deviceId: "0000:00:0a.0" };
    const [withDev, withoutDev] = assignDeviceIds(
      [
        { ...delegate(conf("a", v), { name: "ns1/a", resourceName: SRIOV }), selection: sel },
        {
          ...delegate(conf("b", v), { name: "ns1/b", resourceName: "example.com/none", ifname: "net2" }),
          selection: sel,
        },
      ],
      new Map([[SRIOV, ["0000:03:02.1"]]]),
    );
    const rc = (d: Delegate) =>
      composeRuntimeConfig({
        selection: d.selection,
        role: d.role,
        deviceId: d.deviceId,
        deviceInfoFile: deviceInfoFileFor({ dir: "/di", delegate: d, containerId: "cid" }),
      });
    expect(rc(withDev!)).toEqual({ deviceID: "0000:03:02.1", CNIDeviceInfoFile: "/di/cni/ns1-a-cid_net1" });
    // No resource-map device: the selection's deviceID reaches runtimeConfig only, never the config.
    expect(rc(withoutDev!)).toEqual({ deviceID: "0000:00:0a.0", CNIDeviceInfoFile: "/di/cni/ns1-b-cid_net2" });
    expect(withoutDev!.bytes).not.toContain("deviceID");
  });
});

test("the master takes a device into its config, but gets no per-network runtimeConfig", () => {
  const [m] = assignDeviceIds(
    [delegate(conf("default", "1.0.0"), { name: "kube-system/default", role: "cluster", resourceName: SRIOV })],
    new Map([[SRIOV, ["0000:03:02.1"]]]),
  );
  expect(m!.list.plugins[0]!.deviceID).toBe("0000:03:02.1");
  expect(composeRuntimeConfig({ role: "cluster", deviceId: m!.deviceId, deviceInfoFile: "/x" })).toEqual({});
});

describe("assignPodDevices", () => {
  const resourceDelegates = () => [
    delegate(conf("a", "1.0.0"), { resourceName: SRIOV }),
    delegate(conf("b", "1.0.0"), { resourceName: SRIOV }),
  ];
  const port = (impl: DevicePort["getPodDevices"]) => {
    const seen: unknown[] = [];
    return {
      seen,
      port: {
        getPodDevices: (p: Parameters<DevicePort["getPodDevices"]>[0]) => {
          seen.push(p);
          return impl(p);
        },
      },
    };
  };

  test("asks the kubelet once, with the pod's identity, and assigns", async () => {
    const p = port(async () => new Map([[SRIOV, ["d1", "d2"]]]));
    const out = await assignPodDevices({ delegates: resourceDelegates(), pod: POD, devices: p.port, log });
    expect(p.seen).toEqual([{ uid: "uid-1", namespace: "ns1", name: "pod1" }]);
    expect(out.map((d) => d.deviceId)).toEqual(["d1", "d2"]);
  });

  test("no delegate names a resource, no pod, or no port: nothing is asked", async () => {
    const p = port(async () => new Map());
    const plain = [delegate(conf("a", "1.0.0"))];
    expect(await assignPodDevices({ delegates: plain, pod: POD, devices: p.port, log })).toBe(plain);
    const rd = resourceDelegates();
    expect(await assignPodDevices({ delegates: rd, pod: undefined, devices: p.port, log })).toBe(rd);
    expect(await assignPodDevices({ delegates: rd, pod: POD, devices: undefined, log })).toBe(rd);
    expect(p.seen).toEqual([]);
  });

  test("a pod with resource claims: the API's devices follow the kubelet's under the same name", async () => {
    const p = port(async () => new Map([[SRIOV, ["d1"]]]));
    const resources: ResourcePort = {
      servesResourceApi: async () => true,
      getResourceClaim: async (ref) => ({ ...ref, results: [{ request: "r", driver: "x", pool: "n", device: "v" }] }),
      listSliceDevices: async () => [{ driver: "x", pool: "n", device: "v", deviceId: "d2", resourceName: SRIOV }],
    };
    const withClaim: PodInfo = { ...POD, resourceClaimStatuses: [{ name: "net", resourceClaimName: "pod1-net" }] };
    const out = await assignPodDevices({
      delegates: resourceDelegates(),
      pod: withClaim,
      devices: p.port,
      resources,
      log,
    });
    expect(out.map((d) => d.deviceId)).toEqual(["d1", "d2"]);
    // A missing claim is code 11 as a kubelet failure is.
    const err = await assignPodDevices({
      delegates: resourceDelegates(),
      pod: withClaim,
      devices: p.port,
      resources: { ...resources, getResourceClaim: async () => null },
      log,
    }).catch((e) => e);
    expect(err.code).toBe(ErrorCode.TryAgainLater);
    expect(err.details).toBe("resource claim ns1/pod1-net not found");
  });

  test("a failed lookup is code 11 on ADD; DEL (forgiving) goes on without devices", async () => {
    const p = port(async () => {
      throw new Error("connection refused");
    });
    const rd = resourceDelegates();
    const err = await assignPodDevices({ delegates: rd, pod: POD, devices: p.port, log }).catch((e) => e);
    expect(err).toBeInstanceOf(CniError);
    expect(err.code).toBe(ErrorCode.TryAgainLater);
    expect(err.msg).toBe("failed to get the devices allocated to pod ns1/pod1");
    expect(err.details).toContain("connection refused");
    expect(await assignPodDevices({ delegates: rd, pod: POD, devices: p.port, log, forgiving: true })).toBe(rd);
  });
});

describe("device-info files", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "multus-devinfo-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("paths: every / becomes -", () => {
    expect(
      dpDeviceInfoPath("/var/run/k8s.cni.cncf.io/devinfo", {
        resourceName: "intel.com/sriov",
        deviceId: "0000:03:02.1",
      }),
    ).toBe("/var/run/k8s.cni.cncf.io/devinfo/dp/intel.com-sriov-0000:03:02.1-device.json");
    expect(dpDeviceInfoPath("/d", { resourceName: "a/b", deviceId: "x/y" })).toBe("/d/dp/a-b-x-y-device.json");
    expect(cniDeviceInfoPath("/d", { delegateName: "ns1/sriov-a", containerId: "abc", ifname: "net1" })).toBe(
      "/d/cni/ns1-sriov-a-abc_net1",
    );
  });

  test("copied before ADD (mode 0444), read after ADD, removed on DEL", async () => {
    const info = { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:03:02.1" }, extra: { kept: true } };
    await mkdir(join(dir, "dp"), { recursive: true });
    await writeFile(dpDeviceInfoPath(dir, { resourceName: SRIOV, deviceId: "0000:03:02.1" }), JSON.stringify(info));
    const [d, other] = assignDeviceIds(
      [
        delegate(conf("a", "1.0.0"), { name: "ns1/a", resourceName: SRIOV }),
        delegate(conf("b", "1.0.0"), { name: "ns1/b", ifname: "net2" }),
      ],
      new Map([[SRIOV, ["0000:03:02.1"]]]),
    );
    const rcs = [d!, other!].map((x) =>
      composeRuntimeConfig({
        role: "network",
        deviceId: x.deviceId,
        deviceInfoFile: deviceInfoFileFor({ dir, delegate: x, containerId: "cid" }),
      }),
    );
    expect(rcs[1]).toEqual({});
    await copyDeviceInfoFiles({
      dir,
      entries: [
        { delegate: d!, runtimeConfig: rcs[0] },
        { delegate: other!, runtimeConfig: rcs[1] },
      ],
      log,
    });
    const target = join(dir, "cni", "ns1-a-cid_net1");
    expect(rcs[0]!.CNIDeviceInfoFile).toBe(target);
    expect(JSON.parse(await readFile(target, "utf8"))).toEqual(info);
    expect((await stat(target)).mode & 0o777).toBe(0o444);
    expect(await readDeviceInfo(rcs[0])).toEqual(info);
    expect(await readDeviceInfo(rcs[1])).toBeUndefined();
    // A retried ADD replaces the read-only file.
    await copyDeviceInfoFiles({ dir, entries: [{ delegate: d!, runtimeConfig: rcs[0] }], log });
    await removeDeviceInfo(rcs[0]);
    await expect(stat(target)).rejects.toThrow();
    await removeDeviceInfo(rcs[0]); // again: fine
    await removeDeviceInfo(undefined);
  });

  test("no device-plugin file or a broken one: nothing copied, nothing read; a plugin-written file is read", async () => {
    const [d] = assignDeviceIds(
      [delegate(conf("a", "1.0.0"), { name: "ns1/a", resourceName: SRIOV })],
      new Map([[SRIOV, ["dev/1"]]]),
    );
    const rc = { deviceID: "dev/1", CNIDeviceInfoFile: join(dir, "cni", "ns1-a-cid_net1") };
    await copyDeviceInfoFiles({ dir, entries: [{ delegate: d!, runtimeConfig: rc }], log });
    expect(await readDeviceInfo(rc)).toBeUndefined();
    await mkdir(join(dir, "dp"), { recursive: true });
    await writeFile(dpDeviceInfoPath(dir, { resourceName: SRIOV, deviceId: "dev/1" }), "not json");
    await copyDeviceInfoFiles({ dir, entries: [{ delegate: d!, runtimeConfig: rc }], log });
    await expect(stat(rc.CNIDeviceInfoFile)).rejects.toThrow();
    await mkdir(join(dir, "cni"), { recursive: true });
    await writeFile(rc.CNIDeviceInfoFile, JSON.stringify({ type: "vhost-user" }));
    expect(await readDeviceInfo(rc)).toEqual({ type: "vhost-user" });
  });
});
