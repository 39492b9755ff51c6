import { describe, expect, test } from "bun:test";
import { MultusConfSchema } from "../multus/netconf.ts";
import { thrown } from "../../tests/helpers/thrown.ts";
import { describeUnknownKey, parseDaemonConfig } from "./daemon-config.ts";
import { closestKey } from "../util/closest.ts";

const parse = (value: unknown) => parseDaemonConfig(JSON.stringify(value), [MultusConfSchema]);

describe("daemon configuration: logLevel", () => {
  test.each(["panic", "error", "verbose", "debug", "DEBUG", "Verbose", ""])("%p is accepted", (logLevel) => {
    expect(parse({ logLevel }).config.logLevel).toBe(logLevel);
  });

  test.each(["verbos", "info", "warning", "trace"])(
    "%p is refused naming the key and every accepted value",
    (logLevel) => {
      const err = thrown(() => parse({ logLevel }));
      expect(err.message).toContain('"logLevel"');
      expect(err.message).toContain(JSON.stringify(logLevel));
      for (const level of ["panic", "error", "verbose", "debug"]) expect(err.message).toContain(level);
    },
  );
});

describe("daemon configuration: unknown keys", () => {
  test.each([
    ["metricPort", "metricsPort"],
    ["loglevel", "logLevel"],
    ["cniConfDir", "cniConfigDir"],
    ["readinessIndicatorFile", "readinessindicatorfile"],
    ["namespaceIsolaton", "namespaceIsolation"],
    ["socketdir", "socketDir"],
  ])("%p is allowed, kept in raw, and reported with the closest known key %p", (key, closest) => {
    const loaded = parse({ [key]: 1 });
    expect(loaded.raw[key]).toBe(1);
    expect(loaded.unknownKeys).toEqual([{ key, closest }]);
    expect(describeUnknownKey(loaded.unknownKeys[0] as never)).toBe(`"${key}": did you mean "${closest}"?`);
  });

  test("a key near nothing known is reported without a suggestion", () => {
    const loaded = parse({ myCompanyTag: "x" });
    expect(loaded.unknownKeys).toEqual([{ key: "myCompanyTag", closest: undefined }]);
    expect(describeUnknownKey({ key: "myCompanyTag" })).toBe('"myCompanyTag"');
  });

  test("keys the daemon, the per-request config or the shim read are not unknown", () => {
    const loaded = parse({
      chrootDir: "/hostroot",
      socketDir: "/host/run/multus/",
      metricsPort: 9091,
      logLevel: "verbose",
      logOptions: { maxSize: 10 },
      confDir: "/etc/cni/multus/net.d",
      binDir: "/opt/cni/bin",
      clusterNetwork: "x",
      namespaceIsolation: true,
      globalNamespaces: "a,b",
      daemonSocketDir: "/run/multus",
      daemonReadyTimeoutSeconds: 5,
      nodeName: "n1",
      cniVersion: "1.0.0",
    });
    expect(loaded.unknownKeys).toEqual([]);
  });

  test("closestKey ignores case and refuses far-off names", () => {
    expect(closestKey("METRICSPORT", ["metricsPort", "logFile"])).toBe("metricsPort");
    expect(closestKey("colour", ["metricsPort", "logFile"])).toBeUndefined();
  });
});

describe("daemon configuration: JSON syntax errors name line and column", () => {
  test.each([
    ['{\n  "logLevel": "debug",\n}\n', "line 3, column 1"],
    ['{\n  "socketDir": "/run/multus/"\n  "metricsPort": 9091\n}', "line 3, column 3"],
    ["{ this is not json", "line 1, column 3"],
  ])("%p", (text, where) => {
    const err = thrown(() => parseDaemonConfig(text));
    expect(err.message).toContain("failed to decode daemon configuration");
    expect(err.message).toContain(where);
  });
});
