// NetworkAttachmentDefinition specs: a pod selects a NAD whose spec.config is
// generated or mutated, and the delegates are resolved as ADD resolves them
// (multus/delegates.ts, the KubePort a fake returning that NAD). A config that is
// not a JSON object is code 6 naming the NAD; one that is no valid plugin or
// conflist is code 7 (1 for a version) naming the field; a valid one becomes the
// pod's delegate unchanged, the NAD's name filled in when it has none.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { SUPPORTED_VERSIONS } from "../../src/cni/spec.ts";
import { resolveDelegates } from "../../src/multus/delegates.ts";
import { MultusConfSchema, type MultusConf } from "../../src/multus/netconf.ts";
import type { KubePort, Nad, PodInfo } from "../../src/multus/ports.ts";
import {
  CASES_PER_SURFACE,
  deepJsonText,
  fc,
  fcParams,
  hostileJsonValue,
  hostileText,
  labelled,
  mutated,
} from "./fc.ts";
import { mentions } from "./requests.ts";

let confDir = "";
let conf: MultusConf;
beforeAll(async () => {
  // Empty: a NAD without spec.config finds no conf file of its name.
  confDir = await mkdtemp(join(tmpdir(), "nad-fuzz-"));
  conf = v.parse(MultusConfSchema, {
    cniVersion: "1.0.0",
    name: "multus-cni-network",
    confDir,
    delegates: [{ cniVersion: "1.0.0", name: "cluster", type: "bridge" }],
  });
});
afterAll(() => rm(confDir, { recursive: true, force: true }));

const POD: PodInfo = {
  namespace: "pods",
  name: "p",
  uid: "u",
  annotations: { "k8s.v1.cni.cncf.io/networks": "net1" },
  isStatic: false,
};

function kubeWith(nad: Nad): KubePort {
  return {
    getPod: async () => POD,
    getNad: async (ref) => (ref.namespace === nad.namespace && ref.name === nad.name ? nad : null),
    writePodAnnotation: async () => {},
    recordEvent: () => {},
  };
}

type Expected = { codes: number[]; mentions: string } | "valid" | "any";
interface NadCase {
  config: string;
  expected: Expected;
}
const nadCase = (config: string, expected: Expected): NadCase =>
  config.length > 2000
    ? labelled({ config, expected }, `<${config.length} chars: ${config.slice(0, 80)}...>`)
    : { config, expected };

const pluginName = fc.stringMatching(/^[a-z][a-z0-9-]{0,12}$/);
const validPlugin = fc.record(
  {
    type: pluginName,
    cniVersion: fc.constantFrom(...SUPPORTED_VERSIONS),
    name: pluginName,
    ipam: fc.record({ type: pluginName, subnet: fc.constant("10.1.0.0/16") }, { requiredKeys: [] }),
    capabilities: fc.dictionary(fc.constantFrom("ips", "mac", "portMappings"), fc.boolean()),
    extra: fc.jsonValue({ maxDepth: 3 }),
  },
  { requiredKeys: ["type"] },
);
const validConflist = fc.record(
  {
    cniVersion: fc.constantFrom(...SUPPORTED_VERSIONS),
    name: pluginName,
    plugins: fc.array(
      validPlugin.map(({ cniVersion: _, name: __, ...p }) => p),
      { minLength: 1, maxLength: 3 },
    ),
    disableCheck: fc.boolean(),
  },
  { requiredKeys: ["plugins"] },
);

const cases: fc.Arbitrary<NadCase> = fc.oneof(
  // Not a JSON object: code 6 naming the NAD.
  fc
    .oneof(
      hostileText,
      validPlugin.chain((p) => mutated(JSON.stringify(p))),
    )
    .filter((s) => s.trim() !== "" && !isJsonObject(s))
    .map((s) => nadCase(s, { codes: [6], mentions: "pods/net1" })),
  hostileJsonValue
    .filter((x) => typeof x !== "object" || x === null || Array.isArray(x))
    .map((x) => nadCase(JSON.stringify(x), { codes: [6], mentions: "pods/net1" })),
  deepJsonText
    .filter((d) => d.depth > 10_000)
    .map(({ text }) => nadCase(`{"cniVersion":"1.0.0","type":"bridge","x":${text}}`, { codes: [6], mentions: "deep" })),
  // No spec.config, and no conf file of the NAD's name: code 7 saying so.
  fc.constantFrom("", "  ", "\n").map((s) => nadCase(s, { codes: [7], mentions: "no spec.config" })),
  // One thing wrong.
  fc
    .constantFrom<[unknown, number, string]>(
      [{ cniVersion: "1.0.0" }, 7, "plugins"],
      [{ type: "" }, 7, "plugins"],
      [{ plugins: "bridge" }, 7, "plugins"],
      [{ plugins: {} }, 7, "plugins"],
      [{ name: "n", plugins: [] }, 7, "plugins"],
      [{ name: "n", plugins: [5] }, 7, "plugins[0]"],
      [{ name: "n", plugins: [{}] }, 7, "plugins[0].type"],
      [{ name: "n", plugins: [{ type: 5 }] }, 7, "plugins[0].type"],
      [{ name: "n", plugins: [{ type: "b", capabilities: [true] }] }, 7, "capabilities"],
      [{ type: "b", capabilities: { ips: "yes" } }, 7, "capabilities"],
      [{ type: "b", ipam: [] }, 7, "ipam"],
      [{ type: "b", ipam: { type: 5 } }, 7, "ipam.type"],
      [{ type: "b", args: "x" }, 7, "args"],
      [{ type: "b", runtimeConfig: [1] }, 7, "runtimeConfig"],
      [{ type: "b", cniVersion: 5 }, 7, "cniVersion"],
      [{ name: "n", cniVersions: [5], plugins: [{ type: "b" }] }, 7, "cniVersions"],
      [{ name: "n", cniVersions: ["x"], plugins: [{ type: "b" }] }, 1, "version"],
      [{ name: "n", disableCheck: "maybe", plugins: [{ type: "b" }] }, 7, "disableCheck"],
      [{ name: 5, type: "b" }, 7, "name"],
      [{ name: ["n"], plugins: [{ type: "b" }] }, 7, "name"],
    )
    .map(([c, code, word]) => nadCase(JSON.stringify(c), { codes: [code], mentions: word })),
  // Objects of any shape: never anything but a spec code.
  fc
    .record(
      {
        cniVersion: fc.oneof(fc.constantFrom(...SUPPORTED_VERSIONS), hostileJsonValue),
        name: fc.oneof(pluginName, hostileJsonValue),
        type: fc.oneof(pluginName, hostileJsonValue),
        plugins: fc.oneof(fc.array(fc.oneof(validPlugin, hostileJsonValue), { maxLength: 3 }), hostileJsonValue),
        ipam: hostileJsonValue,
        capabilities: hostileJsonValue,
        cniVersions: hostileJsonValue,
        disableCheck: hostileJsonValue,
      },
      { requiredKeys: [] },
    )
    .map((o) => nadCase(JSON.stringify(o), "any")),
  // Valid: the delegate is the config as given.
  fc.oneof(validPlugin, validConflist).map((o) => nadCase(JSON.stringify(o), "valid")),
);

function isJsonObject(s: string): boolean {
  try {
    const x = JSON.parse(s);
    return typeof x === "object" && x !== null && !Array.isArray(x);
  } catch {
    return false;
  }
}

describe("NAD spec.config", () => {
  test(`${CASES_PER_SURFACE} generated and mutated specs: the spec's code naming the problem, or the delegate as given`, async () => {
    await fc.assert(
      fc.asyncProperty(cases, async ({ config, expected }) => {
        const nad: Nad = { namespace: "pods", name: "net1", config };
        let delegates: Awaited<ReturnType<typeof resolveDelegates>> | undefined;
        let err: unknown;
        try {
          delegates = await resolveDelegates({ conf, pod: POD, kube: kubeWith(nad), ifname: "eth0" });
        } catch (e) {
          err = e;
        }
        if (err !== undefined) {
          // Only a CniError, never a TypeError or RangeError.
          expect(err).toMatchObject({ name: "CniError" });
          const e = err as { code: number; msg: string; details?: string };
          if (expected === "valid") throw new Error(`a valid NAD config was refused: ${e.msg} ${e.details ?? ""}`);
          if (expected === "any") {
            expect([1, 6, 7]).toContain(e.code);
            return;
          }
          expect(expected.codes).toContain(e.code);
          expect({ msg: e.msg, details: e.details, named: mentions(e, expected.mentions) }).toMatchObject({
            named: true,
          });
          return;
        }
        if (expected !== "valid" && expected !== "any") throw new Error(`accepted: ${config}`);
        expect(delegates!.map((d) => d.ifname)).toEqual(["eth0", "net1"]);
        const d = delegates![1]!;
        expect(d.name).toBe("pods/net1");
        if (expected === "valid") {
          const raw = JSON.parse(config) as Record<string, unknown>;
          const named = typeof raw.name === "string" && raw.name !== "" ? raw : { ...raw, name: "net1" };
          // What the plugin gets is the NAD's config, name filled in; a conflist is kept whole.
          expect(JSON.parse(d.bytes)).toEqual(named);
          if (Array.isArray(raw.plugins)) expect(d.list.raw).toEqual(named);
          expect(d.list.plugins).toEqual(Array.isArray(raw.plugins) ? raw.plugins : [named]);
        }
      }),
      fcParams(CASES_PER_SURFACE),
    );
  });
});
