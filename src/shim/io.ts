// Process edges of the shim role: stdin is read only when a CNI command is
// set (so `multus-shim` run by hand never blocks), and stdout is flushed fully.
// Bun's own stdin/stdout are used, not process.stdin/stdout: the first touch of
// a process.std* stream sets up Node's stream layer, a cost on every start.

export async function readStdinIfCni(env: Record<string, string | undefined>): Promise<Uint8Array> {
  if (!env.CNI_COMMAND || (env.CNI_COMMAND === "VERSION" && isTerminal(0))) return new Uint8Array();
  return new Uint8Array(await Bun.stdin.arrayBuffer());
}

export async function writeStdout(text: string): Promise<void> {
  if (text) await Bun.write(Bun.stdout, text);
}

/** A terminal (or /dev/null: nothing to read either) is a character device; a pipe or file is not. */
function isTerminal(fd: number): boolean {
  try {
    // Required here, not imported: only VERSION needs it, and node:fs costs every start.
    const { fstatSync } = require("node:fs") as typeof import("node:fs");
    return fstatSync(fd).isCharacterDevice();
  } catch {
    return false;
  }
}
