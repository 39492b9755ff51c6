// The pod sandbox ("pause") image for container-runtime tests, built without a
// registry: a busybox-static rootfs packed as one layer, wrapped as a
// docker-archive (manifest.json + image config whose entrypoint sleeps forever)
// that `ctr images import` accepts. The layer tarball alone is what
// `podman import` takes. Built once per content (busybox binary + this recipe),
// cached under the system temp dir and installed by rename, like the recorder.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "bun";

export const SANDBOX_IMAGE = "localhost/test-pause:latest";
export const BUSYBOX = "/bin/busybox";
const RECIPE = "v1";
const ENTRYPOINT = ["/bin/sleep", "2147483647"];

export interface SandboxImageFiles {
  /** The image's name inside the runtime. */
  ref: string;
  /** docker-archive for `ctr images import`. */
  archive: string;
  /** The rootfs layer (plain tar), for `podman import`. */
  layer: string;
  entrypoint: string[];
}

let built: Promise<SandboxImageFiles> | undefined;

/** Builds (or finds cached) the image files. Needs a statically linked /bin/busybox (Debian busybox-static). */
export function buildSandboxImage(): Promise<SandboxImageFiles> {
  built ??= buildOnce().catch((err) => {
    built = undefined;
    throw err;
  });
  return built;
}

/** Imports the image into a containerd (namespace k8s.io, where CRI looks). */
export async function importSandboxImage(address: string): Promise<string> {
  const files = await buildSandboxImage();
  const r = await $`ctr -a ${address} -n k8s.io images import ${files.archive}`.nothrow().quiet();
  if (r.exitCode !== 0)
    throw new Error(`ctr images import failed (${r.exitCode}): ${r.stderr.toString()}${r.stdout.toString()}`);
  return files.ref;
}

async function buildOnce(): Promise<SandboxImageFiles> {
  const busybox = await readFile(BUSYBOX).catch(() => {
    throw new Error(`${BUSYBOX} is missing: install Debian's busybox-static (scripts/setup.sh does)`);
  });
  const key = createHash("sha256").update(busybox).update(RECIPE).update(SANDBOX_IMAGE).digest("hex").slice(0, 16);
  const dir = join(tmpdir(), `multus-test-sandbox-image-${key}`);
  const files: SandboxImageFiles = {
    ref: SANDBOX_IMAGE,
    archive: join(dir, "image.tar"),
    layer: join(dir, "layer.tar"),
    entrypoint: ENTRYPOINT,
  };
  if (await isFile(files.archive)) return files;

  const work = `${dir}.${process.pid}.${Date.now()}`;
  try {
    const rootfs = join(work, "rootfs");
    const archiveDir = join(work, "archive");
    await mkdir(join(rootfs, "bin"), { recursive: true });
    for (const d of ["dev", "proc", "sys", "etc", "tmp", "run"]) await mkdir(join(rootfs, d));
    await writeFile(join(rootfs, "bin", "busybox"), busybox, { mode: 0o755 });
    for (const applet of ["sh", "sleep", "ip", "ls", "cat"]) await symlink("busybox", join(rootfs, "bin", applet));
    await mkdir(archiveDir);
    const layer = join(archiveDir, "layer.tar");
    // Reproducible: fixed owner, mtime and order, so the digest only follows busybox.
    await $`tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C ${rootfs} -cf ${layer} .`.quiet();
    const diffId = `sha256:${createHash("sha256")
      .update(await readFile(layer))
      .digest("hex")}`;
    const config = {
      architecture: process.arch === "x64" ? "amd64" : process.arch,
      os: "linux",
      created: "1970-01-01T00:00:00Z",
      config: { Entrypoint: ENTRYPOINT, Env: ["PATH=/bin"], WorkingDir: "/" },
      rootfs: { type: "layers", diff_ids: [diffId] },
      history: [{ created: "1970-01-01T00:00:00Z", created_by: "multus tests: busybox-static rootfs" }],
    };
    const configText = JSON.stringify(config);
    const configName = `${createHash("sha256").update(configText).digest("hex")}.json`;
    await writeFile(join(archiveDir, configName), configText);
    await writeFile(
      join(archiveDir, "manifest.json"),
      JSON.stringify([{ Config: configName, RepoTags: [SANDBOX_IMAGE], Layers: ["layer.tar"] }]),
    );
    await $`tar --numeric-owner --owner=0 --group=0 --mtime=@0 --sort=name -C ${archiveDir} -cf ${join(work, "image.tar")} manifest.json ${configName} layer.tar`.quiet();
    await rename(layer, join(work, "layer.tar"));
    await rm(rootfs, { recursive: true, force: true });
    await rm(archiveDir, { recursive: true, force: true });
    try {
      await rename(work, dir);
    } catch {
      // another test process got there first: theirs is identical
    }
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return files;
}

async function isFile(path: string): Promise<boolean> {
  return stat(path).then(
    (s) => s.isFile(),
    () => false,
  );
}
