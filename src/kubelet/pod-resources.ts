// Client of the kubelet PodResources API v1: one unary `List`
// over the kubelet's unix socket, 10 s to connect and 10 s for the call, replies
// up to 16 MiB. The gRPC call is in pod-resources-grpc.ts (node:http2, loaded on
// the first call), the decoding of the reply in pod-resources-proto.ts.
import { connect, unaryCall } from "./pod-resources-grpc.ts";
import { decodeListPodResourcesResponse, type PodResources } from "./pod-resources-proto.ts";

export { GrpcStatus, PodResourcesError } from "./pod-resources-error.ts";
export type { ContainerDevices, ContainerResources, DynamicResource, PodResources } from "./pod-resources-proto.ts";

export const DEFAULT_POD_RESOURCES_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock";
export const LIST_METHOD = "/v1.PodResourcesLister/List";
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface ListOptions {
  socketPath: string;
  /** Connect and call deadline each (default 10 s, as the Go Multus). */
  timeoutMs?: number;
  /** Largest reply accepted (default 16 MiB). */
  maxMessageBytes?: number;
}

/** Every pod the kubelet reports, with its containers' devices. */
export async function listPodResources(opts: ListOptions): Promise<PodResources[]> {
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const session = await connect(opts.socketPath, timeoutMs);
  try {
    const message = await unaryCall(session, {
      path: LIST_METHOD,
      request: new Uint8Array(0), // ListPodResourcesRequest has no fields
      timeoutMs,
      maxMessageBytes: opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
      where: opts.socketPath,
    });
    return decodeListPodResourcesResponse(message);
  } finally {
    session.close();
    session.destroy();
  }
}
