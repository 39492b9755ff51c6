// The shim's side of the socket API: wait for /readyz, POST the request to /cni.
import { CniError, ErrorCode, isCniErrorObject } from "../cni/errors.ts";
import { DAEMON_URL, Endpoint, type CniRequest } from "../api/api.ts";

export interface DaemonClientOptions {
  socketPath: string;
  readyTimeoutMs: number;
  requestTimeoutMs: number;
}

const READY_POLL_MS = 100;

/** Polls POST /readyz until it answers 200; code 11 (try again later) at the deadline. */
export async function waitForDaemon(opts: DaemonClientOptions): Promise<void> {
  const deadline = Date.now() + opts.readyTimeoutMs;
  let last = "no answer";
  for (;;) {
    const left = deadline - Date.now();
    try {
      const res = await fetch(DAEMON_URL + Endpoint.READYZ, {
        unix: opts.socketPath,
        method: "POST",
        body: "null",
        signal: AbortSignal.timeout(Math.max(50, Math.min(left, 2000))),
      });
      await res.arrayBuffer();
      if (res.status === 200) return;
      last = `readyz answered ${res.status}`;
    } catch (err) {
      last = describeTransportError(err);
    }
    if (Date.now() + READY_POLL_MS > deadline) {
      throw new CniError(
        ErrorCode.TryAgainLater,
        `multus daemon is not ready at ${opts.socketPath}`,
        `${last} (waited ${opts.readyTimeoutMs} ms)`,
      );
    }
    await Bun.sleep(READY_POLL_MS);
  }
}

/** Sends one CNI request; returns the decoded 200 body (undefined when empty). */
export async function callDaemon(opts: DaemonClientOptions, path: string, body: CniRequest): Promise<unknown> {
  let res: Response;
  let text: string;
  try {
    res = await fetch(DAEMON_URL + path, {
      unix: opts.socketPath,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(opts.requestTimeoutMs),
    });
    text = await res.text();
  } catch (err) {
    throw new CniError(
      ErrorCode.TryAgainLater,
      `failed to send CNI request to multus daemon at ${opts.socketPath}`,
      describeTransportError(err),
    );
  }
  if (res.status !== 200) throw errorFromResponse(res.status, text);
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CniError(ErrorCode.DecodeFailure, `failed to unmarshal response '${text}'`, String(err));
  }
}

/** A daemon (or delegate) CNI error reaches the runtime unchanged. */
function errorFromResponse(status: number, text: string): CniError {
  try {
    const obj: unknown = JSON.parse(text);
    if (isCniErrorObject(obj)) return CniError.fromObject(obj);
  } catch {
    // not JSON: plain-text error from a Go daemon
  }
  return new CniError(ErrorCode.Internal, `CNI request failed with status ${status}: '${text.trimEnd()}'`);
}

function describeTransportError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: string }).code;
    if (err.name === "TimeoutError") return "timed out";
    return code ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
