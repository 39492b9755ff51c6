// Process edges of the shim role: stdin is read only when a CNI command is
// set (so `multus-shim` run by hand never blocks), and stdout is flushed fully.
export async function readStdinIfCni(env: Record<string, string | undefined>): Promise<Uint8Array> {
  if (!env.CNI_COMMAND || env.CNI_COMMAND === "VERSION" && process.stdin.isTTY) return new Uint8Array();
  return new Uint8Array(await Bun.stdin.arrayBuffer());
}

export async function writeStdout(text: string): Promise<void> {
  if (text) await Bun.write(Bun.stdout, text);
}
