import { describe, expect, test } from "bun:test";
import { CniError, ErrorCode } from "../cni/errors.ts";
import {
  type NetworkSelection,
  allowedGlobalNamespaces,
  checkNamespaceIsolation,
  isSystemNamespace,
  parseDefaultNetworkAnnotation,
  parseNetworkSelections,
  parseNetworkSelectionsEach,
} from "./selection.ts";

const GO_JSON = "parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection Annotation JSON format";

function caught(fn: () => unknown): CniError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CniError);
    return err as CniError;
  }
  throw new Error("expected a CniError, nothing was thrown");
}

describe("parseNetworkSelections: absent and blank", () => {
  for (const value of [undefined, "", "   ", "\t\n"]) {
    test(JSON.stringify(value ?? null), () => {
      expect(parseNetworkSelections(value, "pods")).toEqual([]);
    });
  }
});

describe("parseNetworkSelections: comma form", () => {
  const cases: Array<[string, NetworkSelection[]]> = [
    ["net-a", [{ name: "net-a", namespace: "pods" }]],
    [
      "net-a,net-b",
      [
        { name: "net-a", namespace: "pods" },
        { name: "net-b", namespace: "pods" },
      ],
    ],
    [
      " net-a , other/net-b@eth9 ",
      [
        { name: "net-a", namespace: "pods" },
        { name: "net-b", namespace: "other", interface: "eth9" },
      ],
    ],
    ["ns1/net-a", [{ name: "net-a", namespace: "ns1" }]],
    [" ns1 / net-a @ eth1 ", [{ name: "net-a", namespace: "ns1", interface: "eth1" }]],
    ["net-a@eth1", [{ name: "net-a", namespace: "pods", interface: "eth1" }]],
    ["/net-a", [{ name: "net-a", namespace: "pods" }]],
    ["net-a@", [{ name: "net-a", namespace: "pods" }]],
    ["net-a@abcdefghijklmno", [{ name: "net-a", namespace: "pods", interface: "abcdefghijklmno" }]],
    ["0net9", [{ name: "0net9", namespace: "pods" }]],
    // A name may repeat: the same network attached twice.
    [
      "net-a,net-a",
      [
        { name: "net-a", namespace: "pods" },
        { name: "net-a", namespace: "pods" },
      ],
    ],
  ];
  for (const [annotation, want] of cases) {
    test(JSON.stringify(annotation), () => {
      expect(parseNetworkSelections(annotation, "pods")).toEqual(want);
    });
  }
});

describe("parseNetworkSelections: JSON form, every field", () => {
  test("all fields", () => {
    const annotation = JSON.stringify([
      {
        name: "net-a",
        namespace: "ns1",
        interface: "eth1",
        ips: ["10.1.1.2/24", "2001:db8::2"],
        mac: "02:00:00:00:00:01",
        "infiniband-guid": "c2:11:22:33:44:55:66:77",
        portMappings: [
          { hostPort: 8080, containerPort: 80, protocol: "tcp", hostIP: "10.0.0.1" },
          { hostPort: 53, containerPort: 53 },
        ],
        bandwidth: { ingressRate: 1000, ingressBurst: 2000, egressRate: 3000, egressBurst: 4000 },
        deviceID: "0000:03:00.1",
        "cni-args": { foo: "bar", n: 1, nested: { x: true } },
        "default-route": ["10.1.1.1", "2001:db8::1"],
        "ipam-claim-reference": "ignored",
        unknown: { whatever: 1 },
      },
    ]);
    expect(parseNetworkSelections(annotation, "pods")).toEqual([
      {
        name: "net-a",
        namespace: "ns1",
        interface: "eth1",
        ips: ["10.1.1.2/24", "2001:db8::2"],
        mac: "02:00:00:00:00:01",
        infinibandGuid: "c2:11:22:33:44:55:66:77",
        portMappings: [
          { hostPort: 8080, containerPort: 80, protocol: "tcp", hostIP: "10.0.0.1" },
          { hostPort: 53, containerPort: 53 },
        ],
        bandwidth: { ingressRate: 1000, ingressBurst: 2000, egressRate: 3000, egressBurst: 4000 },
        deviceId: "0000:03:00.1",
        cniArgs: { foo: "bar", n: 1, nested: { x: true } },
        defaultRoute: ["10.1.1.1", "2001:db8::1"],
      },
    ]);
  });

  const cases: Array<[string, unknown, NetworkSelection[]]> = [
    ["name only, namespace defaulted", [{ name: "net-a" }], [{ name: "net-a", namespace: "pods" }]],
    ["empty namespace defaulted", [{ name: "net-a", namespace: "" }], [{ name: "net-a", namespace: "pods" }]],
    [
      "interfaceRequest used when interface missing",
      [{ name: "a", interfaceRequest: "eth7" }],
      [{ name: "a", namespace: "pods", interface: "eth7" }],
    ],
    [
      "interfaceRequest used when interface empty",
      [{ name: "a", interface: "", interfaceRequest: "eth7" }],
      [{ name: "a", namespace: "pods", interface: "eth7" }],
    ],
    [
      "interface wins over interfaceRequest",
      [{ name: "a", interface: "eth1", interfaceRequest: "eth7" }],
      [{ name: "a", namespace: "pods", interface: "eth1" }],
    ],
    [
      "keys are case-insensitive",
      [
        {
          NAME: "a",
          Namespace: "ns1",
          MAC: "02:00:00:00:00:01",
          Interface: "eth1",
          "Default-Route": [],
          DEVICEID: "x",
          "CNI-ARGS": { k: 1 },
          PortMappings: [{ HOSTPORT: 1, containerport: 2 }],
          BANDWIDTH: { IngressRate: 5 },
        },
      ],
      [
        {
          name: "a",
          namespace: "ns1",
          interface: "eth1",
          mac: "02:00:00:00:00:01",
          deviceId: "x",
          cniArgs: { k: 1 },
          defaultRoute: [],
          portMappings: [{ hostPort: 1, containerPort: 2 }],
          bandwidth: { ingressRate: 5 },
        },
      ],
    ],
    ["last duplicate key wins", JSON.parse('[{"name":"a","NAME":"b"}]'), [{ name: "b", namespace: "pods" }]],
    [
      "null leaves a field unset",
      [{ name: "a", mac: null, ips: null, "default-route": null, "cni-args": null, bandwidth: null }],
      [{ name: "a", namespace: "pods" }],
    ],
    [
      "default-route [] is kept (removes all default routes)",
      [{ name: "a", "default-route": [] }],
      [{ name: "a", namespace: "pods", defaultRoute: [] }],
    ],
    ["ips [] is kept (clears runtime ips)", [{ name: "a", ips: [] }], [{ name: "a", namespace: "pods", ips: [] }]],
    ["cni-args {} is kept", [{ name: "a", "cni-args": {} }], [{ name: "a", namespace: "pods", cniArgs: {} }]],
    [
      "empty strings are unset",
      [{ name: "a", mac: "", "infiniband-guid": "", deviceID: "", interface: "" }],
      [{ name: "a", namespace: "pods" }],
    ],
    [
      "MAC forms",
      [
        { name: "a", mac: "0000.5e00.5301" },
        { name: "b", mac: "02-00-5e-10-00-00-00-01" },
      ],
      [
        { name: "a", namespace: "pods", mac: "0000.5e00.5301" },
        { name: "b", namespace: "pods", mac: "02-00-5e-10-00-00-00-01" },
      ],
    ],
    [
      "20-octet GUID",
      [{ name: "a", "infiniband-guid": "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01" }],
      [{ name: "a", namespace: "pods", infinibandGuid: "00:00:00:00:fe:80:00:00:00:00:00:00:02:00:5e:10:00:00:00:01" }],
    ],
    ["empty list", [], []],
    [
      "several elements in order",
      [{ name: "b" }, { name: "a" }],
      [
        { name: "b", namespace: "pods" },
        { name: "a", namespace: "pods" },
      ],
    ],
  ];
  for (const [title, json, want] of cases) {
    test(title, () => {
      expect(parseNetworkSelections(JSON.stringify(json), "pods")).toEqual(want);
    });
  }

  test("a value with a quote is the JSON form even without brackets", () => {
    const err = caught(() => parseNetworkSelections('"net-a"', "pods"));
    expect(err.msg).toBe(
      `${GO_JSON} (invalid networks annotation: the JSON form must be a list of network selection objects)`,
    );
  });
});

describe("parseNetworkSelections: errors name the element and the field", () => {
  const cases: Array<[string, string, string, string?]> = [
    // [title, annotation, msg, details]
    [
      "empty item in the middle",
      "a,,b",
      "invalid networks annotation: element 1: empty item (a doubled or trailing comma?)",
    ],
    ["trailing comma", "a,b,", "invalid networks annotation: element 2: empty item (a doubled or trailing comma?)"],
    ["leading comma", ",a", "invalid networks annotation: element 0: empty item (a doubled or trailing comma?)"],
    ["blank item", "a, ,b", "invalid networks annotation: element 1: empty item (a doubled or trailing comma?)"],
    [
      "two slashes",
      "a,x/y/z",
      `invalid networks annotation: element 1: "x/y/z" has more than one '/'`,
      "parsePodNetworkAnnotation: parsePodNetworkObjectName: Invalid network object (failed at '/')",
    ],
    [
      "two ats",
      "a@b@c",
      `invalid networks annotation: element 0: "a@b@c" has more than one '@'`,
      "parsePodNetworkAnnotation: parsePodNetworkObjectName: Invalid network object (failed at '@')",
    ],
    ["empty name after namespace", "ns/", `invalid networks annotation: element 0: field "name": must not be empty`],
    ["empty name before ifname", "@eth1", `invalid networks annotation: element 0: field "name": must not be empty`],
    [
      "upper-case name",
      "a,Net-A",
      `invalid networks annotation: element 1: field "name": "Net-A" is not a valid network name: must be lower-case alphanumerics and '-', starting and ending with an alphanumeric`,
      "parsePodNetworkAnnotation: parsePodNetworkObjectName: Failed to parse: one or more items did not match comma-delimited format (must consist of lower case alphanumeric characters). Must start and end with an alphanumeric character), mismatch @ 'Net-A'",
    ],
    [
      "name ending in dash",
      "net-",
      `invalid networks annotation: element 0: field "name": "net-" is not a valid network name: must be lower-case alphanumerics and '-', starting and ending with an alphanumeric`,
      `parsePodNetworkAnnotation: parsePodNetworkObjectName: Failed to parse: one or more items did not match comma-delimited format (must consist of lower case alphanumeric characters). Must start and end with an alphanumeric character), mismatch @ 'net-'`,
    ],
    [
      "dotted name",
      "my.net",
      `invalid networks annotation: element 0: field "name": "my.net" is not a valid network name: must be lower-case alphanumerics and '-', starting and ending with an alphanumeric`,
      `parsePodNetworkAnnotation: parsePodNetworkObjectName: Failed to parse: one or more items did not match comma-delimited format (must consist of lower case alphanumeric characters). Must start and end with an alphanumeric character), mismatch @ 'my.net'`,
    ],
    [
      "bad namespace",
      "Kube_System/net",
      `invalid networks annotation: element 0: field "namespace": "Kube_System" is not a valid namespace: must be lower-case alphanumerics and '-', starting and ending with an alphanumeric`,
      `parsePodNetworkAnnotation: parsePodNetworkObjectName: Failed to parse: one or more items did not match comma-delimited format (must consist of lower case alphanumeric characters). Must start and end with an alphanumeric character), mismatch @ 'Kube_System'`,
    ],
    [
      "ifname too long",
      "net@abcdefghijklmnop",
      `invalid networks annotation: element 0: field "interface": invalid interface name "abcdefghijklmnop": is 16 bytes long, the limit is 15`,
      "parsePodNetworkAnnotation: parsePodNetworkObjectName: Failed to parse interface name: must be less than 15 chars and not contain '/' or spaces. interface name 'abcdefghijklmnop'",
    ],
    [
      "ifname too long in bytes",
      "net@ééééééééé",
      `invalid networks annotation: element 0: field "interface": invalid interface name "ééééééééé": is 18 bytes long, the limit is 15`,
      `parsePodNetworkAnnotation: parsePodNetworkObjectName: Failed to parse interface name: must be less than 15 chars and not contain '/' or spaces. interface name 'ééééééééé'`,
    ],
    [
      "ifname with space",
      "net@eth 1",
      `invalid networks annotation: element 0: field "interface": invalid interface name "eth 1": must not contain whitespace, '/' or ':'`,
      `parsePodNetworkAnnotation: parsePodNetworkObjectName: Failed to parse interface name: must be less than 15 chars and not contain '/' or spaces. interface name 'eth 1'`,
    ],
    [
      "ifname with colon",
      "net@eth0:1",
      `invalid networks annotation: element 0: field "interface": invalid interface name "eth0:1": must not contain whitespace, '/' or ':'`,
    ],
    [
      "ifname dot",
      "net@.",
      `invalid networks annotation: element 0: field "interface": invalid interface name ".": must not be "." or ".."`,
    ],
    [
      "ifname dotdot",
      "net@..",
      `invalid networks annotation: element 0: field "interface": invalid interface name "..": must not be "." or ".."`,
    ],

    [
      "JSON object instead of list",
      '{"name":"a"}',
      "invalid networks annotation: the JSON form must be a list of network selection objects",
      `parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection Annotation JSON format`,
    ],
    ["null element", '[{"name":"a"},null]', "invalid networks annotation: element 1: must be an object"],
    ["string element", '["a"]', "invalid networks annotation: element 0: must be an object"],
    ["missing name", '[{"namespace":"a"}]', `invalid networks annotation: element 0: field "name": must not be empty`],
    ["name not a string", '[{"name":5}]', `invalid networks annotation: element 0: field "name": must be a string`],
    [
      "JSON name validated",
      '[{"name":"Net_A"}]',
      `invalid networks annotation: element 0: field "name": "Net_A" is not a valid network name: must be lower-case alphanumerics and '-', starting and ending with an alphanumeric`,
    ],
    [
      "JSON namespace validated",
      '[{"name":"a","namespace":"a/b"}]',
      `invalid networks annotation: element 0: field "namespace": "a/b" is not a valid namespace: must be lower-case alphanumerics and '-', starting and ending with an alphanumeric`,
    ],
    [
      "JSON interface validated",
      '[{"name":"a","interface":"a/b"}]',
      `invalid networks annotation: element 0: field "interface": invalid interface name "a/b": must not contain whitespace, '/' or ':'`,
    ],
    [
      "JSON interfaceRequest validated",
      '[{"name":"a","interfaceRequest":"abcdefghijklmnop"}]',
      `invalid networks annotation: element 0: field "interface": invalid interface name "abcdefghijklmnop": is 16 bytes long, the limit is 15`,
    ],
    [
      "bad IP",
      '[{"name":"a"},{"name":"b","ips":["10.1.1.2","10.1.1.256"]}]',
      `invalid networks annotation: element 1: field "ips[1]": "10.1.1.256" is not an IP address`,
      `failed to parse IP address "10.1.1.256"`,
    ],
    [
      "bad CIDR",
      '[{"name":"a","ips":["10.1.1.2/33"]}]',
      `invalid networks annotation: element 0: field "ips[0]": "10.1.1.2/33" is not a valid CIDR`,
      `failed to parse CIDR "10.1.1.2/33": invalid CIDR address: 10.1.1.2/33`,
    ],
    [
      "ips not a list",
      '[{"name":"a","ips":"10.1.1.2"}]',
      `invalid networks annotation: element 0: field "ips": must be a list`,
    ],
    [
      "ips item not a string",
      '[{"name":"a","ips":[1]}]',
      `invalid networks annotation: element 0: field "ips[0]": must be a string`,
    ],
    [
      "bad MAC",
      '[{"name":"a"},{"name":"b"},{"name":"c","mac":"zz"}]',
      `invalid networks annotation: element 2: field "mac": "zz" is not a MAC address`,
      "parsePodNetworkAnnotation: failed to mac: address zz: invalid MAC address",
    ],
    [
      "7-octet MAC",
      '[{"name":"a","mac":"00:00:5e:00:53:01:02"}]',
      `invalid networks annotation: element 0: field "mac": "00:00:5e:00:53:01:02" is not a MAC address`,
      `parsePodNetworkAnnotation: failed to mac: address 00:00:5e:00:53:01:02: invalid MAC address`,
    ],
    [
      "bad GUID",
      '[{"name":"a","infiniband-guid":"c2:11"}]',
      `invalid networks annotation: element 0: field "infiniband-guid": "c2:11" is not an InfiniBand GUID`,
      "parsePodNetworkAnnotation: failed to validate infiniband GUID: address c2:11: invalid MAC address",
    ],
    [
      "bad default-route",
      '[{"name":"a","default-route":["10.1.1.1","gw"]}]',
      `invalid networks annotation: element 0: field "default-route[1]": "gw" is not an IP address`,
      "parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection Annotation JSON format: invalid IP address: gw",
    ],
    [
      "empty default-route entry",
      '[{"name":"a","default-route":[""]}]',
      `invalid networks annotation: element 0: field "default-route[0]": "" is not an IP address`,
      `parsePodNetworkAnnotation: failed to parse pod Network Attachment Selection Annotation JSON format: invalid IP address: `,
    ],
    [
      "default-route not a list",
      '[{"name":"a","default-route":"10.1.1.1"}]',
      `invalid networks annotation: element 0: field "default-route": must be a list`,
    ],
    [
      "portMappings not a list",
      '[{"name":"a","portMappings":{}}]',
      `invalid networks annotation: element 0: field "portMappings": must be a list`,
    ],
    [
      "portMappings null entry",
      '[{"name":"a","portMappings":[null]}]',
      `invalid networks annotation: element 0: field "portMappings[0]": must be an object`,
    ],
    [
      "portMappings missing hostPort",
      '[{"name":"a","portMappings":[{"containerPort":80}]}]',
      `invalid networks annotation: element 0: field "portMappings[0].hostPort": is required`,
    ],
    [
      "portMappings string port",
      '[{"name":"a","portMappings":[{"hostPort":1,"containerPort":"80"}]}]',
      `invalid networks annotation: element 0: field "portMappings[0].containerPort": must be a number`,
    ],
    [
      "portMappings fractional port",
      '[{"name":"a","portMappings":[{"hostPort":1.5,"containerPort":80}]}]',
      `invalid networks annotation: element 0: field "portMappings[0].hostPort": must be an integer`,
    ],
    [
      "portMappings protocol type",
      '[{"name":"a","portMappings":[{"hostPort":1,"containerPort":80,"protocol":6}]}]',
      `invalid networks annotation: element 0: field "portMappings[0].protocol": must be a string`,
    ],
    [
      "bandwidth not an object",
      '[{"name":"a","bandwidth":[1]}]',
      `invalid networks annotation: element 0: field "bandwidth": must be an object`,
    ],
    [
      "bandwidth fractional",
      '[{"name":"a","bandwidth":{"egressBurst":0.5}}]',
      `invalid networks annotation: element 0: field "bandwidth.egressBurst": must be an integer`,
    ],
    [
      "deviceID type",
      '[{"name":"a","deviceID":1}]',
      `invalid networks annotation: element 0: field "deviceID": must be a string`,
    ],
    [
      "cni-args is a list",
      '[{"name":"a","cni-args":[1]}]',
      `invalid networks annotation: element 0: field "cni-args": must be an object`,
    ],
    [
      "cni-args is a string",
      '[{"name":"a","cni-args":"x=y"}]',
      `invalid networks annotation: element 0: field "cni-args": must be an object`,
    ],
  ];
  for (const [title, annotation, msg, details] of cases) {
    test(title, () => {
      const err = caught(() => parseNetworkSelections(annotation, "pods"));
      expect(err.code).toBe(ErrorCode.InvalidConfig);
      // Go's words first where Go rejects the same input, then our location.
      expect(err.msg).toBe(details === undefined ? msg : `${details} (${msg})`);
      expect(err.details).toBeUndefined();
    });
  }
});

test("invalid JSON names the parser's complaint", () => {
  const err = caught(() => parseNetworkSelections("[{", "pods"));
  expect(err.code).toBe(ErrorCode.InvalidConfig);
  expect(err.msg).toStartWith(`${GO_JSON} (invalid networks annotation: not valid JSON: JSON Parse error: `);
});

describe("parseDefaultNetworkAnnotation", () => {
  test("absent, blank or empty list: no override", () => {
    expect(parseDefaultNetworkAnnotation(undefined, "kube-system")).toBeUndefined();
    expect(parseDefaultNetworkAnnotation("", "kube-system")).toBeUndefined();
    expect(parseDefaultNetworkAnnotation(" ", "kube-system")).toBeUndefined();
    expect(parseDefaultNetworkAnnotation("[]", "kube-system")).toBeUndefined();
  });
  const cases: Array<[string, NetworkSelection]> = [
    ["calico", { name: "calico", namespace: "kube-system" }],
    ["other/calico@eth9", { name: "calico", namespace: "other", interface: "eth9" }],
    [
      '[{"name":"calico","ips":["10.0.0.5"],"mac":"02:00:00:00:00:01"}]',
      { name: "calico", namespace: "kube-system", ips: ["10.0.0.5"], mac: "02:00:00:00:00:01" },
    ],
  ];
  for (const [annotation, want] of cases) {
    test(annotation, () => {
      expect(parseDefaultNetworkAnnotation(annotation, "kube-system")).toEqual(want);
    });
  }
  test("more than one element is an error", () => {
    const err = caught(() => parseDefaultNetworkAnnotation("a,b", "kube-system"));
    expect(err.code).toBe(ErrorCode.InvalidConfig);
    expect(err.msg).toBe(
      "tryLoadK8sPodDefaultNetwork: more than one default network is specified: a,b (invalid default-network annotation: names 2 networks, at most one is allowed)",
    );
  });
  test("element errors name the default-network annotation", () => {
    const err = caught(() => parseDefaultNetworkAnnotation('[{"name":"a","mac":"x"}]', "kube-system"));
    expect(err.msg).toBe(
      `parsePodNetworkAnnotation: failed to mac: address x: invalid MAC address (invalid default-network annotation: element 0: field "mac": "x" is not a MAC address)`,
    );
    expect(caught(() => parseDefaultNetworkAnnotation("a,", "kube-system")).msg).toBe(
      "invalid default-network annotation: element 1: empty item (a doubled or trailing comma?)",
    );
  });
});

describe("checkNamespaceIsolation", () => {
  const sel = (namespace: string, name = "net"): NetworkSelection => ({ name, namespace });
  const violation = (pod: string, target: string) =>
    `GetNetworkDelegates: namespace isolation enabled, annotation violates permission, pod is in namespace ${pod} but refers to target namespace ${target}`;

  const cases: Array<{
    title: string;
    pod: string;
    targets: string[];
    enabled: boolean;
    global: string;
    refused?: string;
  }> = [
    { title: "disabled: anything goes", pod: "team-a", targets: ["team-b", "kube-system"], enabled: false, global: "" },
    { title: "own namespace", pod: "team-a", targets: ["team-a", "team-a"], enabled: true, global: "" },
    {
      title: "other namespace refused",
      pod: "team-a",
      targets: ["team-a", "team-b"],
      enabled: true,
      global: "",
      refused: "team-b",
    },
    {
      title: "default is implicitly allowed when globalNamespaces is unset",
      pod: "team-a",
      targets: ["default"],
      enabled: true,
      global: "",
    },
    {
      title: "globalNamespaces replaces the implicit default",
      pod: "team-a",
      targets: ["shared", "default"],
      enabled: true,
      global: "shared",
      refused: "default",
    },
    {
      title: "globalNamespaces list with whitespace",
      pod: "team-a",
      targets: ["shared", "infra", "default"],
      enabled: true,
      global: " shared , infra,default ",
    },
    {
      title: "globalNamespaces does not allow others",
      pod: "team-a",
      targets: ["shared", "team-b"],
      enabled: true,
      global: "shared, infra",
      refused: "team-b",
    },
    { title: "pod in default may use default", pod: "default", targets: ["default"], enabled: true, global: "shared" },
  ];
  for (const c of cases) {
    test(c.title, () => {
      const run = () =>
        checkNamespaceIsolation({
          podNamespace: c.pod,
          selections: c.targets.map((t) => sel(t)),
          enabled: c.enabled,
          globalNamespaces: c.global,
        });
      if (c.refused === undefined) {
        expect(run).not.toThrow();
      } else {
        const err = caught(run);
        expect(err.code).toBe(ErrorCode.InvalidConfig);
        expect(err.msg).toBe(violation(c.pod, c.refused));
      }
    });
  }
  test("details name the element", () => {
    const err = caught(() =>
      checkNamespaceIsolation({
        podNamespace: "a",
        selections: [sel("a"), sel("b", "x")],
        enabled: true,
        globalNamespaces: "",
      }),
    );
    expect(err.details).toBe("networks annotation element 1 (b/x); allowed besides the pod's own: default");
  });
  test("allowedGlobalNamespaces", () => {
    expect(allowedGlobalNamespaces("")).toEqual(["default"]);
    expect(allowedGlobalNamespaces("a")).toEqual(["a"]);
    expect(allowedGlobalNamespaces(" a ,b")).toEqual(["a", "b"]);
  });
  test("end to end with the parser: namespace defaults to the pod's", () => {
    const selections = parseNetworkSelections("net-a,default/net-b", "team-a");
    expect(() =>
      checkNamespaceIsolation({ podNamespace: "team-a", selections, enabled: true, globalNamespaces: "" }),
    ).not.toThrow();
  });
});

describe("isSystemNamespace", () => {
  test("compares the namespace with the list", () => {
    expect(isSystemNamespace("kube-system", ["kube-system"])).toBe(true);
    expect(isSystemNamespace("default", ["kube-system"])).toBe(false);
    expect(isSystemNamespace("x", [])).toBe(false);
    expect(isSystemNamespace("b", ["a", "b"])).toBe(true);
  });
});

describe("parseNetworkSelectionsEach", () => {
  test.each([
    ["comma form", "good, Bad_Name, ok@x/y, also-good"],
    [
      "JSON form",
      JSON.stringify([{ name: "good" }, { name: "Bad_Name" }, { name: "ok", interface: "x/y" }, { name: "also-good" }]),
    ],
  ])("%s: every bad element reported with its index, the good ones kept", (_form, annotation) => {
    const { selections, errors } = parseNetworkSelectionsEach(annotation, "apps");
    expect(selections.map((s) => s.name)).toEqual(["good", "also-good"]);
    expect(errors.map((e) => e.message.match(/element \d+/)?.[0])).toEqual(["element 1", "element 2"]);
    // The strict parser stops at the first of them, with the same error.
    expect(() => parseNetworkSelections(annotation, "apps")).toThrow(errors[0]!.message);
  });

  test("an annotation that is not a list still throws", () => {
    expect(() => parseNetworkSelectionsEach('{"name": "a"}', "apps")).toThrow("must be a list");
  });
});
