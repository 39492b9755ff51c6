// The kubelet PodResources client against a local gRPC server on a unix socket
// (tests/helpers/pod-resources-server.ts), in-process and compiled.
import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { tmpdir } from "node:os";
import { status } from "@grpc/grpc-js";
import { createDevicePort } from "../../src/kubelet/devices.ts";
import { listPodResources, PodResourcesError } from "../../src/kubelet/pod-resources.ts";
import {
  startPodResourcesServer,
  type FakePodResources,
  type PodResourcesServer,
} from "../helpers/pod-resources-server.ts";

const SRIOV = "intel.com/sriov_netdevice";
// As a kubelet reports them: one ContainerDevices per device and NUMA node, in map order.
const PODS: FakePodResources[] = [
  {
    name: "other",
    namespace: "ns1",
    containers: [{ name: "c", devices: [{ resourceName: SRIOV, deviceIds: ["0000:03:02.7"] }] }],
  },
  {
    name: "pod1",
    namespace: "ns1",
    containers: [
      {
        name: "app",
        cpuIds: [4, 5],
        devices: [
          { resourceName: SRIOV, deviceIds: ["0000:03:02.4"], numaNodes: [1] },
          { resourceName: "example.com/gpu", deviceIds: ["gpu-0"] },
          { resourceName: SRIOV, deviceIds: ["0000:03:02.2"], numaNodes: [0] },
          { resourceName: SRIOV, deviceIds: ["0000:03:02.2"], numaNodes: [1] },
        ],
      },
      { name: "sidecar", devices: [{ resourceName: SRIOV, deviceIds: ["0000:03:02.1"] }] },
    ],
  },
  {
    name: "pod1",
    namespace: "ns2",
    containers: [{ name: "c", devices: [{ resourceName: SRIOV, deviceIds: ["0000:03:02.9"] }] }],
  },
];

let dir: string;
let server: PodResourcesServer;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "multus-podresources-"));
  server = await startPodResourcesServer(join(dir, "kubelet.sock"));
});
afterAll(async () => {
  await server.stop();
  await rm(dir, { recursive: true, force: true });
});
afterEach(() => {
  server.setPods([]);
  server.setError(undefined);
  server.setDelay(0);
});

describe("createDevicePort with the PodResources socket", () => {
  test("the pod's devices by namespace/name: containers in order, each container's IDs sorted and once", async () => {
    server.setPods(PODS);
    // A checkpoint that would say otherwise: the socket wins.
    await writeFile(
      join(dir, "checkpoint"),
      JSON.stringify({
        Data: { PodDeviceEntries: [{ PodUID: "uid-1", ResourceName: SRIOV, DeviceIDs: { "0": ["nope"] } }] },
      }),
    );
    const port = createDevicePort({ podResourcesSocket: server.socketPath, checkpointFile: join(dir, "checkpoint") });
    const before = server.calls();
    expect(await port.getPodDevices({ uid: "uid-1", namespace: "ns1", name: "pod1" })).toEqual(
      new Map([
        [SRIOV, ["0000:03:02.2", "0000:03:02.4", "0000:03:02.1"]],
        ["example.com/gpu", ["gpu-0"]],
      ]),
    );
    expect(server.calls()).toBe(before + 1);
    expect(await port.getPodDevices({ uid: "x", namespace: "ns1", name: "absent" })).toEqual(new Map());
  });

  test("DRA claims the kubelet reports (DynamicResources) are resources named after the claim", async () => {
    server.setPods([
      {
        name: "dra",
        namespace: "ns1",
        containers: [
          {
            name: "app",
            devices: [{ resourceName: SRIOV, deviceIds: ["0000:03:02.4"] }],
            dynamicResources: [
              {
                claimName: "vf-claim",
                claimResources: [
                  {
                    cdiDevices: ["k8s.example.com/vf=0000:04:00.3", "k8s.example.com/vf=0000:04:00.2"],
                    driverName: "vf.example.com",
                    poolName: "node-e2e",
                    deviceName: "vf-3",
                  },
                ],
              },
            ],
          },
        ],
      },
    ]);
    const port = createDevicePort({ podResourcesSocket: server.socketPath, checkpointFile: join(dir, "none") });
    expect(await port.getPodDevices({ uid: "u", namespace: "ns1", name: "dra" })).toEqual(
      new Map([
        [SRIOV, ["0000:03:02.4"]],
        ["vf-claim", ["0000:04:00.2", "0000:04:00.3"]],
      ]),
    );
  });

  test("an error status from the kubelet is a PodResourcesError with its code", async () => {
    server.setError({ code: status.UNAVAILABLE, details: "kubelet is shutting down" });
    const err = await listPodResources({ socketPath: server.socketPath }).catch((e) => e);
    expect(err).toBeInstanceOf(PodResourcesError);
    expect(err.code).toBe(status.UNAVAILABLE);
    expect(err.message).toContain("kubelet is shutting down");
  });

  test("a reply over the size limit is refused (RESOURCE_EXHAUSTED)", async () => {
    server.setPods(
      Array.from({ length: 50 }, (_, i) => ({
        name: `p${i}`,
        namespace: "ns",
        containers: [{ name: "c", devices: [{ resourceName: SRIOV, deviceIds: [`0000:03:02.${i}`] }] }],
      })),
    );
    const err = await listPodResources({ socketPath: server.socketPath, maxMessageBytes: 256 }).catch((e) => e);
    expect(err).toBeInstanceOf(PodResourcesError);
    expect(err.code).toBe(status.RESOURCE_EXHAUSTED);
    expect((await listPodResources({ socketPath: server.socketPath })).length).toBe(50);
  });

  test("a large reply (several HTTP/2 frames and flow-control windows) arrives whole", async () => {
    const ids = Array.from(
      { length: 40_000 },
      (_, i) =>
        `0000:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}.0-device-id-padding`,
    );
    server.setPods([
      { name: "big", namespace: "ns", containers: [{ name: "c", devices: [{ resourceName: SRIOV, deviceIds: ids }] }] },
    ]);
    const pods = await listPodResources({ socketPath: server.socketPath });
    expect(pods[0]!.containers[0]!.devices[0]!.deviceIds).toEqual(ids);
  });

  test("no reply within the deadline: DEADLINE_EXCEEDED", async () => {
    server.setDelay(1_000);
    const started = Date.now();
    const err = await listPodResources({ socketPath: server.socketPath, timeoutMs: 200 }).catch((e) => e);
    expect(err).toBeInstanceOf(PodResourcesError);
    expect(err.code).toBe(status.DEADLINE_EXCEEDED);
    expect(Date.now() - started).toBeLessThan(900);
  });

  test("a socket file nobody listens on: a connect error within the deadline", async () => {
    const stale = join(dir, "stale.sock");
    await writeFile(stale, "");
    const started = Date.now();
    const err = await createDevicePort({
      podResourcesSocket: stale,
      checkpointFile: join(dir, "checkpoint"),
      timeoutMs: 300,
    })
      .getPodDevices({ uid: "uid-1", namespace: "ns1", name: "pod1" })
      .catch((e) => e);
    expect(err).toBeInstanceOf(PodResourcesError);
    expect(err.message).toContain("cannot connect to the kubelet PodResources API");
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});

test("the client works inside a compiled binary (build.ts flags)", async () => {
  const exe = join(dir, "pod-resources-client");
  const build = Bun.spawn(
    [
      process.execPath,
      "build",
      "--compile",
      "--splitting",
      "--minify",
      "--bytecode",
      "--format=esm",
      "--no-compile-autoload-dotenv",
      "--no-compile-autoload-bunfig",
      resolve(import.meta.dir, "../helpers/pod-resources-client.ts"),
      "--outfile",
      exe,
    ],
    { stdout: "pipe", stderr: "pipe" },
  );
  expect(await build.exited).toBe(0);
  server.setPods(PODS);
  // Not spawnSync: the server answers from this process's event loop.
  const run = Bun.spawn([exe, server.socketPath, "ns1", "pod1"], { stdout: "pipe", stderr: "pipe", cwd: dir });
  const [code, out, err] = await Promise.all([
    run.exited,
    new Response(run.stdout).text(),
    new Response(run.stderr).text(),
  ]);
  expect(err).toBe("");
  expect(code).toBe(0);
  expect(JSON.parse(out)).toEqual({
    [SRIOV]: ["0000:03:02.2", "0000:03:02.4", "0000:03:02.1"],
    "example.com/gpu": ["gpu-0"],
  });
}, 60_000);
