// The benchmark cannot rot: `bun bench/run.ts --quick` runs record mode end to
// end (fake API, real netns, trivial and real delegates), and its JSON has
// every figure the README and `--compare` read, with no failure and no leak.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { canRunE2e, ensureBinary } from "../helpers/e2e.ts";
import { BINARY } from "../helpers/multus.ts";
import type { AbReport } from "../../bench/ab.ts";
import type { BenchRecord, Lat } from "../../bench/record.ts";

const REPO = resolve(import.meta.dir, "../..");
const PHASES = ["c1", "c8", "c32", "burst"];
let dir: string;

beforeAll(async () => {
  if (!canRunE2e) return;
  await ensureBinary();
  dir = await mkdtemp(join(tmpdir(), "multus-bench-test-"));
});
afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function bench(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([process.execPath, "bench/run.ts", ...args], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  return { code, stdout, stderr };
}

function expectLat(l: Lat, n: number): void {
  expect(l.n).toBe(n);
  expect(l.p50).toBeGreaterThan(0);
  expect(l.p99).toBeGreaterThanOrEqual(l.p50);
  expect(l.max).toBeGreaterThanOrEqual(l.p99);
}

describe.skipIf(!canRunE2e)("bun run bench --quick", () => {
  test("writes a record with every figure, for both kinds of delegate, and compares it", async () => {
    const out = join(dir, "quick.json");
    const r = await bench(["--quick", `--json=${out}`, `--out=${join(dir, "results.md")}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("ADD and DEL through the shim");

    const rec = JSON.parse(await readFile(out, "utf8")) as BenchRecord;
    expect(rec.schema).toBe(1);
    expect(rec.settings.quick).toBe(true);
    expect(rec.commit).toMatch(/^[0-9a-f]{7,}$/);
    expect(rec.version).toContain("multus");
    expect(typeof rec.busy).toBe("boolean");
    expectLat(rec.shimStartupMs, rec.settings.shimRuns);
    expect(Object.keys(rec.delegates).sort()).toEqual(["real", "trivial"]);
    for (const [kind, d] of Object.entries(rec.delegates)) {
      expect(Object.keys(d.phases), kind).toEqual(PHASES);
      for (const name of PHASES) {
        const p = d.phases[name as keyof typeof d.phases];
        expect(p.failures, `${kind} ${name}: ${p.firstError}`).toBe(0);
        expectLat(p.add, p.pods);
        expectLat(p.del, p.pods);
        expect(p.addPodsPerSec).toBeGreaterThan(0);
        expect(p.delPodsPerSec).toBeGreaterThan(0);
      }
      expect(d.phases.burst.concurrency).toBe(d.phases.burst.pods);
      for (const m of [d.rss.rest, d.rss.peak]) {
        expect(m.totalKiB).toBeGreaterThan(m.anonKiB);
        expect(m.anonKiB).toBeGreaterThan(0);
      }
      expect(d.rss.peak.totalKiB).toBeGreaterThanOrEqual(d.rss.rest.totalKiB);
      // ADD: the pod and NADs come from the informers; one status patch; one event per interface.
      expect(d.apiPerPod.add, kind).toMatchObject({ "PATCH pods/status": 1, "POST events": 2 });
      expect(d.apiPerPod.add["GET pods"] ?? 0).toBe(0);
      expect(Object.values(d.apiPerPod.del).reduce((a, b) => a + b, 0)).toBe(0);
      expect(d.leftovers).toBe(0);
    }

    // The same record against itself: every figure's ratio is 1.
    const c = await bench([`--compare=${out}`, `--current=${out}`]);
    expect(c.code, c.stderr).toBe(0);
    const ratios = c.stdout.split("\n").filter((l) => /^(shimStartupMs|trivial|real)\./.test(l));
    expect(ratios.length).toBeGreaterThan(50);
    for (const l of ratios) expect(l.trim().split(/\s+/).at(-1)).toBe("1.00");
  }, 90_000);

  test("--compare names a file that is not a record", async () => {
    const bad = join(dir, "bad.json");
    await Bun.write(bad, "{}");
    const c = await bench([`--compare=${bad}`, `--current=${bad}`]);
    expect(c.code).toBe(2);
    expect(c.stderr).toContain(`${bad}: not a bench record`);
  });

  test("ab runs two builds side by side and writes each figure with its b/a ratio", async () => {
    const out = join(dir, "ab.json");
    const r = await bench([
      "ab",
      "--quick",
      `--a=${BINARY}`,
      "--b-env=MIMALLOC_PURGE_DELAY=0",
      `--json=${out}`,
      "--no-write",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`A/B: a = ${BINARY}`);
    expect(r.stdout).toContain("daemon peak RSS (MiB)");

    const rep = JSON.parse(await readFile(out, "utf8")) as AbReport;
    const s = rep.settings;
    expect(rep.b.env).toEqual({ MIMALLOC_PURGE_DELAY: "0" });
    expect(rep.a.env).toEqual({});
    for (const side of [rep.a, rep.b]) {
      const f = side.figures;
      expect(f.failures, side.firstError).toBe(0);
      expect(f.calls).toBe(s.rounds * s.burst + 2 * s.paced);
      expect(f.addP50).toBeGreaterThan(0);
      expect(f.burstAddP50).toBeGreaterThan(0);
      expect(f.shimCpuPerAdd).toBeGreaterThan(0);
      expect(f.restRss).toBeCloseTo(f.restAnon + f.restFile, 0);
      expect(f.peakRss).toBeGreaterThanOrEqual(f.restRss);
      expect(side.version).toContain("multus");
    }
    expect(rep.ratio.calls).toBe(1);
    expect(rep.ratio.peakRss).toBeCloseTo(rep.b.figures.peakRss / rep.a.figures.peakRss, 5);
  }, 60_000);

  test("floors times each process of a paced ADD, ours included, and writes the rows", async () => {
    const out = join(dir, "floors.json");
    const r = await bench(["floors", "--rounds=3", "--interval=5", `--json=${out}`, "--no-write"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("multus-shim ADD, instant daemon");
    const rep = JSON.parse(await readFile(out, "utf8")) as {
      rows: Array<{ name: string; wall: { n: number; p50: number }; cpu: { p50: number } }>;
    };
    expect(rep.rows.map((x) => x.name)).toEqual([
      "/bin/true",
      "trivial delegate (dash script), ADD",
      "empty compiled Bun program",
      "minimal Bun shim (stdin, POST, print)",
      "multus-shim ADD, instant daemon",
    ]);
    for (const row of rep.rows) {
      expect(row.wall.n).toBe(3);
      expect(row.wall.p50).toBeGreaterThan(0);
    }
  }, 60_000);

  test("ab without a build to compare says what it needs", async () => {
    const r = await bench(["ab", "--quick", "--no-write"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("ab mode needs --a <executable> or --a-ref <git rev>");
  });
});
