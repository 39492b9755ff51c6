// scripts/demo.sh, as a user runs it: it exits 0, shows the pod's
// network-status with both NADs (the static IP on the custom interface name),
// and removes what it made; interrupted half-way, its trap removes it all too.
import { beforeAll, describe, expect, test } from "bun:test";
import { readdir, readFile, stat } from "node:fs/promises";
import { resolve } from "node:path";
import { $ } from "bun";
import { canRunE2e, ensureBinary, waitFor } from "../helpers/e2e.ts";

const REPO = resolve(import.meta.dir, "../..");

beforeAll(async () => {
  if (canRunE2e) await ensureBinary();
});

function runDemo(env: Record<string, string> = {}) {
  const proc = Bun.spawn(["bash", "scripts/demo.sh"], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin", DEMO_SKIP_SETUP: "1", ...env },
    stdin: "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  let out = "";
  let err = "";
  const drain = async (s: ReadableStream<Uint8Array>, add: (t: string) => void) => {
    const dec = new TextDecoder();
    for await (const chunk of s) add(dec.decode(chunk));
  };
  const done = Promise.all([drain(proc.stdout, (t) => (out += t)), drain(proc.stderr, (t) => (err += t))]);
  return { proc, done, out: () => out, err: () => err };
}

/** What the demo names in its first line: its work dir, netns and host links. */
function made(out: string): { dir: string; netns: string; links: string[] } {
  const m = /demo: work dir (\S+), netns (\S+), links (\S+) (\S+) (\S+)/.exec(out);
  if (!m) throw new Error(`no "work dir" line in: ${out}`);
  return { dir: m[1]!, netns: m[2]!, links: [m[3]!, m[4]!, m[5]!] };
}

/** Everything the demo made is gone: the netns, every link, the work dir, every process using it. */
async function expectGone(o: { dir: string; netns: string; links: string[] }): Promise<void> {
  expect(await readdir("/var/run/netns").catch(() => [])).not.toContain(o.netns);
  for (const l of o.links) expect((await $`ip link show ${l}`.nothrow().quiet()).exitCode, l).not.toBe(0);
  expect(await stat(o.dir).catch(() => undefined)).toBeUndefined();
  const users: string[] = [];
  for (const pid of await readdir("/proc")) {
    if (!/^\d+$/.test(pid)) continue;
    const cmd = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    if (cmd.includes(o.dir)) users.push(`${pid}: ${cmd.replaceAll("\0", " ")}`);
  }
  expect(users).toEqual([]);
}

describe.skipIf(!canRunE2e)("scripts/demo.sh", () => {
  test("attaches both NADs through the daemon and the API stand-in, then removes everything", async () => {
    const d = runDemo();
    const code = await d.proc.exited;
    await d.done;
    expect(code, `${d.out()}\n${d.err()}`).toBe(0);
    const out = d.out();
    // The network-status annotation as the API returns it: the cluster network and both NADs.
    const status = /network-status annotation, read back from the API\S*\n(\[[\s\S]*?\n\])/.exec(out);
    expect(status, out).not.toBeNull();
    const entries = JSON.parse(status![1]!) as Array<{ name: string; interface: string; ips: string[] }>;
    expect(entries.map((e) => e.name)).toEqual(["cluster", "default/macvlan-net", "default/bridge-net"]);
    expect(entries[1]).toMatchObject({ interface: "data0", ips: ["192.168.77.50"] });
    expect(entries[2]!.interface).toBe("net2");
    expect(out).toMatch(/data0@\S+\s+UP\s+192\.168\.77\.50\/24/);
    // `multus validate` on the same files said the same before ADD.
    expect(out).toMatch(/^data0\s+default\/macvlan-net\s+network\s+macvlan\s+1\.0\.0\s+ips=192\.168\.77\.50\/24$/m);
    expect(out).toMatch(/^net2\s+default\/bridge-net\s+network\s+bridge\b/m);
    expect(out).toContain("ok: the daemon would attach these networks");
    // `multus status` of the running daemon: ready, its informers listed the pod and both NADs.
    expect(out).toMatch(/^ready\s+yes$/m);
    expect(out).toMatch(/informer pods\s+synced, 1 cached/);
    expect(out).toMatch(/informer network-attachment-definitions\s+synced, 2 cached/);
    expect(out).toContain("host-local leases left: 0; cache files left: 0");
    expect(out).toContain("demo: everything it made is gone");
    await expectGone(made(out));
  }, 60_000);

  test("interrupted after ADD (Ctrl-C), the trap removes the netns, links, processes and files", async () => {
    const d = runDemo({ DEMO_PAUSE: "1" });
    try {
      await waitFor("the demo to pause after ADD", () => d.out().includes("press Enter to DEL"), 30_000);
    } catch (err) {
      d.proc.kill("SIGKILL");
      throw new Error(`${(err as Error).message}: ${d.out()}\n${d.err()}`);
    }
    const what = made(d.out());
    expect(await readdir("/var/run/netns")).toContain(what.netns);
    d.proc.kill("SIGINT");
    expect(await d.proc.exited).toBe(130);
    await d.done;
    await expectGone(what);
  }, 60_000);
});
