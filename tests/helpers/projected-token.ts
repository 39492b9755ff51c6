// A projected service-account token volume as kubelet writes it: the files live in a
// timestamped directory, `..data` is a symlink to it and `token` a symlink to
// `..data/token`. A rotation writes a new directory and renames a fresh symlink over
// `..data` (atomic), then removes the old directory, so a reader never sees a partial file.
import { mkdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface ProjectedToken {
  /** The path a pod reads: `<dir>/token`. */
  readonly path: string;
  /** Swaps in `token` the way kubelet does. */
  rotate(token: string): void;
}

export function createProjectedToken(dir: string, token: string): ProjectedToken {
  mkdirSync(dir, { recursive: true });
  let generation = 0;
  const write = (value: string) => {
    const data = `..${Date.now()}_${++generation}`;
    mkdirSync(join(dir, data));
    writeFileSync(join(dir, data, "token"), value, { mode: 0o600 });
    let old: string | undefined;
    try {
      old = readlinkSync(join(dir, "..data"));
    } catch {
      old = undefined;
    }
    symlinkSync(data, join(dir, "..data_tmp"));
    renameSync(join(dir, "..data_tmp"), join(dir, "..data"));
    if (old) rmSync(join(dir, old), { recursive: true, force: true });
  };
  write(token);
  symlinkSync("..data/token", join(dir, "token"));
  return { path: join(dir, "token"), rotate: write };
}
