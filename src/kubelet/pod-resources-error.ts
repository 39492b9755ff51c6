// The one error of the PodResources client, with the gRPC status codes it carries.

/** gRPC status codes used here (google.golang.org/grpc/codes). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

/** A failed List: `code` is the gRPC status (14 unavailable, 4 deadline exceeded, ...), absent when connecting failed. */
export class PodResourcesError extends Error {
  override readonly name = "PodResourcesError";
  readonly code: number | undefined;
  constructor(message: string, opts: { code?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.code = opts.code;
  }
}
