/**
 * Kubernetes failures, classified by HTTP status code (or by the kind of transport failure),
 * never by message text; and the retry policy that goes with the classification.
 */

/** The API server answered with a non-2xx status (or a watch delivered an ERROR Status). */
export class KubeApiError extends Error {
  override readonly name = "KubeApiError";
  /** HTTP status code, e.g. 404, 409, 410, 429, 500. */
  readonly status: number;
  /** `Status.reason` as sent by the server (informational; classification uses `status`). */
  readonly reason: string | undefined;
  /** From a Retry-After header (429/503), in ms. */
  readonly retryAfterMs: number | undefined;

  constructor(opts: { status: number; reason?: string; message: string; retryAfterMs?: number }) {
    super(opts.message);
    this.status = opts.status;
    this.reason = opts.reason;
    this.retryAfterMs = opts.retryAfterMs;
  }

  /** Whether retrying can help (the KubeFailure shape the Multus core reads). */
  get transient(): boolean {
    return isTransientStatus(this.status);
  }
}

/** No HTTP answer at all: connection refused or reset, TLS failure, name resolution. */
export class KubeTransportError extends Error {
  override readonly name = "KubeTransportError";
  readonly transient = true;
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
  }
}

/** The caller's deadline passed before the API server answered. */
export class KubeTimeoutError extends Error {
  override readonly name = "KubeTimeoutError";
  readonly transient = true;
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options);
  }
}

/**
 * Error codes that connection-level failures carry (Node and Bun spellings). Used only for
 * errors that did not come through our own transport (which wraps them in KubeTransportError).
 */
const CONNECTION_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "ConnectionRefused",
  "ConnectionClosed",
  "ConnectionReset",
]);

/** The HTTP status of a Kubernetes failure, or undefined when there was no HTTP answer. */
export function kubeStatusOf(err: unknown): number | undefined {
  if (err instanceof KubeApiError) return err.status;
  if (typeof err !== "object" || err === null) return undefined;
  // client-node's ApiException carries the status as `code`; fetch-style errors as `status`.
  for (const field of ["code", "status", "statusCode"] as const) {
    const v = (err as Record<string, unknown>)[field];
    if (typeof v === "number" && Number.isInteger(v) && v >= 100 && v <= 599) return v;
  }
  return undefined;
}

export const isNotFound = (err: unknown): boolean => kubeStatusOf(err) === 404;
export const isConflict = (err: unknown): boolean => kubeStatusOf(err) === 409;
/** 410: the resourceVersion is too old (watch) or a continue token expired (list). */
export const isGone = (err: unknown): boolean => kubeStatusOf(err) === 410;

/** The request never reached an HTTP answer because of the connection. */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof KubeTransportError) return true;
  if (typeof err !== "object" || err === null) return false;
  const code = (err as { code?: unknown }).code;
  return typeof code === "string" && CONNECTION_CODES.has(code);
}

/**
 * Statuses a later attempt can get past: 408, 409 (a conflict resolves), 429 and 5xx.
 * The rest (400, 401, 403, 404 of a resource the server does not serve, 422, ...) need a
 * person to fix credentials, RBAC or the cluster: retrying forever only hides them.
 */
export function isTransientStatus(status: number): boolean {
  return status === 408 || status === 409 || status === 429 || status >= 500;
}

/**
 * 404 of the object itself (a Status with reason NotFound), as opposed to a 404 of the
 * URL: the API server answers a resource it does not serve (a CRD not installed) with a
 * plain "404 page not found" body and no Status reason.
 */
export function isObjectNotFound(err: unknown): boolean {
  return err instanceof KubeApiError ? err.status === 404 && err.reason !== undefined : isNotFound(err);
}

/** Worth retrying: 429, any 5xx, or a connection failure. Timeouts are not (the deadline is spent). */
export function isRetryable(err: unknown): boolean {
  const status = kubeStatusOf(err);
  if (status !== undefined) return status === 429 || status >= 500;
  return isConnectionError(err);
}

// --- retry policy -------------------------------------------------------------------------------

export interface Backoff {
  initialMs: number;
  maxMs: number;
}

/** Capped exponential backoff with jitter: attempt 1 waits ~initialMs, then doubling up to maxMs. */
export function backoffDelay(attempt: number, b: Backoff): number {
  const base = Math.min(b.maxMs, b.initialMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)));
  return Math.round(base * (0.5 + Math.random() * 0.5));
}

/** A one-line description for logs: class, HTTP status when there is one, message. */
export function describeKubeError(err: unknown): string {
  const status = kubeStatusOf(err);
  const name = err instanceof Error ? err.name : "Error";
  const message = err instanceof Error ? err.message : String(err);
  return status === undefined ? `${name}: ${message}` : `${name} ${status}: ${message}`;
}
