// `multus validate` says what the daemon does: the same pod and NADs, once
// through validate (the manifests as the fake API server serves them, written
// to files as `kubectl get -o json` would) and once through a real ADD (shim,
// daemon, fake API, recording delegates): every interface name and every
// plugin's runtimeConfig agree.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readRecords } from "../helpers/build-fixtures.ts";
import { canRunE2e, containerId, netnsPerTest } from "../helpers/e2e.ts";
import { describeRun, startK8sEnv, type K8sEnv } from "../helpers/k8s-e2e.ts";
import { runMultus } from "../helpers/multus.ts";
import { randomSuffix } from "../helpers/netns.ts";

let env: K8sEnv;
beforeAll(async () => {
  if (canRunE2e) env = await startK8sEnv({ withRecorder: true });
});
afterAll(() => env?.stop());
const ns = netnsPerTest("mtva");

describe.skipIf(!canRunE2e)("validate agrees with ADD", () => {
  test("interface names and each plugin's runtimeConfig, for networks with ips, mac, portMappings and an explicit name", async () => {
    const s = randomSuffix(5);
    const records = join(env.dir, `rec-${s}.jsonl`);
    const recorder = (name: string, caps: Record<string, boolean>) => ({
      cniVersion: "1.0.0",
      name,
      plugins: [
        { type: "recorder", recordFile: records, capabilities: caps },
        { type: "recorder", recordFile: records, capabilities: { portMappings: true } },
      ],
    });
    env.createNad({ name: `a-${s}`, config: recorder(`a-${s}`, { ips: true, mac: true }) });
    env.createNad({ name: `b-${s}`, config: recorder(`b-${s}`, { bandwidth: true }) });
    const pod = env.createPod({
      annotations: {
        "k8s.v1.cni.cncf.io/networks": JSON.stringify([
          { name: `a-${s}`, ips: ["10.77.0.9/24"], mac: "02:00:00:77:00:09" },
          {
            name: `b-${s}`,
            interface: "side0",
            portMappings: [{ hostPort: 9090, containerPort: 90, protocol: "udp" }],
            bandwidth: { ingressRate: 1000, ingressBurst: 10 },
          },
          { name: `a-${s}`, ips: ["10.77.0.10/24"] },
        ]),
      },
    });

    // validate: the pod and NADs as the API serves them, and the daemon's own config with the cluster network.
    const podFile = join(env.dir, `pod-${s}.json`);
    await writeFile(podFile, JSON.stringify(env.fake.getPod(pod.namespace, pod.name), null, 2));
    const nadFile = join(env.dir, `nads-${s}.json`);
    const items = [`a-${s}`, `b-${s}`].map((n) => env.fake.getNad("default", n));
    await writeFile(nadFile, JSON.stringify({ apiVersion: "v1", kind: "List", items }));
    const daemonConfig = JSON.parse(await Bun.file(env.daemon.configPath).text());
    const configFile = join(env.dir, `daemon-config-${s}.json`);
    await writeFile(configFile, JSON.stringify({ ...daemonConfig, clusterNetwork: env.clusterFile }));
    const v = await runMultus(["validate", "--pod", podFile, "--nad", nadFile, "--config", configFile, "--json"]);
    const report = JSON.parse(v.stdout);
    expect(report.errors).toEqual([]);
    expect(v.code).toBe(0);

    const id = containerId("va");
    const r = await env.cni("ADD", { pod, containerId: id, netns: ns.path });
    expect(r.code, describeRun(r)).toBe(0);
    await env.cni("DEL", { pod, containerId: id, netns: ns.path });

    // What the recorders got on ADD, in order: (ifname, runtimeConfig) per plugin call.
    const got = (await readRecords(records))
      .filter((rec) => rec.command === "ADD")
      .map((rec) => [rec.env.CNI_IFNAME, rec.conf.runtimeConfig ?? null]);
    const said = report.delegates
      .filter((d: any) => d.role === "network")
      .flatMap((d: any) => d.plugins.map((p: any) => [d.ifname, p.runtimeConfig ?? null]));
    expect(got).toEqual(said);
    // And it is what the pod asked for, not two empty lists agreeing.
    expect(said.map((x: unknown[]) => x[0])).toEqual(["net1", "net1", "side0", "side0", "net3", "net3"]);
    expect(said[0][1]).toEqual({ ips: ["10.77.0.9/24"], mac: "02:00:00:77:00:09" });
    expect(said[2][1]).toEqual({ bandwidth: { ingressRate: 1000, ingressBurst: 10, egressRate: 0, egressBurst: 0 } });
    expect(said[3][1]).toEqual({ portMappings: [{ hostPort: 9090, containerPort: 90, protocol: "udp" }] });
    expect(report.delegates[0]).toMatchObject({ ifname: "eth0", role: "cluster", checked: true });
  });
});
