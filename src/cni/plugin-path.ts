// Where a plugin found in a bin dir really lives, and whether we may run it.
// The type itself can only name an entry of a bin dir (isValidPluginType), but
// that entry may be a symlink. One that stays inside the bin dirs (an
// installer's `host-device -> multi-call`) is followed as before. One that
// leaves them is followed only to a file nobody but root (or the daemon's own
// user) can replace: the file and every directory above it owned by root or
// us and not writable by group or others (a sticky dir such as /tmp counts as
// safe for its entries). A link into a user's home, a group-writable dir, or a
// dangling link someone else could later fill is refused before exec.
import { realpathSync, statSync } from "node:fs";
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
  // Synchronous calls: each is microseconds on a local bin dir, and this runs for
  // every delegate of every request (an async call is a trip through Bun's thread pool).
  const target = realpathSync(opts.full);
  if (target === opts.full) return;
  for (const dir of opts.binDirs) {
    if (dir === "") continue;
    const real = realpathOrUndefined(dir);
    if (real !== undefined && target.startsWith(real.endsWith(sep) ? real : real + sep)) return;
  }
  const unsafe = unsafeAncestor(target);
  if (unsafe === undefined) return;
  throw new CniError(
    ErrorCode.InvalidConfig,
    `plugin "${opts.pluginType}" refused: ${opts.full} resolves to ${target}, outside the bin dirs [${opts.binDirs.join(" ")}], and ${unsafe}`,
    "a symlink that leaves the bin dirs must point at a file that only root can change",
  );
}

/** Why `target` could be replaced by someone other than root or us, or undefined when it cannot. */
function unsafeAncestor(target: string): string | undefined {
  const uid = process.getuid?.() ?? 0;
  for (let p = target; ; p = dirname(p)) {
    const st = statSync(p);
    const isDir = st.isDirectory();
    if (st.uid !== 0 && st.uid !== uid) return `${p} is owned by uid ${st.uid}`;
    const writable = (st.mode & WRITABLE_BY_OTHERS) !== 0 && !(isDir && (st.mode & STICKY) !== 0);
    if (writable) return `${p} is writable by group or others (mode ${(st.mode & 0o7777).toString(8)})`;
    if (p === dirname(p)) return undefined;
  }
}

function realpathOrUndefined(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined;
  }
}
