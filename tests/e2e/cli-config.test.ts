// `multus config generate` through the compiled binary: for every good daemon
// config the bytes it prints are the bytes a daemon started on the same config
// writes into cniConfigDir; a bad config exits 1 naming what is wrong, as the
// daemon would at start; nothing is ever written.
import { afterEach, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { createWorkdir, runMultus, startDaemon, type DaemonHandle } from "../helpers/multus.ts";
import { canRunE2e, ensureBinary, exists, waitFor, writeJson } from "../helpers/e2e.ts";

let work: Awaited<ReturnType<typeof createWorkdir>>;
let netd = "";
let daemon: DaemonHandle | undefined;

beforeAll(async () => {
  if (canRunE2e) await ensureBinary();
});
beforeEach(async () => {
  if (!canRunE2e) return;
  work = await createWorkdir();
  netd = join(work.dir, "net.d");
  await mkdir(netd);
});
afterEach(async () => {
  if (!canRunE2e) return;
  await daemon?.stop("SIGKILL").catch(() => undefined);
  daemon = undefined;
  await work.remove();
});

const bridgeList = (extra: Record<string, unknown> = {}) => ({
  cniVersion: "1.0.0",
  name: "cbr",
  plugins: [{ type: "bridge", bridge: "cbr0", capabilities: { portMappings: true, bandwidth: false } }],
  ...extra,
});

interface GoodCase {
  name: string;
  /** Files of net.d, by name. */
  files: Record<string, unknown>;
  /** Daemon config keys besides the test's own dirs (`dir`: the test's temp dir). */
  config: (dir: string) => Record<string, unknown>;
  /** Passed as --primary (a name in net.d). */
  primary?: string;
  /** The file the daemon writes (default 00-multus.conf). */
  written?: string;
}

const GOOD: GoodCase[] = [
  { name: "the first conflist, its capabilities", files: { "10-br.conflist": bridgeList() }, config: () => ({}) },
  {
    name: "every key Go writes, in Go's order",
    files: { "20-z.conf": { cniVersion: "1.0.0", name: "z", type: "bridge" }, "10-br.conflist": bridgeList() },
    config: (dir) => ({
      binDir: "/opt/x/bin",
      capabilities: { ips: true, mac: false },
      logFile: join(dir, "multus.log"),
      logLevel: "debug",
      logToStderr: true,
      logOptions: { maxAge: 5, compress: true },
      namespaceIsolation: true,
      globalNamespaces: "a,b",
      cniDir: join(dir, "cache"),
      auxiliaryCNIChainName: "aux",
      daemonSocketDir: "/run/x/",
      overrideNetworkName: true,
    }),
  },
  {
    name: "multusMasterCNI picks a later file",
    files: { "10-br.conflist": bridgeList(), "30-other.conf": { cniVersion: "1.0.0", name: "o", type: "ptp" } },
    config: () => ({ multusMasterCNI: "30-other.conf" }),
  },
  {
    name: "forceCNIVersion over an older primary (applied in memory by generate)",
    files: { "10-old.conf": { cniVersion: "0.3.1", name: "old", type: "bridge" } },
    config: () => ({ forceCNIVersion: true }),
  },
  {
    name: "--primary names the file the daemon would pick anyway",
    files: { "10-br.conflist": bridgeList() },
    config: () => ({}),
    primary: "10-br.conflist",
  },
  {
    name: "a user-provided multusConfigFile is copied as it is",
    files: {},
    config: (dir) => ({ multusConfigFile: join(dir, "70-user.conflist") }),
    written: "70-user.conflist",
  },
];

describe.skipIf(!canRunE2e)("multus config generate: the same bytes as the daemon writes", () => {
  test.each(GOOD)("$name", async (c) => {
    for (const [name, value] of Object.entries(c.files)) await writeJson(join(netd, name), value);
    const user = join(work.dir, "70-user.conflist");
    await writeFile(user, `{"cniVersion": "1.0.0",\n "name": "user", "plugins": [{"type": "bridge"}]}\n`);
    const configPath = join(work.dir, "daemon-config.json");
    const config = {
      socketDir: join(work.dir, "run"),
      cniVersion: "1.0.0",
      cniConfigDir: netd,
      primaryConfTimeoutSeconds: 2,
      multusConfigFile: "auto",
      ...c.config(work.dir),
    };
    await writeFile(configPath, JSON.stringify(config));
    const primaries = await snapshot(netd);

    const args = [
      "config",
      "generate",
      "--config",
      configPath,
      ...(c.primary ? ["--primary", join(netd, c.primary)] : []),
    ];
    const generated = await runMultus(args);
    expect(generated.stderr).toContain(join(netd, c.written ?? "00-multus.conf"));
    expect(generated.code).toBe(0);
    expect(await snapshot(netd)).toEqual(primaries); // nothing written, no primary rewritten

    daemon = await startDaemon(work.dir, config);
    const written = join(netd, c.written ?? "00-multus.conf");
    await waitFor(`the daemon to write ${written}`, () => exists(written));
    expect(generated.stdout).toBe(await readFile(written, "utf8"));
  });
});

interface BadCase {
  name: string;
  files: Record<string, unknown>;
  /** The daemon config file's text. */
  config: string;
  extraArgs?: string[];
  /** What stderr must say. */
  says: RegExp;
}

const dirs = () => `"cniConfigDir": ${JSON.stringify(netd)}, "primaryConfTimeoutSeconds": 1`;
const BAD: Array<Omit<BadCase, "config"> & { config: () => string }> = [
  {
    name: "no cniVersion in auto mode",
    files: { "10-br.conflist": bridgeList() },
    config: () => `{${dirs()}}`,
    says: /CNI version is a mandatory parameter/,
  },
  {
    name: "no primary in cniConfigDir (generate does not wait)",
    files: {},
    config: () => `{"cniVersion": "1.0.0", ${dirs()}}`,
    says: /could not find a plugin configuration in /,
  },
  {
    name: "a JSON syntax error, with its line",
    files: { "10-br.conflist": bridgeList() },
    config: () => `{\n  "cniVersion": "1.0.0",\n  ${dirs()},\n}`,
    says: /line 4/,
  },
  {
    name: "a log level that does not exist",
    files: { "10-br.conflist": bridgeList() },
    config: () => `{"cniVersion": "1.0.0", "logLevel": "verbos", ${dirs()}}`,
    says: /logLevel.*"verbos" is not a log level/,
  },
  {
    name: "a primary older than 0.4.0 under a 1.0.0 top level",
    files: { "10-old.conf": { cniVersion: "0.3.1", name: "old", type: "bridge" } },
    config: () => `{"cniVersion": "1.0.0", ${dirs()}}`,
    says: /delegate cni version is 0.3.1 while top level cni version is 1.0.0/,
  },
  {
    name: "overrideNetworkName with a nameless primary",
    files: { "10-x.conf": { cniVersion: "1.0.0", type: "bridge" } },
    config: () => `{"cniVersion": "1.0.0", "overrideNetworkName": true, ${dirs()}}`,
    says: /could not override the network name/,
  },
  {
    name: 'multusConfigFile "": the daemon writes nothing',
    files: {},
    config: () => `{"multusConfigFile": "", ${dirs()}}`,
    says: /writes no configuration file/,
  },
  {
    name: "--primary without auto mode",
    files: {},
    config: () => `{"multusConfigFile": "", ${dirs()}}`,
    extraArgs: ["--primary", "/etc/x.conf"],
    says: /--primary applies only when multusConfigFile is "auto"/,
  },
  {
    name: "--primary that does not exist",
    files: {},
    config: () => `{"cniVersion": "1.0.0", ${dirs()}}`,
    extraArgs: ["--primary", "/nonexistent/10-x.conf"],
    says: /\/nonexistent\/10-x.conf/,
  },
];

describe.skipIf(!canRunE2e)("multus config generate: a bad config exits 1 and says why", () => {
  test.each(BAD)("$name", async (c) => {
    for (const [name, value] of Object.entries(c.files)) await writeJson(join(netd, name), value);
    const configPath = join(work.dir, "daemon-config.json");
    await writeFile(configPath, c.config());
    const r = await runMultus(["config", "generate", "--config", configPath, ...(c.extraArgs ?? [])]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 1, stdout: "" });
    expect(r.stderr).toMatch(c.says);
    expect(await readdir(netd)).not.toContain("00-multus.conf");
  });

  test("a missing config file names the path", async () => {
    const r = await runMultus(["config", "generate", "--config", join(work.dir, "missing.json")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(join(work.dir, "missing.json"));
  });

  test("--help says what it does; `multus config` alone lists generate and exits 2", async () => {
    const help = await runMultus(["config", "generate", "--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("multus config generate");
    expect(help.stdout).toContain("--primary");
    expect(help.stdout).toContain("EXAMPLES");
    const group = await runMultus(["config"]);
    expect(group.code).toBe(2);
    expect(group.stderr).toContain("generate");
  });
});

/** Every file of `dir` with its content: a generate that writes or rewrites anything changes it. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of (await readdir(dir)).sort()) out[f] = await readFile(join(dir, f), "utf8");
  return out;
}
