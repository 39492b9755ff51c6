// A stand-in kubelet PodResources API v1 on a unix socket: a real gRPC server
// (@grpc/grpc-js) with the message definitions loaded by @grpc/proto-loader from
// the repository's .proto, so the client's own HTTP/2 framing and hand-written
// decoder are checked against an independent implementation. Tests set the pods
// it reports, an error it answers with, or a delay.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { join } from "node:path";

const PROTO = join(import.meta.dir, "../../src/kubelet/podresources-v1.proto");

export interface FakePodResources {
  name: string;
  namespace: string;
  containers: Array<{
    name: string;
    devices?: Array<{ resourceName: string; deviceIds: string[]; numaNodes?: number[] }>;
    cpuIds?: number[];
    /** DRA claims, as kubelets with KubeletPodResourcesDynamicResources report them. */
    dynamicResources?: Array<{
      className?: string;
      claimName: string;
      claimNamespace?: string;
      claimResources: Array<{ cdiDevices: string[]; driverName?: string; poolName?: string; deviceName?: string }>;
    }>;
  }>;
}

export interface PodResourcesServer {
  socketPath: string;
  /** What List answers from now on. */
  setPods(pods: FakePodResources[]): void;
  /** Answer List with this gRPC status instead (undefined: answer normally). */
  setError(err: { code: grpc.status; details: string } | undefined): void;
  /** Wait this long before answering List (deadline tests). */
  setDelay(ms: number): void;
  /** List calls received so far. */
  calls(): number;
  stop(): Promise<void>;
}

export async function startPodResourcesServer(socketPath: string): Promise<PodResourcesServer> {
  const definition = protoLoader.loadSync(PROTO, { keepCase: false, longs: Number, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    v1: { PodResourcesLister: grpc.ServiceClientConstructor };
  };
  let pods: FakePodResources[] = [];
  let failure: { code: grpc.status; details: string } | undefined;
  let calls = 0;
  let delayMs = 0;
  const server = new grpc.Server();
  server.addService(pkg.v1.PodResourcesLister.service, {
    async List(_call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) {
      calls++;
      if (delayMs > 0) await Bun.sleep(delayMs);
      if (failure) {
        callback({ code: failure.code, details: failure.details });
        return;
      }
      callback(null, {
        podResources: pods.map((p) => ({
          name: p.name,
          namespace: p.namespace,
          containers: p.containers.map((c) => ({
            name: c.name,
            cpuIds: c.cpuIds ?? [],
            devices: (c.devices ?? []).map((d) => ({
              resourceName: d.resourceName,
              deviceIds: d.deviceIds,
              topology: d.numaNodes ? { nodes: d.numaNodes.map((id) => ({ ID: id })) } : undefined,
            })),
            dynamicResources: (c.dynamicResources ?? []).map((r) => ({
              className: r.className ?? "",
              claimName: r.claimName,
              claimNamespace: r.claimNamespace ?? p.namespace,
              claimResources: r.claimResources.map((cr) => ({
                cdiDevices: cr.cdiDevices.map((name) => ({ name })),
                driverName: cr.driverName ?? "",
                poolName: cr.poolName ?? "",
                deviceName: cr.deviceName ?? "",
              })),
            })),
          })),
        })),
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.bindAsync(`unix://${socketPath}`, grpc.ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    );
  });
  return {
    socketPath,
    setPods: (p) => {
      pods = p;
    },
    setError: (e) => {
      failure = e;
    },
    setDelay: (ms) => {
      delayMs = ms;
    },
    calls: () => calls,
    stop: () => new Promise<void>((resolve) => server.tryShutdown(() => resolve())),
  };
}
