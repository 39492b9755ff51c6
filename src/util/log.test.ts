import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger, formatJsonLine, formatLine } from "./log.ts";
import { backupStamp, pruneBackups } from "./log-file.ts";

const AT = new Date("2026-01-02T03:04:05.678Z");
const DAY = 24 * 60 * 60 * 1000;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "multus-log-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe("line formats", () => {
  test("text: the Go line with scalar fields; arrays and objects are left to the message", () => {
    const line = formatLine(
      "verbose",
      "ADD done",
      { pod: "ns/p", durationMs: 1.5, ok: true, networks: [{ a: 1 }] },
      AT,
    );
    expect(line).toBe("2026-01-02T03:04:05.678Z [verbose] ADD done pod=ns/p durationMs=1.5 ok=true\n");
  });

  test("json: one object per line with every field as given; time, level and msg cannot be overwritten", () => {
    const line = formatJsonLine("error", "x", { msg: "no", code: 7, networks: [{ name: "n" }], empty: "" }, AT);
    expect(line.endsWith("\n")).toBe(true);
    expect(line.trimEnd()).not.toContain("\n");
    expect(JSON.parse(line)).toEqual({
      time: AT.toISOString(),
      level: "error",
      msg: "x",
      code: 7,
      networks: [{ name: "n" }],
    });
  });

  test('createLogger with format "json" writes JSON lines to its sinks', () => {
    const out: string[] = [];
    const log = createLogger({ level: "debug", toStderr: true, format: "json", stderr: (t) => out.push(t) });
    log.with({ pod: "a/b" }).debug("hello", { n: 1 });
    expect(out).toHaveLength(1);
    expect(JSON.parse(out[0]!)).toMatchObject({ level: "debug", msg: "hello", pod: "a/b", n: 1 });
  });
});

describe("the log file", () => {
  test("an unwritable file is said once on stderr, which then gets the lines", () => {
    writeFileSync(join(dir, "file"), "");
    const file = join(dir, "file", "multus.log");
    const out: string[] = [];
    const log = createLogger({ level: "verbose", file, stderr: (t) => out.push(t) });
    log.verbose("one");
    log.verbose("two");
    expect(out[0]).toStartWith(`multus logging: cannot write the log file ${file}: `);
    expect(out[0]).toEndWith("logging to stderr instead\n");
    expect(out.slice(1).map((l) => l.replace(/^\S+ /, ""))).toEqual(["[verbose] one\n", "[verbose] two\n"]);
  });

  test('with format "json" the warning is a JSON object of level notice too', () => {
    const out: string[] = [];
    const file = join(dir, "no", "\0");
    createLogger({ level: "verbose", file, format: "json", stderr: (t) => out.push(t) }).verbose("one");
    expect(out.map((l) => JSON.parse(l))).toMatchObject([
      { level: "notice", source: "multus logging", msg: expect.stringContaining("logging to stderr instead") },
      { level: "verbose", msg: "one" },
    ]);
  });

  test("with logToStderr as well, the lines are not written twice", () => {
    const out: string[] = [];
    createLogger({ level: "verbose", file: dir, toStderr: true, stderr: (t) => out.push(t) }).verbose("once");
    expect(out.filter((l) => l.includes("once"))).toHaveLength(1);
  });

  test("rotates past maxSize, compressed, keeping maxBackups", () => {
    const file = join(dir, "multus.log");
    const log = createLogger({ level: "verbose", file, options: { maxSize: 0.001, maxBackups: 2, maxAge: 0 } });
    const line = "x".repeat(300);
    for (let i = 0; i < 40; i++) log.verbose(line);
    const backups = readdirSync(dir).filter((n) => n !== "multus.log");
    expect(backups.length).toBeLessThanOrEqual(2);
    expect(backups.length).toBeGreaterThan(0);
    for (const b of backups) expect(b).toMatch(/^multus\.log-\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d\.\d{3}Z\.gz$/);
    const gz = Bun.gunzipSync(readFileSync(join(dir, backups[0]!)));
    expect(new TextDecoder().decode(gz)).toContain(line);
    expect(readFileSync(file).length).toBeLessThanOrEqual(1024 + 400);
  });
});

describe("pruneBackups", () => {
  const now = Date.parse("2026-06-10T12:00:00Z");
  const named = (ageDays: number, gz = true) =>
    `multus.log-${backupStamp(new Date(now - ageDays * DAY))}${gz ? ".gz" : ""}`;

  function setUp(names: string[]): string {
    for (const n of names) writeFileSync(join(dir, n), "x");
    return join(dir, "multus.log");
  }

  test("maxAge removes what is older by the name's timestamp; foreign names stay", () => {
    const [old, older, fresh] = [named(3), named(10, false), named(0.5)];
    const file = setUp([old, older, fresh, "multus.log", "multus.log-notes", "other.log-2020-01-01T00-00-00.000Z"]);
    expect(pruneBackups(file, { maxAgeMs: 2 * DAY, maxBackups: 0, now }).sort()).toEqual([old, older].sort());
    expect(readdirSync(dir).sort()).toEqual(
      [fresh, "multus.log", "multus.log-notes", "other.log-2020-01-01T00-00-00.000Z"].sort(),
    );
  });

  test("maxBackups keeps the newest; 0 means no limit for either", () => {
    const names = [named(1), named(2), named(3), named(4)];
    const file = setUp(names);
    expect(pruneBackups(file, { maxAgeMs: 0, maxBackups: 0, now })).toEqual([]);
    expect(pruneBackups(file, { maxAgeMs: 0, maxBackups: 2, now }).sort()).toEqual([names[2]!, names[3]!].sort());
    expect(pruneBackups(file, { maxAgeMs: 1.5 * DAY, maxBackups: 2, now })).toEqual([names[1]!]);
  });
});
