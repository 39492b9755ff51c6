// The body budget as the server keeps it (maxPendingRequestBytes): what a request takes is
// given back when it is answered, when its client goes away mid-body, and when its body
// is too slow; one that does not fit is answered 503 code 11 before its body is read.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type DaemonServer, gcOnRssGrowth, type ServerOptions, startServer } from "./server.ts";

const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** A server whose handler answers once `open()` is called, counting the calls. */
async function serverWithGate(opts: Partial<ServerOptions> = {}) {
  const dir = await mkdtemp(join(tmpdir(), "multus-server-"));
  const socketPath = join(dir, "s.sock");
  let open!: () => void;
  const gate = new Promise<void>((resolve) => (open = resolve));
  const handled: number[] = [];
  const server: DaemonServer = await startServer({
    socketPath,
    gcRssGrowthBytes: 0,
    ...opts,
    handle: async (request) => {
      handled.push((await request.arrayBuffer()).byteLength);
      await gate;
      return new Response("{}", { headers: { "Content-Type": "application/json" } });
    },
  });
  cleanups.push(async () => {
    open();
    await server.stop(1000);
    await rm(dir, { recursive: true, force: true });
  });
  return { server, socketPath, open, handled };
}

async function until(what: string, cond: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(5);
  }
}

const post = (socketPath: string, body: string | ReadableStream<Uint8Array>) =>
  fetch("http://multus/cni", { unix: socketPath, method: "POST", body });

/** Headers declaring `length` bytes and the first `sent` of them; the socket is left open. */
function partialBody(socketPath: string, length: number, sent: number): { socket: Socket; answer: Promise<string> } {
  const socket = connect(socketPath);
  let answer = "";
  socket.on("connect", () => {
    socket.write(`POST /cni HTTP/1.1\r\nHost: multus\r\nContent-Length: ${length}\r\n\r\n`);
    socket.write("x".repeat(sent));
  });
  socket.on("data", (d) => (answer += String(d)));
  return {
    socket,
    answer: new Promise((resolve) => {
      socket.on("close", () => resolve(answer));
      socket.on("error", () => resolve(answer));
    }),
  };
}

describe("request body budget", () => {
  test("a body's bytes are held while it waits to be answered, and given back once it is", async () => {
    const s = await serverWithGate();
    const res = post(s.socketPath, "x".repeat(10_000));
    await until("the handler", () => s.handled.length === 1);
    expect(s.server.bodies().heldBytes).toBe(10_000);
    s.open();
    expect((await res).status).toBe(200);
    expect(s.server.bodies().heldBytes).toBe(0);
  });

  test("a client that goes away mid-body gives its bytes back", async () => {
    const s = await serverWithGate({ bodyTimeoutMs: 60_000 });
    const c = partialBody(s.socketPath, 50_000, 1000);
    await until("the body to be counted", () => s.server.bodies().heldBytes === 50_000);
    c.socket.destroy();
    await until("the bytes to be given back", () => s.server.bodies().heldBytes === 0);
    expect(s.handled).toEqual([]);
  });

  test("a body too slow to arrive is answered 408 and gives its bytes back", async () => {
    const s = await serverWithGate({ bodyTimeoutMs: 200 });
    const c = partialBody(s.socketPath, 50_000, 1000);
    await until("the body to be counted", () => s.server.bodies().heldBytes === 50_000);
    expect(await c.answer).toStartWith("HTTP/1.1 408");
    expect(s.server.bodies().heldBytes).toBe(0);
  });

  test("a body that does not fit is answered 503 code 11 unread; a small one still gets in", async () => {
    const s = await serverWithGate({ maxRequestBytes: 300_000, maxPendingRequestBytes: 300_000 });
    const held = post(s.socketPath, "x".repeat(250_000));
    await until("the first body", () => s.handled.length === 1);
    for (const body of [
      "x".repeat(100_000), // declared length
      // chunked, counted as it arrives
      new ReadableStream({
        start(c) {
          c.enqueue(new TextEncoder().encode("x".repeat(100_000)));
          c.close();
        },
      }),
    ]) {
      const res = await post(s.socketPath, body);
      expect(res.status).toBe(503);
      const err = (await res.json()) as { code: number; msg: string };
      expect(err.code).toBe(11);
      expect(err.msg).toContain("saturated");
    }
    expect(s.handled).toEqual([250_000]); // neither reached the handler
    // What /status and the metrics show: the body waiting, the two refused.
    expect(s.server.bodies()).toEqual({
      heldBytes: 250_000,
      budgetBytes: 300_000,
      reserveBytes: 32 * 64 * 1024,
      refusedOverBudget: 2,
      refusedQueueDeadline: 0,
    });
    const small = post(s.socketPath, "x".repeat(2000)); // from the reserve for small bodies
    await until("the small body", () => s.handled.length === 2);
    s.open();
    expect((await small).status).toBe(200);
    expect((await held).status).toBe(200);
    expect(s.server.bodies().heldBytes).toBe(0);
  });
});

describe("gcOnRssGrowth", () => {
  test("collects once RSS is the growth above the last collection's, counting from the lowest point since", () => {
    const MiB = 1024 * 1024;
    // Every read in order; the one after a collection is the RSS it left.
    const reads = [40, 40.5, 41.0, 40.7, 41.2, 39.5, 40.4, 40.3, 40.6, 40.0, 40.9].map((m) => m * MiB);
    let r = 0;
    let checks = 0;
    const collectedAt: number[] = [];
    const check = gcOnRssGrowth(
      MiB,
      () => reads[r++]!,
      () => collectedAt.push(checks),
    );
    while (r < reads.length) {
      checks++;
      check();
    }
    // 41.0 is 1 MiB above 40.0 (check 2; 40.7 after it); 41.2 is not 1 above 40.7; 39.5
    // lowers the base; 40.4 and 40.3 are not 1 above it, 40.6 is (check 7); 40.9 is not 1 above 40.0.
    expect(collectedAt).toEqual([2, 7]);
    expect(checks).toBe(8);
  });

  test("no collection while RSS stays where it was", () => {
    let rss = 100;
    let n = 0;
    const check = gcOnRssGrowth(
      1,
      () => rss,
      () => n++,
    );
    check();
    expect(n).toBe(0);
    rss = 101;
    check();
    expect(n).toBe(1);
  });
});
