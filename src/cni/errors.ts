// The CNI error object as the spec defines it (SPEC.md "Error"), and the one
// error class every layer throws. A CniError crosses layers untouched: context
// goes into `details`, never into a new code.

export const ErrorCode = {
  IncompatibleVersion: 1,
  UnsupportedField: 2,
  UnknownContainer: 3,
  InvalidEnv: 4,
  IoFailure: 5,
  DecodeFailure: 6,
  InvalidConfig: 7,
  /** libcni's ErrInvalidNetNS: CNI_NETNS is the plugin's own netns. */
  InvalidNetns: 8,
  TryAgainLater: 11,
  NotAvailable: 50,
  LimitedConnectivity: 51,
  Internal: 999,
} as const;
export type ErrorCodeValue = (typeof ErrorCode)[keyof typeof ErrorCode] | number;

/** The wire form: exactly the spec's error object. */
export interface CniErrorObject {
  cniVersion?: string;
  code: number;
  msg: string;
  details?: string;
}

export class CniError extends Error {
  readonly code: number;
  readonly msg: string;
  readonly details: string | undefined;

  constructor(code: ErrorCodeValue, msg: string, details?: string, options?: { cause?: unknown }) {
    super(details ? `${msg}: ${details}` : msg, options);
    this.name = "CniError";
    this.code = code;
    this.msg = msg;
    this.details = details || undefined;
  }

  /** The spec's error object; `cniVersion` is added by whoever prints it. */
  toJSON(cniVersion?: string): CniErrorObject {
    const out = {} as CniErrorObject;
    if (cniVersion) out.cniVersion = cniVersion;
    out.code = this.code;
    out.msg = this.msg;
    if (this.details) out.details = this.details;
    return out;
  }

  static fromObject(o: CniErrorObject): CniError {
    return new CniError(o.code, o.msg, o.details);
  }
}

/** Is `x` shaped like a CNI error object (numeric code, non-empty msg)? */
export function isCniErrorObject(x: unknown): x is CniErrorObject {
  if (typeof x !== "object" || x === null) return false;
  const o = x as Record<string, unknown>;
  return (
    typeof o.code === "number" &&
    Number.isInteger(o.code) &&
    o.code > 0 &&
    typeof o.msg === "string" &&
    o.msg !== "" &&
    (o.details === undefined || typeof o.details === "string")
  );
}

/**
 * Any thrown value as a CniError (a CniError untouched), unknown throws as 999.
 * The shim's skel and the daemon handler answer with it; other callers use it
 * to name a caught error in a log line or in details.
 */
export function toCniError(err: unknown): CniError {
  if (err instanceof CniError) return err;
  const message = err instanceof Error ? err.message : String(err);
  // A failed system call (EROFS, ENOSPC, EIO, EACCES, ...) is the spec's I/O failure, code 5.
  const code = isSystemCallError(err) ? ErrorCode.IoFailure : ErrorCode.Internal;
  return new CniError(code, message, undefined, { cause: err });
}

function isSystemCallError(err: unknown): boolean {
  const e = err as { code?: unknown; syscall?: unknown } | null;
  return typeof e === "object" && e !== null && typeof e.syscall === "string" && /^E[A-Z0-9]+$/.test(String(e.code));
}

/** How much of a caller's value a message quotes: enough to recognise it, not a megabyte echoed into every log line. */
export const MAX_QUOTED_CHARS = 256;

/**
 * `value` as JSON for an error message, cut after MAX_QUOTED_CHARS characters
 * with the full length said. Never throws (a value JSON cannot encode is named by its type).
 */
export function quoteInput(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(typeof value);
  } catch {
    text = Array.isArray(value) ? "an array" : typeof value;
  }
  if (text.length <= MAX_QUOTED_CHARS) return text;
  return `${text.slice(0, MAX_QUOTED_CHARS)}... (${text.length} characters)`;
}
