import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CniError } from "../cni/errors.ts";
import { captureLog, logged } from "../../tests/helpers/capture-log.ts";
import { describeSeconds, waitForReadinessIndicator } from "./readiness-indicator.ts";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "multus-ready-"));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

describe("waitForReadinessIndicator", () => {
  test("returns once the file appears", async () => {
    const file = join(dir, "ready");
    const log = captureLog();
    const waiting = waitForReadinessIndicator(file, { timeoutMs: 10_000, log });
    let done = false;
    void waiting.then(() => {
      done = true;
    });
    // Said once the first look found no file: from then on it is waiting.
    await logged(log, `waiting up to 10 s for readiness indicator file ${file}`, 0);
    expect(done).toBe(false);
    await writeFile(file, "");
    await waiting;
    expect(done).toBe(true);
  });

  test("gives up with code 11 naming the file and the bound", async () => {
    const file = join(dir, "never");
    const err = await waitForReadinessIndicator(file, { timeoutMs: 300 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).code).toBe(11);
    expect((err as CniError).msg).toBe(`still waiting for readinessindicatorfile @ ${file}`);
    expect((err as CniError).details).toContain("waited 0.3 s");
  });

  test("a stop ends the wait", async () => {
    const stop = new AbortController();
    const waiting = waitForReadinessIndicator(join(dir, "never"), { timeoutMs: 60_000, signal: stop.signal });
    stop.abort();
    expect(((await waiting.catch((e: unknown) => e)) as CniError).details).toBe("stopped while waiting");
  });

  test.each([
    [45_000, "45 s"],
    [500, "0.5 s"],
    [120, "0.1 s"],
  ])("describeSeconds(%p) is %p", (ms, text) => {
    expect(describeSeconds(ms)).toBe(text);
  });
});
