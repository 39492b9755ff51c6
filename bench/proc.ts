// Process measurements shared by bench modes: timed execs, worker pools, and
// memory read from /proc/<pid>/status.

export interface ExecSpec {
  cmd: string[];
  env: Record<string, string>;
  stdin?: string;
}

export interface Timed {
  ms: number;
  /** user + system CPU time of the process (ms). */
  cpuMs: number;
  code: number;
  stdout: string;
  stderr: string;
}

/** Wall time from spawn to exit with stdout/stderr drained, as a runtime sees a plugin call. */
export async function timeExec(spec: ExecSpec): Promise<Timed> {
  const stdin = spec.stdin === undefined ? "ignore" : new TextEncoder().encode(spec.stdin);
  const t0 = performance.now();
  const proc = Bun.spawn({ cmd: spec.cmd, env: spec.env, stdin, stdout: "pipe", stderr: "pipe" });
  const [stdout, stderr, code] = await Promise.all([
    new Response(proc.stdout).text(),
    new Response(proc.stderr).text(),
    proc.exited,
  ]);
  const ms = performance.now() - t0;
  const usage = proc.resourceUsage();
  const cpuMs = usage ? Number(usage.cpuTime.total) / 1000 : Number.NaN;
  return { ms, cpuMs, code, stdout, stderr };
}

/** Runs `fn` `total` times with `concurrency` workers pulling from one counter. */
export async function runPool(concurrency: number, total: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < total; i = next++) await fn(i);
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

/** CPU time (user + system, all threads) a process has used so far, in ms; 10 ms resolution (CLK_TCK 100). */
export async function readCpuMs(pid: number): Promise<number> {
  const text = await Bun.file(`/proc/${pid}/stat`).text();
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // fields[0] is field 3 (state): utime is field 14, stime field 15.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** Memory fields of /proc/<pid>/status, in KiB. */
export interface MemStatus {
  rss: number;
  hwm: number;
  anon: number;
  file: number;
}

export async function readMem(pid: number): Promise<MemStatus> {
  const text = await Bun.file(`/proc/${pid}/status`).text();
  const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? NaN);
  return { rss: field("VmRSS"), hwm: field("VmHWM"), anon: field("RssAnon"), file: field("RssFile") };
}

/** Samples a process's memory every `intervalMs` until stopped; keeps the maxima. */
export function sampleMem(pid: number, intervalMs = 10): { stop(): Promise<MemStatus & { samples: number }> } {
  const max: MemStatus = { rss: 0, hwm: 0, anon: 0, file: 0 };
  let samples = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      const m = await readMem(pid).catch(() => undefined);
      if (m) {
        samples++;
        max.rss = Math.max(max.rss, m.rss);
        max.hwm = Math.max(max.hwm, m.hwm);
        max.anon = Math.max(max.anon, m.anon);
        max.file = Math.max(max.file, m.file);
      }
      await Bun.sleep(intervalMs);
    }
  })();
  return {
    async stop() {
      running = false;
      await loop;
      const last = await readMem(pid).catch(() => undefined);
      if (last) max.hwm = Math.max(max.hwm, last.hwm);
      return { ...max, samples };
    },
  };
}

/**
 * Waits until RSS stops moving (two reads `stepMs` apart within `toleranceKiB`),
 * at least `minMs` and at most `maxMs`: "at rest, after GC settles".
 */
export async function settledMem(
  pid: number,
  o: { minMs?: number; maxMs?: number; stepMs?: number; toleranceKiB?: number } = {},
): Promise<MemStatus> {
  const { minMs = 1500, maxMs = 8000, stepMs = 500, toleranceKiB = 256 } = o;
  const start = performance.now();
  await Bun.sleep(minMs);
  let prev = await readMem(pid);
  while (performance.now() - start < maxMs) {
    await Bun.sleep(stepMs);
    const cur = await readMem(pid);
    if (Math.abs(cur.rss - prev.rss) <= toleranceKiB) return cur;
    prev = cur;
  }
  return prev;
}
