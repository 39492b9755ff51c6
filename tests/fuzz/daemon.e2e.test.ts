// Hostile input through the compiled binary: a real daemon on its unix socket
// gets thousands of generated request bodies (tests/fuzz/requests.ts), valid ADDs
// mixed in, and the shim binary gets hostile env and stdin. The one delegate a
// valid config names is a shell script that appends each call to a file: it must
// hold exactly the valid calls, none of the invalid ones. Afterwards the daemon is
// alive, answers /readyz, and its RSS grew within a bound.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { chmod, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { canRunE2e, ensureBinary, socketRequest } from "../helpers/e2e.ts";
import { createWorkdir, runCni, shimConf, startDaemon, type DaemonHandle } from "../helpers/multus.ts";
import { createCleanup, createNetns, deleteNetns, type NetnsFixture } from "../helpers/netns.ts";
import { expectCniErrorObject, FC_SEED, fc, fcParams, hostileJsonValue, hostileText } from "./fc.ts";
import {
  type BodyCase,
  envProblems,
  invalidRequests,
  mentions,
  RECORDER_TYPE,
  validConf,
  validEnv,
  validRequests,
  WRONG_FIELD,
} from "./requests.ts";

/**
 * Requests over the socket, and how much the daemon's RSS may grow across them. Measured
 * (10,000 requests in rounds of 1,000): 44 MB before, 85-120 MB after each round, up and
 * down with the collector, the ~150 bodies of a megabyte each per 3,000 cases the most of it.
 */
const SOCKET_CASES = 3_000;
const SHIM_CASES = 300;
const RSS_GROWTH_BOUND_MB = 96;
const ROUNDS = 4;

const cleanup = createCleanup();
let work: Awaited<ReturnType<typeof createWorkdir>>;
let daemon: DaemonHandle;
let socket = "";
let record = "";
let netns: NetnsFixture;

// The recording delegate: one line per call, "<command> <container id> <ifname>"; ADD
// answers a result with the interface it was asked for.
const RECORDER = `#!/bin/sh
cat > /dev/null
echo "$CNI_COMMAND $CNI_CONTAINERID $CNI_IFNAME" >> "$(dirname "$0")/calls.log"
case "$CNI_COMMAND" in
  ADD) printf '{"cniVersion":"1.0.0","interfaces":[{"name":"%s","sandbox":"%s"}],"ips":[]}' "$CNI_IFNAME" "$CNI_NETNS" ;;
  VERSION) printf '{"cniVersion":"1.0.0","supportedVersions":["0.3.1","0.4.0","1.0.0"]}' ;;
esac
`;

beforeAll(async () => {
  if (!canRunE2e) return;
  await ensureBinary();
  work = await createWorkdir();
  cleanup.add(() => work.remove());
  const binDir = join(work.dir, "cni-bin");
  await Bun.$`mkdir -p ${binDir}`.quiet();
  await writeFile(join(binDir, RECORDER_TYPE), RECORDER);
  await chmod(join(binDir, RECORDER_TYPE), 0o755);
  record = join(binDir, "calls.log");
  await writeFile(record, "");
  netns = await createNetns("mtfuzz");
  cleanup.add(() => deleteNetns(netns.name));
  // Bodies with megabyte values must reach the handler, which is what is fuzzed here (a
  // body over the default 1 MiB is refused with 413 before it: tests/e2e/socket-limits).
  daemon = await startDaemon(work.dir, { cniDir: join(work.dir, "cache"), binDir, maxRequestBytes: 8 * 1024 * 1024 });
  cleanup.add(() => daemon.stop());
  socket = join(daemon.socketDir, "multus.sock");
});
afterAll(() => cleanup.run());

async function rssMb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const kb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

async function recordedIds(): Promise<Map<string, string[]>> {
  const calls = new Map<string, string[]>();
  for (const line of (await readFile(record, "utf8")).split("\n")) {
    if (line === "") continue;
    const [command, id] = line.split(" ");
    calls.set(id!, [...(calls.get(id!) ?? []), command!]);
  }
  return calls;
}

/** Unique container IDs: the record tells each case's calls apart. */
function ids(prefix: string): fc.Arbitrary<string> {
  let n = 0;
  return fc.constant(null).map(() => `${prefix}-${n++}`);
}

describe.skipIf(!canRunE2e)("hostile input through the compiled daemon and shim", () => {
  test(`${SOCKET_CASES} generated bodies over the socket: the right CNI error for each, no delegate for any invalid one`, async () => {
    const post = (c: BodyCase) =>
      socketRequest(socket, c.isDelegate ? "/delegate" : "/cni", {
        body: c.body,
        headers: { "content-type": "application/json" },
      });
    const pid = daemon.proc.pid;
    // Warm up first, so the bound is on growth, not on the first allocations.
    for (let i = 0; i < 50; i++) await post({ body: "{}", isDelegate: false, expected: "valid", fault: "" });
    const rssBefore = await rssMb(pid);

    const valid: string[] = [];
    const cases = fc.oneof(
      { weight: 15, arbitrary: invalidRequests({ containerId: ids("bad"), netns: netns.path }) },
      { weight: 1, arbitrary: validRequests({ containerId: ids("ok"), netns: netns.path }) },
    );
    const rss: number[] = [rssBefore];
    for (let round = 0; round < ROUNDS; round++) {
      await fc.assert(
        fc.asyncProperty(cases, async (c) => {
          const reply = await post(c);
          if (c.expected === "valid") {
            expect({ status: reply.status, text: reply.text.slice(0, 300) }).toMatchObject({ status: 200 });
            const id = JSON.parse(c.body).env.CNI_CONTAINERID as string;
            valid.push(id);
            const del = await post({ ...c, body: c.body.replace('"CNI_COMMAND":"ADD"', '"CNI_COMMAND":"DEL"') });
            expect(del.status).toBe(200);
            return;
          }
          // A CNI error body, always: never a 500, never an empty answer.
          expect({ fault: c.fault, status: reply.status }).toEqual({ fault: c.fault, status: 400 });
          expect(reply.contentType).toStartWith("application/json");
          const err = expectCniErrorObject(reply.json());
          expect({ fault: c.fault, code: err.code }).toEqual({ fault: c.fault, code: c.expected.code });
          expect({ fault: c.fault, msg: err.msg, named: mentions(err, c.expected.mentions) }).toMatchObject({
            named: true,
          });
        }),
        { ...fcParams(SOCKET_CASES / ROUNDS), seed: FC_SEED + round },
      );
      rss.push(await rssMb(pid));
    }

    // The record holds an ADD and a DEL for each valid case and nothing else.
    const calls = await recordedIds();
    for (const id of calls.keys()) expect(id).toStartWith("ok-");
    expect(valid.length).toBeGreaterThan(SOCKET_CASES / 40);
    for (const id of valid) expect(calls.get(id)).toEqual(["ADD", "DEL"]);

    // Alive, ready, and within its memory bound.
    expect(daemon.proc.exitCode).toBeNull();
    expect((await socketRequest(socket, "/readyz", { method: "GET" })).status).toBe(200);
    console.log(
      `daemon fuzz: ${SOCKET_CASES} requests (${valid.length} valid ADD+DEL), RSS by round ${rss.map((x) => x.toFixed(1)).join(" -> ")} MB`,
    );
    // Bounded: the heap grows with the large bodies and is collected, it does not climb round after round.
    for (const r of rss) expect(r - rssBefore).toBeLessThan(RSS_GROWTH_BOUND_MB);
    expect(rss.at(-1)! - rss[1]!).toBeLessThan(RSS_GROWTH_BOUND_MB / 2);
  }, 240_000);

  test(`${SHIM_CASES} shim calls with hostile env and stdin: the CNI error on stdout, exit 1, no delegate`, async () => {
    const before = await recordedIds();
    interface ShimCase {
      env: Record<string, string>;
      stdin: string;
      expected: { code: number; mentions: string } | "valid";
    }
    const conf = () => shimConf(daemon.socketDir, validConf());
    const envCase = fc
      .tuple(
        ids("sbad"),
        fc.record(
          {
            CNI_COMMAND: fc.oneof(fc.constantFrom("ADD", "DEL", "CHECK", "add", "", "NOPE"), hostileText),
            CNI_CONTAINERID: fc.oneof(fc.constantFrom("", "a b", "-x", "ok"), hostileText),
            CNI_IFNAME: fc.oneof(fc.constantFrom("", ".", "a/b", "x".repeat(16), "eth0"), hostileText),
            CNI_PATH: fc.constantFrom("", "/opt/cni/bin"),
          },
          { requiredKeys: [] },
        ),
      )
      .map(([id, over]) => {
        const env: Record<string, string> = { ...validEnv(id, netns.path), ...over };
        // Exec refuses NUL in the environment; a runtime could not send it either.
        for (const [k, value] of Object.entries(env)) env[k] = value.replaceAll("\0", "");
        return { env, problems: envProblems(env) };
      })
      .filter(({ env, problems }) => problems.length > 0 && env.CNI_COMMAND !== "")
      .map(
        ({ env, problems }): ShimCase => ({
          env,
          stdin: JSON.stringify(conf()),
          expected: { code: 4, mentions: problems.join("|") },
        }),
      );
    const stdinCase = fc
      .tuple(
        ids("sbad"),
        fc.oneof(
          fc.oneof(hostileText, fc.constantFrom("", "{", "[]", "null", "5")).map((s) => ({
            stdin: s,
            expected: { code: 6, mentions: "decode" },
          })),
          // name and cniVersion of the wrong type are the skel's (code 6), not the daemon's.
          fc
            .constantFrom(...WRONG_FIELD.filter(([key]) => key !== "name" && key !== "cniVersion"))
            .chain(([key, arb]) =>
              arb.map((value) => ({
                stdin: JSON.stringify({ ...conf(), [key]: value }),
                expected: { code: 7, mentions: key === "delegates" ? "delegate" : key },
              })),
            ),
          hostileJsonValue
            .filter((x) => typeof x !== "string" && x !== null)
            .map((v) => ({
              stdin: JSON.stringify({ ...conf(), cniVersion: v }),
              expected: { code: 6, mentions: "cniVersion" },
            })),
          fc.constant({
            stdin: JSON.stringify({ ...conf(), x: JSON.parse(`${"[".repeat(20_000)}${"]".repeat(20_000)}`) }),
            expected: { code: 6, mentions: "deep" },
          }),
        ),
      )
      .filter(([, c]) => !isJsonObjectText(c.stdin) || c.expected.code !== 6 || c.expected.mentions !== "decode")
      .map(([id, c]): ShimCase => ({ env: validEnv(id, netns.path), ...c }));
    const validCase = ids("sok").map(
      (id): ShimCase => ({ env: validEnv(id, netns.path), stdin: JSON.stringify(conf()), expected: "valid" }),
    );

    const okIds: string[] = [];
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 4, arbitrary: envCase },
          { weight: 4, arbitrary: stdinCase },
          { weight: 1, arbitrary: validCase },
        ),
        async (c) => {
          const { CNI_COMMAND, CNI_CONTAINERID, CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH } = c.env;
          const run = await runCni(work.shim, {
            command: CNI_COMMAND ?? "",
            containerId: CNI_CONTAINERID,
            netns: CNI_NETNS,
            ifname: CNI_IFNAME,
            args: CNI_ARGS,
            path: CNI_PATH,
            stdin: c.stdin,
            omit: ["CNI_CONTAINERID", "CNI_IFNAME", "CNI_PATH", "CNI_COMMAND"].filter((k) => !(k in c.env)),
          });
          if (c.expected === "valid") {
            expect({ code: run.code, stdout: run.stdout.slice(0, 300) }).toMatchObject({ code: 0 });
            expect(run.json().interfaces[0].name).toBe("eth0");
            okIds.push(CNI_CONTAINERID!);
            const del = await runCni(work.shim, {
              command: "DEL",
              containerId: CNI_CONTAINERID,
              netns: CNI_NETNS,
              args: CNI_ARGS,
              stdin: c.stdin,
            });
            expect(del.code).toBe(0);
            return;
          }
          expect({ exit: run.code, stderr: run.stderr.slice(0, 200) }).toMatchObject({ exit: 1 });
          const err = expectCniErrorObject(run.json());
          expect({ code: err.code, msg: err.msg }).toMatchObject({ code: c.expected.code });
          expect({ msg: err.msg, details: err.details, named: mentions(err, c.expected.mentions) }).toMatchObject({
            named: true,
          });
        },
      ),
      fcParams(SHIM_CASES),
    );
    const calls = await recordedIds();
    for (const id of calls.keys()) if (!before.has(id)) expect(id).toStartWith("sok-");
    for (const id of okIds) expect(calls.get(id)).toEqual(["ADD", "DEL"]);
    expect(okIds.length).toBeGreaterThan(0);
    expect((await socketRequest(socket, "/readyz", { method: "GET" })).status).toBe(200);
  }, 240_000);
});

function isJsonObjectText(s: string): boolean {
  try {
    const x = JSON.parse(s);
    return typeof x === "object" && x !== null && !Array.isArray(x);
  } catch {
    return false;
  }
}
