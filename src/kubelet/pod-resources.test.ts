// The hand-written decoder against protobufjs' encoder of the same .proto.
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import * as protoLoader from "@grpc/proto-loader";
import { LIST_METHOD, PodResourcesError } from "./pod-resources.ts";
import { decodeListPodResourcesResponse } from "./pod-resources-proto.ts";

const definition = protoLoader.loadSync(join(import.meta.dir, "podresources-v1.proto"), { longs: Number });
const list = (definition["v1.PodResourcesLister"] as protoLoader.ServiceDefinition).List!;
const encode = (obj: Record<string, unknown>) => new Uint8Array(list.responseSerialize(obj));

test("the method path is the .proto's", () => {
  expect(list.path).toBe(LIST_METHOD);
});

describe("decodeListPodResourcesResponse", () => {
  test("pods, containers, devices and DRA claims; CPU IDs, memory and topology are skipped", () => {
    const bytes = encode({
      podResources: [
        {
          name: "pod-1",
          namespace: "ns-ü",
          containers: [
            {
              name: "app",
              devices: [
                { resourceName: "intel.com/sriov", deviceIds: ["0000:03:02.3"], topology: { nodes: [{ ID: 1 }] } },
                {
                  resourceName: "intel.com/sriov",
                  deviceIds: ["0000:03:02.1", "0000:03:02.2"],
                  topology: { nodes: [{ ID: 0 }, { ID: 2 ** 40 }] },
                },
              ],
              cpuIds: [2, 3, 2 ** 40],
              memory: [{ memoryType: "hugepages-1Gi", size: 2 ** 33, topology: { nodes: [{ ID: 0 }] } }],
              dynamicResources: [
                {
                  claimName: "c",
                  claimNamespace: "ns",
                  claimResources: [
                    { cdiDevices: [{ name: "k8s.example.com/net=vf-1" }, { name: "x" }], driverName: "d" },
                    { cdiDevices: [{ name: "k8s.example.com/net=vf-2" }], poolName: "p", deviceName: "dev" },
                  ],
                },
                // a kubelet before 1.31 also names the class
                { className: "net-class", claimName: "old", claimNamespace: "ns", claimResources: [] },
              ],
            },
            { name: "empty" },
          ],
        },
        { name: "pod-2", namespace: "ns" },
      ],
    });
    expect(decodeListPodResourcesResponse(bytes)).toEqual([
      {
        name: "pod-1",
        namespace: "ns-ü",
        containers: [
          {
            name: "app",
            devices: [
              { resourceName: "intel.com/sriov", deviceIds: ["0000:03:02.3"] },
              { resourceName: "intel.com/sriov", deviceIds: ["0000:03:02.1", "0000:03:02.2"] },
            ],
            dynamicResources: [
              {
                className: "",
                claimName: "c",
                claimNamespace: "ns",
                cdiDevices: ["k8s.example.com/net=vf-1", "x", "k8s.example.com/net=vf-2"],
              },
              { className: "net-class", claimName: "old", claimNamespace: "ns", cdiDevices: [] },
            ],
          },
          { name: "empty", devices: [], dynamicResources: [] },
        ],
      },
      { name: "pod-2", namespace: "ns", containers: [] },
    ]);
  });

  test("an empty reply is no pods", () => {
    expect(decodeListPodResourcesResponse(new Uint8Array(0))).toEqual([]);
  });

  test("unknown fields of every wire type are skipped", () => {
    // field 9 varint, field 10 fixed64, field 11 fixed32, field 12 bytes, then pod_resources {name: "p"}
    const bytes = new Uint8Array([
      0x48, 0x96, 0x01, 0x51, 1, 2, 3, 4, 5, 6, 7, 8, 0x5d, 1, 2, 3, 4, 0x62, 2, 0xff, 0xff, 0x0a, 3, 0x0a, 1, 0x70,
    ]);
    expect(decodeListPodResourcesResponse(bytes)).toEqual([{ name: "p", namespace: "", containers: [] }]);
  });

  test("malformed input is a PodResourcesError", () => {
    for (const bytes of [[0x0a, 5, 0x0a], [0x48, 0x96], [0x0b], [0x0a, 2, 0x0a, 0x01], [0x0a, 3, 0x0a, 1, 0xff]]) {
      expect(() => decodeListPodResourcesResponse(new Uint8Array(bytes))).toThrow(PodResourcesError);
    }
  });
});
