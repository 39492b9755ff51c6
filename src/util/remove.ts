// Removing a file that may be gone already. On a read-only mount Linux answers
// unlink of a missing file with EROFS, not ENOENT, so "is there anything to
// remove?" is asked again with lstat before an error counts.
// The calls are synchronous: what goes this way are small per-request files on a
// local disk (caches, tombstones), where an async call is a trip through Bun's
// thread pool and the syscall takes microseconds.
import { lstatSync, unlinkSync } from "node:fs";

/** Removes `path`; resolves false when there was nothing to remove, true when it was removed. */
export async function removeIfPresent(path: string): Promise<boolean> {
  try {
    unlinkSync(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    if (!isPresent(path)) return false;
    throw err;
  }
}

function isPresent(path: string): boolean {
  try {
    lstatSync(path);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "ENOENT";
  }
}
