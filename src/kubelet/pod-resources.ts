// Client of the kubelet PodResources API v1: one unary `List`
// over the kubelet's unix socket, 10 s to connect and 10 s for the call, replies
// up to 16 MiB. gRPC is spoken directly over node:http2 (h2c, length-prefixed
// messages, status in trailers) and the reply decoded by hand from the field
// numbers in podresources-v1.proto: a compiled binary carries no .proto file
// for a loader, and measured in the compiled daemon @grpc/grpc-js costs ~22 MB
// RSS once used against ~13 MB for node:http2 alone. node:http2 is imported on
// the first call, so a node without device plugins never loads it.
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from "node:http2";

export const DEFAULT_POD_RESOURCES_SOCKET = "/var/lib/kubelet/pod-resources/kubelet.sock";
export const LIST_METHOD = "/v1.PodResourcesLister/List";
const DEFAULT_TIMEOUT_MS = 10_000;
const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

/** gRPC status codes used here (google.golang.org/grpc/codes). */
export const GrpcStatus = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
} as const;

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

/** A failed List: `code` is the gRPC status (14 unavailable, 4 deadline exceeded, ...), absent when connecting failed. */
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

async function connect(socketPath: string, timeoutMs: number): Promise<ClientHttp2Session> {
  const [http2, net] = await Promise.all([import("node:http2"), import("node:net")]);
  return new Promise((resolve, reject) => {
    const fail = (why: string, cause?: unknown) => {
      clearTimeout(timer);
      session.destroy();
      reject(
        new PodResourcesError(`cannot connect to the kubelet PodResources API at ${socketPath}: ${why}`, { cause }),
      );
    };
    const session = http2.connect("http://localhost", { createConnection: () => net.connect(socketPath) });
    const timer = setTimeout(() => fail(`no connection within ${timeoutMs} ms`), timeoutMs);
    session.once("connect", () => {
      clearTimeout(timer);
      session.removeAllListeners("error");
      session.on("error", () => undefined); // later failures surface on the stream
      resolve(session);
    });
    session.once("error", (err) => fail(err.message, err));
  });
}

/** One unary gRPC call: a length-prefixed request, one length-prefixed reply, grpc-status in the trailers. */
function unaryCall(
  session: ClientHttp2Session,
  call: {
    path: string;
    request: Uint8Array;
    timeoutMs: number;
    maxMessageBytes: number;
    where: string;
  },
): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const finish = (err: PodResourcesError | undefined, value?: Uint8Array) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) {
        stream.close(0x8); // NGHTTP2_CANCEL
        reject(err);
      } else {
        resolve(value!);
      }
    };
    const failWith = (code: number, why: string, cause?: unknown) =>
      finish(new PodResourcesError(`kubelet PodResources List at ${call.where} failed: ${why}`, { code, cause }));

    const stream: ClientHttp2Stream = session.request({
      ":method": "POST",
      ":path": call.path,
      "content-type": "application/grpc",
      te: "trailers",
      "grpc-timeout": `${Math.max(1, Math.ceil(call.timeoutMs))}m`,
    });
    const timer = setTimeout(
      () => failWith(GrpcStatus.DEADLINE_EXCEEDED, `no reply within ${call.timeoutMs} ms`),
      call.timeoutMs,
    );
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const chunks: Buffer[] = [];
    let received = 0;
    stream.on("response", (h) => {
      headers = h;
    });
    stream.on("trailers", (t) => {
      trailers = t;
    });
    stream.on("data", (chunk: Buffer) => {
      received += chunk.length;
      if (received > call.maxMessageBytes + 5) {
        failWith(GrpcStatus.RESOURCE_EXHAUSTED, `reply larger than ${call.maxMessageBytes} bytes`);
        return;
      }
      chunks.push(chunk);
    });
    stream.on("error", (err) => failWith(GrpcStatus.UNAVAILABLE, err.message, err));
    stream.on("close", () => {
      if (settled) return;
      const httpStatus = Number(headers[":status"] ?? 0);
      // A trailers-only reply (an error at once) carries grpc-status in the headers.
      const status = trailers["grpc-status"] ?? headers["grpc-status"];
      if (status === undefined) {
        failWith(
          httpStatus === 200 ? GrpcStatus.UNKNOWN : GrpcStatus.UNAVAILABLE,
          httpStatus === 200 ? "reply without grpc-status" : `HTTP status ${httpStatus || "none"}`,
        );
        return;
      }
      const code = Number(status);
      if (code !== GrpcStatus.OK) {
        const raw = String(trailers["grpc-message"] ?? headers["grpc-message"] ?? "");
        failWith(code, `${statusName(code)}: ${decodeGrpcMessage(raw)}`);
        return;
      }
      try {
        finish(undefined, unframe(Buffer.concat(chunks), call.maxMessageBytes));
      } catch (err) {
        finish(err as PodResourcesError);
      }
    });
    stream.end(frame(call.request));
  });
}

/** gRPC length-prefixed message: flag 0 (uncompressed), 4-byte big-endian length, bytes. */
function frame(message: Uint8Array): Buffer {
  const out = Buffer.alloc(5 + message.length);
  out.writeUInt32BE(message.length, 1);
  out.set(message, 5);
  return out;
}

function unframe(body: Buffer, maxMessageBytes: number): Uint8Array {
  const bad = (why: string) =>
    new PodResourcesError(`malformed PodResources reply: ${why}`, { code: GrpcStatus.INTERNAL });
  if (body.length < 5) throw bad("no message");
  if (body[0] !== 0) throw bad("compressed message (none was offered)");
  const len = body.readUInt32BE(1);
  if (len > maxMessageBytes) {
    throw new PodResourcesError(`reply larger than ${maxMessageBytes} bytes`, { code: GrpcStatus.RESOURCE_EXHAUSTED });
  }
  if (body.length !== 5 + len) throw bad(body.length < 5 + len ? "truncated message" : "more than one message");
  return body.subarray(5);
}

function decodeGrpcMessage(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    return raw;
  }
}

const STATUS_NAMES = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];
function statusName(code: number): string {
  return STATUS_NAMES[code] ?? `status ${code}`;
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
