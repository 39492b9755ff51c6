// Hostile CNI env and stdin, as the shim's skel reads them (cni/skel.ts): every
// invalid call is answered with a spec error object of the right code on stdout
// and exit 1, before any handler runs; a valid one reaches the handler with the
// config exactly as given.
import { describe, expect, test } from "bun:test";
import type { CmdArgs } from "../../src/cni/args.ts";
import { runSkel, type SkelHandlers } from "../../src/cni/skel.ts";
import { CNI_COMMANDS, CNI_IDENTIFIER, SUPPORTED_VERSIONS } from "../../src/cni/spec.ts";
import {
  CASES_PER_SURFACE,
  deepJsonText,
  expectCniErrorObject,
  fc,
  fcParams,
  hostileJsonValue,
  hostileText,
  hugeText,
  invalidUtf8,
  labelled,
  mutated,
} from "./fc.ts";
import { envProblems } from "./requests.ts";

interface Outcome {
  exit: number;
  stdout: string;
  calls: Array<{ command: string; args: CmdArgs; conf: Record<string, unknown> }>;
}

async function skel(env: Record<string, string | undefined>, stdin: Uint8Array): Promise<Outcome> {
  let stdout = "";
  const calls: Outcome["calls"] = [];
  const record = (command: string) => async (args: CmdArgs, conf: Record<string, unknown>) => {
    calls.push({ command, args, conf });
  };
  const handlers: SkelHandlers = {
    add: async (args, conf) => {
      calls.push({ command: "ADD", args, conf });
      return { cniVersion: conf.cniVersion, interfaces: [] };
    },
    del: record("DEL"),
    check: record("CHECK"),
    gc: record("GC"),
    status: record("STATUS"),
  };
  const exit = await runSkel({ env, stdin, stdout: (s) => (stdout += s), stderr: () => {} }, handlers, "fuzz");
  return { exit, stdout, calls };
}

/** The error the skel printed; the call failed and reached no handler. */
function refused(out: Outcome): { code: number; msg: string; details?: string } {
  expect(out.exit).toBe(1);
  expect(out.calls).toEqual([]);
  return expectCniErrorObject(JSON.parse(out.stdout));
}

const utf8 = (s: string) => new TextEncoder().encode(s);
const VALID_CONF = { cniVersion: "1.0.0", name: "multus-cni-network", type: "multus-shim" };
const VALID_STDIN = utf8(JSON.stringify(VALID_CONF));
// A netns path that does not exist: the own-netns check finds nothing to compare.
const NETNS = "/var/run/netns/fuzz-no-such-netns";
const baseEnv = (command: string): Record<string, string> => ({
  CNI_COMMAND: command,
  CNI_CONTAINERID: "ctr1",
  CNI_NETNS: NETNS,
  CNI_IFNAME: "eth0",
  CNI_PATH: "/opt/cni/bin",
});

const envValue = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("", "ctr1", "eth0", "/opt/cni/bin", NETNS, "net1", "a.b-c_d") },
  { weight: 3, arbitrary: hostileText },
  { weight: 1, arbitrary: hugeText },
  { weight: 1, arbitrary: fc.constantFrom(".", "..", "eth0:1", "a/b", " eth0", "x".repeat(16), "é".repeat(8)) },
);
const commandValue = fc.oneof(
  fc.constantFrom(...CNI_COMMANDS),
  fc.constantFrom("add", "Add", " ADD", "ADD\n", "DELETE", ""),
  hostileText,
);

describe("CNI env", () => {
  test(`${CASES_PER_SURFACE} generated envs: code 4 naming the variable, or the handler runs`, async () => {
    const envArb = fc.record(
      {
        CNI_COMMAND: commandValue,
        CNI_CONTAINERID: envValue,
        CNI_NETNS: fc.constantFrom(NETNS, "", "/nonexistent/ns"),
        CNI_IFNAME: envValue,
        CNI_PATH: envValue,
        CNI_ARGS: envValue,
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(envArb, async (env) => {
        const out = await skel(env, VALID_STDIN);
        if (!env.CNI_COMMAND) {
          // No command at all: a person ran the plugin by hand; it says what it is (stderr), exit 0.
          expect(out).toEqual({ exit: 0, stdout: "", calls: [] });
          return;
        }
        const problems = envProblems(env);
        if (problems.length === 0 && env.CNI_COMMAND === "VERSION") {
          expect(out.exit).toBe(0);
          expect(JSON.parse(out.stdout).supportedVersions).toEqual([...SUPPORTED_VERSIONS]);
          return;
        }
        if (problems.length === 0) {
          // GC and STATUS need a 1.1.0 config: code 1, still before any handler.
          if (env.CNI_COMMAND === "GC" || env.CNI_COMMAND === "STATUS") {
            expect(refused(out).code).toBe(1);
            return;
          }
          expect(out.exit).toBe(0);
          expect(out.calls.map((c) => c.command)).toEqual([env.CNI_COMMAND!]);
          expect(out.calls[0]!.conf).toEqual(VALID_CONF);
          return;
        }
        const err = refused(out);
        expect(err.code).toBe(4);
        const text = `${err.msg} ${err.details ?? ""}`;
        expect(problems.some((name) => text.includes(name))).toBe(true);
      }),
      fcParams(CASES_PER_SURFACE),
    );
  });
});

/** What the skel must answer for a stdin (with a valid env), or "ok" when the config is acceptable. */
type Expected = { code: number; mentions: string } | "ok";
interface StdinCase {
  text: string;
  expected: Expected;
}
const stdinCase = (text: string, expected: Expected): StdinCase =>
  text.length > 2000
    ? labelled({ text, expected }, `<${text.length} chars: ${text.slice(0, 80)}...>`)
    : { text, expected };

const nonObjectJson = fc
  .oneof(hostileJsonValue, fc.array(hostileJsonValue))
  .filter((x) => typeof x !== "object" || x === null || Array.isArray(x))
  .map((x) => stdinCase(JSON.stringify(x), { code: 6, mentions: "decode" }));

const notJson = fc.oneof(hostileText, mutated(JSON.stringify(VALID_CONF))).map((s) => {
  let parsed: unknown;
  try {
    parsed = JSON.parse(s);
  } catch {
    return stdinCase(s, { code: 6, mentions: "decode" });
  }
  return stdinCase(s, oracle(parsed));
});

/** The skel's rules for a decoded config, written from the spec and libcni. */
function oracle(conf: unknown): Expected {
  if (typeof conf !== "object" || conf === null || Array.isArray(conf)) return { code: 6, mentions: "decode" };
  const o = conf as Record<string, unknown>;
  const v = o.cniVersion;
  if (v !== undefined && v !== null && typeof v !== "string") return { code: 6, mentions: "cniVersion" };
  const name = o.name;
  if (name !== undefined && name !== null && typeof name !== "string") return { code: 6, mentions: "name" };
  if (!name) return { code: 7, mentions: "name" };
  if (!CNI_IDENTIFIER.test(name as string)) return { code: 7, mentions: "name" };
  const version = v === undefined || v === null || v === "" ? "0.1.0" : (v as string);
  if (!(SUPPORTED_VERSIONS as readonly string[]).includes(version)) return { code: 1, mentions: "version" };
  return "ok";
}

const wrongFields = fc
  .record(
    {
      cniVersion: fc.oneof(fc.constantFrom(...SUPPORTED_VERSIONS, "2.0.0", "1.0", "", "v1.0.0"), hostileJsonValue),
      name: fc.oneof(fc.constantFrom("net", "multus-cni-network", "", "-x", "a b"), hostileJsonValue, hugeText),
      type: fc.oneof(fc.constant("multus-shim"), hostileJsonValue),
      extra: hostileJsonValue,
    },
    { requiredKeys: [] },
  )
  .map((o) => stdinCase(JSON.stringify(o), oracle(o)));

/** Go's encoding/json refuses nesting past 10000 levels; so do we (code 6), before any encoder's stack would. */
const MAX_DEPTH = 10_000;
const deep = fc.tuple(deepJsonText, fc.boolean()).map(([{ depth, kind, text }, inside]) => {
  if (inside) {
    const conf = `{"cniVersion":"1.0.0","name":"n","type":"t","x":${text}}`;
    return stdinCase(conf, depth + 1 > MAX_DEPTH ? { code: 6, mentions: "deep" } : "ok");
  }
  if (depth > MAX_DEPTH) return stdinCase(text, { code: 6, mentions: "deep" });
  return stdinCase(text, kind === "array" ? { code: 6, mentions: "decode" } : { code: 7, mentions: "name" });
});

describe("stdin", () => {
  test(`${CASES_PER_SURFACE} generated and mutated configs: the code the spec gives, or the handler gets it as sent`, async () => {
    const stdinArb = fc.oneof(
      { weight: 3, arbitrary: nonObjectJson },
      { weight: 3, arbitrary: notJson },
      { weight: 3, arbitrary: wrongFields },
      { weight: 1, arbitrary: deep },
    );
    await fc.assert(
      fc.asyncProperty(stdinArb, fc.constantFrom("ADD", "DEL", "CHECK"), async ({ text, expected }, command) => {
        const out = await skel(baseEnv(command), utf8(text));
        if (expected === "ok") {
          if (command === "CHECK" && out.exit === 1) {
            // CHECK needs 0.4.0 or newer.
            expect(refused(out).code).toBe(1);
            return;
          }
          expect(out.exit).toBe(0);
          // The bytes on stdin are UTF-8: a lone surrogate in `text` arrives as U+FFFD.
          expect(out.calls[0]!.conf).toEqual(JSON.parse(new TextDecoder().decode(utf8(text))));
          return;
        }
        const err = refused(out);
        expect(err.code).toBe(expected.code);
        expect(`${err.msg} ${err.details ?? ""}`.toLowerCase()).toContain(expected.mentions.toLowerCase());
      }),
      fcParams(CASES_PER_SURFACE),
    );
  });

  test("bytes that are not UTF-8: code 6, no handler", async () => {
    await fc.assert(
      fc.asyncProperty(invalidUtf8, async (bytes) => {
        const out = await skel(baseEnv("ADD"), bytes);
        const err = refused(out);
        // U+FFFD replacements can still leave a JSON object without a name: code 7.
        expect([6, 7]).toContain(err.code);
      }),
      fcParams(2_000),
    );
  });
});
