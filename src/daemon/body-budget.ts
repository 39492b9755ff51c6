// One byte budget for the request bodies the daemon holds at once: being read,
// waiting for a connectionLimit slot, or being handled. Without it every open
// connection could hold up to maxRequestBytes, so body memory grew with the
// number of connections rather than with connectionLimit. A request that would
// go past it is refused before its body is read (server.ts answers 503 with
// CNI code 11, which the shim retries: nothing ran, so nothing is lost).

/** A body this small or smaller may also use the reserve: every shim request (a few KiB) is one. */
export const SMALL_BODY_BYTES = 64 * 1024;
/**
 * Kept on top of the budget for small bodies, so a flood of large ones never starves a
 * DEL or an ADD from the shim: 32 small bodies at their largest, hundreds at a shim's size.
 */
export const SMALL_BODY_RESERVE_BYTES = 32 * SMALL_BODY_BYTES;

/**
 * maxPendingRequestBytes when the config sets none: one body of the largest size allowed
 * (or many smaller), since a body costs a few times its size while it is decoded, and the
 * DaemonSet's memory limit has room for about that much (docs/deploy.md).
 */
export function defaultPendingRequestBytes(maxRequestBytes: number): number {
  return maxRequestBytes;
}

/** One request's share of the budget. */
export interface BodyHold {
  /** Takes `bytes` more for this body; false (and nothing taken) when the budget has no room. */
  grow(bytes: number): boolean;
  /** Gives back all this body took; idempotent. Later grows fail. */
  release(): void;
  readonly bytes: number;
}

export interface BodyBudgetOptions {
  /** Bytes that bodies of any size may hold together. */
  limit: number;
  /** Bytes on top of `limit` that only bodies up to `smallBytes` may use. */
  reserve?: number;
  smallBytes?: number;
}

export class BodyBudget {
  #used = 0;
  readonly limit: number;
  readonly reserve: number;
  readonly smallBytes: number;
  constructor(opts: BodyBudgetOptions) {
    this.limit = opts.limit;
    this.reserve = opts.reserve ?? SMALL_BODY_RESERVE_BYTES;
    this.smallBytes = opts.smallBytes ?? SMALL_BODY_BYTES;
  }

  /** Bytes held by bodies now. */
  get used(): number {
    return this.#used;
  }

  open(): BodyHold {
    let held = 0;
    let released = false;
    return {
      grow: (bytes) => {
        if (released) return false;
        const total = held + bytes;
        const cap = total <= this.smallBytes ? this.limit + this.reserve : this.limit;
        if (this.#used + bytes > cap) return false;
        this.#used += bytes;
        held = total;
        return true;
      },
      release: () => {
        if (released) return;
        released = true;
        this.#used -= held;
        held = 0;
      },
      get bytes() {
        return held;
      },
    };
  }
}
