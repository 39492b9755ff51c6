// The resource.k8s.io/v1 reads of src/k8s (DRA) against the fake API server: discovery,
// one ResourceClaim trimmed to its allocation, the ResourceSlices of a driver on a node
// (server-side field selectors), and an API server that does not serve the group.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createKubeClient, createKubeHttp, type KubeClient } from "../../src/k8s/client.ts";
import { loadKubeTarget } from "../../src/k8s/kubeconfig.ts";
import { createResourceReader, toResourceClaim, toSliceDevices } from "../../src/k8s/resources.ts";
import { startFakeKube, type FakeKube } from "../helpers/fake-kube.ts";

const OPTS = { timeoutMs: 5_000 };
const VF = "vf.example.com";

/** A ResourceSlice as a DRA driver publishes it: one pool per node. */
function slice(o: { name: string; node: string; driver: string; devices: Array<Record<string, unknown>> }) {
  return {
    metadata: { name: o.name },
    spec: {
      driver: o.driver,
      nodeName: o.node,
      pool: { name: o.node, generation: 1, resourceSliceCount: 1 },
      devices: o.devices,
    },
  };
}
const attrs = (deviceId?: string, resourceName?: string) => ({
  ...(deviceId !== undefined && { "k8s.cni.cncf.io/deviceID": { string: deviceId } }),
  ...(resourceName !== undefined && { "k8s.cni.cncf.io/resourceName": { string: resourceName } }),
  "dra.example.com/numa": { int: 0 },
});

describe("resource.k8s.io/v1 reads", () => {
  let fake: FakeKube;
  let dir: string;
  let client: KubeClient;
  beforeAll(async () => {
    fake = await startFakeKube({ resourceApi: true });
    dir = mkdtempSync(join(tmpdir(), "k8s-resources-"));
    client = await createKubeClient({ kubeconfigPath: fake.writeKubeconfig(join(dir, "kubeconfig")) });
    fake.createResourceClaim({
      metadata: { name: "pod1-net", namespace: "ns1" },
      spec: { devices: { requests: [{ name: "vf", exactly: { deviceClassName: "vf" } }] } },
      status: {
        allocation: {
          devices: { results: [{ request: "vf", driver: VF, pool: "node-a", device: "vf-1", adminAccess: false }] },
        },
        reservedFor: [{ resource: "pods", name: "pod1", uid: "u1" }],
      },
    });
    fake.createResourceClaim({ metadata: { name: "pending", namespace: "ns1" }, spec: { devices: {} } });
    fake.createResourceSlice(
      slice({
        name: "node-a-vf",
        node: "node-a",
        driver: VF,
        devices: [
          { name: "vf-1", attributes: attrs("0000:04:00.1", "sriov_nic_1") },
          { name: "vf-2", attributes: attrs("0000:04:00.2") },
          { name: "vf-3" },
        ],
      }),
    );
    fake.createResourceSlice(
      slice({ name: "node-b-vf", node: "node-b", driver: VF, devices: [{ name: "vf-1", attributes: attrs("x") }] }),
    );
    fake.createResourceSlice(
      slice({ name: "node-a-gpu", node: "node-a", driver: "gpu.example.com", devices: [{ name: "gpu-0" }] }),
    );
  });
  afterAll(async () => {
    await client?.stop();
    await fake?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  test("discovery says the group is served; a claim is trimmed to its allocation; a missing one is null", async () => {
    expect(await client.servesResourceApi(OPTS)).toBe(true);
    expect(await client.getResourceClaim({ namespace: "ns1", name: "pod1-net" }, OPTS)).toEqual({
      namespace: "ns1",
      name: "pod1-net",
      results: [{ request: "vf", driver: VF, pool: "node-a", device: "vf-1" }],
    });
    expect(await client.getResourceClaim({ namespace: "ns1", name: "pending" }, OPTS)).toEqual({
      namespace: "ns1",
      name: "pending",
    });
    expect(await client.getResourceClaim({ namespace: "ns1", name: "absent" }, OPTS)).toBeNull();
  });

  test("the slices of one driver on one node, by field selector, with the two attributes", async () => {
    fake.resetCounts();
    expect(await client.listSliceDevices({ nodeName: "node-a", driver: VF }, OPTS)).toEqual([
      { driver: VF, pool: "node-a", device: "vf-1", deviceId: "0000:04:00.1", resourceName: "sriov_nic_1" },
      { driver: VF, pool: "node-a", device: "vf-2", deviceId: "0000:04:00.2" },
      { driver: VF, pool: "node-a", device: "vf-3" },
    ]);
    const [list] = fake.requests().filter((r) => r.resource === "resourceslices");
    expect(new URLSearchParams(list!.query).get("fieldSelector")).toBe(`spec.nodeName=node-a,spec.driver=${VF}`);
    expect(fake.count("LIST resourceslices")).toBe(1);
  });

  test("an API server without resource.k8s.io/v1: discovery says so (and is asked again only later)", async () => {
    fake.setResourceApi(false);
    let now = 0;
    const http = createKubeHttp(await loadKubeTarget({ kubeconfigPath: join(dir, "kubeconfig") }));
    const reader = createResourceReader(http, () => now);
    fake.resetCounts();
    expect(await reader.servesResourceApi(OPTS)).toBe(false);
    expect(await reader.servesResourceApi(OPTS)).toBe(false);
    expect(fake.requests().filter((r) => r.path === "/apis/resource.k8s.io/v1")).toHaveLength(1);
    fake.setResourceApi(true);
    now += 5 * 60_000;
    expect(await reader.servesResourceApi(OPTS)).toBe(true);
    // Off again (a downgrade): what was once served stays so, with no discovery call; a claim
    // read then gets the API server's NotFound Status, so the claim counts as missing.
    fake.setResourceApi(false);
    fake.resetCounts();
    expect(await reader.servesResourceApi(OPTS)).toBe(true);
    expect(await reader.getResourceClaim({ namespace: "ns1", name: "pod1-net" }, OPTS)).toBeNull();
    expect(fake.requests().map((r) => r.path)).toEqual([
      "/apis/resource.k8s.io/v1/namespaces/ns1/resourceclaims/pod1-net",
    ]);
    fake.setResourceApi(true);
    http.close();
  });
});

describe("trimming", () => {
  test("objects that are not claims or slices give nothing", () => {
    expect(toResourceClaim({ metadata: { name: "x" } })).toBeUndefined();
    expect(toResourceClaim({ metadata: { name: "x", namespace: "n" }, status: { allocation: {} } })).toEqual({
      namespace: "n",
      name: "x",
    });
    expect(toSliceDevices({ spec: { driver: "d", devices: [] } })).toEqual([]);
    expect(
      toSliceDevices({ spec: { driver: "d", pool: { name: "p" }, devices: [{ attributes: {} }, { name: "ok" }] } }),
    ).toEqual([{ driver: "d", pool: "p", device: "ok" }]);
    // Only string values count.
    const intId = { name: "n", attributes: { "k8s.cni.cncf.io/deviceID": { int: 3 } } };
    expect(toSliceDevices({ spec: { driver: "d", pool: { name: "p" }, devices: [intId] } })).toEqual([
      { driver: "d", pool: "p", device: "n" },
    ]);
  });
});
