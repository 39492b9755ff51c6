// API answers as the k8s/ layer decodes them: Pod and NAD objects missing fields
// or of the wrong types (toPodInfo, toNad: never throw, keep only what is well
// typed), and list pages and watch streams of any shape through an informer with a
// KubeHttp that answers them: the informer never stops, never keeps a malformed
// object, and says what was wrong in its own words (no TypeError, no SyntaxError).
import { describe, expect, test } from "bun:test";
import type { KubeHttp, KubeLogger } from "../../src/k8s/client.ts";
import { createInformer } from "../../src/k8s/informers.ts";
import { toNad } from "../../src/k8s/nads.ts";
import { toPodInfo } from "../../src/k8s/pods.ts";
import type { PodInfo } from "../../src/ports/kube.ts";
import { CASES_PER_SURFACE, fc, fcParams, hostileJsonValue, hostileText, labelled } from "./fc.ts";

const name = fc.stringMatching(/^[a-z0-9]([-a-z0-9]{0,10}[a-z0-9])?$/);
const annotations = fc.dictionary(fc.string({ maxLength: 30 }), fc.string({ maxLength: 40 }), { maxKeys: 4 });

/** A well-formed Pod as the API sends it (the fields we read, and some we do not). */
const validPod = fc.record({
  apiVersion: fc.constant("v1"),
  kind: fc.constant("Pod"),
  metadata: fc.record(
    { name, namespace: name, uid: fc.uuid(), resourceVersion: fc.nat().map(String), annotations },
    { requiredKeys: ["name", "namespace"] },
  ),
  spec: fc.record({ nodeName: name }),
  status: fc.record(
    { resourceClaimStatuses: fc.array(fc.record({ name, resourceClaimName: name }, { requiredKeys: ["name"] })) },
    { requiredKeys: [] },
  ),
});

/** Any part of a valid object replaced by any JSON value, or dropped. */
function broken(valid: fc.Arbitrary<Record<string, unknown>>): fc.Arbitrary<unknown> {
  const paths = [
    "",
    "metadata",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "metadata.annotations",
    "spec",
    "spec.config",
    "status",
    "status.resourceClaimStatuses",
    "status.resourceClaimStatuses.0",
  ];
  return fc
    .tuple(valid, fc.constantFrom(...paths), fc.option(hostileJsonValue, { nil: undefined }))
    .map(([obj, path, value]) => {
      if (path === "") return value;
      const copy = structuredClone(obj) as Record<string, unknown>;
      const keys = path.split(".");
      let at: Record<string, unknown> = copy;
      for (const k of keys.slice(0, -1)) {
        const next = at[k];
        if (typeof next !== "object" || next === null) return copy;
        at = next as Record<string, unknown>;
      }
      const last = keys.at(-1)!;
      if (value === undefined) delete at[last];
      else at[last] = value;
      return copy;
    });
}

const validNad = fc.record({
  apiVersion: fc.constant("k8s.cni.cncf.io/v1"),
  kind: fc.constant("NetworkAttachmentDefinition"),
  metadata: fc.record(
    {
      name,
      namespace: name,
      annotations: fc
        .option(fc.record({ "k8s.v1.cni.cncf.io/resourceName": name }), { nil: undefined })
        .map((a) => a ?? {}),
    },
    { requiredKeys: ["name", "namespace"] },
  ),
  spec: fc.record({ config: fc.json() }, { requiredKeys: [] }),
});

function expectPodInfo(info: PodInfo, input: unknown): void {
  const meta = (input as { metadata: Record<string, unknown> }).metadata;
  expect(Object.isFrozen(info)).toBe(true);
  expect(info.name).toBe(meta.name as string);
  expect(info.namespace).toBe(meta.namespace as string);
  expect(typeof info.uid).toBe("string");
  for (const [k, value] of Object.entries(info.annotations)) {
    expect(typeof value).toBe("string");
    expect((meta.annotations as Record<string, unknown>)[k]).toBe(value);
  }
  for (const c of info.resourceClaimStatuses ?? []) expect(typeof c.name).toBe("string");
}

describe("API objects", () => {
  test(`${CASES_PER_SURFACE} Pods and NADs missing fields or of the wrong types: trimmed or left out, never a throw`, () => {
    const anyObject = fc.oneof(broken(validPod), broken(validNad), fc.anything(), validPod, validNad);
    fc.assert(
      fc.property(anyObject, (obj) => {
        const info = toPodInfo(obj);
        if (info) expectPodInfo(info, obj);
        const nad = toNad(obj);
        if (nad) {
          expect(Object.isFrozen(nad)).toBe(true);
          expect(typeof nad.config).toBe("string");
          expect(typeof nad.name).toBe("string");
          expect(typeof nad.namespace).toBe("string");
          if (nad.resourceName !== undefined) expect(typeof nad.resourceName).toBe("string");
        }
      }),
      fcParams(CASES_PER_SURFACE),
    );
  });

  test('an annotation named "__proto__" is kept as an annotation (assigning it set the prototype instead)', () => {
    const pod = JSON.parse('{"metadata":{"name":"p","namespace":"ns","annotations":{"__proto__":"x","a":"b"}}}');
    const info = toPodInfo(pod)!;
    expect(Object.keys(info.annotations)).toEqual(["__proto__", "a"]);
    expect(Object.getPrototypeOf(info.annotations)).toBe(Object.prototype);
  });

  test("a valid Pod and NAD keep what multus reads", () => {
    fc.assert(
      fc.property(validPod, validNad, (pod, nad) => {
        const info = toPodInfo(pod)!;
        expectPodInfo(info, pod);
        expect(info.annotations).toEqual(pod.metadata.annotations ?? {});
        const n = toNad(nad)!;
        expect(n.config).toBe(nad.spec.config ?? "");
        const annotations = nad.metadata.annotations as Record<string, string> | undefined;
        expect(n.resourceName).toBe(annotations?.["k8s.v1.cni.cncf.io/resourceName"]);
      }),
      fcParams(1_000),
    );
  });
});

// ---------------------------------------------------------------------------
// Informers

interface Feed {
  /** The first list page's body. */
  page: unknown;
  /** The first watch's stream, as lines. */
  lines: string[];
}

/** A KubeHttp that answers one list and one watch with `feed`, then waits (until aborted) and says so. */
function fakeHttp(feed: Feed, onIdle: () => void): KubeHttp {
  let calls = 0;
  let opens = 0;
  const hang = (signal: AbortSignal | undefined) =>
    new Promise<never>((_, reject) => {
      onIdle();
      signal?.addEventListener("abort", () => reject(signal.reason), { once: true });
    });
  return {
    async call<T>(_req: unknown, opts: { signal?: AbortSignal }): Promise<T> {
      if (calls++ === 0) return feed.page as T;
      return hang(opts.signal);
    },
    async open(_req, opts) {
      if (opens++ > 0) return hang(opts.signal);
      const text = feed.lines.map((l) => `${l}\n`).join("");
      return new Response(text).body!;
    },
    prepare: async () => {},
    close: () => {},
  };
}

async function runInformer(feed: Feed) {
  const errors: string[] = [];
  let idle: () => void = () => {};
  const settled = new Promise<void>((resolve) => {
    idle = resolve;
  });
  const logger: KubeLogger = {
    error: (m) => {
      errors.push(m);
      idle();
    },
    verbose: () => {},
    // A watch that ended at once, having applied nothing, is followed by a backoff sleep.
    debug: (m) => {
      if (m.includes("resuming in")) idle();
    },
  };
  const informer = createInformer({
    name: "pods",
    http: fakeHttp(feed, () => idle()),
    logger,
    path: "/api/v1/pods",
    toItem: toPodInfo,
    // After a failure the loop sleeps this long: the case is over by then.
    backoff: { initialMs: 60_000, maxMs: 60_000 },
    watchTimeoutSeconds: () => 300,
  });
  informer.start();
  const timer = setTimeout(() => idle(), 2_000);
  await settled;
  clearTimeout(timer);
  const synced = informer.isSynced();
  const size = informer.size();
  const get = (key: string) => informer.get(key);
  await informer.stop();
  return { errors, synced, size, get };
}

const podItem = fc.oneof({ weight: 3, arbitrary: validPod }, { weight: 2, arbitrary: broken(validPod) });
const listPage = fc.oneof(
  fc.record(
    {
      metadata: fc.record({ resourceVersion: fc.oneof(fc.nat().map(String), hostileJsonValue) }, { requiredKeys: [] }),
      items: fc.oneof({ weight: 4, arbitrary: fc.array(podItem, { maxLength: 6 }) }, hostileJsonValue),
    },
    { requiredKeys: [] },
  ),
  hostileJsonValue,
);
const watchLine = fc.oneof(
  fc
    .record({ type: fc.constantFrom("ADDED", "MODIFIED", "DELETED", "BOOKMARK"), object: podItem })
    .map((e) => JSON.stringify(e)),
  fc
    .record({ type: fc.oneof(hostileText, hostileJsonValue), object: hostileJsonValue }, { requiredKeys: [] })
    .map((e) => JSON.stringify(e)),
  fc.constant(JSON.stringify({ type: "ERROR", object: { code: 410, reason: "Expired", message: "too old" } })),
  hostileJsonValue.map((x) => JSON.stringify(x)),
  hostileText.filter((s) => !s.includes("\n")),
);
const HUGE_LIST = labelled(
  {
    page: {
      metadata: { resourceVersion: "7" },
      items: Array.from({ length: 10_000 }, (_, i) => ({ metadata: { name: `p${i}`, namespace: "ns", uid: `u${i}` } })),
    },
    lines: [],
  },
  "{page: <10000 pods>, lines: []}",
);

/** What an informer may log: its own words about the path, never a JavaScript error's. */
function expectOwnWords(errors: string[]): void {
  for (const e of errors) {
    expect(e).toContain("/api/v1/pods");
    expect(e).not.toMatch(
      /TypeError|RangeError|SyntaxError|undefined is not|null is not|is not a function|is not iterable/,
    );
  }
}

describe("informer", () => {
  test.each<[string, Feed, string]>([
    [
      "items not a list",
      { page: { metadata: { resourceVersion: "1" }, items: true }, lines: [] },
      `list /api/v1/pods: the answer's "items" is not a list`,
    ],
    ["a list that is null", { page: null, lines: [] }, "list /api/v1/pods: the answer is not a list object"],
    [
      "a line that is not JSON",
      { page: { metadata: { resourceVersion: "1" } }, lines: ["nope"] },
      'watch /api/v1/pods: a line that is not JSON: "nope"',
    ],
    [
      "an event that is null",
      { page: { metadata: { resourceVersion: "1" } }, lines: ["null"] },
      "watch /api/v1/pods: an event that is not an object: null",
    ],
    // String() of this object throws a TypeError of its own.
    [
      "a type with no usable toString",
      { page: { metadata: { resourceVersion: "1" } }, lines: ['{"type":{"toString":null}}'] },
      'watch /api/v1/pods: unknown event type {"toString":null}',
    ],
  ])("%s: logged in the informer's own words (these were TypeErrors and SyntaxErrors)", async (_, feed, words) => {
    const r = await runInformer(feed);
    expect(r.errors).toHaveLength(1);
    expect(r.errors[0]).toContain(words);
  });

  test("list pages and watch streams of any shape: the informer keeps only well-formed Pods, says what was wrong", async () => {
    const feed = fc.oneof(
      { weight: 20, arbitrary: fc.record({ page: listPage, lines: fc.array(watchLine, { maxLength: 5 }) }) },
      { weight: 1, arbitrary: fc.constant(HUGE_LIST) },
    );
    await fc.assert(
      fc.asyncProperty(feed, async (f) => {
        const r = await runInformer(f);
        expectOwnWords(r.errors);
        const page = f.page as { metadata?: { resourceVersion?: unknown }; items?: unknown };
        const listable =
          typeof page === "object" &&
          page !== null &&
          !Array.isArray(page) &&
          typeof page.metadata?.resourceVersion === "string" &&
          page.metadata.resourceVersion !== "" &&
          // No items, or null (Go's encoding of an empty slice), is an empty list.
          (page.items === undefined || page.items === null || Array.isArray(page.items));
        expect(r.synced).toBe(listable);
        if (!listable) {
          expect(r.size).toBe(0);
          return;
        }
        if (f.lines.length === 0) {
          // The cache holds exactly the well-formed Pods of the list, the last of a name winning.
          const want = new Map<string, unknown>();
          for (const item of (page.items as unknown[] | undefined) ?? []) {
            const info = toPodInfo(item);
            if (info) want.set(info.namespace === "" ? info.name : `${info.namespace}/${info.name}`, info);
          }
          expect(r.size).toBe(want.size);
          for (const [key, info] of want) expect(r.get(key)).toEqual(info as PodInfo);
        }
      }),
      fcParams(3_000),
    );
  });
});
