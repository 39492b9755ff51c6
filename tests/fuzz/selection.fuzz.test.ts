// The pod's `k8s.v1.cni.cncf.io/networks` and `v1.multus-cni.io/default-network`
// annotations, both forms (multus/selection.ts): whatever a pod carries, the parser
// answers a list or a code-7 CniError naming the annotation; it never throws
// anything else. Valid selections written in either form parse back to themselves.
import { describe, expect, test } from "bun:test";
import {
  type NetworkSelection,
  parseDefaultNetworkAnnotation,
  parseNetworkSelections,
} from "../../src/multus/selection.ts";
import {
  CASES_PER_SURFACE,
  caughtCniError,
  deepJsonText,
  fc,
  fcParams,
  hostileJsonValue,
  hostileText,
  labelled,
  mutated,
} from "./fc.ts";

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const label = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,20}[a-z0-9])?$/);
const ifname = fc.stringMatching(/^[a-zA-Z0-9_-]{1,15}$/);
const mac = fc
  .array(fc.integer({ min: 0, max: 255 }), { minLength: 6, maxLength: 6 })
  .map((b) => b.map((x) => x.toString(16).padStart(2, "0")).join(":"));

/** A selection as a user writes it, and what the parser must make of it in namespace "pods". */
const selection = fc.record({ name: label, namespace: label, interface: ifname }, { requiredKeys: ["name"] });

function expectedOf(sel: { name: string; namespace?: string; interface?: string }, dflt: string): NetworkSelection {
  const out: NetworkSelection = { name: sel.name, namespace: sel.namespace || dflt };
  if (sel.interface) out.interface = sel.interface;
  return out;
}

function commaForm(sel: { name: string; namespace?: string; interface?: string }): string {
  return `${sel.namespace ? `${sel.namespace}/` : ""}${sel.name}${sel.interface ? `@${sel.interface}` : ""}`;
}

const jsonElement = fc.record(
  {
    name: label,
    namespace: label,
    interface: ifname,
    ips: fc.array(
      fc.oneof(
        fc.ipV4(),
        fc.ipV4().map((ip) => `${ip}/24`),
        fc.ipV6(),
      ),
      { maxLength: 3 },
    ),
    mac,
    "default-route": fc.array(fc.ipV4(), { maxLength: 2 }),
    "cni-args": fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }),
  },
  { requiredKeys: ["name"] },
);

/** The parser's text for an annotation that is wrong. */
function expectRefused(err: { code: number; msg: string } | undefined, which: "networks" | "default-network") {
  if (!err) return;
  expect(err.code).toBe(7);
  expect(err.msg).toContain(`${which} annotation`);
}

// A pod may carry a list far past maxDelegatesPerPod (the size bound comes after parsing for a list this short).
const HUGE_COMMA = Array.from({ length: 5_000 }, (_, i) => `net-${i}`).join(",");
const HUGE_JSON = JSON.stringify(Array.from({ length: 2_000 }, (_, i) => ({ name: `net-${i}`, interface: `e${i}` })));

/** Hostile annotations: any text, mutated valid ones of either form, JSON of any shape, huge lists, deep nesting. */
const hostileAnnotation: fc.Arbitrary<string> = fc.oneof(
  hostileText,
  fc.array(selection, { minLength: 1, maxLength: 4 }).chain((sels) => mutated(sels.map(commaForm).join(","))),
  fc.array(jsonElement, { minLength: 1, maxLength: 3 }).chain((els) => mutated(JSON.stringify(els))),
  hostileJsonValue.map((x) => JSON.stringify(x)),
  fc.array(hostileJsonValue, { maxLength: 4 }).map((x) => JSON.stringify(x)),
  fc
    .array(
      fc.record(
        {
          name: fc.oneof(label, hostileJsonValue),
          namespace: fc.oneof(label, hostileJsonValue),
          interface: fc.oneof(ifname, hostileJsonValue, hostileText),
          ips: fc.oneof(hostileJsonValue, fc.array(hostileText, { maxLength: 2 })),
          mac: fc.oneof(hostileJsonValue, hostileText),
          portMappings: hostileJsonValue,
          bandwidth: hostileJsonValue,
          "default-route": fc.oneof(hostileJsonValue, fc.array(hostileText, { maxLength: 2 })),
          "cni-args": hostileJsonValue,
          NAME: hostileJsonValue,
        },
        { requiredKeys: [] },
      ),
      { maxLength: 3 },
    )
    .map((x) => JSON.stringify(x)),
  {
    weight: 1,
    arbitrary: fc.constantFrom(HUGE_COMMA, HUGE_JSON, `${HUGE_COMMA},-bad`, `${HUGE_JSON.slice(0, -1)},5]`),
  },
);

/** An annotation, printed short in a counterexample when it is long. */
const annotationCase = hostileAnnotation.map((text) =>
  text.length > 2000 ? labelled({ text }, `<${text.length} chars: ${text.slice(0, 80)}...>`) : { text },
);

describe("networks annotation", () => {
  test(`${CASES_PER_SURFACE} hostile annotations: a list, or code 7 naming the annotation`, () => {
    fc.assert(
      fc.property(annotationCase, ({ text: annotation }) => {
        const err = caughtCniError(() => parseNetworkSelections(annotation, "pods"));
        expectRefused(err, "networks");
        const dErr = caughtCniError(() => parseDefaultNetworkAnnotation(annotation, "kube-system"));
        expectRefused(dErr, "default-network");
      }),
      fcParams(CASES_PER_SURFACE),
    );
  });

  test("JSON nested past 10000 levels is code 7, not a RangeError later", () => {
    fc.assert(
      fc.property(deepJsonText, fc.constantFrom("cni-args", "ips", "top"), ({ depth, text }, where) => {
        const annotation =
          where === "top"
            ? text
            : where === "ips"
              ? `[{"name":"a","ips":${text}}]`
              : `[{"name":"a","cni-args":{"x":${text}}}]`;
        const err = caughtCniError(() => parseNetworkSelections(annotation, "pods"));
        const extra = { top: 0, ips: 2, "cni-args": 3 }[where];
        if (depth + extra > 10_000) {
          expectRefused(err, "networks");
          expect(err?.msg).toContain("nested more than 10000 levels deep");
        } else if (where === "cni-args") expect(err).toBeUndefined();
        else expectRefused(err, "networks");
      }),
      fcParams(200),
    );
  });

  test("valid selections in the comma form parse back to themselves", () => {
    fc.assert(
      fc.property(fc.array(selection, { minLength: 1, maxLength: 8 }), fc.constantFrom(",", " , "), (sels, sep) => {
        const parsed = parseNetworkSelections(sels.map(commaForm).join(sep), "pods");
        expect(parsed).toEqual(sels.map((s) => expectedOf(s, "pods")));
      }),
      fcParams(2_000),
    );
  });

  test("valid selections in the JSON form parse back to themselves", () => {
    fc.assert(
      fc.property(fc.array(jsonElement, { minLength: 1, maxLength: 5 }), (els) => {
        const parsed = parseNetworkSelections(JSON.stringify(els), "pods");
        expect(parsed).toHaveLength(els.length);
        parsed.forEach((p, i) => {
          const e = els[i]!;
          expect(p).toMatchObject(expectedOf(e, "pods"));
          if (e.ips?.length) expect(p.ips).toEqual(e.ips);
          if (e.mac) expect(p.mac).toBe(e.mac);
          if (e["default-route"]) expect(p.defaultRoute).toEqual(e["default-route"]);
          if (e["cni-args"] && Object.keys(e["cni-args"]).length > 0) expect(p.cniArgs).toEqual(e["cni-args"]);
        });
        expect(parsed.every((p) => DNS_LABEL.test(p.name) && DNS_LABEL.test(p.namespace))).toBe(true);
      }),
      fcParams(2_000),
    );
  });
});
