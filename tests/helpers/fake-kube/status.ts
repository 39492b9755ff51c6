// API errors as the real server sends them: a Status object with a reason per HTTP code.

const REASONS: Record<number, string> = {
  400: "BadRequest",
  401: "Unauthorized",
  403: "Forbidden",
  404: "NotFound",
  405: "MethodNotAllowed",
  409: "Conflict",
  410: "Gone",
  415: "UnsupportedMediaType",
  422: "Invalid",
  429: "TooManyRequests",
  500: "InternalError",
  503: "ServiceUnavailable",
  504: "Timeout",
};

/** Thrown anywhere while serving a request; the router answers it as a Status. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string = REASONS[status] ?? "Unknown",
  ) {
    super(message);
  }
}

export function statusBody(code: number, message: string, reason = REASONS[code] ?? "Unknown") {
  return { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", message, reason, code };
}

export const clone = <T>(v: T): T => structuredClone(v);
