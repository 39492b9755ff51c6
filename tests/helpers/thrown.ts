// The CniError a function throws (tests assert its code, msg and details).
import { CniError } from "../../src/cni/errors.ts";

export function thrown(fn: () => unknown): CniError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CniError) return err;
    throw err;
  }
  throw new Error("expected a CniError");
}

/** The CniError a promise rejects with. */
export async function rejection(p: Promise<unknown>): Promise<CniError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof CniError) return err;
    throw err;
  }
  throw new Error("expected a rejection with a CniError");
}
