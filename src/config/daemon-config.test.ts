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

describe("daemon configuration: logFormat and logOptions", () => {
  test.each(["text", "json"])("%p is accepted", (logFormat) => {
    expect(parse({ logFormat }).config.logFormat).toBe(logFormat);
  });

  test.each(["JSON", "logfmt", ""])("%p is refused naming the key and the accepted values", (logFormat) => {
    const err = thrown(() => parse({ logFormat }));
    expect(err.message).toContain('"logFormat"');
    expect(err.message).toContain("accepted: text, json");
  });

  test("a negative logOptions.maxAge is refused naming the field", () => {
    expect(thrown(() => parse({ logOptions: { maxAge: -1 } })).message).toContain("logOptions.maxAge");
  });
});

describe("daemon configuration: keys in another case, as Go's JSON decoding matches them", () => {
  test.each([
    ["LogLevel", "logLevel", "debug"],
    ["loglevel", "logLevel", "debug"],
    ["SocketDir", "socketDir", "/run/x"],
    ["CNIConfigDir", "cniConfigDir", "/etc/x"],
    ["readinessIndicatorFile", "readinessindicatorfile", "/r"],
    ["NamespaceIsolation", "namespaceIsolation", true],
  ])("%p is read as %p, reaches requests under that name, and is not reported", (key, canonical, value) => {
    const loaded = parse({ [key]: value });
    expect(loaded.raw).toEqual({ [canonical]: value });
    expect(loaded.unknownKeys).toEqual([]);
    if (canonical in loaded.config) expect((loaded.config as Record<string, unknown>)[canonical]).toBe(value);
  });

  test("a misspelt value under another case is still refused naming the key", () => {
    expect(thrown(() => parse({ LogLevel: "verbos" })).message).toContain('"logLevel"');
  });

  test("of two spellings of one key the later wins, as in Go", () => {
    expect(parse({ logLevel: "error", LOGLEVEL: "debug" }).config.logLevel).toBe("debug");
    expect(parse({ LOGLEVEL: "debug", logLevel: "error" }).config.logLevel).toBe("error");
  });

  test("unknown keys keep their spelling", () => {
    expect(parse({ MyPluginKey: 1 }).raw).toEqual({ MyPluginKey: 1 });
  });

  test("nested keys too: perNodeCertificate and logOptions fields in any case", () => {
    const loaded = parse({
      PerNodeCertificate: { Enabled: true, BOOTSTRAPKUBECONFIG: "/b", certdir: "/c", CertDuration: "1h", Extra: 1 },
      LogOptions: { MaxAge: 3, maxsize: 10 },
    });
    expect(loaded.raw).toEqual({
      perNodeCertificate: { enabled: true, bootstrapKubeconfig: "/b", certDir: "/c", certDuration: "1h", Extra: 1 },
      logOptions: { maxAge: 3, maxSize: 10 },
    });
    expect(loaded.config.perNodeCertificate).toMatchObject({ enabled: true, certDir: "/c", certDuration: "1h" });
    expect(loaded.unknownKeys).toEqual([]);
  });

  test("a wrong nested value under another case is refused naming the canonical field", () => {
    expect(thrown(() => parse({ logOptions: { MaxAge: -1 } })).message).toContain("logOptions.maxAge");
  });
});

describe("daemon configuration: unknown keys", () => {
  test.each([
    ["metricPort", "metricsPort"],
    ["logLevl", "logLevel"],
    ["cniConfDir", "cniConfigDir"],
    ["readinessIndicatorFil", "readinessindicatorfile"],
    ["namespaceIsolaton", "namespaceIsolation"],
    ["socketDirs", "socketDir"],
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

describe("daemon configuration: perNodeCertificate", () => {
  test("certDuration defaults to Go's 10m; disabled needs no paths", () => {
    expect(parse({ perNodeCertificate: {} }).config.perNodeCertificate).toEqual({
      enabled: false,
      certDuration: "10m",
    });
  });

  test("enabled with both paths and a Go duration is accepted", () => {
    const perNodeCertificate = { enabled: true, bootstrapKubeconfig: "/b", certDir: "/c", certDuration: "1h30m" };
    expect(parse({ perNodeCertificate }).config.perNodeCertificate).toEqual(perNodeCertificate);
  });

  test.each([{ certDir: "/c" }, { bootstrapKubeconfig: "/b" }])("enabled without both paths is refused: %p", (p) => {
    const err = thrown(() => parse({ perNodeCertificate: { enabled: true, ...p } }));
    expect(err.message).toContain("perNodeCertificate");
    expect(err.message).toContain("bootstrapKubeconfig and certDir");
  });

  test.each(["10", "1d", "0", "-5m"])("certDuration %p is refused naming the field", (certDuration) => {
    const err = thrown(() => parse({ perNodeCertificate: { certDuration } }));
    expect(err.message).toContain("perNodeCertificate.certDuration");
  });
});
