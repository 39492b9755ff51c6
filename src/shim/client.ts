// The shim's side of the socket API: POST the request to /cni, retried while no daemon is ready.
import { CniError, ErrorCode, isCniErrorObject } from "../cni/errors.ts";
import { DAEMON_URL, type CniRequest } from "../api/api.ts";

export interface DaemonClientOptions {
  socketPath: string;
  readyTimeoutMs: number;
  requestTimeoutMs: number;
}

const READY_POLL_MS = 100;

/** What one POST got: an answer, or no daemon to answer it (the request never reached one). */
type Attempt = { status: number; text: string } | { unreachable: string };

/**
 * Sends one CNI request and returns the decoded 200 body (undefined when empty).
 * The request is POSTed at once, with no /readyz round trip first: a daemon
 * that is not there yet (no socket file, connection refused) or not ready
 * (503) is retried every 100 ms until `readyTimeoutMs`, then code 11. Only a
 * request that never reached a daemon is retried, so an ADD never runs twice.
 * A Go daemon, which serves /cni the same way, works unchanged.
 */
export async function callDaemon(opts: DaemonClientOptions, path: string, body: CniRequest): Promise<unknown> {
  const payload = JSON.stringify(body);
  const readyDeadline = Date.now() + opts.readyTimeoutMs;
  for (;;) {
    const attempt = await postOnce(opts, path, payload);
    if ("status" in attempt && attempt.status !== 503) return decodeReply(attempt);
    const why = "status" in attempt ? `answered 503: ${attempt.text.trim()}` : attempt.unreachable;
    if (Date.now() + READY_POLL_MS > readyDeadline) {
      throw new CniError(
        ErrorCode.TryAgainLater,
        `multus daemon is not ready at ${opts.socketPath}`,
        `${why} (waited ${opts.readyTimeoutMs} ms)`,
      );
    }
    await Bun.sleep(READY_POLL_MS);
  }
}

async function postOnce(opts: DaemonClientOptions, path: string, payload: string): Promise<Attempt> {
  try {
    const res = await fetch(DAEMON_URL + path, {
      unix: opts.socketPath,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: payload,
      signal: AbortSignal.timeout(opts.requestTimeoutMs),
    });
    return { status: res.status, text: await res.text() };
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "ENOENT" || code === "ECONNREFUSED") return { unreachable: describeTransportError(err) };
    throw new CniError(
      ErrorCode.TryAgainLater,
      `failed to send CNI request to multus daemon at ${opts.socketPath}`,
      describeTransportError(err),
    );
  }
}

function decodeReply({ status, text }: { status: number; text: string }): unknown {
  if (status !== 200) throw errorFromResponse(status, text);
  if (text.trim() === "") return undefined;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new CniError(ErrorCode.DecodeFailure, `failed to unmarshal response '${text}'`, String(err));
  }
}

/** An error the daemon answered with: the daemon has logged it, the shim only passes it on. */
export class DaemonAnswerError extends CniError {}

/** A daemon (or delegate) CNI error reaches the runtime unchanged. */
function errorFromResponse(status: number, text: string): CniError {
  try {
    const obj: unknown = JSON.parse(text);
    if (isCniErrorObject(obj)) return new DaemonAnswerError(obj.code, obj.msg, obj.details);
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
