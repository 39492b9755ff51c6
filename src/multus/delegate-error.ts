// A CNI error that knows which network and which delegate plugin it came from,
// so that the one place that logs a failed request (the daemon's handler, the
// thin plugin) can name them as fields, while the runtime still gets the
// delegate's own code and msg.
import { CniError, type ErrorCodeValue } from "../cni/errors.ts";
import type { Delegate } from "./delegates.ts";

export class DelegateError extends CniError {
  readonly network: string;
  /** The delegate's plugin type (the first plugin of a conflist). */
  readonly delegate: string;

  constructor(o: {
    code: ErrorCodeValue;
    msg: string;
    details?: string;
    network: string;
    delegate: string;
    cause?: unknown;
  }) {
    super(o.code, o.msg, o.details, { cause: o.cause });
    this.network = o.network;
    this.delegate = o.delegate;
  }
}

/** What a delegate is, for people: the `type` of its (first) plugin. */
export function delegateType(delegate: Pick<Delegate, "list">): string {
  const type = delegate.list.plugins[0]?.type;
  return typeof type === "string" && type !== "" ? type : "unknown";
}
