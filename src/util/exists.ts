import { stat } from "node:fs/promises";

/** Whether `path` exists (following symlinks); any stat error counts as absent. */
export async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}
