// Shared pieces of the end-to-end tests (tests/e2e): the compiled binary built
// once when stale, delegate configs for Debian's plugins, a bin dir that mixes
// them with our test plugins, host-local store and cache inspection, the socket
// API spoken directly, and deadline-bounded waiting.
import { afterEach, beforeAll, beforeEach } from "bun:test";
import { $ } from "bun";
import { chmod, mkdir, readdir, readFile, stat, symlink, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { BINARY, createWorkdir } from "./multus.ts";
import { createCleanup, createNetns, deleteNetns, randomSuffix, type Cleanup, type NetnsFixture } from "./netns.ts";

export const REPO = resolve(import.meta.dir, "../..");
export const PLUGIN_DIR = "/usr/lib/cni";

/** Root, `ip`, and Debian's plugins: what every e2e test needs. */
export const canRunE2e =
  process.getuid?.() === 0 &&
  Bun.which("ip") !== null &&
  (await stat(join(PLUGIN_DIR, "bridge")).catch(() => undefined)) !== undefined;

let building: Promise<string> | undefined;

/**
 * dist/multus, rebuilt (`bun run build.ts`) when it is missing or older than
 * any file under src/ or build.ts. The build replaces the file by rename, so a
 * process still running the old binary is not disturbed.
 */
export function ensureBinary(): Promise<string> {
  building ??= (async () => {
    const built = (await stat(BINARY).catch(() => undefined))?.mtimeMs ?? 0;
    if (built === 0 || (await newestSourceMtime()) > built) {
      const proc = Bun.spawn([process.execPath, "run", "build.ts"], { cwd: REPO, stdout: "pipe", stderr: "pipe" });
      const [code, err] = await Promise.all([proc.exited, new Response(proc.stderr).text()]);
      if (code !== 0) throw new Error(`building dist/multus failed (exit ${code}): ${err}`);
    }
    return BINARY;
  })();
  return building;
}

async function newestSourceMtime(): Promise<number> {
  let newest = (await stat(join(REPO, "build.ts"))).mtimeMs;
  const files = await readdir(join(REPO, "src"), { recursive: true });
  for (const f of files) {
    if (f.endsWith(".test.ts")) continue;
    const st = await stat(join(REPO, "src", f)).catch(() => undefined);
    if (st?.isFile() && st.mtimeMs > newest) newest = st.mtimeMs;
  }
  return newest;
}

// ---------------------------------------------------------------------------
// Names and addresses

/** A random /24 in 10.100.0.0/14..10.199.0.0, as its first three octets ("10.123.45"). */
export function randomPrefix(): string {
  return `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`;
}

export function containerId(tag = "ctr"): string {
  return `${tag}-${randomSuffix(10)}`;
}

/**
 * A fresh netns for every test of the calling file: made before each test, deleted after
 * it. The fixture returned speaks for the current test's netns.
 */
export function netnsPerTest(prefix: string): NetnsFixture {
  let current: NetnsFixture | undefined;
  beforeEach(async () => {
    if (canRunE2e) current = await createNetns(prefix);
  });
  afterEach(async () => {
    if (current) await deleteNetns(current.name);
    current = undefined;
  });
  const now = (): NetnsFixture => {
    if (!current) throw new Error("netnsPerTest: there is a netns only while a test runs");
    return current;
  };
  return {
    get name() {
      return now().name;
    },
    get path() {
      return now().path;
    },
    links: () => now().links(),
    addrs: (ifname) => now().addrs(ifname),
    routes: (family) => now().routes(family),
  };
}

type Workdir = Awaited<ReturnType<typeof createWorkdir>>;

/**
 * Per test of the calling file: dist/multus built (once), a fresh workdir, and a cleanup
 * run after the test that removes the workdir and whatever the test added to it. Both
 * objects returned speak for the current test.
 */
export function workdirPerTest(): { work: Workdir; cleanup: Cleanup } {
  let current: { work: Workdir; cleanup: Cleanup } | undefined;
  beforeAll(async () => {
    if (canRunE2e) await ensureBinary();
  });
  beforeEach(async () => {
    if (!canRunE2e) return;
    const cleanup = createCleanup();
    const work = await createWorkdir();
    cleanup.add(() => work.remove());
    current = { work, cleanup };
  });
  afterEach(async () => {
    await current?.cleanup.run();
    current = undefined;
  });
  const now = () => {
    if (!current) throw new Error("workdirPerTest: there is a workdir only while a test runs");
    return current;
  };
  return {
    work: {
      get dir() {
        return now().work.dir;
      },
      get shim() {
        return now().work.shim;
      },
      remove: () => now().work.remove(),
    },
    cleanup: { add: (fn) => now().cleanup.add(fn), run: () => now().cleanup.run() },
  };
}

/** A bridge network for a NAD or the cluster: names, a random /24, IPs in `dataDir`. */
export function bridgeNet(tag: string, dataDir: string): BridgeNet {
  const s = randomSuffix(5);
  return { name: `${tag}-${s}`, bridge: `mt${tag.slice(0, 4)}${s}`, prefix: randomPrefix(), dataDir };
}

// ---------------------------------------------------------------------------
// Delegate configurations

export interface BridgeNet {
  name: string;
  bridge: string;
  /** First three octets of the /24. */
  prefix: string;
  dataDir: string;
}

/**
 * A bridge network (see bridgeNet) written as `<dir>/<name>.conflist`, IPs in `dataDir`
 * (default `<dir>/ipam`); its bridge is deleted with `cleanup`.
 */
export async function writeBridgeNetwork(o: {
  dir: string;
  tag: string;
  cleanup: Cleanup;
  dataDir?: string;
}): Promise<{ net: BridgeNet; file: string }> {
  const net = bridgeNet(o.tag, o.dataDir ?? join(o.dir, "ipam"));
  o.cleanup.add(() => deleteBridge(net.bridge));
  const file = await writeJson(join(o.dir, `${net.name}.conflist`), bridgeConflist(net));
  return { net, file };
}

/** bridge + host-local as a conflist (the usual cluster network). */
export function bridgeConflist(net: BridgeNet, cniVersion = "1.0.0"): Record<string, unknown> {
  return {
    cniVersion,
    name: net.name,
    plugins: [
      {
        type: "bridge",
        bridge: net.bridge,
        isGateway: true,
        ipam: {
          type: "host-local",
          dataDir: net.dataDir,
          ranges: [[{ subnet: `${net.prefix}.0/24` }]],
          routes: [{ dst: "0.0.0.0/0" }],
        },
      },
    ],
  };
}

export interface MacvlanNet {
  name: string;
  master: string;
  prefix: string;
  dataDir: string;
}

/** macvlan + host-local as a single conf. */
export function macvlanConf(net: MacvlanNet, cniVersion = "1.0.0"): Record<string, unknown> {
  return {
    cniVersion,
    name: net.name,
    type: "macvlan",
    master: net.master,
    mode: "bridge",
    ipam: { type: "host-local", dataDir: net.dataDir, ranges: [[{ subnet: `${net.prefix}.0/24` }]] },
  };
}

export async function writeJson(path: string, value: unknown): Promise<string> {
  await writeFile(path, JSON.stringify(value, null, 2));
  return path;
}

/**
 * A bin dir holding links to every plugin in /usr/lib/cni plus `extra`
 * (name -> target path, linked) and `scripts` (name -> shell script text).
 */
export async function createBinDir(
  dir: string,
  opts: { extra?: Record<string, string>; scripts?: Record<string, string> } = {},
): Promise<string> {
  await mkdir(dir, { recursive: true });
  for (const p of await readdir(PLUGIN_DIR)) await symlink(join(PLUGIN_DIR, p), join(dir, p));
  for (const [name, target] of Object.entries(opts.extra ?? {})) await symlink(target, join(dir, name));
  for (const [name, text] of Object.entries(opts.scripts ?? {})) {
    await writeFile(join(dir, name), text);
    await chmod(join(dir, name), 0o755);
  }
  return dir;
}

// ---------------------------------------------------------------------------
// What is left on the host

const IP_FILE = /^(\d{1,3}\.){3}\d{1,3}$|^[0-9a-f:]+:[0-9a-f:]*$/i;

/** Addresses host-local holds for `network` in `dataDir` (its lock and last_reserved files excluded). */
export async function storeIps(dataDir: string, network: string): Promise<string[]> {
  return (await listDir(join(dataDir, network))).filter((f) => IP_FILE.test(f)).sort();
}

export async function listDir(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [] as string[])).sort();
}

export async function exists(path: string): Promise<boolean> {
  return (await stat(path).catch(() => undefined)) !== undefined;
}

/** libcni result cache entries (<cniDir>/results/*) of one container. */
export async function resultCacheEntries(cniDir: string, id: string): Promise<string[]> {
  return (await listDir(join(cniDir, "results"))).filter((f) => f.includes(`-${id}-`));
}

/** The delegate cache <cniDir>/<id> as written (Go field names), or undefined. */
export async function readDelegateCacheFile(
  cniDir: string,
  id: string,
): Promise<Array<Record<string, unknown>> | undefined> {
  const text = await readFile(join(cniDir, id), "utf8").catch(() => undefined);
  return text === undefined ? undefined : (JSON.parse(text) as Array<Record<string, unknown>>);
}

export async function deleteBridge(name: string): Promise<void> {
  await $`ip link del ${name}`.nothrow().quiet();
}

/** Is a process with this pid still alive (a zombie counts as gone)? */
export async function isAlive(pid: number): Promise<boolean> {
  const st = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (st === undefined) return false;
  const state = st.slice(st.lastIndexOf(")") + 2, st.lastIndexOf(")") + 3);
  return state !== "Z" && state !== "X";
}

// ---------------------------------------------------------------------------
// Waiting and the socket

/** Polls `check` until it returns a truthy value, or throws at the deadline naming `what`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T> | T,
  timeoutMs = 5000,
  intervalMs = 20,
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await Bun.sleep(intervalMs);
  }
}

export interface SocketReply {
  status: number;
  contentType: string;
  text: string;
  json(): any;
}

/** One HTTP request to the daemon over its unix socket, as any client would send it. */
export async function socketRequest(
  socketPath: string,
  path: string,
  init: { method?: string; body?: string; headers?: Record<string, string> } = {},
): Promise<SocketReply> {
  const res = await fetch(`http://dummy${path}`, {
    unix: socketPath,
    method: init.method ?? "POST",
    body: init.body,
    headers: init.headers,
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  return { status: res.status, contentType: res.headers.get("content-type") ?? "", text, json: () => JSON.parse(text) };
}

/** The /cni body exactly as the Go multus-shim builds it: its whole environment and base64 stdin. */
export function goShimBody(env: Record<string, string>, stdin: string | Record<string, unknown>): string {
  const text = typeof stdin === "string" ? stdin : JSON.stringify(stdin);
  return JSON.stringify({ env, config: Buffer.from(text).toString("base64") });
}
