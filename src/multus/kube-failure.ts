// A failure of the Kubernetes API as the runtime sees it. Only a failure that a
// retry can get past (a timeout, a refused connection, 429, 5xx) is code 11
// "try again later": a 401, 403 or a missing CRD would make every runtime
// retry forever while nobody fixes the credentials or the RBAC.
import { CniError, ErrorCode } from "../cni/errors.ts";
import type { KubeFailure } from "./ports.ts";

function isPermanent(err: unknown): err is Error & KubeFailure {
  return typeof err === "object" && err !== null && (err as Partial<KubeFailure>).transient === false;
}

/** `msg` says what could not be done; the API's own words go into the details. */
export function kubeFailureError(err: unknown, opts: { msg: string; details?: string }): CniError {
  const message = err instanceof Error ? err.message : String(err);
  const details = opts.details ? `${message} (${opts.details})` : message;
  if (!isPermanent(err)) return new CniError(ErrorCode.TryAgainLater, opts.msg, details, { cause: err });
  const status = err.status === undefined ? "" : ` ${err.status}${err.reason ? ` ${err.reason}` : ""}`;
  return new CniError(
    ErrorCode.Internal,
    `${opts.msg}: the Kubernetes API answered${status}, which retrying will not fix (check the daemon's credentials, RBAC and CRDs)`,
    details,
    { cause: err },
  );
}
