// Shared by every bench mode: summaries of samples, formatting, and the
// text/Markdown tables the modes print and write.

export interface Summary {
  n: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of an ascending array (p in 0..100). */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function summarize(samples: readonly number[]): Summary {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    min: sorted[0] ?? Number.NaN,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

export function fmtMs(ms: number): string {
  if (!Number.isFinite(ms)) return "-";
  return ms >= 100 ? ms.toFixed(0) : ms.toFixed(1);
}

export function fmtMiB(kib: number | undefined): string {
  return kib === undefined || !Number.isFinite(kib) ? "-" : (kib / 1024).toFixed(1);
}

/** "✓" / "✗" against a target, for the summary lines. */
export function verdict(value: number, target: number): string {
  return value < target ? "met" : "MISSED";
}

export interface Table {
  title: string;
  headers: string[];
  rows: string[][];
  /** Lines printed under the table (units, how it was measured). */
  notes?: string[];
}

/** A fixed-width text table: first column left-aligned, the others right-aligned. */
export function renderText(t: Table): string {
  const widths = t.headers.map((h, i) => Math.max(h.length, ...t.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)))
      .join("  ")
      .trimEnd();
  const out = [t.title, line(t.headers), widths.map((w) => "-".repeat(w)).join("  "), ...t.rows.map(line)];
  for (const n of t.notes ?? []) out.push(`  ${n}`);
  return out.join("\n");
}

export function renderMarkdown(t: Table): string {
  const esc = (s: string) => s.replaceAll("|", "\\|");
  const out = [
    `### ${t.title}`,
    "",
    `| ${t.headers.map(esc).join(" | ")} |`,
    `|${t.headers.map((_, i) => (i === 0 ? "---" : "---:")).join("|")}|`,
    ...t.rows.map((r) => `| ${r.map(esc).join(" | ")} |`),
  ];
  if (t.notes?.length) out.push("", ...t.notes.map((n) => `${n}  `));
  return out.join("\n");
}
