// Removing a file that may be gone already. On a read-only mount Linux answers
// unlink of a missing file with EROFS, not ENOENT, so "is there anything to
// remove?" is asked again with lstat before an error counts.
import { lstat, unlink } from "node:fs/promises";

/** Removes `path`; resolves false when there was nothing to remove, true when it was removed. */
export async function removeIfPresent(path: string): Promise<boolean> {
  try {
    await unlink(path);
    return true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
    const present = await lstat(path).then(
      () => true,
      (e: NodeJS.ErrnoException) => e.code !== "ENOENT",
    );
    if (!present) return false;
    throw err;
  }
}
