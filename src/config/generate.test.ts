import { describe, expect, test } from "bun:test";
import { CniError } from "../cni/errors.ts";
import {
  checkVersionCompatibility,
  enabledCapabilities,
  forcePrimaryVersion,
  generateMultusConf,
  pickPrimaryConfName,
  type PrimaryConf,
} from "./generate.ts";

const VERSIONS = ["0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"] as const;
const AT_LEAST_040 = (v: string) => !v.startsWith("0.3.");

function errorOf(fn: () => unknown): CniError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CniError) return err;
    throw err;
  }
  throw new Error("expected a CniError");
}

describe("pickPrimaryConfName", () => {
  const cases: Array<[string, string[], string | undefined]> = [
    ["first in byte order", ["20-b.conf", "10-a.conflist", "30-c.conf"], "10-a.conflist"],
    ["skips 00-multus*", ["00-multus.conf", "00-multus-old.conflist", "99-x.conf"], "99-x.conf"],
    [".conf and .conflist only", ["01-a.json", "02-b.conf.bak", "03-c.conflist"], "03-c.conflist"],
    ["uppercase sorts first (bytes)", ["b.conf", "B.conf"], "B.conf"],
    ["nothing usable", ["00-multus.conf", "x.json", "README"], undefined],
    ["empty dir", [], undefined],
  ];
  test.each(cases)("%s", (_name, names, want) => {
    expect(pickPrimaryConfName(names)).toBe(want);
  });
});

describe("enabledCapabilities", () => {
  const cases: Array<[string, Record<string, unknown>, string[]]> = [
    [
      "single conf, true ones only",
      { type: "x", capabilities: { portMappings: true, bandwidth: false } },
      ["portMappings"],
    ],
    [
      "list: union over plugins",
      {
        plugins: [
          { type: "a", capabilities: { portMappings: true } },
          { type: "b", capabilities: { bandwidth: true, portMappings: true } },
        ],
      },
      ["portMappings", "bandwidth"],
    ],
    [
      "list: top-level capabilities of a list are ignored (Go)",
      {
        capabilities: { ips: true },
        plugins: [{ type: "a", capabilities: { mac: true } }],
      },
      ["mac"],
    ],
    ["empty plugins list: top level", { capabilities: { ips: true }, plugins: [] }, ["ips"]],
    ["non-boolean values skipped", { capabilities: { a: "true", b: 1, c: true } }, ["c"]],
    ["capabilities not an object", { capabilities: ["a"] }, []],
    ["none", { type: "x" }, []],
  ];
  test.each(cases)("%s", (_name, raw, want) => {
    expect(enabledCapabilities(raw)).toEqual(want);
  });
});

describe("checkVersionCompatibility", () => {
  for (const top of VERSIONS) {
    for (const delegate of VERSIONS) {
      const ok = !AT_LEAST_040(top) || AT_LEAST_040(delegate);
      test(`daemon ${top}, primary ${delegate}: ${ok ? "ok" : "refused"}`, () => {
        if (ok) {
          expect(() => checkVersionCompatibility(top, { cniVersion: delegate })).not.toThrow();
        } else {
          expect(errorOf(() => checkVersionCompatibility(top, { cniVersion: delegate })).message).toBe(
            `delegate cni version is ${delegate} while top level cni version is ${top}`,
          );
        }
      });
    }
  }
  test("missing or invalid top-level version", () => {
    expect(errorOf(() => checkVersionCompatibility(undefined, { cniVersion: "1.0.0" })).msg).toBe(
      "couldn't get top level cni version",
    );
    expect(errorOf(() => checkVersionCompatibility("1.0", { cniVersion: "1.0.0" })).msg).toBe(
      "couldn't get top level cni version",
    );
  });
  test("primary without a version: an error from 0.4.0 on, ignored before", () => {
    expect(errorOf(() => checkVersionCompatibility("1.0.0", {})).msg).toBe("couldn't get cni version of delegate");
    expect(errorOf(() => checkVersionCompatibility("1.0.0", { cniVersion: 1 })).msg).toBe(
      "couldn't get cni version of delegate",
    );
    expect(errorOf(() => checkVersionCompatibility("1.0.0", { cniVersion: "x" })).msg).toBe(
      'invalid cni version of delegate "x"',
    );
    expect(() => checkVersionCompatibility("0.3.1", {})).not.toThrow();
  });
});

const PRIMARY_CONF: PrimaryConf = {
  path: "/etc/cni/net.d/10-flannel.conf",
  raw: { cniVersion: "1.0.0", name: "cbr0", type: "flannel", capabilities: { portMappings: true } },
};
const PRIMARY_LIST: PrimaryConf = {
  path: "/etc/cni/net.d/10-calico.conflist",
  raw: {
    cniVersion: "1.0.0",
    name: "k8s-pod-network",
    plugins: [
      { type: "calico" },
      { type: "portmap", capabilities: { portMappings: true } },
      { type: "bandwidth", capabilities: { bandwidth: true } },
    ],
  },
};

describe("generateMultusConf", () => {
  for (const v of VERSIONS) {
    test(`minimal daemon config, cniVersion ${v}`, () => {
      const primary = { ...PRIMARY_CONF, raw: { ...PRIMARY_CONF.raw, cniVersion: v } };
      expect(generateMultusConf(primary, { cniVersion: v })).toBe(
        `{"capabilities":{"portMappings":true},"cniVersion":"${v}","name":"multus-cni-network",` +
          `"clusterNetwork":"/etc/cni/net.d/10-flannel.conf","type":"multus-shim"}`,
      );
    });

    test(`conflist primary: capabilities of every plugin, sorted, cniVersion ${v}`, () => {
      const primary = { ...PRIMARY_LIST, raw: { ...PRIMARY_LIST.raw, cniVersion: v } };
      expect(JSON.parse(generateMultusConf(primary, { cniVersion: v }))).toEqual({
        capabilities: { bandwidth: true, portMappings: true },
        cniVersion: v,
        name: "multus-cni-network",
        clusterNetwork: "/etc/cni/net.d/10-calico.conflist",
        type: "multus-shim",
      });
      expect(Object.keys(JSON.parse(generateMultusConf(primary, { cniVersion: v })).capabilities)).toEqual([
        "bandwidth",
        "portMappings",
      ]);
    });
  }

  test("every key, in Go's order; daemon-only keys never written", () => {
    const daemon = {
      // deliberately shuffled
      overrideNetworkName: true,
      daemonSocketDir: "/run/multus/",
      auxiliaryCNIChainName: "aux",
      cniDir: "/var/lib/cni/multus",
      cniConfigDir: "/host/etc/cni/net.d",
      multusConfigFile: "auto",
      multusAutoconfigDir: "/host/etc/cni/net.d",
      multusMasterCNI: "10-flannel.conf",
      forceCNIVersion: true,
      readinessindicatorfile: "/run/ready",
      globalNamespaces: "default,kube-system",
      namespaceIsolation: true,
      logOptions: { compress: false, maxBackups: 2, extra: 1, maxAge: 3 },
      logToStderr: true,
      logLevel: "verbose",
      logFile: "/var/log/multus.log",
      cniVersion: "1.0.0",
      binDir: "/opt/cni/bin",
      chrootDir: "/hostroot",
      socketDir: "/host/run/multus/",
      systemNamespaces: ["kube-system"],
      confDir: "/x",
    };
    const text = generateMultusConf(PRIMARY_CONF, daemon);
    expect(Object.keys(JSON.parse(text))).toEqual([
      "binDir",
      "capabilities",
      "cniVersion",
      "logFile",
      "logLevel",
      "logToStderr",
      "logOptions",
      "name",
      "clusterNetwork",
      "namespaceIsolation",
      "globalNamespaces",
      "type",
      "cniDir",
      "auxiliaryCNIChainName",
      "daemonSocketDir",
      "overrideNetworkName",
    ]);
    expect(JSON.parse(text)).toMatchObject({
      name: "cbr0",
      logOptions: { maxAge: 3, maxBackups: 2, compress: false },
      daemonSocketDir: "/run/multus/",
      overrideNetworkName: true,
    });
    expect(Object.keys(JSON.parse(text).logOptions)).toEqual(["maxAge", "maxBackups", "compress"]);
  });

  test("socketDir is not daemonSocketDir (Go writes only an explicit daemonSocketDir)", () => {
    const text = generateMultusConf(PRIMARY_CONF, { cniVersion: "1.0.0", socketDir: "/host/run/multus/" });
    expect(JSON.parse(text).daemonSocketDir).toBeUndefined();
  });

  test("false and empty values are left out", () => {
    const text = generateMultusConf(PRIMARY_CONF, {
      cniVersion: "1.0.0",
      binDir: "",
      logToStderr: false,
      namespaceIsolation: false,
      overrideNetworkName: false,
      globalNamespaces: "",
    });
    expect(Object.keys(JSON.parse(text))).toEqual(["capabilities", "cniVersion", "name", "clusterNetwork", "type"]);
  });

  test("no capabilities anywhere: the key is left out", () => {
    const primary = { path: "/p/10-x.conf", raw: { cniVersion: "1.0.0", name: "x", type: "bridge" } };
    expect(generateMultusConf(primary, { cniVersion: "1.0.0" })).toBe(
      '{"cniVersion":"1.0.0","name":"multus-cni-network","clusterNetwork":"/p/10-x.conf","type":"multus-shim"}',
    );
  });

  test("the daemon config's own capabilities are kept (false too, as Go decodes them) and the primary's added", () => {
    const text = generateMultusConf(PRIMARY_CONF, {
      cniVersion: "1.0.0",
      capabilities: { ips: true, mac: false, portMappings: false },
    });
    expect(JSON.parse(text).capabilities).toEqual({ ips: true, mac: false, portMappings: true });
  });

  test("the daemon config may set type", () => {
    expect(JSON.parse(generateMultusConf(PRIMARY_CONF, { cniVersion: "1.0.0", type: "multus" })).type).toBe("multus");
  });

  test("overrideNetworkName takes the primary's name; a primary without one is an error", () => {
    expect(JSON.parse(generateMultusConf(PRIMARY_LIST, { cniVersion: "1.0.0", overrideNetworkName: true })).name).toBe(
      "k8s-pod-network",
    );
    const nameless = { path: "/p/x.conf", raw: { cniVersion: "1.0.0", type: "bridge" } };
    expect(errorOf(() => generateMultusConf(nameless, { cniVersion: "1.0.0", overrideNetworkName: true })).msg).toBe(
      "could not override the network name",
    );
  });

  test("cniVersion is mandatory", () => {
    expect(errorOf(() => generateMultusConf(PRIMARY_CONF, {})).msg).toContain(
      "the CNI version is a mandatory parameter",
    );
  });

  test("version mismatch is refused with Go's text", () => {
    const old = { ...PRIMARY_CONF, raw: { ...PRIMARY_CONF.raw, cniVersion: "0.3.1" } };
    expect(errorOf(() => generateMultusConf(old, { cniVersion: "0.4.0" })).msg).toBe(
      "delegate cni version is 0.3.1 while top level cni version is 0.4.0",
    );
    expect(() => generateMultusConf(old, { cniVersion: "0.3.1" })).not.toThrow();
  });

  test("forceCNIVersion makes an old primary acceptable", () => {
    const old = { ...PRIMARY_CONF, raw: { ...PRIMARY_CONF.raw, cniVersion: "0.3.1" } };
    const forced = { ...old, raw: forcePrimaryVersion(old.raw, "1.0.0") };
    expect(forced.raw).toEqual({ ...PRIMARY_CONF.raw, cniVersion: "1.0.0" });
    expect(Object.keys(forced.raw)).toEqual(Object.keys(old.raw));
    expect(() => generateMultusConf(forced, { cniVersion: "1.0.0", forceCNIVersion: true })).not.toThrow();
    expect(forcePrimaryVersion(forced.raw, "1.0.0")).toBe(forced.raw);
  });

  test("strings are escaped like Go's json.Marshal", () => {
    const primary = { path: "/p/a<b>&c.conf", raw: { cniVersion: "1.0.0", type: "x" } };
    expect(generateMultusConf(primary, { cniVersion: "1.0.0" })).toContain(
      '"clusterNetwork":"/p/a\\u003cb\\u003e\\u0026c.conf"',
    );
  });
});
