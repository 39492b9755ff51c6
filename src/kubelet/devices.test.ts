// The resource map built from a PodResources List reply: device-plugin devices
// and DRA claims (DynamicResources) of the pod's containers.
import { describe, expect, test } from "bun:test";
import { cdiDeviceId, podDevicesFromList } from "./devices.ts";
import type { ContainerResources, PodResources } from "./pod-resources-proto.ts";

const POD = { namespace: "ns1", name: "pod1" };
const container = (c: Partial<ContainerResources> & { name: string }): ContainerResources => ({
  devices: [],
  dynamicResources: [],
  ...c,
});
const claim = (claimName: string, cdiDevices: string[], className = "") => ({
  className,
  claimName,
  claimNamespace: "ns1",
  cdiDevices,
});
const pods = (...containers: ContainerResources[]): PodResources[] => [
  { ...POD, namespace: "other", containers: [container({ name: "c", dynamicResources: [claim("net", ["a/b=x"])] })] },
  { ...POD, containers },
];

describe("cdiDeviceId", () => {
  test.each([
    ["nvidia.com/net=mlx5_0", ["mlx5_0"]],
    ["k8s.example.com/vf=0000:03:02.1", ["0000:03:02.1"]],
    ["vendor/class=", [""]],
    ["no-equals-sign", []],
    ["a=b=c", []],
    ["", []],
  ])("%p -> %p", (name, ids) => {
    expect(cdiDeviceId(name)).toEqual(ids);
  });
});

describe("podDevicesFromList with DynamicResources", () => {
  test("a claim is a resource named after the claim, its IDs the part after '=' of each CDI name", () => {
    const map = podDevicesFromList(
      pods(
        container({
          name: "app",
          dynamicResources: [
            claim("sriov-claim", ["k8s.example.com/vf=0000:03:02.2", "k8s.example.com/vf=0000:03:02.1"]),
          ],
        }),
      ),
      POD,
    );
    expect(map).toEqual(new Map([["sriov-claim", ["0000:03:02.1", "0000:03:02.2"]]]));
  });

  test("device-plugin devices come first in each container; the class name (old kubelets) is not the key", () => {
    const map = podDevicesFromList(
      pods(
        container({
          name: "app",
          devices: [{ resourceName: "intel.com/sriov", deviceIds: ["0000:03:02.5"] }],
          dynamicResources: [claim("net-a", ["v/c=dev-1"], "net-class"), claim("net-b", ["v/c=dev-2", "bad"])],
        }),
        container({ name: "side", dynamicResources: [claim("net-a", ["v/c=dev-3"])] }),
      ),
      POD,
    );
    expect([...map.keys()]).toEqual(["intel.com/sriov", "net-a", "net-b"]);
    expect(map.get("net-a")).toEqual(["dev-1", "dev-3"]);
    expect(map.get("net-b")).toEqual(["dev-2"]);
    expect(map.has("net-class")).toBe(false);
  });

  test("a claim shared by two containers gives its devices once", () => {
    const shared = claim("shared", ["v/c=dev-1", "v/c=dev-2"]);
    const map = podDevicesFromList(
      pods(container({ name: "a", dynamicResources: [shared] }), container({ name: "b", dynamicResources: [shared] })),
      POD,
    );
    expect(map).toEqual(new Map([["shared", ["dev-1", "dev-2"]]]));
  });

  test("a claim whose CDI names are all malformed is an empty resource (no device for its NAD)", () => {
    const map = podDevicesFromList(
      pods(container({ name: "a", dynamicResources: [claim("odd", ["x", "y=z=w"])] })),
      POD,
    );
    expect(map).toEqual(new Map([["odd", []]]));
  });
});
