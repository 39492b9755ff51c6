// Reading JSON that a caller wraps in its own error: the read and the parse
// report, the caller names what failed (a cache, a plugin's answer).
import { readFileSync } from "node:fs";

/**
 * The file's UTF-8 text, or undefined when it does not exist; any other read error is thrown as it came.
 * Read synchronously: the callers read small local caches on the request path, where an async
 * read is a trip through Bun's thread pool (about 1 ms under load) and the syscalls take microseconds.
 */
export async function readTextIfPresent(path: string): Promise<string | undefined> {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
}

/** JSON.parse that says why it failed instead of throwing. */
export function tryParseJson(text: string): { ok: true; value: unknown } | { ok: false; reason: string } {
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (err) {
    return { ok: false, reason: (err as Error).message };
  }
}
