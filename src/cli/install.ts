// `multus install`: the DaemonSet's init step copies this very executable into
// the CNI bin dir, atomically, so a running multus-shim there is never
// overwritten in place ("text file busy") and a reader never sees half a file.
// Like Go's install_multus it also puts `passthru` (the head of the auxiliary
// chain) there: the same executable, which picks the plugin
// role by that name.
import { defineCommand } from "citty";
import { chmod, copyFile, link, mkdir, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { randomBytes } from "node:crypto";

export const INSTALL_NAMES = { thick: "multus-shim", thin: "multus" } as const;
export const PASSTHRU_NAME = "passthru";

/**
 * Installs `<dest>/<multus-shim|multus>` and `<dest>/passthru`, each by
 * rename. The bytes are copied once: passthru is a hard link to the same new
 * file (a ~100 MB second copy buys nothing), or a copy where links are refused.
 */
export async function installSelf(opts: {
  source: string;
  dest: string;
  type: keyof typeof INSTALL_NAMES;
  /** Also install passthru (default true); Go's thin entrypoint copies only multus. */
  passthru?: boolean;
}): Promise<{ target: string; passthru?: string }> {
  const name = INSTALL_NAMES[opts.type];
  const withPassthru = opts.passthru ?? true;
  await mkdir(opts.dest, { recursive: true });
  const target = join(opts.dest, name);
  const passthru = join(opts.dest, PASSTHRU_NAME);
  const suffix = randomBytes(4).toString("hex");
  const tmp = join(opts.dest, `.${name}.temp${suffix}`);
  const tmpPassthru = join(opts.dest, `.${PASSTHRU_NAME}.temp${suffix}`);
  try {
    await copyFile(opts.source, tmp);
    await chmod(tmp, (await stat(opts.source)).mode & 0o7777);
    if (withPassthru) {
      await link(tmp, tmpPassthru).catch(async () => {
        await copyFile(tmp, tmpPassthru);
        await chmod(tmpPassthru, (await stat(tmp)).mode & 0o7777);
      });
    }
    await rename(tmp, target);
    if (withPassthru) await rename(tmpPassthru, passthru);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    await unlink(tmpPassthru).catch(() => undefined);
    throw err;
  }
  return { target, passthru: withPassthru ? passthru : undefined };
}

export const installCommand = defineCommand({
  meta: {
    name: "install",
    description: "Copy this executable into the CNI bin dir (as multus-shim, or multus for thin mode, and as passthru)",
  },
  args: {
    dest: { type: "string", alias: ["d"], description: "destination directory", default: "/opt/cni/bin" },
    type: { type: "string", alias: ["t"], description: "thick (multus-shim) or thin (multus)", default: "thick" },
  },
  async run({ args }) {
    if (args.type !== "thick" && args.type !== "thin")
      throw new Error(`--type must be thick or thin, got "${args.type}"`);
    const { target, passthru } = await installSelf({ source: process.execPath, dest: args.dest, type: args.type });
    process.stdout.write(`multus ${INSTALL_NAMES[args.type]} copy succeeded! (${target})\n`);
    process.stdout.write(`passthru cni ${passthru} copy succeeded!\n`);
    return 0;
  },
});
