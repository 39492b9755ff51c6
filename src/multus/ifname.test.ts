import { describe, expect, test } from "bun:test";
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { DelegateRole } from "./delegates.ts";
import { assignIfnames } from "./ifname.ts";

describe("assignIfnames", () => {
  const cases: Array<{
    title: string;
    request: string;
    delegates: Array<{ role: DelegateRole; requested?: string }>;
    want: string[];
  }> = [
    { title: "master only", request: "eth0", delegates: [{ role: "cluster" }], want: ["eth0"] },
    {
      title: "master then extras: net<index in the full list>",
      request: "eth0",
      delegates: [{ role: "cluster" }, { role: "network" }, { role: "network" }],
      want: ["eth0", "net1", "net2"],
    },
    {
      title: "explicit request wins for extras",
      request: "eth0",
      delegates: [{ role: "cluster" }, { role: "network", requested: "data0" }, { role: "network" }],
      want: ["eth0", "data0", "net2"],
    },
    {
      title: "explicit request wins for the master",
      request: "eth0",
      delegates: [{ role: "cluster", requested: "pod0" }, { role: "network" }],
      want: ["pod0", "net1"],
    },
    {
      title: "empty request is no request",
      request: "eth0",
      delegates: [
        { role: "cluster", requested: "" },
        { role: "network", requested: "" },
      ],
      want: ["eth0", "net1"],
    },
    {
      title: "no master: every delegate by index",
      request: "eth0",
      delegates: [{ role: "network" }, { role: "network" }],
      want: ["net0", "net1"],
    },
    { title: "nothing", request: "eth0", delegates: [], want: [] },
  ];
  for (const c of cases) {
    test(c.title, () => {
      expect(assignIfnames({ requestIfname: c.request, delegates: c.delegates })).toEqual(c.want);
    });
  }

  const dupes: Array<{
    title: string;
    delegates: Array<{ role: DelegateRole; requested?: string }>;
    name: string;
    details: string;
  }> = [
    {
      title: "two explicit requests",
      delegates: [{ role: "cluster" }, { role: "network", requested: "x" }, { role: "network", requested: "x" }],
      name: "x",
      details: `delegates 1 and 2 both use "x"`,
    },
    {
      title: "request equal to the master's CNI_IFNAME",
      delegates: [{ role: "cluster" }, { role: "network", requested: "eth0" }],
      name: "eth0",
      details: `delegates 0 and 1 both use "eth0"`,
    },
    {
      title: "request equal to a generated name",
      delegates: [{ role: "cluster", requested: "net1" }, { role: "network" }],
      name: "net1",
      details: `delegates 0 and 1 both use "net1"`,
    },
  ];
  for (const c of dupes) {
    test(`duplicate: ${c.title}`, () => {
      let err: unknown;
      try {
        assignIfnames({ requestIfname: "eth0", delegates: c.delegates });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(CniError);
      expect((err as CniError).code).toBe(ErrorCode.InvalidConfig);
      expect((err as CniError).msg).toBe(`interface name "${c.name}" is assigned to more than one network`);
      expect((err as CniError).details).toStartWith(c.details);
    });
  }
});
