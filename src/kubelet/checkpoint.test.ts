import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { tmpdir } from "node:os";
import { CheckpointError, parseCheckpoint, readCheckpoint } from "./checkpoint.ts";
import { createDevicePort, podDevicesFromCheckpoint } from "./devices.ts";

// Shaped like kubelet_internal_checkpoint of a current kubelet (DeviceIDs per NUMA node).
const CHECKPOINT = {
  Data: {
    PodDeviceEntries: [
      {
        PodUID: "pod-a",
        ContainerName: "app",
        ResourceName: "intel.com/sriov",
        DeviceIDs: { "1": ["0000:03:02.3", "0000:03:02.0"], "0": ["0000:03:02.2"] },
        AllocResp: "CgA=",
      },
      {
        PodUID: "pod-b",
        ContainerName: "app",
        ResourceName: "intel.com/sriov",
        DeviceIDs: { "0": ["0000:03:02.5"] },
        AllocResp: "CgA=",
      },
      {
        PodUID: "pod-a",
        ContainerName: "sidecar",
        ResourceName: "intel.com/sriov",
        DeviceIDs: { "0": ["0000:03:02.1"] },
        AllocResp: "CgA=",
      },
      {
        PodUID: "pod-a",
        ContainerName: "app",
        ResourceName: "example.com/gpu",
        DeviceIDs: { "0": ["gpu-1"], "1": ["gpu-1"] },
        AllocResp: "CgA=",
      },
    ],
    RegisteredDevices: {
      "intel.com/sriov": ["0000:03:02.0", "0000:03:02.1", "0000:03:02.2", "0000:03:02.3", "0000:03:02.5"],
    },
  },
  Checksum: 1234567890,
};

describe("parseCheckpoint", () => {
  test("entries in file order; NUMA nodes flattened in node order, a device on two nodes once", () => {
    expect(parseCheckpoint(JSON.stringify(CHECKPOINT))).toEqual([
      {
        podUid: "pod-a",
        containerName: "app",
        resourceName: "intel.com/sriov",
        deviceIds: ["0000:03:02.2", "0000:03:02.3", "0000:03:02.0"],
      },
      { podUid: "pod-b", containerName: "app", resourceName: "intel.com/sriov", deviceIds: ["0000:03:02.5"] },
      { podUid: "pod-a", containerName: "sidecar", resourceName: "intel.com/sriov", deviceIds: ["0000:03:02.1"] },
      { podUid: "pod-a", containerName: "app", resourceName: "example.com/gpu", deviceIds: ["gpu-1"] },
    ]);
  });

  test("the old format (DeviceIDs a plain list), null lists and a null entry list", () => {
    const old = {
      Data: {
        PodDeviceEntries: [
          { PodUID: "u", ContainerName: "c", ResourceName: "r", DeviceIDs: ["b", "a"] },
          { PodUID: "u", ResourceName: "r", DeviceIDs: null },
        ],
      },
    };
    expect(parseCheckpoint(JSON.stringify(old))).toEqual([
      { podUid: "u", containerName: "c", resourceName: "r", deviceIds: ["b", "a"] },
      { podUid: "u", containerName: "", resourceName: "r", deviceIds: [] },
    ]);
    expect(
      parseCheckpoint(JSON.stringify({ Data: { PodDeviceEntries: null, RegisteredDevices: null }, Checksum: 0 })),
    ).toEqual([]);
    expect(
      parseCheckpoint(
        JSON.stringify({ Data: { PodDeviceEntries: [{ PodUID: "u", ResourceName: "r", DeviceIDs: { "0": null } }] } }),
      ),
    ).toEqual([{ podUid: "u", containerName: "", resourceName: "r", deviceIds: [] }]);
  });

  test("undecodable or misshapen: CheckpointError naming the field", () => {
    expect(() => parseCheckpoint("{")).toThrow(CheckpointError);
    expect(() => parseCheckpoint("[]")).toThrow(CheckpointError);
    expect(() =>
      parseCheckpoint(JSON.stringify({ Data: { PodDeviceEntries: [{ PodUID: 1, ResourceName: "r" }] } })),
    ).toThrow(/PodDeviceEntries\.0\.PodUID/);
  });

  // Go's decoder fails on an array where a struct or a map goes; valibot would read keys "0", "1".
  test.each([
    [{ Data: [] }, /field "Data": expected an object, got an array/],
    [{ Data: { PodDeviceEntries: [[]] } }, /field "Data\.PodDeviceEntries\.0/],
    [{ Data: { PodDeviceEntries: [{ PodUID: "u", ResourceName: "r", DeviceIDs: [["dev0"]] }] } }, /DeviceIDs/],
  ])("an array for an object is misshapen: %j", (file, message) => {
    expect(() => parseCheckpoint(JSON.stringify(file))).toThrow(message);
  });
});

test("podDevicesFromCheckpoint: the pod's entries by UID, each entry sorted, entry order kept", () => {
  const entries = parseCheckpoint(JSON.stringify(CHECKPOINT));
  expect(podDevicesFromCheckpoint(entries, "pod-a")).toEqual(
    new Map([
      ["intel.com/sriov", ["0000:03:02.0", "0000:03:02.2", "0000:03:02.3", "0000:03:02.1"]],
      ["example.com/gpu", ["gpu-1"]],
    ]),
  );
  expect(podDevicesFromCheckpoint(entries, "pod-b")).toEqual(new Map([["intel.com/sriov", ["0000:03:02.5"]]]));
  expect(podDevicesFromCheckpoint(entries, "pod-z")).toEqual(new Map());
  expect(podDevicesFromCheckpoint(entries, "")).toEqual(new Map());
});

describe("createDevicePort without a PodResources socket: the checkpoint", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "multus-checkpoint-"));
    await writeFile(join(dir, "kubelet_internal_checkpoint"), JSON.stringify(CHECKPOINT));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  test("matched by pod UID", async () => {
    const port = createDevicePort({
      podResourcesSocket: join(dir, "no-such.sock"),
      checkpointFile: join(dir, "kubelet_internal_checkpoint"),
    });
    const got = await port.getPodDevices({ uid: "pod-b", namespace: "ns", name: "whatever" });
    expect(got).toEqual(new Map([["intel.com/sriov", ["0000:03:02.5"]]]));
  });

  test("no checkpoint either: an error (Go fails the ADD of a NAD with a resourceName)", async () => {
    const port = createDevicePort({
      podResourcesSocket: join(dir, "no-such.sock"),
      checkpointFile: join(dir, "missing"),
    });
    await expect(port.getPodDevices({ uid: "pod-b", namespace: "ns", name: "p" })).rejects.toThrow(CheckpointError);
    await expect(readCheckpoint(join(dir, "missing"))).rejects.toThrow(/cannot read kubelet checkpoint/);
  });
});
