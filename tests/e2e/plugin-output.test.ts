// What delegates print, as real plugins print it: the compiled shim and daemon
// against the fake API, the recording plugin answering ADD with each output of
// the table. libcni accepts all of them, so ADD must too, and network-status
// reports them as Go Multus would; only an output that cannot be used (an
// address that is not an address) fails the ADD, naming the field.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { canRunE2e, containerId, netnsPerTest } from "../helpers/e2e.ts";
import { describeRun, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";
import { randomSuffix } from "../helpers/netns.ts";

const NETWORKS = "k8s.v1.cni.cncf.io/networks";

let env: K8sEnv;
beforeAll(async () => {
  if (canRunE2e) env = await startK8sEnv({ withRecorder: true });
});
afterAll(() => env?.stop());

const ns = netnsPerTest("mtout");

interface Case {
  name: string;
  /** The NAD config's cniVersion. */
  cniVersion: string;
  /** What the plugin prints for ADD (`sandbox: true` stands for the pod's netns). */
  result: (netns: string) => Record<string, unknown>;
  /** The network's network-status entries (name left out). */
  status: Array<Record<string, unknown>>;
}

const CASES: Case[] = [
  {
    name: "a route without dst, with a gateway: a default route",
    cniVersion: "1.0.0",
    result: (sandbox) => ({
      cniVersion: "1.0.0",
      interfaces: [{ name: "net1", sandbox }],
      ips: [{ address: "192.0.2.10/24", interface: 0 }],
      routes: [{ dst: "198.51.100.0/24" }, { gw: "192.0.2.1" }],
    }),
    status: [{ interface: "net1", ips: ["192.0.2.10"], dns: {}, gateway: ["192.0.2.1"] }],
  },
  {
    name: "0.2.0 without interfaces",
    cniVersion: "0.2.0",
    result: () => ({
      cniVersion: "0.2.0",
      ip4: { ip: "192.0.2.11/24", gateway: "192.0.2.1", routes: [{ dst: "0.0.0.0/0", gw: "192.0.2.1" }] },
    }),
    status: [{ ips: ["192.0.2.11"], dns: {}, gateway: ["192.0.2.1"] }],
  },
  {
    name: "an IP without an interface index",
    cniVersion: "1.0.0",
    result: (sandbox) => ({
      cniVersion: "1.0.0",
      interfaces: [{ name: "net1", mac: "02:00:00:00:00:0b", sandbox }],
      ips: [{ address: "192.0.2.12/24" }],
    }),
    status: [{ interface: "net1", ips: ["192.0.2.12"], mac: "02:00:00:00:00:0b", dns: {} }],
  },
  {
    name: "extra fields everywhere",
    cniVersion: "0.4.0",
    result: (sandbox) => ({
      cniVersion: "0.4.0",
      vendor: { build: 7 },
      interfaces: [{ name: "net1", sandbox, vlan: 100 }],
      ips: [{ version: "4", address: "192.0.2.13/24", interface: 0, lease: "3600s" }],
      routes: [{ dst: "0.0.0.0/0", gw: "192.0.2.1", metric: 5 }],
      dns: { nameservers: ["192.0.2.53"], ttl: 30 },
    }),
    status: [{ interface: "net1", ips: ["192.0.2.13"], dns: { nameservers: ["192.0.2.53"] }, gateway: ["192.0.2.1"] }],
  },
  {
    name: "dns empty (the other cases print none), an empty gateway, null routes",
    cniVersion: "1.0.0",
    result: (sandbox) => ({
      cniVersion: "1.0.0",
      interfaces: [{ name: "net1", sandbox }],
      ips: [{ address: "192.0.2.14/24", interface: 0, gateway: "" }],
      routes: null,
      dns: {},
    }),
    status: [{ interface: "net1", ips: ["192.0.2.14"], dns: {} }],
  },
  {
    name: "IPv6 default routes written ::/0 and ::0/0",
    cniVersion: "1.0.0",
    result: (sandbox) => ({
      cniVersion: "1.0.0",
      interfaces: [{ name: "net1", sandbox }],
      ips: [{ address: "2001:db8::15/64", interface: 0 }],
      routes: [
        { dst: "::/0", gw: "2001:db8::1" },
        { dst: "::0/0", gw: "2001:db8::2" },
        { dst: "2001:db8:1::/48", gw: "2001:db8::3" },
      ],
    }),
    status: [{ interface: "net1", ips: ["2001:db8::15"], dns: {}, gateway: ["2001:db8::1", "2001:db8::2"] }],
  },
  {
    name: "an empty result in an older version than the config's",
    cniVersion: "1.0.0",
    result: () => ({ cniVersion: "0.4.0" }),
    status: [],
  },
];

function podWith(result: Record<string, unknown>, cniVersion: string) {
  const nad = `out-${randomSuffix(5)}`;
  env.createNad({ name: nad, config: { cniVersion, name: nad, type: "recorder", result } });
  const pod = env.createPod({ annotations: { [NETWORKS]: nad } });
  return { nad, pod };
}

describe.skipIf(!canRunE2e)("delegate outputs that libcni accepts", () => {
  for (const c of CASES) {
    test(c.name, async () => {
      const { nad, pod } = podWith(c.result(ns.path), c.cniVersion);
      const id = containerId();
      const add = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
      expect(add.code, describeRun(add)).toBe(0);
      const status = JSON.parse(env.networkStatus(pod) ?? "[]") as Array<Record<string, unknown>>;
      const ours = status.filter((e) => e.name === `default/${nad}`).map(({ name: _, ...rest }) => rest);
      expect(ours).toEqual(c.status);
      const del = await env.cni("DEL", { pod, containerId: id, netns: ns.path });
      expect(del.code, describeRun(del)).toBe(0);
    });
  }

  test("what cannot be used is refused, naming the field: an address that is not an address, an array for an object", async () => {
    const bad = [
      { ips: [{ address: "192.0.2.300/24" }], field: "ips[0].address" },
      { routes: [{ dst: "default", gw: "192.0.2.1" }], field: "routes[0].dst" },
      { routes: [{ gw: "not-an-ip" }], field: "routes[0].gw" },
      // Go's decoder fails on an array where a struct goes, so libcni refuses these too.
      { dns: [], field: "dns" },
      { interfaces: [["net1"]], field: "interfaces[0]" },
      { ips: [["192.0.2.16/24"]], field: "ips[0]" },
    ];
    for (const { field, ...fields } of bad) {
      const { pod } = podWith({ cniVersion: "1.0.0", ...fields }, "1.0.0");
      const add = await env.cni("ADD", { pod, containerId: containerId(), netns: ns.path });
      expect(add.code, describeRun(add)).toBe(1);
      const err = add.json();
      expect(err.code, describeRun(add)).toBe(6);
      expect(`${err.msg} ${err.details ?? ""}`).toContain(`"${field}"`);
    }
  });
});
