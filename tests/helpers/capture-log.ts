// A Logger that keeps every line, for unit tests that wait for what the code says
// (a re-check, a wait begun) instead of sleeping.
import type { KubeLogger } from "../../src/k8s/client.ts";
import type { Logger } from "../../src/util/log.ts";
import { waitFor } from "./e2e.ts";

export type CapturedLog = Logger & { lines: string[] };

export function captureLog(): CapturedLog {
  const lines: string[] = [];
  const logger: CapturedLog = {
    lines,
    level: "debug",
    panic: (m) => void lines.push(m),
    error: (m) => void lines.push(m),
    warn: (m) => void lines.push(m),
    verbose: (m) => void lines.push(m),
    debug: (m) => void lines.push(m),
    with: () => logger,
  };
  return logger;
}

/** A KubeLogger that keeps every line as "<level> <message>". */
export function captureKubeLog(): KubeLogger & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    error: (m) => lines.push(`error ${m}`),
    verbose: (m) => lines.push(`verbose ${m}`),
    debug: (m) => lines.push(`debug ${m}`),
  };
}

/** Waits for a line containing `needle` among the lines after the first `from`; returns the count up to it. */
export async function logged(logger: { lines: string[] }, needle: string, from: number): Promise<number> {
  return waitFor(`a log line with "${needle}"`, () => {
    const i = logger.lines.findIndex((l, n) => n >= from && l.includes(needle));
    return i >= 0 ? i + 1 : 0;
  });
}
