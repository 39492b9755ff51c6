// The fake API server's resource.k8s.io/v1 (DRA): served as Kubernetes 1.34+ serves it, or
// absent (404) as an older API server answers.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startFakeKube, type FakeKube } from "../helpers/fake-kube.ts";
import { readWatchEvents } from "../helpers/watch-events.ts";

let fake: FakeKube;
beforeAll(async () => {
  fake = await startFakeKube();
});
afterAll(() => fake.stop());

function api(path: string): Promise<Response> {
  return fetch(`${fake.url}${path}`, { headers: { authorization: `Bearer ${fake.token}` }, tls: { ca: fake.caPem } });
}

describe("resource.k8s.io/v1 (DRA)", () => {
  test("absent (an API server before 1.34): discovery, claims and slices are NotFound", async () => {
    for (const path of [
      "/apis/resource.k8s.io/v1",
      "/apis/resource.k8s.io/v1/namespaces/default/resourceclaims/c",
      "/apis/resource.k8s.io/v1/resourceslices",
    ]) {
      const res = await api(path);
      expect(res.status).toBe(404);
      expect(await res.json()).toMatchObject({ kind: "Status", reason: "NotFound", code: 404 });
    }
  });

  test("served: discovery lists both; claims are namespaced, slices cluster-scoped; list, get, watch", async () => {
    fake.setResourceApi(true);
    try {
      const disc = (await (await api("/apis/resource.k8s.io/v1")).json()) as any;
      expect(disc.groupVersion).toBe("resource.k8s.io/v1");
      expect(disc.resources.map((r: { name: string; namespaced: boolean }) => [r.name, r.namespaced])).toEqual([
        ["resourceclaims", true],
        ["resourceclaims/status", true],
        ["resourceslices", false],
      ]);
      const claim = fake.createResourceClaim({
        metadata: { name: "c1", namespace: "ns1" },
        status: { allocation: { devices: { results: [{ request: "r", driver: "d", pool: "p", device: "x" }] } } },
      });
      expect(claim).toMatchObject({ kind: "ResourceClaim", apiVersion: "resource.k8s.io/v1" });
      const got = (await (await api("/apis/resource.k8s.io/v1/namespaces/ns1/resourceclaims/c1")).json()) as any;
      expect(got.status.allocation.devices.results[0].device).toBe("x");
      expect((await api("/apis/resource.k8s.io/v1/namespaces/ns2/resourceclaims/c1")).status).toBe(404);
      for (const node of ["n1", "n2"])
        fake.createResourceSlice({
          metadata: { name: `s-${node}` },
          spec: {
            driver: "d",
            nodeName: node,
            pool: { name: node, generation: 1, resourceSliceCount: 1 },
            devices: [],
          },
        });
      const sel = encodeURIComponent("spec.nodeName=n2,spec.driver=d");
      const list = (await (await api(`/apis/resource.k8s.io/v1/resourceslices?fieldSelector=${sel}`)).json()) as any;
      expect(list.kind).toBe("ResourceSliceList");
      expect(list.items.map((o: { metadata: { name: string } }) => o.metadata.name)).toEqual(["s-n2"]);
      expect((await api("/apis/resource.k8s.io/v1/namespaces/ns1/resourceslices/s-n1")).status).toBe(404);
      // Only v1 is served.
      expect((await api("/apis/resource.k8s.io/v1beta1/resourceslices")).status).toBe(404);
      const rv = Number(list.metadata.resourceVersion);
      fake.createResourceSlice({
        metadata: { name: "s-n3" },
        spec: { driver: "d", nodeName: "n3", pool: { name: "n3", generation: 1, resourceSliceCount: 1 }, devices: [] },
      });
      const watch = await api(`/apis/resource.k8s.io/v1/resourceslices?watch=true&resourceVersion=${rv}`);
      const [ev] = await readWatchEvents(watch, 1);
      expect([ev?.type, ev?.object.metadata.name]).toEqual(["ADDED", "s-n3"]);
      expect(fake.count("GET resourceclaims")).toBeGreaterThanOrEqual(1);
      expect(fake.count("LIST resourceslices")).toBeGreaterThanOrEqual(1);
    } finally {
      fake.setResourceApi(false);
    }
  });
});
