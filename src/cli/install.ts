// `multus install`: the DaemonSet's init step copies this very executable into
// the CNI bin dir, atomically, so a running multus-shim there is never
// overwritten in place ("text file busy") and a reader never sees half a file.
import { defineCommand } from "citty";
import { chmod, copyFile, mkdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export const INSTALL_NAMES = { thick: "multus-shim", thin: "multus" } as const;

export async function installSelf(opts: { source: string; dest: string; type: keyof typeof INSTALL_NAMES }): Promise<string> {
  const name = INSTALL_NAMES[opts.type];
  await mkdir(opts.dest, { recursive: true });
  const target = join(opts.dest, name);
  const tmp = join(opts.dest, `.${name}.temp${randomBytes(4).toString("hex")}`);
  try {
    await copyFile(opts.source, tmp);
    await chmod(tmp, (await stat(opts.source)).mode & 0o7777);
    await rename(tmp, target);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return target;
}

export const installCommand = defineCommand({
  meta: { name: "install", description: "Copy this executable into the CNI bin dir (as multus-shim, or multus for thin mode)" },
  args: {
    dest: { type: "string", alias: ["d"], description: "destination directory", default: "/opt/cni/bin" },
    type: { type: "string", alias: ["t"], description: "thick (multus-shim) or thin (multus)", default: "thick" },
  },
  async run({ args }) {
    if (args.type !== "thick" && args.type !== "thin") throw new Error(`--type must be thick or thin, got "${args.type}"`);
    const target = await installSelf({ source: process.execPath, dest: args.dest, type: args.type });
    process.stdout.write(`multus ${INSTALL_NAMES[args.type]} copy succeeded! (${target})\n`);
    return 0;
  },
});
