// enablePprof through the compiled binary: a heap snapshot and a CPU profile
// of N seconds on the metrics port, in the V8 formats DevTools opens; CNI keeps
// being served while a profile is taken; without the key there is nothing there.
import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { createServer } from "node:net";
import { join } from "node:path";
import { createWorkdir, runCni, shimConf, startDaemon } from "../helpers/multus.ts";
import { createCleanup } from "../helpers/netns.ts";
import { canRunE2e, containerId, ensureBinary, waitFor } from "../helpers/e2e.ts";

let work: Awaited<ReturnType<typeof createWorkdir>>;
let cleanup: ReturnType<typeof createCleanup>;

beforeAll(async () => {
  if (canRunE2e) await ensureBinary();
});
beforeEach(async () => {
  if (!canRunE2e) return;
  cleanup = createCleanup();
  work = await createWorkdir();
  cleanup.add(() => work.remove());
});
afterEach(async () => {
  if (canRunE2e) await cleanup.run();
});

/** A TCP port nobody holds right now. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function startProfiled(enablePprof: boolean) {
  const port = await freePort();
  const daemon = await startDaemon(work.dir, {
    cniDir: join(work.dir, "cache"),
    metricsPort: port,
    enablePprof,
    logToStderr: true,
    logLevel: "verbose",
  });
  cleanup.add(() => daemon.stop());
  const get = (path: string) => fetch(`http://127.0.0.1:${port}${path}`, { signal: AbortSignal.timeout(20_000) });
  // The metrics server comes up beside the socket; wait until it answers.
  await waitFor("the metrics port", async () => (await get("/metrics").catch(() => undefined))?.status === 200);
  return { daemon, get };
}

describe.skipIf(!canRunE2e)("enablePprof", () => {
  test("a heap snapshot and an index, as downloads DevTools opens", async () => {
    const { get } = await startProfiled(true);
    const index = await get("/debug/pprof/");
    expect(index.status).toBe(200);
    expect(await index.text()).toContain("/debug/pprof/profile?seconds=N");

    const heap = await get("/debug/pprof/heap");
    expect(heap.status).toBe(200);
    expect(heap.headers.get("content-disposition")).toMatch(/^attachment; filename="multus-\d+-.+\.heapsnapshot"$/);
    const snapshot = (await heap.json()) as any;
    expect(snapshot.snapshot.meta.node_fields).toContain("self_size");
    expect(snapshot.nodes.length).toBeGreaterThan(1000);
  });

  test("a CPU profile of the seconds asked for; CNI is served meanwhile; one at a time; bad seconds refused", async () => {
    const { daemon, get } = await startProfiled(true);
    const started = performance.now();
    let profileDone = false;
    const profile = get("/debug/pprof/profile?seconds=3").finally(() => (profileDone = true));
    // While it runs: a second profile is refused, and a DEL through the shim still answers.
    await waitFor("the profile to start", () => daemon.stderr().includes("pprof: CPU profile of 3 s started"));
    expect((await get("/debug/pprof/profile?seconds=1")).status).toBe(409);
    const del = await runCni(work.shim, {
      command: "DEL",
      containerId: containerId(),
      stdin: shimConf(daemon.socketDir),
    });
    expect([del.code, del.stdout]).toEqual([0, ""]);
    expect(profileDone).toBe(false);

    const res = await profile;
    expect(res.status).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(2990);
    expect(res.headers.get("content-disposition")).toMatch(/\.cpuprofile"$/);
    const cpu = (await res.json()) as any;
    expect(cpu.nodes.length).toBeGreaterThan(0);
    expect(Array.isArray(cpu.samples)).toBe(true);
    expect(cpu.samples.length).toBe(cpu.timeDeltas.length);
    expect(cpu.endTime).toBeGreaterThanOrEqual(cpu.startTime);

    for (const bad of ["abc", "0", "-1", "301"]) {
      const r = await get(`/debug/pprof/profile?seconds=${bad}`);
      expect(r.status).toBe(400);
      expect(await r.text()).toContain("seconds must be a number above 0 and at most 300");
    }
  });

  test("without enablePprof there is nothing at /debug/pprof/", async () => {
    const { get } = await startProfiled(false);
    expect((await get("/debug/pprof/heap")).status).toBe(404);
    expect((await get("/metrics")).status).toBe(200);
  });
});
