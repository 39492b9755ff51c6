// Issue 8 item 4, limits on the daemon's socket: a body over maxRequestBytes is refused
// with 413, and a client that sends its headers and then trickles the body is answered
// 408 and cut off after requestBodyTimeoutSeconds, with the daemon serving others meanwhile.
// Before the headers are complete Bun's server (uWS) closes a connection after about 10 s
// whether it is silent or trickling, a bound it does not let us configure; the last test
// holds Bun to it. Raw socket clients, the compiled daemon.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { join } from "node:path";
import { createWorkdir, startDaemon, type DaemonHandle } from "../helpers/multus.ts";
import { createCleanup } from "../helpers/netns.ts";
import { canRunE2e, ensureBinary } from "../helpers/e2e.ts";

let daemon: DaemonHandle;
let socket: string;
const cleanup = createCleanup();

beforeAll(async () => {
  if (!canRunE2e) return;
  await ensureBinary();
  const work = await createWorkdir();
  cleanup.add(() => work.remove());
  daemon = await startDaemon(work.dir, {
    cniDir: join(work.dir, "cache"),
    binDir: "/usr/lib/cni",
    maxRequestBytes: 4096,
    requestBodyTimeoutSeconds: 1,
  });
  cleanup.add(() => daemon.stop());
  socket = join(daemon.socketDir, "multus.sock");
});
afterAll(() => cleanup.run());

/** Sends `head`, then one byte of the body every `everyMs` until the daemon answers or closes. */
function trickle(o: {
  head: string;
  body: string;
  everyMs: number;
}): Promise<{ answer: string; ms: number; sent: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const c = connect(socket);
    let answer = "";
    let sent = 0;
    let timer: ReturnType<typeof setInterval> | undefined;
    c.on("connect", () => {
      c.write(o.head);
      timer = setInterval(() => {
        if (sent < o.body.length && !c.destroyed) c.write(o.body[sent++]!);
      }, o.everyMs);
    });
    c.on("data", (d) => (answer += String(d)));
    c.on("error", reject);
    c.on("close", () => {
      clearInterval(timer);
      resolve({ answer, ms: performance.now() - started, sent });
    });
  });
}

const health = async () => (await fetch("http://multus/healthz", { unix: socket })).status;

describe.skipIf(!canRunE2e)("socket limits", () => {
  test("a body trickled byte by byte is answered 408 and cut off after requestBodyTimeoutSeconds", async () => {
    const body = JSON.stringify({ env: { CNI_COMMAND: "ADD" }, config: "x".repeat(400) });
    const slow = trickle({
      head: `POST /cni HTTP/1.1\r\nHost: multus\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`,
      body,
      everyMs: 50,
    });
    expect(await health()).toBe(200); // others are served while it trickles
    const r = await slow;
    expect(r.answer).toStartWith("HTTP/1.1 408");
    expect(r.answer).toContain("request body not received within 1000 ms");
    expect(r.sent).toBeLessThan(body.length); // cut off, not answered after it finished
    expect(r.ms).toBeGreaterThanOrEqual(1000);
    expect(r.ms).toBeLessThan(5000);
    expect(await health()).toBe(200);
  });

  test("a body over maxRequestBytes is refused with 413", async () => {
    const res = await fetch("http://multus/cni", {
      unix: socket,
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ env: { CNI_COMMAND: "ADD" }, config: "x".repeat(5000) }),
    });
    expect(res.status).toBe(413);
    await res.arrayBuffer();
    expect(await health()).toBe(200);
  });

  test("before its headers are complete, a silent or trickling client is cut off (Bun's fixed ~10 s)", async () => {
    const head = "POST /cni HTTP/1.1\r\nHost: multus\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    const [silent, slow] = await Promise.all([
      trickle({ head: "", body: "", everyMs: 1000 }),
      trickle({ head: "", body: head, everyMs: 500 }),
    ]);
    for (const r of [silent, slow]) {
      expect(r.answer).toBe(""); // closed without an answer, the handler never ran
      expect(r.ms).toBeLessThan(25_000);
    }
    expect(slow.sent).toBeLessThan(head.length);
    expect(await health()).toBe(200);
  }, 40_000);
});
