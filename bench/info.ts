// What a bench run was measured on: the commit, the build and the machine,
// for results.md's headers and the record's JSON alike.
import { cpus, loadavg } from "node:os";

export interface RunInfo {
  commit: string;
  /** src/ had uncommitted changes when the run started. */
  dirty: boolean;
  /** First line of `<binary> version`. */
  version: string;
  bun: string;
  kernel: string;
  cpus: number;
  cpu: string;
  load: number;
}

export function runInfo(binary: string): RunInfo {
  const text = (cmd: string[]) =>
    Bun.spawnSync(cmd, { cwd: import.meta.dir })
      .stdout.toString()
      .trim();
  return {
    commit: text(["git", "rev-parse", "--short", "HEAD"]),
    dirty: text(["git", "status", "--porcelain", "--", "../src"]) !== "",
    version: text([binary, "version"]).split("\n")[0] ?? "",
    bun: Bun.version,
    kernel: text(["uname", "-r"]),
    cpus: cpus().length,
    cpu: cpus()[0]?.model ?? "unknown CPU",
    load: loadavg()[0]!,
  };
}

/** Above this 1-minute load average latencies say more about the machine than about us. */
export function isBusy(load: number): boolean {
  return load > cpus().length / 2;
}
