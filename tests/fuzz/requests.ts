// Request bodies for POST /cni and /delegate, each either valid or wrong in
// exactly one way with the answer the daemon owes it (code and a word the message
// must contain). Shared by the in-process handler properties and the e2e fuzz.
import { CNI_COMMANDS, CNI_IDENTIFIER, REQUIRED_ENV } from "../../src/cni/spec.ts";
import { deepJsonText, fc, hostileJsonValue, hostileText, hugeText, invalidUtf8, labelled, mutated } from "./fc.ts";

export type Expected = { code: number; mentions: string } | "valid";

export interface BodyCase {
  body: string;
  /** POST /delegate instead of /cni. */
  isDelegate: boolean;
  expected: Expected;
  /** What is wrong, for the counterexample. */
  fault: string;
}

/** The type of the one delegate of a valid config: the test installs a recording plugin under this name. */
export const RECORDER_TYPE = "fuzz-recorder";

const utf8 = (s: string) => new TextEncoder().encode(s);
const b64 = (bytes: Uint8Array | string) =>
  Buffer.from(typeof bytes === "string" ? utf8(bytes) : bytes).toString("base64");

export function validConf(): Record<string, unknown> {
  return {
    cniVersion: "1.0.0",
    name: "multus-cni-network",
    type: "multus-shim",
    delegates: [{ cniVersion: "1.0.0", name: "fuzz-net", type: RECORDER_TYPE }],
  };
}

export function validEnv(containerId: string, netns: string): Record<string, string> {
  return {
    CNI_COMMAND: "ADD",
    CNI_CONTAINERID: containerId,
    CNI_NETNS: netns,
    CNI_IFNAME: "eth0",
    CNI_PATH: "/opt/cni/bin",
    CNI_ARGS: "IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=fuzz",
  };
}

/**
 * The variables wrong for the command (missing or invalid), empty when the env is
 * fine. The error may name any of them: the skel reports an invalid value at once and
 * missing ones together, in the order of the spec's table.
 */
export function envProblems(env: Record<string, string | undefined>): string[] {
  const command = env.CNI_COMMAND ?? "";
  if (!(CNI_COMMANDS as readonly string[]).includes(command)) return ["CNI_COMMAND"];
  const problems: string[] = [];
  for (const name of REQUIRED_ENV[command as keyof typeof REQUIRED_ENV]) {
    const value = env[name] ?? "";
    if (value === "") problems.push(name);
    else if (name === "CNI_CONTAINERID" && !CNI_IDENTIFIER.test(value)) problems.push(name);
    else if (name === "CNI_IFNAME") {
      const bytes = utf8(value).length;
      if (bytes > 15 || value === "." || value === ".." || /[\s/:]/.test(value)) problems.push(name);
    }
  }
  return problems;
}

/** Printed short in a counterexample when the body is long. */
function bodyCase(c: BodyCase): BodyCase {
  if (c.body.length <= 2000) return c;
  return labelled(c, `{fault: ${JSON.stringify(c.fault)}, body: <${c.body.length} chars: ${c.body.slice(0, 120)}...>}`);
}

const envValue = fc.oneof(
  { weight: 2, arbitrary: fc.constantFrom("", "ctr1", "eth0", "/opt/cni/bin", "net1", "a.b-c_d") },
  { weight: 3, arbitrary: hostileText },
  { weight: 1, arbitrary: hugeText },
  { weight: 1, arbitrary: fc.constantFrom(".", "..", "eth0:1", "a/b", " eth0", "x".repeat(16), "é".repeat(8)) },
);

/** Keys of the Multus config the daemon checks, with values of the wrong type or range. */
export const WRONG_FIELD: Array<[string, fc.Arbitrary<unknown>]> = (() => {
  const notString = hostileJsonValue.filter((x) => typeof x !== "string" && x !== undefined);
  const notBool = hostileJsonValue.filter((x) => typeof x !== "boolean");
  const notArray = hostileJsonValue.filter((x) => !Array.isArray(x));
  const badSeconds = fc.oneof(
    hostileJsonValue.filter((x) => typeof x !== "number"),
    fc.constantFrom(0, -1, -0.5),
  );
  const badBytes = fc.oneof(
    hostileJsonValue.filter((x) => typeof x !== "number"),
    fc.constantFrom(0, 4095, 4096.5, -1),
  );
  return [
    ["name", notString],
    ["type", notString],
    ["cniVersion", notString],
    ["confDir", notString],
    ["kubeconfig", notString],
    ["clusterNetwork", notString],
    ["multusNamespace", notString],
    ["globalNamespaces", notString],
    ["logLevel", notString],
    ["auxiliaryCNIChainName", notString],
    ["namespaceIsolation", notBool],
    ["retryDeleteOnError", notBool],
    ["defaultNetworks", fc.oneof(notArray, fc.constant([5]), fc.constant([null]))],
    ["systemNamespaces", fc.oneof(notArray, fc.constant([{}]))],
    ["delegates", fc.oneof(notArray, fc.constant([5]), fc.constant(["x"]), fc.constant([[]]))],
    [
      "capabilities",
      fc.oneof(
        notArray.filter((x) => typeof x !== "object"),
        fc.constant({ a: "yes" }),
      ),
    ],
    ["runtimeConfig", fc.oneof(fc.constantFrom(5, "x", true, [1]))],
    ["delegateTimeoutSeconds", badSeconds],
    ["podLookupTimeoutSeconds", badSeconds],
    ["apiTimeoutSeconds", badSeconds],
    ["maxPluginOutputBytes", badBytes],
    [
      "maxAnnotationBytes",
      fc.oneof(
        hostileJsonValue.filter((x) => typeof x !== "number"),
        fc.constantFrom(0, 1023, 1024.5, -1),
      ),
    ],
    [
      "maxDelegatesPerPod",
      fc.oneof(
        hostileJsonValue.filter((x) => typeof x !== "number"),
        fc.constantFrom(0, 1.5),
      ),
    ],
  ];
})();

/** One fault per case, the rest of the request valid. */
function faultyCases(containerId: fc.Arbitrary<string>, netns: string): fc.Arbitrary<BodyCase> {
  const isDelegate = fc.boolean();
  const withEnv = (env: Record<string, unknown>, config: string, extra: Record<string, unknown> = {}) =>
    JSON.stringify({ env, config, ...extra });

  const notJson = fc
    .tuple(fc.oneof(hostileText, fc.constantFrom("", "{", "[1,", "nul")), isDelegate)
    .map(
      ([body, d]): BodyCase => ({ body, isDelegate: d, expected: { code: 6, mentions: "decode" }, fault: "not JSON" }),
    );
  const mutatedBody = fc
    .tuple(containerId, isDelegate)
    .chain(([id, d]) =>
      mutated(withEnv(validEnv(id, netns), b64(JSON.stringify(validConf())))).map((body) => ({ body, d })),
    )
    .filter(({ body }) => {
      try {
        JSON.parse(body);
        return false;
      } catch {
        return true;
      }
    })
    .map(
      ({ body, d }): BodyCase => ({ body, isDelegate: d, expected: { code: 6, mentions: "decode" }, fault: "mutated" }),
    );
  const notObject = fc
    .tuple(
      hostileJsonValue.filter((x) => typeof x !== "object" || x === null || Array.isArray(x)),
      isDelegate,
    )
    .map(
      ([x, d]): BodyCase => ({
        body: JSON.stringify(x),
        isDelegate: d,
        expected: { code: 6, mentions: "CNI request" },
        fault: "not an object",
      }),
    );
  const noEnv = fc
    .tuple(
      fc.dictionary(
        hostileText.filter((k) => k !== "env"),
        hostileJsonValue,
        { maxKeys: 3 },
      ),
      isDelegate,
    )
    .map(
      ([o, d]): BodyCase => ({
        body: JSON.stringify(o),
        isDelegate: d,
        expected: { code: 4, mentions: "CNI_COMMAND" },
        fault: "no env",
      }),
    );
  const badEnvType = fc
    .tuple(
      fc.oneof(
        hostileJsonValue.filter((x) => typeof x !== "object" || x === null || Array.isArray(x)),
        fc.dictionary(
          fc.constantFrom("CNI_COMMAND", "CNI_IFNAME", "X"),
          hostileJsonValue.filter((x) => typeof x !== "string"),
          {
            minKeys: 1,
            maxKeys: 2,
          },
        ),
      ),
      isDelegate,
    )
    .map(
      ([env, d]): BodyCase => ({
        body: withEnv(env as Record<string, unknown>, b64(JSON.stringify(validConf()))),
        isDelegate: d,
        expected: { code: 6, mentions: "env" },
        fault: "env of the wrong type",
      }),
    );
  const badConfigField = fc
    .tuple(
      containerId,
      fc.oneof(
        hostileJsonValue.filter((x) => typeof x !== "string"),
        fc.constantFrom("not base64!", "YQ==?", "====", "a b", "é"),
        hostileText.filter((s) => !/^[A-Za-z0-9+/]*={0,2}$/.test(s)),
      ),
      isDelegate,
    )
    .map(
      ([id, config, d]): BodyCase => ({
        body: JSON.stringify({ env: validEnv(id, netns), config }),
        isDelegate: d,
        expected: { code: 6, mentions: "config" },
        fault: "config not base64",
      }),
    );
  const badAttributes = fc
    .tuple(
      containerId,
      fc.oneof(
        fc.constantFrom(5, "x", true, [1]),
        fc.record({ ips: fc.constantFrom(5, "10.0.0.1", [5], {}) }),
        fc.record({ mac: fc.constantFrom(5, [], {}, true) }),
        fc.record({ "cni-args": fc.constantFrom(5, "x", [1], true) }),
      ),
      isDelegate,
    )
    .map(
      ([id, attrs, d]): BodyCase => ({
        body: JSON.stringify({
          env: validEnv(id, netns),
          config: b64(JSON.stringify(validConf())),
          interfaceAttributes: attrs,
        }),
        isDelegate: d,
        expected: { code: 6, mentions: "interfaceAttributes" },
        fault: "interfaceAttributes of the wrong type",
      }),
    );
  // null: the variable is left out.
  const envOverride = fc.oneof(envValue, fc.constant(null));
  const badEnv = fc
    .tuple(
      containerId,
      fc.record(
        {
          CNI_COMMAND: fc.oneof(
            fc.constantFrom(...CNI_COMMANDS.filter((c) => c !== "VERSION")),
            fc.constantFrom("add", "", "DELETE", "VERSION\n"),
            hostileText,
            fc.constant(null),
          ),
          CNI_CONTAINERID: envOverride,
          CNI_NETNS: fc.constantFrom(null, ""),
          CNI_IFNAME: envOverride,
          CNI_PATH: envOverride,
        },
        { requiredKeys: [] },
      ),
      isDelegate,
    )
    .map(([id, over, d]) => {
      const env: Record<string, string> = { ...validEnv(id, netns) };
      for (const [k, value] of Object.entries(over)) {
        if (value === null) delete env[k];
        else env[k] = value;
      }
      // /delegate fills in CNI_PATH and CNI_IFNAME when they are empty (Go's hot-plug client sends neither).
      const seen = d ? { ...env, CNI_PATH: env.CNI_PATH || "/opt/cni/bin", CNI_IFNAME: env.CNI_IFNAME || "eth0" } : env;
      return { env, d, problems: envProblems(seen) };
    })
    .filter(({ problems }) => problems.length > 0)
    .map(
      ({ env, d, problems }): BodyCase => ({
        body: withEnv(env, b64(JSON.stringify(validConf()))),
        isDelegate: d,
        // No CNI_COMMAND at all is what a body without env gets too.
        expected: { code: 4, mentions: problems.join("|") },
        fault: "env",
      }),
    );
  const badCniArgs = fc
    .tuple(containerId, fc.constantFrom("K8S_POD_NAME", "a;b", "=;x", "IgnoreUnknown=1;oops"), isDelegate)
    .map(
      ([id, args, d]): BodyCase => ({
        body: withEnv({ ...validEnv(id, netns), CNI_ARGS: args }, b64(JSON.stringify(validConf()))),
        isDelegate: d,
        expected: { code: 4, mentions: "CNI_ARGS" },
        fault: "CNI_ARGS item without '='",
      }),
    );
  const configBytes = fc
    .tuple(
      containerId,
      fc.oneof(
        invalidUtf8,
        fc.oneof(hostileText, mutated(JSON.stringify(validConf()))).map(utf8),
        hostileJsonValue
          .filter((x) => typeof x !== "object" || x === null || Array.isArray(x))
          .map((x) => utf8(JSON.stringify(x))),
      ),
      isDelegate,
    )
    .filter(([, bytes]) => !decodesToObject(bytes))
    .map(
      ([id, bytes, d]): BodyCase => ({
        body: withEnv(validEnv(id, netns), b64(bytes)),
        isDelegate: d,
        expected: { code: 6, mentions: "decode" },
        fault: "config bytes not a JSON object",
      }),
    );
  const deepConfig = fc
    .tuple(
      containerId,
      deepJsonText.filter((x) => x.depth > 10_000),
      fc.constantFrom("config", "body", "cni-args"),
      isDelegate,
    )
    .map(([id, { text }, where, d]): BodyCase => {
      const env = validEnv(id, netns);
      const conf = `{"cniVersion":"1.0.0","name":"n","type":"multus-shim","x":${text}}`;
      const body =
        where === "config"
          ? withEnv(env, b64(conf))
          : where === "body"
            ? `{"env":${JSON.stringify(env)},"config":"${b64(JSON.stringify(validConf()))}","x":${text}}`
            : `{"env":${JSON.stringify(env)},"config":"${b64(JSON.stringify(validConf()))}","interfaceAttributes":{"cni-args":{"x":${text}}}}`;
      return { body, isDelegate: d, expected: { code: 6, mentions: "deep" }, fault: `nested too deep (${where})` };
    });
  const wrongField = fc
    .tuple(
      containerId,
      fc
        .constantFrom(...WRONG_FIELD.map((_, i) => i))
        .chain((i) => WRONG_FIELD[i]![1].map((value) => [WRONG_FIELD[i]![0], value] as const)),
      isDelegate,
    )
    .map(
      ([id, [key, value], d]): BodyCase => ({
        body: withEnv(validEnv(id, netns), b64(JSON.stringify({ ...validConf(), [key]: value }))),
        isDelegate: d,
        // A delegate that is an array passes the schema, then is refused as a delegate: code 7 either way.
        expected: { code: 7, mentions: key === "delegates" ? "delegate" : key },
        fault: `config field ${key}`,
      }),
    );
  const hugeValue = fc.tuple(containerId, hugeText, isDelegate).map(
    ([id, huge, d]): BodyCase => ({
      body: withEnv({ ...validEnv(id, netns), CNI_IFNAME: huge }, b64(JSON.stringify(validConf()))),
      isDelegate: d,
      expected: { code: 4, mentions: "CNI_IFNAME" },
      fault: "huge CNI_IFNAME",
    }),
  );

  return fc
    .oneof(
      notJson,
      mutatedBody,
      notObject,
      noEnv,
      badEnvType,
      badConfigField,
      badAttributes,
      badEnv,
      badCniArgs,
      configBytes,
      { arbitrary: deepConfig, weight: 1 },
      { arbitrary: wrongField, weight: 3 },
      { arbitrary: hugeValue, weight: 1 },
    )
    .map(bodyCase);
}

function decodesToObject(bytes: Uint8Array): boolean {
  try {
    const x = JSON.parse(new TextDecoder().decode(bytes));
    return typeof x === "object" && x !== null && !Array.isArray(x);
  } catch {
    return false;
  }
}

/** Requests wrong in one way each; container IDs come from `containerId` (unique ones let a test tell cases apart). */
export function invalidRequests(opts: { containerId: fc.Arbitrary<string>; netns: string }): fc.Arbitrary<BodyCase> {
  return faultyCases(opts.containerId, opts.netns);
}

/** Valid ADDs through /cni: the config's one delegate is the recording plugin. */
export function validRequests(opts: { containerId: fc.Arbitrary<string>; netns: string }): fc.Arbitrary<BodyCase> {
  return fc
    .tuple(opts.containerId, fc.constantFrom("eth0", "net1", "e"), fc.constantFrom("1.0.0", "0.4.0", "0.3.1"))
    .map(([id, ifname, version]) => {
      const conf = { ...validConf(), cniVersion: version };
      return {
        body: JSON.stringify({
          env: { ...validEnv(id, opts.netns), CNI_IFNAME: ifname },
          config: b64(JSON.stringify(conf)),
        }),
        isDelegate: false,
        expected: "valid" as const,
        fault: "none",
      };
    });
}

/** Does the CNI error's text name what `expected` says (any of "A|B")? */
export function mentions(err: { msg: string; details?: string }, expected: string): boolean {
  const text = `${err.msg} ${err.details ?? ""}`.toLowerCase();
  return expected.split("|").some((word) => text.includes(word.toLowerCase()));
}
