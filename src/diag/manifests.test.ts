import { describe, expect, test } from "bun:test";
import { parseDocuments, readNads, readPod } from "./manifests.ts";

describe("parseDocuments", () => {
  const cases: Array<[string, string, { docs?: number; where?: string; message?: RegExp }]> = [
    ["one YAML document", "kind: Pod\n", { docs: 1 }],
    ["several documents, empty ones dropped", "kind: A\n---\n---\nkind: B\n", { docs: 2 }],
    ["JSON", '{"kind": "Pod"}', { docs: 1 }],
    ["an empty file", "", { docs: 0 }],
    [
      "JSON with a trailing comma: line and column",
      '{\n  "a": 1,\n}',
      { where: "line 3, column 1", message: /not valid JSON/ },
    ],
    ["YAML cut inside a flow map: the line it opens on", "kind: Pod\nmetadata: {name: x,\n", { where: "near line 2" }],
    ["a flow list closed later does not mislead: the bad line", "a: [1,\n  2]\nb: c: d\n", { where: "near line 3" }],
  ];
  test.each(cases)("%s", (_name, text, want) => {
    const got = parseDocuments({ path: "f.yaml", text });
    if (want.docs !== undefined) {
      expect(got.error).toBeUndefined();
      expect(got.docs).toHaveLength(want.docs);
    } else {
      expect(got.error?.where).toBe(want.where);
      if (want.message) expect(got.error?.message).toMatch(want.message);
    }
  });
});

describe("readNads", () => {
  const nad = (name: string, ns = "", config = "{}") =>
    `kind: NetworkAttachmentDefinition\nmetadata: {name: ${name}${ns ? `, namespace: ${ns}` : ""}}\nspec: {config: '${config}'}\n`;

  test("Lists are expanded, a missing namespace is the pod's, a duplicate is an error naming the first", () => {
    const list = `kind: List\nitems:\n- {kind: NetworkAttachmentDefinition, metadata: {name: a, namespace: x}}\n- {kind: NetworkAttachmentDefinition, metadata: {name: b}}\n`;
    const got = readNads(
      [
        { path: "one.yaml", text: list },
        { path: "two.yaml", text: nad("a", "x") },
      ],
      "apps",
    );
    expect(got.nads.map((n) => `${n.nad.namespace}/${n.nad.name} ${n.source} ${n.where}`)).toEqual([
      "x/a one.yaml items[0]",
      "apps/b one.yaml items[1]",
    ]);
    expect(got.errors).toEqual([
      { source: "two.yaml", where: undefined, message: "x/a is given twice (first in one.yaml items[0])" },
    ]);
    expect(got.notes).toEqual([
      { source: "one.yaml", message: '1 NAD has no metadata.namespace: taken as the pod\'s, "apps"' },
    ]);
  });

  test("spec.config is checked for every NAD; an empty one (a conf file by name) is fine", () => {
    const got = readNads([{ path: "n.yaml", text: `${nad("a", "x", '{"a" 1}')}---\n${nad("b", "x", "")}` }], "apps");
    expect(got.nads.map((n) => [n.nad.name, n.badConfig ?? false])).toEqual([
      ["a", true],
      ["b", false],
    ]);
    expect(got.errors).toEqual([
      {
        source: "n.yaml",
        where: "document 1: spec.config",
        message: expect.stringMatching(/^not valid JSON: line 1, column 6: expected/),
      },
    ]);
  });
});

describe("readPod", () => {
  test("a CronJob's pod template: its annotations, the workload's namespace", () => {
    const text = `kind: CronJob\nmetadata: {name: nightly, namespace: ops}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        metadata:\n          annotations: {k8s.v1.cni.cncf.io/networks: a}\n`;
    const got = readPod({ path: "cj.yaml", text });
    expect(got.errors).toEqual([]);
    expect(got.pod).toMatchObject({
      namespace: "ops",
      name: "nightly-<pod>",
      annotations: { "k8s.v1.cni.cncf.io/networks": "a" },
    });
  });

  test("two pods in one file, or none, is an error", () => {
    expect(
      readPod({ path: "p.yaml", text: "kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\nmetadata: {name: b}\n" })
        .errors[0]?.message,
    ).toMatch(/holds 2 objects/);
    expect(readPod({ path: "p.yaml", text: "" }).errors[0]?.message).toMatch(/holds 0 objects/);
  });
});
