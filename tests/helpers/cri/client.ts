// A small CRI runtime.v1 client (what kubelet speaks to containerd), enough to run a
// pod sandbox and tear it down: @grpc/grpc-js + @grpc/proto-loader over the runtime's
// unix socket, with the message subset in runtime-v1.proto.
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { join } from "node:path";

const PROTO = join(import.meta.dir, "runtime-v1.proto");

/** What a test says about a pod; containerd turns it into CNI_ARGS (K8S_POD_*) and, for
 *  plugins declaring io.kubernetes.cri.pod-annotations, runtimeConfig podAnnotations. */
export interface SandboxPod {
  name: string;
  namespace: string;
  uid: string;
  attempt?: number;
  annotations?: Record<string, string>;
  labels?: Record<string, string>;
  hostname?: string;
  /** Parent cgroup (cgroupfs path); runc creates <parent>/<sandbox id> in every controller. */
  cgroupParent?: string;
  portMappings?: Array<{ protocol?: "TCP" | "UDP" | "SCTP"; containerPort: number; hostPort: number; hostIp?: string }>;
}

export interface SandboxSummary {
  id: string;
  metadata: { name: string; uid: string; namespace: string; attempt: number };
  state: "SANDBOX_READY" | "SANDBOX_NOTREADY";
  annotations: Record<string, string>;
  labels: Record<string, string>;
}

export interface SandboxStatus extends SandboxSummary {
  /** The IPs containerd took from the CNI result (its first network: ours). */
  network: { ip: string; additionalIps: Array<{ ip: string }> } | null;
  /** Verbose info: containerd puts one JSON document under "info". */
  info: Record<string, string>;
}

export interface RuntimeCondition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

export interface CriClient {
  readonly address: string;
  version(): Promise<{ runtimeName: string; runtimeVersion: string; runtimeApiVersion: string }>;
  /** Runtime conditions (RuntimeReady, NetworkReady) and, verbose, info such as "cniconfig". */
  status(verbose?: boolean): Promise<{ conditions: RuntimeCondition[]; info: Record<string, string> }>;
  runPodSandbox(pod: SandboxPod, opts?: { timeoutMs?: number }): Promise<string>;
  podSandboxStatus(id: string): Promise<SandboxStatus>;
  /** The sandbox's network namespace path (from the verbose runtime spec, else /proc/<pid>/ns/net). */
  sandboxNetns(id: string): Promise<string>;
  stopPodSandbox(id: string, opts?: { timeoutMs?: number }): Promise<void>;
  removePodSandbox(id: string, opts?: { timeoutMs?: number }): Promise<void>;
  listPodSandbox(): Promise<SandboxSummary[]>;
  close(): void;
}

type Unary = (
  req: unknown,
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (err: grpc.ServiceError | null, res: any) => void,
) => void;

let definition: protoLoader.PackageDefinition | undefined;

/** Connects to `address` (a unix socket path). Each call has its own deadline. */
export function createCriClient(address: string, opts: { defaultTimeoutMs?: number } = {}): CriClient {
  definition ??= protoLoader.loadSync(PROTO, {
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: true,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as any;
  const Service = pkg.runtime.v1.RuntimeService as typeof grpc.Client;
  const client = new Service(`unix://${address}`, grpc.credentials.createInsecure()) as grpc.Client &
    Record<string, Unary>;
  const defaultTimeoutMs = opts.defaultTimeoutMs ?? 30_000;

  const call = <T>(method: string, req: unknown, timeoutMs = defaultTimeoutMs): Promise<T> =>
    new Promise((resolve, reject) => {
      const fn = client[method];
      if (!fn) return reject(new Error(`CRI client: no method ${method}`));
      fn.call(client, req, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
        if (err)
          reject(
            Object.assign(new Error(`CRI ${method}: ${err.details || err.message}`), { code: err.code, cause: err }),
          );
        else resolve(res as T);
      });
    });

  const api: CriClient = {
    address,
    version: () => call("Version", { version: "v1" }),
    async status(verbose = false) {
      const res = await call<{ status: { conditions: RuntimeCondition[] } | null; info: Record<string, string> }>(
        "Status",
        { verbose },
      );
      return { conditions: res.status?.conditions ?? [], info: res.info ?? {} };
    },
    async runPodSandbox(pod, o = {}) {
      const config = {
        metadata: { name: pod.name, uid: pod.uid, namespace: pod.namespace, attempt: pod.attempt ?? 0 },
        hostname: pod.hostname ?? pod.name,
        labels: pod.labels ?? {},
        annotations: pod.annotations ?? {},
        portMappings: (pod.portMappings ?? []).map((p) => ({
          protocol: p.protocol ?? "TCP",
          containerPort: p.containerPort,
          hostPort: p.hostPort,
          hostIp: p.hostIp ?? "",
        })),
        linux: { cgroupParent: pod.cgroupParent ?? "" },
      };
      const res = await call<{ podSandboxId: string }>("RunPodSandbox", { config, runtimeHandler: "" }, o.timeoutMs);
      return res.podSandboxId;
    },
    async podSandboxStatus(id) {
      const res = await call<{ status: Omit<SandboxStatus, "info">; info: Record<string, string> }>(
        "PodSandboxStatus",
        { podSandboxId: id, verbose: true },
      );
      return { ...res.status, info: res.info ?? {} };
    },
    async sandboxNetns(id) {
      const { info } = await api.podSandboxStatus(id);
      const doc = info.info
        ? (JSON.parse(info.info) as {
            pid?: number;
            runtimeSpec?: { linux?: { namespaces?: Array<{ type: string; path?: string }> } };
          })
        : {};
      const path = doc.runtimeSpec?.linux?.namespaces?.find((n) => n.type === "network")?.path;
      if (path) return path;
      if (doc.pid) return `/proc/${doc.pid}/ns/net`;
      throw new Error(`CRI: no network namespace in the status of sandbox ${id}`);
    },
    async stopPodSandbox(id, o = {}) {
      await call("StopPodSandbox", { podSandboxId: id }, o.timeoutMs);
    },
    async removePodSandbox(id, o = {}) {
      await call("RemovePodSandbox", { podSandboxId: id }, o.timeoutMs);
    },
    async listPodSandbox() {
      const res = await call<{ items: SandboxSummary[] }>("ListPodSandbox", {});
      return res.items ?? [];
    },
    close: () => client.close(),
  };
  return api;
}
