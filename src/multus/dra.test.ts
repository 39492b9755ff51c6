// draPodDevices against a ResourcePort made of plain data: which claims and
// devices map, which are skipped, which fail, and the calls it makes.
import { describe, expect, test } from "bun:test";
import { createLogger } from "../util/log.ts";
import { draPodDevices, hasResourceClaims } from "./dra.ts";
import type { PodInfo, ResourceClaimInfo, ResourcePort, SliceDevice } from "./ports.ts";

const log = createLogger({});
const VF = "vf.example.com";
const GPU = "gpu.example.com";

function pod(extra: Partial<PodInfo> = {}): PodInfo {
  return {
    namespace: "ns1",
    name: "pod1",
    uid: "u1",
    annotations: {},
    isStatic: false,
    nodeName: "node-a",
    resourceClaimStatuses: [{ name: "net", resourceClaimName: "pod1-net" }],
    ...extra,
  };
}

const claim = (name: string, results?: ResourceClaimInfo["results"]): ResourceClaimInfo => ({
  namespace: "ns1",
  name,
  ...(results && { results }),
});
const result = (device: string, driver = VF, request = "req") => ({ request, driver, pool: "node-a", device });
const dev = (device: string, attrs: Partial<SliceDevice> = {}, driver = VF): SliceDevice => ({
  driver,
  pool: "node-a",
  device,
  ...attrs,
});

function port(o: { served?: boolean; claims?: ResourceClaimInfo[]; slices?: SliceDevice[] }) {
  const calls: string[] = [];
  const p: ResourcePort = {
    async servesResourceApi() {
      calls.push("discovery");
      return o.served ?? true;
    },
    async getResourceClaim(ref) {
      calls.push(`claim ${ref.namespace}/${ref.name}`);
      return o.claims?.find((c) => c.namespace === ref.namespace && c.name === ref.name) ?? null;
    },
    async listSliceDevices(sel) {
      calls.push(`slices ${sel.nodeName}/${sel.driver}`);
      return (o.slices ?? []).filter((d) => d.driver === sel.driver);
    },
  };
  return { p, calls };
}

describe("hasResourceClaims", () => {
  test.each([
    [{}, true],
    [{ resourceClaimStatuses: [{ name: "x" }] }, false],
    [{ resourceClaimStatuses: undefined }, false],
    [
      {
        resourceClaimStatuses: undefined,
        extendedResourceClaimStatus: { resourceClaimName: "e", requestMappings: [] },
      },
      true,
    ],
  ] as Array<[Partial<PodInfo>, boolean]>)("%p -> %p", (extra, want) => {
    expect(hasResourceClaims(pod(extra))).toBe(want);
  });
});

describe("draPodDevices", () => {
  test("an allocated device publishing both attributes maps its deviceID under its resourceName", async () => {
    const { p, calls } = port({
      claims: [claim("pod1-net", [result("vf-1"), result("vf-2")])],
      slices: [
        dev("vf-1", { deviceId: "0000:04:00.1", resourceName: "sriov_nic_1" }),
        dev("vf-2", { deviceId: "0000:04:00.2", resourceName: "sriov_nic_1" }),
        dev("vf-3", { deviceId: "0000:04:00.3", resourceName: "sriov_nic_1" }),
      ],
    });
    expect(await draPodDevices({ pod: pod(), resources: p, log })).toEqual(
      new Map([["sriov_nic_1", ["0000:04:00.1", "0000:04:00.2"]]]),
    );
    // The slices of a driver are listed once, on the pod's node.
    expect(calls).toEqual(["discovery", "claim ns1/pod1-net", "slices node-a/vf.example.com"]);
  });

  test("devices not for CNI are skipped: in no slice, without deviceID, without resourceName", async () => {
    const { p } = port({
      claims: [
        claim("pod1-net", [result("vf-1"), result("gone"), result("vf-noid"), result("gpu-0", GPU)]),
        claim("pod1-gpu", [result("gpu-0", GPU)]),
      ],
      slices: [
        dev("vf-1", { deviceId: "0000:04:00.1", resourceName: "sriov" }),
        dev("vf-noid", { resourceName: "sriov" }),
        dev("gpu-0", { deviceId: "GPU-1" }, GPU),
      ],
    });
    const statuses = [
      { name: "net", resourceClaimName: "pod1-net" },
      { name: "gpu", resourceClaimName: "pod1-gpu" },
      { name: "unneeded" },
    ];
    expect(await draPodDevices({ pod: pod({ resourceClaimStatuses: statuses }), resources: p, log })).toEqual(
      new Map([["sriov", ["0000:04:00.1"]]]),
    );
  });

  test("two claims of one resource: the IDs in claim order, each once", async () => {
    const { p } = port({
      claims: [claim("a", [result("vf-2"), result("vf-1")]), claim("b", [result("vf-1"), result("vf-3")])],
      slices: ["vf-1", "vf-2", "vf-3"].map((d) => dev(d, { deviceId: `id-${d}`, resourceName: "sriov" })),
    });
    const statuses = [
      { name: "a", resourceClaimName: "a" },
      { name: "b", resourceClaimName: "b" },
    ];
    expect(await draPodDevices({ pod: pod({ resourceClaimStatuses: statuses }), resources: p, log })).toEqual(
      new Map([["sriov", ["id-vf-2", "id-vf-1", "id-vf-3"]]]),
    );
  });

  test("no claims, or an API without resource.k8s.io/v1: nothing asked, or undefined", async () => {
    const none = port({});
    expect(await draPodDevices({ pod: pod({ resourceClaimStatuses: [] }), resources: none.p, log })).toBeUndefined();
    expect(none.calls).toEqual([]);
    const absent = port({ served: false });
    expect(await draPodDevices({ pod: pod(), resources: absent.p, log })).toBeUndefined();
    expect(absent.calls).toEqual(["discovery"]);
  });

  test("a missing claim, or one without device allocation, is an error naming it", async () => {
    const missing = port({ claims: [] });
    await expect(draPodDevices({ pod: pod(), resources: missing.p, log })).rejects.toThrow(
      "resource claim ns1/pod1-net not found",
    );
    const pending = port({ claims: [claim("pod1-net")] });
    await expect(draPodDevices({ pod: pod(), resources: pending.p, log })).rejects.toThrow(
      "claim pod1-net has no device allocation",
    );
  });

  test("a failed API call fails the lookup", async () => {
    const { p } = port({ claims: [claim("pod1-net", [result("vf-1")])] });
    p.listSliceDevices = async () => {
      throw new Error("503 from the API");
    };
    await expect(draPodDevices({ pod: pod(), resources: p, log })).rejects.toThrow("503 from the API");
  });

  describe("the extended-resource claim (strict)", () => {
    const ext = (resourceName: string, requestName = "req") => ({
      resourceClaimStatuses: undefined,
      extendedResourceClaimStatus: {
        resourceClaimName: "pod1-extended",
        requestMappings: [{ containerName: "app", resourceName, requestName }],
      },
    });

    test("each mapping's devices under the mapping's resourceName", async () => {
      const { p } = port({
        claims: [claim("pod1-extended", [result("vf-1", VF, "req"), result("vf-2", VF, "other")])],
        slices: [
          dev("vf-1", { deviceId: "0000:04:00.1", resourceName: "example.com/vf" }),
          dev("vf-2", { deviceId: "0000:04:00.2", resourceName: "example.com/vf" }),
        ],
      });
      expect(await draPodDevices({ pod: pod(ext("example.com/vf")), resources: p, log })).toEqual(
        new Map([["example.com/vf", ["0000:04:00.1"]]]),
      );
    });

    test.each([
      ["a request the claim has no result for", ext("example.com/vf", "nope"), "request nope not found in claim"],
      ["a device in no slice", ext("example.com/vf"), "device vf-9 not found for claim resource"],
      ["no resourceName attribute", ext("example.com/vf"), "missing required attribute k8s.cni.cncf.io/resourceName"],
      ["another resourceName", ext("example.com/other"), 'k8s.cni.cncf.io/resourceName is "example.com/vf"'],
    ])("%s is an error", async (what, extra, message) => {
      const device = what === "a device in no slice" ? "vf-9" : "vf-1";
      const attrs = what === "no resourceName attribute" ? {} : { resourceName: "example.com/vf" };
      const { p } = port({
        claims: [claim("pod1-extended", [result(device)])],
        slices: [dev("vf-1", { deviceId: "0000:04:00.1", ...attrs })],
      });
      await expect(draPodDevices({ pod: pod(extra), resources: p, log })).rejects.toThrow(message);
    });
  });
});
