// A synchronous stat for the request path: a stat of a small local file takes
// microseconds, while an async one is a trip through Bun's thread pool (~1 ms).
import { type Stats, statSync } from "node:fs";

/** `path`'s stat (links followed), or undefined when it cannot be had for any reason (missing, ENOTDIR, EACCES). */
export function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}
