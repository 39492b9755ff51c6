/** One live GET of a single object, shared by the pod and NAD reads. */
import type { KubeHttp } from "./client.ts";
import { isRetryable } from "./errors.ts";

/**
 * GET `path` (retried on 429/5xx/connection errors within the deadline) and
 * trim the answer with `convert`. null when `isMissing` says the failure means
 * the object does not exist; an answer `convert` rejects is an error naming `kind`.
 */
export async function readObject<T>(
  http: KubeHttp,
  opts: {
    path: string;
    kind: string;
    convert: (obj: unknown) => T | undefined;
    isMissing: (err: unknown) => boolean;
    timeoutMs: number;
    signal?: AbortSignal;
  },
): Promise<T | null> {
  const { path, kind, convert, isMissing, ...callOpts } = opts;
  try {
    const obj = await http.call<unknown>({ method: "GET", path }, { ...callOpts, retryIf: isRetryable });
    const out = convert(obj);
    if (!out) throw new Error(`GET ${path}: the answer is not a ${kind}`);
    return out;
  } catch (err) {
    if (isMissing(err)) return null;
    throw err;
  }
}
