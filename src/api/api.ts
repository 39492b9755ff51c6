// The shim <-> daemon contract: HTTP/1.1 over a unix socket,
// wire-compatible with the Go multus-shim and multus-daemon.
import * as v from "valibot";

export const SOCKET_NAME = "multus.sock";
export const DEFAULT_SOCKET_DIR = "/run/multus/";
/** The URL host is a dummy name; the socket path selects the daemon. */
export const DAEMON_URL = "http://dummy";

export const Endpoint = {
  CNI: "/cni",
  DELEGATE: "/delegate",
  HEALTHZ: "/healthz",
  READYZ: "/readyz",
} as const;

export function socketPathIn(dir: string): string {
  return dir.endsWith("/") ? dir + SOCKET_NAME : `${dir}/${SOCKET_NAME}`;
}

/** `/delegate` only: attributes of the single interface to hot-plug. */
export const InterfaceAttributesSchema = v.looseObject({
  ips: v.optional(v.nullable(v.array(v.string()))),
  mac: v.optional(v.nullable(v.string())),
  "cni-args": v.optional(v.nullable(v.record(v.string(), v.unknown()))),
});
export type InterfaceAttributes = v.InferOutput<typeof InterfaceAttributesSchema>;

/** Request body of /cni and /delegate. `config` is the CNI stdin, base64 (Go []byte). */
export const CniRequestSchema = v.object({
  env: v.record(v.string(), v.string()),
  config: v.pipe(v.string(), v.regex(/^[A-Za-z0-9+/]*={0,2}$/, "config must be base64")),
  interfaceAttributes: v.optional(v.nullable(InterfaceAttributesSchema)),
});
export type CniRequest = v.InferOutput<typeof CniRequestSchema>;

/** ADD's 200 body: the result in CNI 1.1.0 form under `Result` (capital R, as Go spells it). */
export interface CniResponse {
  Result?: unknown;
}
