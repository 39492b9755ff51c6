// The daemon's socket API spoken directly, the way the Go multus-shim speaks
// it: POST http://dummy/cni with {"env": <its whole environment>, "config":
// <base64 stdin>}. Our daemon must serve a Go shim unchanged.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { createWorkdir, shimConf, startDaemon, type DaemonHandle } from "../helpers/multus.ts";
import { createCleanup, randomSuffix } from "../helpers/netns.ts";
import {
  canRunE2e,
  containerId,
  deleteBridge,
  ensureBinary,
  exists,
  goShimBody,
  resultCacheEntries,
  socketRequest,
  storeIps,
  type BridgeNet,
  netnsPerTest,
  writeBridgeNetwork,
} from "../helpers/e2e.ts";

const s = randomSuffix(5);
let work: Awaited<ReturnType<typeof createWorkdir>>;
let daemon: DaemonHandle;
let socket: string;
let cluster: BridgeNet;
let cniDir: string;
const cleanup = createCleanup();

beforeAll(async () => {
  if (!canRunE2e) return;
  await ensureBinary();
  work = await createWorkdir();
  cleanup.add(() => work.remove());
  const { net, file: clusterFile } = await writeBridgeNetwork({ dir: work.dir, tag: "gonet", cleanup });
  cluster = net;
  cniDir = join(work.dir, "cache");
  daemon = await startDaemon(work.dir, { cniDir, binDir: "/usr/lib/cni", clusterNetwork: clusterFile });
  cleanup.add(() => daemon.stop());
  socket = join(daemon.socketDir, "multus.sock");
});
afterAll(() => cleanup.run());

const ns = netnsPerTest("mtsock");

/** What a Go multus-shim started by a container runtime has in its environment. */
function goShimEnv(command: string, id: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    PATH: "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    HOME: "/root",
    HOSTNAME: "node-1",
    LANG: "C.UTF-8",
    // a value with '=' and ';' in it: split at the first '=' only
    LS_COLORS: "rs=0:di=01;34:ln=01;36",
    INVOCATION_ID: "5f0c0c0e8d7e4c1b9f4f",
    CNI_COMMAND: command,
    CNI_CONTAINERID: id,
    CNI_NETNS: ns.path,
    CNI_IFNAME: "eth0",
    CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=go-${id};K8S_POD_INFRA_CONTAINER_ID=${id};K8S_POD_UID=uid-${id}`,
    CNI_PATH: "/opt/cni/bin:/usr/lib/cni",
    ...extra,
  };
}

const stdin = () => shimConf(daemon.socketDir, { cniVersion: "0.3.1" });
const post = (body: string) => socketRequest(socket, "/cni", { body, headers: { "content-type": "application/json" } });

describe.skipIf(!canRunE2e)("the /cni endpoint with Go multus-shim request bodies", () => {
  test('ADD answers 200 {"Result": <CNI 1.1.0 result>}; CHECK and DEL answer 200 with an empty body', async () => {
    const id = containerId("go");
    const add = await post(goShimBody(goShimEnv("ADD", id), stdin()));
    expect(add.status).toBe(200);
    expect(add.contentType).toStartWith("application/json");
    const body = add.json();
    expect(Object.keys(body)).toEqual(["Result"]);
    const result = body.Result;
    // Always 1.1.0 on the wire, whatever the shim config says: the shim converts.
    expect(result.cniVersion).toBe("1.1.0");
    const [eth0] = await ns.addrs("eth0");
    expect(eth0).toStartWith(`${cluster.prefix}.`);
    const eth0Index = (result.interfaces as Array<{ name: string; sandbox?: string }>).findIndex(
      (i) => i.name === "eth0" && i.sandbox === ns.path,
    );
    expect(eth0Index).toBeGreaterThanOrEqual(0);
    expect(result.ips).toEqual([{ address: eth0, gateway: `${cluster.prefix}.1`, interface: eth0Index }]);
    expect(result.ips[0].version).toBeUndefined();
    expect(result.dns).toBeUndefined();

    const check = await post(goShimBody(goShimEnv("CHECK", id), stdin()));
    expect([check.status, check.text]).toEqual([200, ""]);

    const del = await post(goShimBody(goShimEnv("DEL", id), stdin()));
    expect([del.status, del.text]).toEqual([200, ""]);
    expect(await ns.links()).toEqual(["lo"]);
    expect(await storeIps(cluster.dataDir, cluster.name)).toEqual([]);
    expect(await exists(join(cniDir, id))).toBe(false);
    expect(await resultCacheEntries(cniDir, id)).toEqual([]);
  });

  test("failures are 400 with a JSON CNI error object", async () => {
    const id = containerId("go");
    const expectError = async (body: string, code: number, msg: string) => {
      const res = await post(body);
      expect(res.status).toBe(400);
      expect(res.contentType).toStartWith("application/json");
      const obj = res.json();
      expect(obj.code).toBe(code);
      expect(obj.msg).toStartWith(msg);
      return obj;
    };
    const env = goShimEnv("ADD", id);
    delete (env as Record<string, string | undefined>).CNI_NETNS;
    const missing = await expectError(goShimBody(env, stdin()), 4, "required env variables [CNI_NETNS] missing");
    expect(missing.msg).toBe("required env variables [CNI_NETNS] missing");
    await expectError(
      goShimBody(goShimEnv("ADD", id, { CNI_IFNAME: "this-name-is-too-long" }), stdin()),
      4,
      "invalid CNI_IFNAME",
    );
    await expectError(goShimBody(goShimEnv("ADD", id), "{not json"), 6, "failed to decode CNI configuration");
    await expectError("this is not a request", 6, "could not decode the CNI request body");
    await expectError("{}", 4, "unexpected or missing CNI_COMMAND");
    // a netns that does not exist is refused before any delegate runs
    const gone = `/var/run/netns/${ns.name}-gone`;
    const err = await expectError(
      goShimBody(goShimEnv("ADD", id, { CNI_NETNS: gone }), stdin()),
      999,
      `failed to open netns "${gone}"`,
    );
    expect(err.details).toContain("no such file or directory");
    expect(await storeIps(cluster.dataDir, cluster.name)).toEqual([]);
    expect(await exists(join(cniDir, id))).toBe(false);
  });

  test("hostile request bodies get a 4xx and never take the daemon down", async () => {
    const id = containerId("bad");
    const cases: Array<[string, number, number | undefined]> = [
      ["[]", 400, 6],
      ["null", 400, 6],
      ['{"env": "CNI_COMMAND=ADD", "config": ""}', 400, 6],
      [JSON.stringify({ env: { CNI_COMMAND: 5 }, config: "" }), 400, 6],
      [JSON.stringify({ env: goShimEnv("ADD", id), config: "%%% not base64 %%%" }), 400, 6],
      [JSON.stringify({ env: goShimEnv("ADD", id), config: Buffer.from("[1,2]").toString("base64") }), 400, 6],
      [JSON.stringify({ env: goShimEnv("ADD", id), config: "", interfaceAttributes: "x" }), 400, 6],
      ["{".repeat(100_000), 400, 6],
    ];
    for (const [body, status, code] of cases) {
      const res = await post(body);
      expect(res.status, body.slice(0, 60)).toBe(status);
      expect(res.json().code, body.slice(0, 60)).toBe(code);
    }
    // More than a CNI request could ever be: refused before it is read into memory.
    const huge = await post(JSON.stringify({ env: goShimEnv("ADD", id), config: "A".repeat(9 * 1024 * 1024) }));
    expect(huge.status).toBe(413);
    // Still serving, and nothing was attached or cached.
    expect((await socketRequest(socket, "/readyz", { method: "GET" })).status).toBe(200);
    expect(await exists(join(cniDir, id))).toBe(false);
  });

  test("methods and paths: 405 for a wrong method, 404 for an unknown path, health and readiness 200", async () => {
    for (const path of ["/cni", "/delegate"]) {
      for (const method of ["GET", "PUT", "DELETE"]) {
        const res = await socketRequest(socket, path, { method });
        expect([path, method, res.status, res.text]).toEqual([path, method, 405, "Method not allowed\n"]);
      }
    }
    for (const path of ["/healthz", "/readyz"]) {
      for (const method of ["GET", "POST"]) {
        const res = await socketRequest(socket, path, { method, body: method === "POST" ? "null" : undefined });
        expect([path, method, res.status, res.text]).toEqual([path, method, 200, ""]);
      }
      const put = await socketRequest(socket, path, { method: "PUT" });
      expect([path, put.status, put.text]).toEqual([path, 405, "Method not allowed\n"]);
    }
    for (const path of ["/", "/nope", "/cni/extra"]) {
      const res = await socketRequest(socket, path, { method: "POST", body: "{}" });
      expect([path, res.status, res.text]).toEqual([path, 404, ""]);
    }
  });
});

/**
 * A body as Go's `CreateDelegateRequest` builds it for hot-plug (the
 * multus-dynamic-networks-controller): five env keys only (no CNI_PATH),
 * `config` the NAD's conf as base64, `interfaceAttributes` of the interface.
 */
function goDelegateBody(o: {
  command: string;
  id: string;
  ifname?: string;
  config: Record<string, unknown>;
  interfaceAttributes?: Record<string, unknown>;
}): string {
  const env: Record<string, string> = {
    CNI_COMMAND: o.command,
    CNI_CONTAINERID: o.id,
    CNI_NETNS: ns.path,
    CNI_ARGS: `IgnoreUnknown=true;K8S_POD_NAMESPACE=default;K8S_POD_NAME=go-${o.id};K8S_POD_UID=uid-${o.id}`,
  };
  if (o.ifname !== undefined) env.CNI_IFNAME = o.ifname;
  return JSON.stringify({
    env,
    config: Buffer.from(JSON.stringify(o.config)).toString("base64"),
    interfaceAttributes: o.interfaceAttributes,
  });
}

describe.skipIf(!canRunE2e)("the /delegate endpoint with Go CreateDelegateRequest bodies", () => {
  const postDelegate = (body: string) =>
    socketRequest(socket, "/delegate", { body, headers: { "content-type": "application/json" } });
  const hotplugConf = (bridge: string) => ({
    cniVersion: "1.0.0",
    name: `hot-${s}`,
    type: "bridge",
    bridge,
    capabilities: { ips: true },
    ipam: { type: "static" },
  });

  test("ADD and DEL of a hot-plugged interface on a running pod, without CNI_PATH", async () => {
    const id = containerId("hot");
    const bridge = `mthot${s}`;
    cleanup.add(() => deleteBridge(bridge));
    expect((await post(goShimBody(goShimEnv("ADD", id), stdin()))).status).toBe(200);
    const body = (command: string) =>
      goDelegateBody({
        command,
        id,
        ifname: "net1",
        config: hotplugConf(bridge),
        interfaceAttributes: { ips: ["10.251.7.9/24"] },
      });
    const add = await postDelegate(body("ADD"));
    expect(add.status, add.text).toBe(200);
    expect(add.json().Result.ips).toEqual([{ address: "10.251.7.9/24", interface: 2 }]);
    expect(await ns.addrs("net1")).toEqual(["10.251.7.9/24"]);
    expect((await ns.links()).sort()).toEqual(["eth0", "lo", "net1"]);

    const del = await postDelegate(body("DEL"));
    expect([del.status, del.text]).toEqual([200, ""]);
    expect((await ns.links()).sort()).toEqual(["eth0", "lo"]);
    expect((await post(goShimBody(goShimEnv("DEL", id), stdin()))).status).toBe(200);
  });

  test("a request without CNI_IFNAME attaches eth0", async () => {
    const id = containerId("hot");
    const bridge = `mthoe${s}`;
    cleanup.add(() => deleteBridge(bridge));
    const body = (command: string) =>
      goDelegateBody({ command, id, config: hotplugConf(bridge), interfaceAttributes: { ips: ["10.251.8.3/24"] } });
    const add = await postDelegate(body("ADD"));
    expect(add.status, add.text).toBe(200);
    expect(await ns.addrs("eth0")).toEqual(["10.251.8.3/24"]);
    expect((await postDelegate(body("DEL"))).status).toBe(200);
    expect(await ns.links()).toEqual(["lo"]);
  });
});
