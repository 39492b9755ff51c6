// Temp-then-rename writes for files other processes read (caches, generated
// configs, kubeconfigs): a reader sees the old content or the new, never half.
import { mkdir, open, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";

export interface AtomicWriteOptions {
  /**
   * fsync the file and its directory (default true). Per-request caches turn it
   * off, as libcni and the Go Multus do: after a crash such a file may be absent or
   * empty, and their readers treat that as missing; ~1 ms saved on every ADD.
   */
  durable?: boolean;
}

/**
 * Writes `data` to `path` atomically: a temp file in the same directory (so the
 * rename stays on one filesystem), chmod to `mode`, fsync unless `durable` is
 * false (best effort), rename over `path`. A missing parent directory is
 * created with mode 0700.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array,
  mode = 0o600,
  opts: AtomicWriteOptions = {},
): Promise<void> {
  const durable = opts.durable ?? true;
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const fh = await open(tmp, "wx", mode);
  let renamed = false;
  try {
    try {
      await fh.writeFile(data);
      await fh.chmod(mode); // the umask may have narrowed the mode given to open()
      if (durable) await fh.sync().catch(() => undefined);
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
    renamed = true;
    if (durable) await syncDir(dir);
  } finally {
    if (!renamed) await unlink(tmp).catch(() => undefined);
  }
}

/** fsync a directory so a rename survives a crash; best effort (not every filesystem allows it). */
async function syncDir(dir: string): Promise<void> {
  try {
    const dh = await open(dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch {
    // best effort
  }
}
