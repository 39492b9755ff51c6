// Client of the kubelet PodResources API v1 (REFERENCE k): one unary `List`
// over the kubelet's unix socket, 10 s to connect and 10 s for the call, replies
// up to 16 MiB. @grpc/grpc-js is imported on the first call, so a daemon on a
// node without device plugins never loads it. The reply is decoded by hand from
// the field numbers in podresources-v1.proto: a compiled binary carries no
// .proto file for a loader to read, and protobufjs would cost more memory than
// the forty lines below.
import type * as Grpc from "@grpc/grpc-js";

export const DEFAULT_POD_RESOURCES_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock";
export const LIST_METHOD = "/v1.PodResourcesLister/List";
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

export interface ContainerDevices {
  resourceName: string;
  deviceIds: string[];
}
export interface ContainerResources {
  name: string;
  devices: ContainerDevices[];
}
export interface PodResources {
  name: string;
  namespace: string;
  containers: ContainerResources[];
}

/** A failed List: `code` is the gRPC status (14 unavailable, 4 deadline exceeded, ...). */
export class PodResourcesError extends Error {
  override readonly name = "PodResourcesError";
  readonly code: number | undefined;
  constructor(message: string, opts: { code?: number; cause?: unknown } = {}) {
    super(message, { cause: opts.cause });
    this.code = opts.code;
  }
}

export interface ListOptions {
  socketPath: string;
  /** Connect and call deadline each (default 10 s, as the Go Multus). */
  timeoutMs?: number;
  /** Largest reply accepted (default 16 MiB). */
  maxMessageBytes?: number;
}

/** Every pod the kubelet reports, with its containers' devices. */
export async function listPodResources(opts: ListOptions): Promise<PodResources[]> {
  const grpc = await import("@grpc/grpc-js");
  const timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const client = new grpc.Client(`unix://${opts.socketPath}`, grpc.credentials.createInsecure(), {
    "grpc.max_receive_message_length": opts.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
    "grpc.enable_retries": 0,
  });
  try {
    await waitForReady(client, timeoutMs, opts.socketPath);
    return await callList(client, timeoutMs, opts.socketPath);
  } finally {
    client.close();
  }
}

function waitForReady(client: Grpc.Client, timeoutMs: number, socketPath: string): Promise<void> {
  return new Promise((resolve, reject) => {
    client.waitForReady(Date.now() + timeoutMs, (err) => {
      if (err) reject(new PodResourcesError(`cannot connect to the kubelet PodResources API at ${socketPath}: ${err.message}`, { cause: err }));
      else resolve();
    });
  });
}

function callList(client: Grpc.Client, timeoutMs: number, socketPath: string): Promise<PodResources[]> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest<Uint8Array, PodResources[]>(
      LIST_METHOD,
      () => Buffer.alloc(0), // ListPodResourcesRequest has no fields
      (buf: Buffer) => decodeListPodResourcesResponse(buf),
      new Uint8Array(0),
      { deadline: Date.now() + timeoutMs },
      (err: Grpc.ServiceError | null, value?: PodResources[]) => {
        if (err) {
          reject(new PodResourcesError(`kubelet PodResources List at ${socketPath} failed: ${err.details || err.message}`,
            { code: err.code, cause: err }));
        } else {
          resolve(value ?? []);
        }
      },
    );
  });
}

// ---------------------------------------------------------------------------
// Protocol buffers wire format, just enough for ListPodResourcesResponse.

const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Reads the (field, wire type, value) records of one message; unknown fields are skipped. */
function* fields(buf: Uint8Array): Generator<{ field: number; bytes?: Uint8Array }> {
  let pos = 0;
  const varint = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= buf.length) throw new PodResourcesError("malformed PodResources reply: truncated varint");
      const b = buf[pos++]!;
      // Values above 2^53 lose precision, and only field keys and lengths are used: they are small.
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 63) throw new PodResourcesError("malformed PodResources reply: varint too long");
    }
  };
  const skip = (n: number) => {
    if (pos + n > buf.length) throw new PodResourcesError("malformed PodResources reply: truncated field");
    pos += n;
  };
  while (pos < buf.length) {
    const key = varint();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === WIRE_LEN) {
      const len = varint();
      const start = pos;
      skip(len);
      yield { field, bytes: buf.subarray(start, start + len) };
    } else if (wire === WIRE_VARINT) {
      varint();
    } else if (wire === WIRE_FIXED64) {
      skip(8);
    } else if (wire === WIRE_FIXED32) {
      skip(4);
    } else {
      throw new PodResourcesError(`malformed PodResources reply: unsupported wire type ${wire}`);
    }
  }
}

function text(bytes: Uint8Array): string {
  try {
    return utf8.decode(bytes);
  } catch {
    throw new PodResourcesError("malformed PodResources reply: a string is not UTF-8");
  }
}

/** ListPodResourcesResponse { repeated PodResources pod_resources = 1; } */
export function decodeListPodResourcesResponse(buf: Uint8Array): PodResources[] {
  const pods: PodResources[] = [];
  for (const f of fields(buf)) if (f.field === 1 && f.bytes) pods.push(decodePod(f.bytes));
  return pods;
}

/** PodResources { name = 1; namespace = 2; repeated ContainerResources containers = 3; } */
function decodePod(buf: Uint8Array): PodResources {
  const pod: PodResources = { name: "", namespace: "", containers: [] };
  for (const f of fields(buf)) {
    if (!f.bytes) continue;
    if (f.field === 1) pod.name = text(f.bytes);
    else if (f.field === 2) pod.namespace = text(f.bytes);
    else if (f.field === 3) pod.containers.push(decodeContainer(f.bytes));
  }
  return pod;
}

/** ContainerResources { name = 1; repeated ContainerDevices devices = 2; ... } */
function decodeContainer(buf: Uint8Array): ContainerResources {
  const c: ContainerResources = { name: "", devices: [] };
  for (const f of fields(buf)) {
    if (!f.bytes) continue;
    if (f.field === 1) c.name = text(f.bytes);
    else if (f.field === 2) c.devices.push(decodeDevices(f.bytes));
  }
  return c;
}

/** ContainerDevices { resource_name = 1; repeated string device_ids = 2; TopologyInfo topology = 3; } */
function decodeDevices(buf: Uint8Array): ContainerDevices {
  const d: ContainerDevices = { resourceName: "", deviceIds: [] };
  for (const f of fields(buf)) {
    if (!f.bytes) continue;
    if (f.field === 1) d.resourceName = text(f.bytes);
    else if (f.field === 2) d.deviceIds.push(text(f.bytes));
  }
  return d;
}
