// Device IDs through ADD and DEL in-process: NADs with a resourceName take the
// pod's devices in order, the delegates receive deviceID/pciBusID in their
// config and deviceID/CNIDeviceInfoFile in runtimeConfig, the device plugin's
// device-info lands in network-status, and DEL removes the CNI file. The
// Kubernetes and kubelet edges are plain objects implementing the ports; the
// delegates are the compiled recording plugin.
import { afterEach, beforeAll, beforeEach, expect, test } from "bun:test";
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { tmpdir } from "node:os";
import * as v from "valibot";
import { cmdAdd } from "../../src/multus/commands/add.ts";
import { cmdDel } from "../../src/multus/commands/del.ts";
import { MultusConfSchema } from "../../src/multus/netconf.ts";
import type { DevicePort, KubePort, MultusDeps, Nad, PodInfo } from "../../src/multus/ports.ts";
import { podArgsFrom, type MultusRequest } from "../../src/multus/request.ts";
import { NETWORK_STATUS_ANNOTATION } from "../../src/multus/report.ts";
import { createLogger } from "../../src/util/log.ts";
import { buildRecordingPlugin, type RawRecord } from "../helpers/build-fixtures.ts";

const SRIOV = "intel.com/sriov_netdevice";
const POD: PodInfo = {
  namespace: "ns1",
  name: "pod1",
  uid: "uid-1",
  isStatic: false,
  annotations: { "k8s.v1.cni.cncf.io/networks": "sriov-a,plain,sriov-b@vf2" },
};

let binDir: string;
beforeAll(async () => {
  binDir = dirname(await buildRecordingPlugin());
});

let dir: string;
let records: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "multus-devices-e2e-"));
  records = join(dir, "records.jsonl");
});
afterEach(() => rm(dir, { recursive: true, force: true }));

function recorder(name: string, ifname: string): Record<string, unknown> {
  return {
    cniVersion: "1.0.0",
    name,
    type: "recorder",
    recordFile: records,
    capabilities: { deviceID: true, CNIDeviceInfoFile: true },
    result: {
      cniVersion: "1.0.0",
      interfaces: [{ name: ifname, sandbox: "/var/run/netns/x" }],
      ips: [{ address: "10.1.0.2/24", interface: 0 }],
    },
  };
}

function env(devices: DevicePort) {
  const nads = new Map<string, Nad>([
    [
      "sriov-a",
      { namespace: "ns1", name: "sriov-a", config: JSON.stringify(recorder("sriov-a", "net1")), resourceName: SRIOV },
    ],
    ["plain", { namespace: "ns1", name: "plain", config: JSON.stringify(recorder("plain", "net2")) }],
    [
      "sriov-b",
      {
        namespace: "ns1",
        name: "sriov-b",
        config: JSON.stringify({
          cniVersion: "1.0.0",
          name: "sriov-b",
          plugins: [recorder("", "vf2"), { ...recorder("", "vf2"), result: undefined, echoPrevResult: true }],
        }),
        resourceName: SRIOV,
      },
    ],
  ]);
  const statuses: string[] = [];
  const kube: KubePort = {
    getPod: async () => POD,
    getNad: async (ref) => nads.get(ref.name) ?? null,
    writePodAnnotation: async (_ref, { key, value }) => {
      if (key === NETWORK_STATUS_ANNOTATION) statuses.push(value);
    },
    recordEvent: () => undefined,
  };
  const deps: MultusDeps = {
    log: createLogger({}),
    kube,
    devices,
    deviceInfoDir: join(dir, "devinfo"),
    delegateBaseEnv: { PATH: "/usr/bin:/bin" },
  };
  const conf = v.parse(MultusConfSchema, {
    cniVersion: "1.0.0",
    name: "multus",
    type: "multus-shim",
    binDir,
    cniDir: join(dir, "cni"),
    confDir: join(dir, "net.d"),
    delegates: [recorder("cluster", "eth0")],
  });
  const req = (command: "ADD" | "DEL"): MultusRequest => {
    const args = `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=pod1;K8S_POD_UID=uid-1`;
    return {
      args: {
        command,
        containerId: "cid1",
        // a real network namespace: ADD checks it exists before a delegate runs
        netns: "/proc/self/ns/net",
        ifname: "eth0",
        args,
        path: binDir,
        stdin: new Uint8Array(),
      },
      conf,
      pod: podArgsFrom(args),
    };
  };
  return { deps, req, statuses };
}

async function readRecords(): Promise<Array<RawRecord & { conf: Record<string, any> }>> {
  const text = await readFile(records, "utf8").catch(() => "");
  return text
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const r = JSON.parse(l) as RawRecord;
      return { ...r, conf: JSON.parse(r.stdin) };
    });
}

test("ADD assigns the pod's devices in NAD order, DEL removes the device-info file", async () => {
  const asked: unknown[] = [];
  const devices: DevicePort = {
    getPodDevices: async (pod) => {
      asked.push(pod);
      return new Map([[SRIOV, ["0000:03:02.1", "0000:03:02.2"]]]);
    },
  };
  const { deps, req, statuses } = env(devices);
  const info = { type: "pci", version: "1.1.0", pci: { "pci-address": "0000:03:02.1" } };
  await mkdir(join(dir, "devinfo", "dp"), { recursive: true });
  await writeFile(
    join(dir, "devinfo", "dp", "intel.com-sriov_netdevice-0000:03:02.1-device.json"),
    JSON.stringify(info),
  );

  await cmdAdd(req("ADD"), deps);
  expect(asked).toEqual([{ uid: "uid-1", namespace: "ns1", name: "pod1" }]);

  const adds = (await readRecords()).filter((r) => r.command === "ADD");
  const byIf = (ifname: string) => adds.filter((r) => r.env.CNI_IFNAME === ifname);
  expect(adds.map((r) => r.env.CNI_IFNAME)).toEqual(["eth0", "net1", "net2", "vf2", "vf2"]);
  const infoA = join(dir, "devinfo", "cni", "ns1-sriov-a-cid1_net1");
  const infoB = join(dir, "devinfo", "cni", "ns1-sriov-b-cid1_vf2");
  // sriov-a: the first device, in the config and in runtimeConfig with the CNI device-info path.
  expect(byIf("net1")[0]!.conf).toMatchObject({
    deviceID: "0000:03:02.1",
    pciBusID: "0000:03:02.1",
    runtimeConfig: { deviceID: "0000:03:02.1", CNIDeviceInfoFile: infoA },
  });
  // plain and the cluster network: nothing.
  for (const r of [...byIf("eth0"), ...byIf("net2")]) {
    expect(r.conf.deviceID).toBeUndefined();
    expect(r.conf.runtimeConfig).toBeUndefined();
  }
  // sriov-b, a conflist: the second device in every plugin.
  for (const r of byIf("vf2")) {
    expect(r.conf).toMatchObject({
      deviceID: "0000:03:02.2",
      pciBusID: "0000:03:02.2",
      runtimeConfig: { deviceID: "0000:03:02.2", CNIDeviceInfoFile: infoB },
    });
  }
  // The device plugin's file was copied for sriov-a (sriov-b's device has none) and reached network-status.
  expect(JSON.parse(await readFile(infoA, "utf8"))).toEqual(info);
  expect((await stat(infoA)).mode & 0o777).toBe(0o444);
  await expect(stat(infoB)).rejects.toThrow();
  expect(statuses).toHaveLength(1);
  const status = JSON.parse(statuses[0]!) as Array<Record<string, unknown>>;
  expect(status.map((s) => [s.name, s["device-info"]])).toEqual([
    ["cluster", undefined],
    ["ns1/sriov-a", info],
    ["ns1/plain", undefined],
    ["ns1/sriov-b", undefined],
  ]);
  // The delegate cache keeps the device for DEL.
  const cache = JSON.parse(await readFile(join(dir, "cni", "cid1"), "utf8")) as Array<Record<string, unknown>>;
  expect(cache.map((c) => [c.deviceID, c.resourceName])).toEqual([
    [undefined, undefined],
    ["0000:03:02.1", SRIOV],
    [undefined, undefined],
    ["0000:03:02.2", SRIOV],
  ]);

  await cmdDel(req("DEL"), deps);
  const dels = (await readRecords()).filter((r) => r.command === "DEL");
  expect(dels.find((r) => r.env.CNI_IFNAME === "net1")!.conf).toMatchObject({
    deviceID: "0000:03:02.1",
    runtimeConfig: { deviceID: "0000:03:02.1" },
  });
  await expect(stat(infoA)).rejects.toThrow();
  expect(asked).toHaveLength(1); // DEL from the cache does not ask the kubelet
});

test("DEL without a cache rebuilds from the API and asks for the devices; a kubelet failure does not stop it", async () => {
  let fail = false;
  const devices: DevicePort = {
    getPodDevices: async () => {
      if (fail) throw new Error("kubelet gone");
      return new Map([[SRIOV, ["0000:03:02.1", "0000:03:02.2"]]]);
    },
  };
  const { deps, req } = env(devices);
  await cmdDel(req("DEL"), deps);
  const vf = (await readRecords()).filter((r) => r.command === "DEL" && r.env.CNI_IFNAME === "vf2");
  expect(vf[0]!.conf).toMatchObject({ deviceID: "0000:03:02.2", pciBusID: "0000:03:02.2" });

  await rm(records, { force: true });
  fail = true;
  await cmdDel(req("DEL"), deps);
  const dels = (await readRecords()).filter((r) => r.command === "DEL");
  expect(dels.map((r) => r.env.CNI_IFNAME)).toEqual(["vf2", "vf2", "net2", "net1", "eth0"]);
  expect(dels[0]!.conf.deviceID).toBeUndefined();
});

test("ADD fails with code 11 when the kubelet cannot say which devices the pod has; nothing is attached", async () => {
  const { deps, req } = env({ getPodDevices: async () => Promise.reject(new Error("connection refused")) });
  const err = await cmdAdd(req("ADD"), deps).catch((e) => e);
  expect(err.code).toBe(11);
  expect(err.message).toContain("failed to get the devices allocated to pod ns1/pod1");
  expect(await readRecords()).toEqual([]);
});
