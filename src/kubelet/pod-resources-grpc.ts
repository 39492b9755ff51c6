// One unary gRPC call to the kubelet, spoken directly over node:http2 (h2c,
// length-prefixed messages, status in trailers): @grpc/grpc-js would cost the
// daemon far more memory than node:http2 alone (bench/results.md, "Costs the
// code is shaped by"). node:http2 is imported on the first call, so a node
// without device plugins never loads it.
import type { ClientHttp2Session, ClientHttp2Stream, IncomingHttpHeaders } from "node:http2";
import { GrpcStatus, PodResourcesError } from "./pod-resources-error.ts";

export interface UnaryCall {
  path: string;
  request: Uint8Array;
  timeoutMs: number;
  maxMessageBytes: number;
  /** The socket, for messages. */
  where: string;
}

/** An h2c session over the unix socket at `socketPath`, connected within `timeoutMs`. */
export async function connect(socketPath: string, timeoutMs: number): Promise<ClientHttp2Session> {
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
export function unaryCall(session: ClientHttp2Session, call: UnaryCall): Promise<Uint8Array> {
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
    const failWith = (code: number, why: string, cause?: unknown) => finish(callError(call, { code, why, cause }));

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
    const reply = collectReply(stream, {
      maxMessageBytes: call.maxMessageBytes,
      onTooLarge: () => failWith(GrpcStatus.RESOURCE_EXHAUSTED, `reply larger than ${call.maxMessageBytes} bytes`),
    });
    stream.on("error", (err) => failWith(GrpcStatus.UNAVAILABLE, err.message, err));
    stream.on("close", () => {
      if (settled) return;
      try {
        finish(undefined, messageOf(reply, call));
      } catch (err) {
        finish(err as PodResourcesError);
      }
    });
    stream.end(frame(call.request));
  });
}

interface Reply {
  headers: IncomingHttpHeaders;
  trailers: IncomingHttpHeaders;
  chunks: Buffer[];
}

/** Gathers the stream's headers, trailers and body; more than one message's worth of body calls `onTooLarge`. */
function collectReply(
  stream: ClientHttp2Stream,
  { maxMessageBytes, onTooLarge }: { maxMessageBytes: number; onTooLarge(): void },
): Reply {
  const reply: Reply = { headers: {}, trailers: {}, chunks: [] };
  let received = 0;
  stream.on("response", (h) => {
    reply.headers = h;
  });
  stream.on("trailers", (t) => {
    reply.trailers = t;
  });
  stream.on("data", (chunk: Buffer) => {
    received += chunk.length;
    if (received > maxMessageBytes + 5) {
      onTooLarge();
      return;
    }
    reply.chunks.push(chunk);
  });
  return reply;
}

/** The reply's one message once the stream closed; throws on a missing or non-OK grpc-status or a bad frame. */
function messageOf({ headers, trailers, chunks }: Reply, call: UnaryCall): Uint8Array {
  const httpStatus = Number(headers[":status"] ?? 0);
  // A trailers-only reply (an error at once) carries grpc-status in the headers.
  const status = trailers["grpc-status"] ?? headers["grpc-status"];
  if (status === undefined) {
    throw callError(call, {
      code: httpStatus === 200 ? GrpcStatus.UNKNOWN : GrpcStatus.UNAVAILABLE,
      why: httpStatus === 200 ? "reply without grpc-status" : `HTTP status ${httpStatus || "none"}`,
    });
  }
  const code = Number(status);
  if (code !== GrpcStatus.OK) {
    const raw = String(trailers["grpc-message"] ?? headers["grpc-message"] ?? "");
    throw callError(call, { code, why: `${statusName(code)}: ${decodeGrpcMessage(raw)}` });
  }
  return unframe(Buffer.concat(chunks), call.maxMessageBytes);
}

function callError(call: UnaryCall, { code, why, cause }: { code: number; why: string; cause?: unknown }) {
  return new PodResourcesError(`kubelet PodResources List at ${call.where} failed: ${why}`, { code, cause });
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
