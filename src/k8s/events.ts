/**
 * Pod events (core v1, like client-go's EventRecorder), sent in the background: record() only
 * queues and returns; a single sender posts them in order. The queue is bounded (the oldest
 * events are dropped first) and a failing API server never reaches the caller.
 */
import type { KubeHttp, KubeLogger } from "./client.ts";
import { describeKubeError, isRetryable } from "./errors.ts";
import type { KubeEvent, PodRef } from "../ports/kube.ts";

export interface EventRecorder {
  /** Queues the event; never throws, never waits. */
  record(ref: PodRef & { uid?: string }, event: KubeEvent): void;
  /** Waits until the queue is empty or `timeoutMs` passes; true when empty. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Stops accepting events, sends what is queued for at most `timeoutMs`, then abandons the rest. */
  stop(timeoutMs: number): Promise<void>;
  /** Events dropped so far (queue full, or the API refused them). */
  dropped(): number;
}

interface Pending {
  ref: PodRef & { uid?: string };
  event: KubeEvent;
  at: Date;
  seq: number;
}

export function createEventRecorder(o: {
  http: KubeHttp;
  logger: KubeLogger;
  /** source.component / reportingComponent, e.g. "multus" */
  component: string;
  /** source.host / reportingInstance (the node name) */
  host?: string;
  /** Default 1000. */
  maxQueue?: number;
  /** Deadline per event, retries included (default 10 s). */
  timeoutMs?: number;
}): EventRecorder {
  const maxQueue = o.maxQueue ?? 1000;
  const timeoutMs = o.timeoutMs ?? 10_000;
  const queue: Pending[] = [];
  const abort = new AbortController();
  let sending: Promise<void> | undefined;
  let closed = false;
  let dropped = 0;
  let seq = 0;

  function bodyOf(p: Pending): unknown {
    const { ref, event, at } = p;
    const time = at.toISOString().replace(/\.\d+Z$/, "Z");
    // name as client-go makes it: <object name>.<unix nanoseconds in hex>
    const nanos = BigInt(at.getTime()) * 1_000_000n + BigInt(p.seq % 1_000_000);
    return {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name: `${ref.name}.${nanos.toString(16)}`, namespace: ref.namespace },
      involvedObject: {
        kind: "Pod",
        apiVersion: "v1",
        namespace: ref.namespace,
        name: ref.name,
        ...(ref.uid && { uid: ref.uid }),
      },
      type: event.type,
      reason: event.reason,
      message: event.message,
      source: { component: o.component, ...(o.host && { host: o.host }) },
      reportingComponent: o.component,
      reportingInstance: o.host ?? "",
      firstTimestamp: time,
      lastTimestamp: time,
      count: 1,
    };
  }

  async function drain(): Promise<void> {
    for (let p = queue.shift(); p !== undefined && !abort.signal.aborted; p = queue.shift()) {
      try {
        await o.http.call(
          { method: "POST", path: `/api/v1/namespaces/${encodeURIComponent(p.ref.namespace)}/events`, body: bodyOf(p) },
          { timeoutMs, signal: abort.signal, retryIf: isRetryable },
        );
      } catch (err) {
        if (abort.signal.aborted) break;
        dropped++;
        o.logger.error(
          `event ${p.event.reason} for pod ${p.ref.namespace}/${p.ref.name} not recorded: ${describeKubeError(err)}`,
        );
      }
    }
  }

  function kick() {
    if (sending || closed) return;
    sending = drain()
      .catch(() => {})
      .finally(() => {
        sending = undefined;
        if (queue.length > 0 && !abort.signal.aborted) kick();
      });
  }

  async function flush(ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (sending && Date.now() < end) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([sending, new Promise((r) => (timer = setTimeout(r, Math.max(1, end - Date.now()))))]);
      clearTimeout(timer);
    }
    return queue.length === 0 && !sending;
  }

  return {
    record(ref, event) {
      try {
        if (closed) return;
        queue.push({ ref: { ...ref }, event: { ...event }, at: new Date(), seq: seq++ });
        if (queue.length > maxQueue) {
          queue.shift();
          if (dropped++ % 100 === 0) o.logger.error(`event queue full (${maxQueue}); dropping the oldest events`);
        }
        kick();
      } catch {
        /* never reach the caller */
      }
    },

    flush,

    async stop(ms) {
      if (!closed) {
        await flush(ms);
        closed = true;
      }
      abort.abort();
      if (queue.length > 0) o.logger.verbose(`${queue.length} queued events not sent at shutdown`);
      queue.length = 0;
      await sending;
    },

    dropped: () => dropped,
  };
}
