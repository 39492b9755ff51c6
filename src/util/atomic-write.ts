// Temp-then-rename writes for files other processes read (caches, generated
// configs, kubeconfigs): a reader sees the old content or the new, never half.
import { closeSync, fchmodSync, mkdirSync, openSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { mkdir, open, readdir, rename, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { randomBytes } from "node:crypto";

export interface AtomicWriteOptions {
  /**
   * fsync the file and its directory (default true). Per-request caches turn it
   * off, as libcni and the Go Multus do: after a crash such a file may be absent or
   * empty, and their readers treat that as missing; the fsyncs would slow every ADD.
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
  if (!durable) return writeFileAtomicNow(path, data, mode);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, tempNameFor(basename(path), process.pid));
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

/**
 * The same write with synchronous calls, for the small per-request caches that
 * skip fsync: six async fs calls are six trips through Bun's thread pool (~1 ms
 * an ADD under load), while these syscalls on a small local file take microseconds.
 */
function writeFileAtomicNow(path: string, data: string | Uint8Array, mode: number): void {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const tmp = join(dir, tempNameFor(basename(path), process.pid));
  const fd = openSync(tmp, "wx", mode);
  let renamed = false;
  try {
    try {
      writeFileSync(fd, data);
      fchmodSync(fd, mode); // the umask may have narrowed the mode given to open()
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
    renamed = true;
  } finally {
    if (!renamed) rmSync(tmp, { force: true });
  }
}

/** `.<name>.<writer pid>.<12 hex>.tmp`: the writer's pid tells a sweep whose file it is. */
function tempNameFor(name: string, pid: number): string {
  return `.${name}.${pid}.${randomBytes(6).toString("hex")}.tmp`;
}
const TEMP_NAME = /^\..+\.(\d+)\.[0-9a-f]{12}\.tmp$/;

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, it is just not ours to signal.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Removes the temp files of writeFileAtomic in `dir` whose writer process is gone (a
 * SIGKILL between open and rename leaves one behind for good). A live writer's file is
 * left alone: it is about to be renamed. Returns the names removed; a missing dir is empty.
 */
export async function sweepStaleTempFiles(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const removed: string[] = [];
  for (const name of names) {
    const pid = Number(TEMP_NAME.exec(name)?.[1]);
    if (!pid || pid === process.pid || isAlive(pid)) continue;
    await unlink(join(dir, name)).then(
      () => removed.push(name),
      () => undefined,
    );
  }
  return removed;
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
