// conf.ts against Debian's real plugins (bridge + host-local, /usr/lib/cni) in
// fresh network namespaces, directly and chrooted. Needs root and `ip`.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { copyWithLibs } from "../../tests/helpers/chroot.ts";
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { randomBytes } from "node:crypto";
import { cachedResultPath } from "./cache.ts";
import {
  addNetworkList,
  checkNetworkList,
  confListFromBytes,
  delNetworkList,
  type CniRuntime,
  type RuntimeConf,
} from "./conf.ts";
import { CniError, ErrorCode } from "./errors.ts";

const PLUGIN_DIR = "/usr/lib/cni";
const canRun =
  process.getuid?.() === 0 &&
  Bun.which("ip") !== null &&
  (await stat(join(PLUGIN_DIR, "bridge")).catch(() => undefined)) !== undefined;

const BASE_ENV = { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" };

interface Fixture {
  tmp: string;
  netns: string; // name
  bridge: string;
  network: string;
  subnet: string;
  mounts: string[]; // mount points to undo, in order of creation
}
let fx: Fixture;

function sh(cmd: string[]): { code: number; out: string; err: string } {
  const p = Bun.spawnSync({ cmd, env: BASE_ENV, stdout: "pipe", stderr: "pipe" });
  return { code: p.exitCode ?? -1, out: p.stdout.toString(), err: p.stderr.toString() };
}
function must(cmd: string[]): string {
  const r = sh(cmd);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} failed (${r.code}): ${r.err}`);
  return r.out;
}

beforeEach(async () => {
  if (!canRun) return;
  const id = randomBytes(4).toString("hex");
  const n = randomBytes(2);
  fx = {
    tmp: await mkdtemp(join(tmpdir(), "cni-real-")),
    netns: `cnitest-${id}`,
    bridge: `tbr${id}`,
    network: `realnet-${id}`,
    subnet: `10.${200 + (n[0]! % 50)}.${n[1]! % 250}.0/24`,
    mounts: [],
  };
  must(["ip", "netns", "add", fx.netns]);
});

afterEach(async () => {
  if (!canRun) return;
  const problems: string[] = [];
  for (const m of [...fx.mounts].reverse()) {
    if (sh(["umount", m]).code !== 0 && sh(["umount", "-l", m]).code !== 0) problems.push(`umount ${m}`);
  }
  sh(["ip", "netns", "del", fx.netns]);
  sh(["ip", "link", "del", fx.bridge]);
  // Never remove a tree that still has something mounted in it.
  const mounts = await readFile("/proc/self/mounts", "utf8");
  const stillMounted = mounts.split("\n").some((l) => l.split(" ")[1]?.startsWith(`${fx.tmp}/`));
  if (stillMounted) problems.push(`mounts left under ${fx.tmp}; not removing it`);
  else await rm(fx.tmp, { recursive: true, force: true });
  if (problems.length) throw new Error(problems.join("; "));
});

function conflist(cniVersion: string, ipam: Record<string, unknown>): string {
  return JSON.stringify({
    cniVersion,
    name: fx.network,
    plugins: [
      {
        type: "bridge",
        bridge: fx.bridge,
        isGateway: true,
        ipam: { type: "host-local", subnet: fx.subnet, ...ipam },
      },
    ],
  });
}

function runtimeConf(): RuntimeConf {
  return {
    containerId: `ctr-${fx.netns}`,
    netns: `/var/run/netns/${fx.netns}`,
    ifname: "eth0",
    args: [
      ["IgnoreUnknown", "1"],
      ["K8S_POD_NAMESPACE", "default"],
      ["K8S_POD_NAME", "p"],
    ],
    runtimeConfig: {},
  };
}

function addressesIn(netns: string, ifname: string): string[] {
  const r = sh(["ip", "-n", netns, "-j", "addr", "show", "dev", ifname]);
  if (r.code !== 0) return [];
  const links = JSON.parse(r.out) as Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>;
  return links.flatMap((l) => l.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
}

describe.skipIf(!canRun)("bridge + host-local in a fresh netns", () => {
  test.each([["0.3.1"], ["0.4.0"], ["1.0.0"]])("ADD / CHECK / DEL at cniVersion %s", async (version) => {
    const rt: CniRuntime = {
      binDirs: [PLUGIN_DIR],
      cacheDir: join(fx.tmp, "cache"),
      timeoutMs: 20_000,
      baseEnv: BASE_ENV,
    };
    const ipamDir = join(fx.tmp, "ipam");
    const list = confListFromBytes(conflist(version, { dataDir: ipamDir }));
    const rc = runtimeConf();

    const result = await addNetworkList(rt, list, rc);
    expect(result.cniVersion).toBe("1.1.0");
    const address = result.ips?.[0]?.address ?? "";
    expect(address.startsWith(`${fx.subnet.split(".").slice(0, 3).join(".")}.`)).toBe(true);
    expect(result.interfaces?.some((i) => i.name === "eth0" && i.sandbox === rc.netns)).toBe(true);
    expect(addressesIn(fx.netns, "eth0")).toContain(address);
    expect(await readdir(join(ipamDir, fx.network))).toContain(address.split("/")[0]!);

    if (version === "0.3.1") {
      const err = await checkNetworkList(rt, list, rc).then(
        () => undefined,
        (e: unknown) => e as CniError,
      );
      expect(err?.code).toBe(ErrorCode.IncompatibleVersion);
    } else {
      await checkNetworkList(rt, list, rc);
    }

    await delNetworkList(rt, list, rc);
    expect(addressesIn(fx.netns, "eth0")).toEqual([]);
    expect(await readdir(join(ipamDir, fx.network))).not.toContain(address.split("/")[0]!);
    expect(
      await stat(
        cachedResultPath(rt.cacheDir, { networkName: fx.network, containerId: rc.containerId, ifName: "eth0" }),
      ).catch(() => "gone"),
    ).toBe("gone");
    await delNetworkList(rt, list, rc); // repeated DEL is fine
  });

  test("failures: no cache for CHECK; the real bridge's own error object for a missing netns", async () => {
    const rt: CniRuntime = {
      binDirs: [PLUGIN_DIR],
      cacheDir: join(fx.tmp, "cache"),
      timeoutMs: 20_000,
      baseEnv: BASE_ENV,
    };
    const list = confListFromBytes(conflist("1.0.0", { dataDir: join(fx.tmp, "ipam") }));
    // CHECK without ADD: no cached result -> our own error, nothing invoked
    const err = await checkNetworkList(rt, list, runtimeConf()).then(
      () => undefined,
      (e: unknown) => e as CniError,
    );
    expect(err?.msg).toBe(`failed to get network "${fx.network}" cached result`);
    // an ADD into a netns that does not exist fails inside the plugin
    const bad = { ...runtimeConf(), netns: `/var/run/netns/does-not-exist-${fx.netns}` };
    const addErr = await addNetworkList(rt, list, bad).then(
      () => undefined,
      (e: unknown) => e as CniError,
    );
    expect(addErr).toBeInstanceOf(CniError);
    expect(addErr!.code).toBe(999); // what bridge itself prints
    expect(addErr!.msg).toStartWith(`failed to open netns "${bad.netns}"`);
  });
});

describe.skipIf(!canRun)("chrooted plugins", () => {
  async function bindMount(src: string, dest: string, isFile: boolean): Promise<void> {
    if (isFile) await writeFile(dest, "");
    else await mkdir(dest, { recursive: true });
    must(["mount", "--bind", src, dest]);
    fx.mounts.push(dest);
    must(["mount", "--make-private", dest]); // our unmount must never propagate to the host
  }

  test("ADD and DEL run inside chrootDir: host-local's store lands under <root>/var/lib/cni/networks", async () => {
    const root = join(fx.tmp, "root");
    for (const p of ["bridge", "host-local"]) await copyWithLibs(root, join(PLUGIN_DIR, p));
    await bindMount("/proc", join(root, "proc"), false);
    await bindMount("/sys", join(root, "sys"), false);
    await mkdir(join(root, "var", "run", "netns"), { recursive: true });
    await bindMount(`/run/netns/${fx.netns}`, join(root, "var", "run", "netns", fx.netns), true);

    const rt: CniRuntime = {
      binDirs: [PLUGIN_DIR],
      cacheDir: join(fx.tmp, "cache"),
      timeoutMs: 20_000,
      baseEnv: BASE_ENV,
      chrootDir: root,
    };
    const list = confListFromBytes(conflist("1.0.0", {})); // host-local's default dataDir /var/lib/cni/networks
    const rc = runtimeConf();
    const result = await addNetworkList(rt, list, rc);
    const ip = (result.ips?.[0]?.address ?? "").split("/")[0]!;
    expect(ip).not.toBe("");
    expect(await readdir(join(root, "var/lib/cni/networks", fx.network))).toContain(ip);
    expect(await stat(join("/var/lib/cni/networks", fx.network)).catch(() => "absent")).toBe("absent");
    expect(addressesIn(fx.netns, "eth0")).toContain(result.ips![0]!.address);

    await checkNetworkList(rt, list, rc);
    await delNetworkList(rt, list, rc);
    expect(await readdir(join(root, "var/lib/cni/networks", fx.network))).not.toContain(ip);
    expect(addressesIn(fx.netns, "eth0")).toEqual([]);
  });
});
