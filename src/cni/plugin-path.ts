// Where a plugin found in a bin dir really lives, and whether we may run it.
// The type itself can only name an entry of a bin dir (isValidPluginType), but
// that entry may be a symlink. One that stays inside the bin dirs (an
// installer's `host-device -> multi-call`) is followed as before. One that
// leaves them is followed only to a file nobody but root (or the daemon's own
// user) can replace: the file and every directory above it owned by root or
// us and not writable by group or others (a sticky dir such as /tmp counts as
// safe for its entries). A link into a user's home, a group-writable dir, or a
// dangling link someone else could later fill is refused before exec.
import { realpath, stat } from "node:fs/promises";
import { dirname, sep } from "node:path";
import { CniError, ErrorCode } from "./errors.ts";

const WRITABLE_BY_OTHERS = 0o022;
const STICKY = 0o1000;

/** Throws a code-7 error naming the plugin when `full` (found in a bin dir) resolves somewhere unsafe. */
export async function checkPluginLocation(opts: {
  pluginType: string;
  full: string;
  binDirs: readonly string[];
}): Promise<void> {
  const target = await realpath(opts.full);
  if (target === opts.full) return;
  for (const dir of opts.binDirs) {
    if (dir === "") continue;
    const real = await realpath(dir).catch(() => undefined);
    if (real !== undefined && target.startsWith(real.endsWith(sep) ? real : real + sep)) return;
  }
  const unsafe = await unsafeAncestor(target);
  if (unsafe === undefined) return;
  throw new CniError(
    ErrorCode.InvalidConfig,
    `plugin "${opts.pluginType}" refused: ${opts.full} resolves to ${target}, outside the bin dirs [${opts.binDirs.join(" ")}], and ${unsafe}`,
    "a symlink that leaves the bin dirs must point at a file that only root can change",
  );
}

/** Why `target` could be replaced by someone other than root or us, or undefined when it cannot. */
async function unsafeAncestor(target: string): Promise<string | undefined> {
  const uid = process.getuid?.() ?? 0;
  for (let p = target; ; p = dirname(p)) {
    const st = await stat(p);
    const isDir = st.isDirectory();
    if (st.uid !== 0 && st.uid !== uid) return `${p} is owned by uid ${st.uid}`;
    const writable = (st.mode & WRITABLE_BY_OTHERS) !== 0 && !(isDir && (st.mode & STICKY) !== 0);
    if (writable) return `${p} is writable by group or others (mode ${(st.mode & 0o7777).toString(8)})`;
    if (p === dirname(p)) return undefined;
  }
}
