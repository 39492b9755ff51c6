// Go-style single-dash long flags (`-config=x`, `-config x`) become `--config`,
// so the same command lines work for the Go binaries and ours.
export function normalizeGoFlags(args: readonly string[]): string[] {
  return args.map((a) => (/^-[a-zA-Z][\w-]+(=.*)?$/.test(a) ? `-${a}` : a));
}

/** "true"/"false"/bare flag to boolean; anything else is an error naming the flag. */
export function parseBoolFlag(name: string, value: unknown): boolean {
  if (typeof value === "boolean") return value;
  if (value === "true" || value === "1" || value === "") return true;
  if (value === "false" || value === "0") return false;
  throw new Error(`flag --${name}: expected true or false, got "${String(value)}"`);
}
