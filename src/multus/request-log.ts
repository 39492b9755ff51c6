// The one line a finished CNI request leaves at verbose and the one line a
// failed one leaves at error, for the daemon's handler and the thin plugin
// alike. Inner layers throw with context and leave the logging to these.
import type { CmdArgs } from "../cni/args.ts";
import type { CniError } from "../cni/errors.ts";
import type { LogContext, Logger } from "../util/log.ts";
import type { Attached } from "./delegates.ts";
import { DelegateError, delegateType } from "./delegate-error.ts";
import { contextOf, type PodArgs } from "./request.ts";

/** One attached network as the request line shows it: `name(type) ifname ips`. */
export interface NetworkSummary {
  name: string;
  type: string;
  ifname: string;
  ips: string[];
}

export interface RequestOutcome {
  args: CmdArgs;
  pod: PodArgs;
  /** From the request's arrival to its answer. */
  ms: number;
  /** ADD: what was attached. */
  networks?: NetworkSummary[];
}

export function summarizeAttachments(attached: readonly Attached[]): NetworkSummary[] {
  return attached.map(({ delegate, result }) => ({
    name: delegate.name,
    type: delegateType(delegate),
    ifname: delegate.ifname,
    ips: (result.ips ?? []).map((ip) => ip.address),
  }));
}

/** `ADD finished in 41.2 ms: cluster(bridge) eth0 10.1.1.5/24, net-a(macvlan) net1 10.2.2.5/24`, with fields. */
export function logRequestDone(log: Logger, o: RequestOutcome): void {
  const nets = o.networks && `: ${o.networks.length === 0 ? "nothing attached" : o.networks.map(describe).join(", ")}`;
  log.verbose(`${o.args.command} finished in ${o.ms.toFixed(1)} ms${nets ?? ""}`, {
    ...fieldsOf(o.args, o.pod, o.ms),
    networks: o.networks,
  });
}

/** The failure of a request, once: the pod, the container and, when known, the network and its delegate. */
export function logRequestFailed(log: Logger, o: { args?: CmdArgs; pod?: PodArgs; ms: number; err: CniError }): void {
  const { err } = o;
  const where = err instanceof DelegateError ? { network: err.network, delegate: err.delegate } : {};
  log.error(`${o.args?.command ?? "request"} failed in ${o.ms.toFixed(1)} ms: ${err.message}`, {
    ...(o.args ? fieldsOf(o.args, o.pod, o.ms) : { durationMs: round(o.ms) }),
    code: err.code,
    ...where,
  });
}

function describe(n: NetworkSummary): string {
  return `${n.name}(${n.type}) ${n.ifname} ${n.ips.length > 0 ? n.ips.join(",") : "no-ip"}`;
}

function fieldsOf(args: CmdArgs, pod: PodArgs | undefined, ms: number): LogContext {
  return { ...contextOf(args, pod), durationMs: round(ms) };
}

function round(ms: number): number {
  return Math.round(ms * 10) / 10;
}
