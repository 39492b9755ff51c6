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
  record(ref: InvolvedRef, event: KubeEvent): void;
  /** Waits until the queue is empty or `timeoutMs` passes; true when empty. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Stops accepting events, sends what is queued for at most `timeoutMs`, then abandons the rest. */
  stop(timeoutMs: number): Promise<void>;
  /** Events dropped so far (queue full, or the API refused them). */
  dropped(): number;
}

/** What an event is about: a pod by default; another kind (the approver's CSRs) names itself. */
export type InvolvedRef = PodRef & {
  uid?: string;
  kind?: string;
  apiVersion?: string;
  /** A cluster-scoped object: the event goes to `namespace`, the reference has none. */
  clusterScoped?: boolean;
};

interface Pending {
  ref: InvolvedRef;
  event: KubeEvent;
  at: Date;
  seq: number;
}

export interface EventRecorderOptions {
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
}

/** A recorder's queue and sender, shared by its steps. */
interface Recorder {
  o: EventRecorderOptions & Required<Pick<EventRecorderOptions, "maxQueue" | "timeoutMs">>;
  queue: Pending[];
  abort: AbortController;
  /** The sender while one runs. */
  sending?: Promise<void>;
  closed: boolean;
  dropped: number;
  seq: number;
}

export function createEventRecorder(o: EventRecorderOptions): EventRecorder {
  const r: Recorder = {
    o: { ...o, maxQueue: o.maxQueue ?? 1000, timeoutMs: o.timeoutMs ?? 10_000 },
    queue: [],
    abort: new AbortController(),
    closed: false,
    dropped: 0,
    seq: 0,
  };
  return {
    record(ref, event) {
      try {
        record(r, ref, event);
      } catch {
        /* never reach the caller */
      }
    },
    flush: (ms) => flush(r, ms),
    stop: (ms) => stop(r, ms),
    dropped: () => r.dropped,
  };
}

function record(r: Recorder, ref: InvolvedRef, event: KubeEvent): void {
  if (r.closed) return;
  r.queue.push({ ref: { ...ref }, event: { ...event }, at: new Date(), seq: r.seq++ });
  if (r.queue.length > r.o.maxQueue) {
    r.queue.shift();
    if (r.dropped++ % 100 === 0) r.o.logger.error(`event queue full (${r.o.maxQueue}); dropping the oldest events`);
  }
  kick(r);
}

/**
 * Starts the sender unless one runs; it starts again when events arrived while it finished.
 * It starts on the next turn of the event loop: a request records its events just before
 * it answers, and building and sending the first POST at once would come before the reply.
 */
function kick(r: Recorder): void {
  if (r.sending || r.closed) return;
  r.sending = new Promise<void>((next) => setImmediate(next))
    .then(() => drain(r))
    .catch(() => {})
    .finally(() => {
      r.sending = undefined;
      if (r.queue.length > 0 && !r.abort.signal.aborted) kick(r);
    });
}

/** Posts the queued events in order; one that fails (after retries) is dropped and logged. */
async function drain(r: Recorder): Promise<void> {
  const { o, queue, abort } = r;
  for (let p = queue.shift(); p !== undefined && !abort.signal.aborted; p = queue.shift()) {
    try {
      await o.http.call(
        {
          method: "POST",
          path: `/api/v1/namespaces/${encodeURIComponent(p.ref.namespace)}/events`,
          body: bodyOf(o, p),
        },
        { timeoutMs: o.timeoutMs, signal: abort.signal, retryIf: isRetryable },
      );
    } catch (err) {
      if (abort.signal.aborted) break;
      r.dropped++;
      o.logger.error(
        `event ${p.event.reason} for ${(p.ref.kind ?? "pod").toLowerCase()} ${p.ref.clusterScoped ? "" : `${p.ref.namespace}/`}${p.ref.name} not recorded: ${describeKubeError(err)}`,
      );
    }
  }
}

async function flush(r: Recorder, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (r.sending && Date.now() < end) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([r.sending, new Promise((done) => (timer = setTimeout(done, Math.max(1, end - Date.now()))))]);
    clearTimeout(timer);
  }
  return r.queue.length === 0 && !r.sending;
}

async function stop(r: Recorder, ms: number): Promise<void> {
  if (!r.closed) {
    await flush(r, ms);
    r.closed = true;
  }
  r.abort.abort();
  if (r.queue.length > 0) r.o.logger.verbose(`${r.queue.length} queued events not sent at shutdown`);
  r.queue.length = 0;
  await r.sending;
}

/** The core/v1 Event for one queued event. */
function bodyOf(o: Pick<EventRecorderOptions, "component" | "host">, p: Pending): unknown {
  const { ref, event, at } = p;
  const time = at.toISOString().replace(/\.\d+Z$/, "Z");
  // name as client-go makes it: <object name>.<unix nanoseconds in hex>
  const nanos = BigInt(at.getTime()) * 1_000_000n + BigInt(p.seq % 1_000_000);
  return {
    apiVersion: "v1",
    kind: "Event",
    metadata: { name: `${ref.name}.${nanos.toString(16)}`, namespace: ref.namespace },
    involvedObject: {
      kind: ref.kind ?? "Pod",
      apiVersion: ref.apiVersion ?? "v1",
      ...(!ref.clusterScoped && { namespace: ref.namespace }),
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
