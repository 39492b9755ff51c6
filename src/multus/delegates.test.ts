// The auxiliary chain as resolveDelegates builds it from
// files: passthru plus the chain directory's plugin confs, appended last.
import { afterEach, beforeEach, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as v from "valibot";
import { CniError, ErrorCode } from "../cni/errors.ts";
import { MultusConfSchema } from "./netconf.ts";
import { AUXILIARY_CHAIN_HEAD, resolveDelegates } from "./delegates.ts";
import { readDelegateCache, writeDelegateCache } from "./delegate-cache.ts";

const VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
const AUX = "vendor-cni-chain";

let dir: string;
let clusterFile: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "multus-aux-"));
  clusterFile = join(dir, "10-cluster.conflist");
  await writeJson(clusterFile, { cniVersion: "1.0.0", name: "cluster", plugins: [{ type: "bridge", bridge: "br0" }] });
});
afterEach(() => rm(dir, { recursive: true, force: true }));

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, JSON.stringify(value));
}

/** `<dir>/<AUX>/` with the given files (name -> JSON value, or raw text). */
async function auxDir(files: Record<string, unknown>, base = dir, name = AUX): Promise<string> {
  const d = join(base, name);
  await mkdir(d, { recursive: true });
  for (const [f, value] of Object.entries(files))
    await writeFile(join(d, f), typeof value === "string" ? value : JSON.stringify(value));
  return d;
}

const multusConf = (extra: Record<string, unknown>) =>
  v.parse(MultusConfSchema, {
    cniVersion: "1.0.0",
    name: "multus-cni-network",
    clusterNetwork: clusterFile,
    auxiliaryCNIChainName: AUX,
    ...extra,
  });

describe("auxiliaryCNIChainName", () => {
  test.each(VERSIONS)(
    "multus cniVersion %s: passthru, then the chain dir's .conf files in order, as the last delegate",
    async (cniVersion) => {
      await auxDir({
        "20-second.conf": { type: "tuning", sysctl: { "net.ipv4.conf.eth0.arp_filter": "1" } },
        "10-first.conf": { type: "recorder", custom: { keep: [1, 2] } },
        "30-ignored.json": { type: "ignored" },
        "40-ignored.conflist": { name: "x", plugins: [{ type: "ignored" }] },
      });
      await mkdir(join(dir, AUX, "50-subdir.conf")); // not a file: skipped
      const delegates = await resolveDelegates({ conf: multusConf({ cniVersion }), ifname: "eth0" });
      expect(delegates.map((d) => [d.name, d.ifname, d.role])).toEqual([
        ["cluster", "eth0", "cluster"],
        [AUX, "net1", "auxiliary"],
      ]);
      const aux = delegates[1]!;
      expect(aux.isConfList).toBe(true);
      expect(aux.selection).toBeUndefined();
      expect(aux.list.name).toBe(AUX);
      expect(aux.list.cniVersion).toBe(cniVersion);
      expect(aux.list.plugins).toEqual([
        { type: "passthru", name: "passthru-cni" },
        { type: "recorder", custom: { keep: [1, 2] } },
        { type: "tuning", sysctl: { "net.ipv4.conf.eth0.arp_filter": "1" } },
      ]);
      // Go's conflist text, with the chain's plugins after passthru; the bytes are what is cached for DEL.
      expect(JSON.parse(aux.bytes)).toEqual({ cniVersion, name: AUX, plugins: aux.list.plugins });
      expect(
        aux.bytes.startsWith(
          `{"cniVersion":"${cniVersion}","name":"${AUX}","plugins":[{"type":"passthru","name":"passthru-cni"}`,
        ),
      ).toBe(true);
    },
  );

  test("after the default networks its interface is net<i>, i its index in the full list", async () => {
    await auxDir({ "10-tuning.conf": { type: "tuning" } });
    const extra = join(dir, "20-extra.conf");
    await writeJson(extra, { cniVersion: "1.0.0", name: "extra", type: "macvlan" });
    const delegates = await resolveDelegates({ conf: multusConf({ defaultNetworks: [extra] }), ifname: "eth0" });
    expect(delegates.map((d) => [d.name, d.ifname])).toEqual([
      ["cluster", "eth0"],
      ["extra", "net1"],
      [AUX, "net2"],
    ]);
  });

  test("clusterNetwork given as a directory: the chain dir is inside it", async () => {
    await auxDir({ "10-tuning.conf": { type: "tuning" } });
    const delegates = await resolveDelegates({ conf: multusConf({ clusterNetwork: dir }), ifname: "eth0" });
    expect(delegates.map((d) => d.name)).toEqual(["cluster", AUX]);
  });

  test.each([
    ["no chain dir", async () => undefined],
    ["an empty chain dir", async () => void (await auxDir({}))],
    ["a chain dir with no .conf file", async () => void (await auxDir({ "10-tuning.json": { type: "tuning" } }))],
  ])("%s: no auxiliary delegate (passthru alone adds nothing)", async (_, setup) => {
    await setup();
    const delegates = await resolveDelegates({ conf: multusConf({}), ifname: "eth0" });
    expect(delegates.map((d) => d.name)).toEqual(["cluster"]);
  });

  test("clusterNetwork that is not a path (a conf name in confDir): no auxiliary delegate", async () => {
    await auxDir({ "10-tuning.conf": { type: "tuning" } });
    const delegates = await resolveDelegates({
      conf: multusConf({ clusterNetwork: "cluster", confDir: dir }),
      ifname: "eth0",
    });
    expect(delegates.map((d) => d.name)).toEqual(["cluster"]);
  });

  test("static delegates (no clusterNetwork): no auxiliary delegate", async () => {
    await auxDir({ "10-tuning.conf": { type: "tuning" } });
    const conf = multusConf({
      clusterNetwork: undefined,
      delegates: [{ cniVersion: "1.0.0", name: "static", type: "bridge" }],
    });
    const delegates = await resolveDelegates({ conf, ifname: "eth0" });
    expect(delegates.map((d) => d.name)).toEqual(["static"]);
  });

  test("a chain name libcni would not look up (not a network name) has no plugins", async () => {
    await auxDir({ "10-tuning.conf": { type: "tuning" } }, dir, "bad name");
    const delegates = await resolveDelegates({
      conf: multusConf({ auxiliaryCNIChainName: "bad name" }),
      ifname: "eth0",
    });
    expect(delegates.map((d) => d.name)).toEqual(["cluster"]);
    const up = await resolveDelegates({ conf: multusConf({ auxiliaryCNIChainName: "../x" }), ifname: "eth0" });
    expect(up.map((d) => d.name)).toEqual(["cluster"]);
  });

  test("a plugin conf without type is a config error (code 7); DEL's rebuild may leave the chain out", async () => {
    await auxDir({ "10-broken.conf": { name: "no-type" } });
    const err = await resolveDelegates({ conf: multusConf({}), ifname: "eth0" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CniError);
    expect((err as CniError).code).toBe(ErrorCode.InvalidConfig);
    const skipped: string[] = [];
    const delegates = await resolveDelegates({
      conf: multusConf({}),
      ifname: "eth0",
      skipUnresolvable: (network) => {
        skipped.push(network);
        return true;
      },
    });
    expect(delegates.map((d) => d.name)).toEqual(["cluster"]);
    expect(skipped).toEqual([`auxiliary chain ${AUX}`]);
  });

  test("the delegate cache keeps the whole chain, its interface and that it is the auxiliary one", async () => {
    await auxDir({ "10-tuning.conf": { type: "tuning", mtu: 1400 } });
    const delegates = await resolveDelegates({ conf: multusConf({}), ifname: "eth0" });
    const cniDir = join(dir, "cache");
    await writeDelegateCache(
      cniDir,
      "ctr1",
      delegates.map((delegate) => ({ delegate, runtimeConfig: {} })),
    );
    const back = await readDelegateCache({ cniDir, containerId: "ctr1", requestIfname: "eth0" });
    expect(back?.map((e) => [e.delegate.name, e.delegate.ifname, e.delegate.role])).toEqual([
      ["cluster", "eth0", "cluster"],
      [AUX, "net1", "auxiliary"],
    ]);
    expect(back![1]!.delegate.list.plugins).toEqual([{ ...AUXILIARY_CHAIN_HEAD }, { type: "tuning", mtu: 1400 }]);
    expect(back![1]!.delegate.bytes).toBe(delegates[1]!.bytes);
  });
});
