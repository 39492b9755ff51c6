// The readiness indicator file: the default network's sign that it is up. The
// daemon waits for it at start; each request waits for it too when its config
// names one (src/multus/readiness.ts). Polled, as the Go Multus does (every
// second there; more often here, since a pod's ADD is waiting).
import { CniError, ErrorCode } from "../cni/errors.ts";
import { exists } from "../util/exists.ts";
import { sleep } from "../util/sleep.ts";
import type { Logger } from "../util/log.ts";

const POLL_MS = 250;

/**
 * Stats `file` until it exists, up to `timeoutMs` (Go: 45 s); code 11 naming the file after that.
 * A wait is said at verbose before it starts, so that one can see what is being waited for.
 */
export async function waitForReadinessIndicator(
  file: string,
  { timeoutMs, signal, log }: { timeoutMs: number; signal?: AbortSignal; log?: Logger },
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let firstMiss = true;
  while (!(await exists(file))) {
    if (firstMiss) log?.verbose(`waiting up to ${describeSeconds(timeoutMs)} for readiness indicator file ${file}`);
    firstMiss = false;
    if (Date.now() >= deadline || signal?.aborted) {
      throw new CniError(
        ErrorCode.TryAgainLater,
        `still waiting for readinessindicatorfile @ ${file}`,
        signal?.aborted
          ? "stopped while waiting"
          : `have you checked that your default network is ready? (waited ${describeSeconds(timeoutMs)})`,
      );
    }
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())), signal);
  }
}

/** "45 s", "0.5 s". */
export function describeSeconds(ms: number): string {
  return `${Math.round(ms / 100) / 10} s`;
}
