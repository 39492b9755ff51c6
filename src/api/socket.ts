// Where the daemon listens and what it serves: the names alone, with no imports, so the
// leanest roles (`multus probe`, an exec probe run every few seconds) can use them.

export const SOCKET_NAME = "multus.sock";
export const DEFAULT_SOCKET_DIR = "/run/multus/";
/** The URL host is a dummy name; the socket path selects the daemon. */
export const DAEMON_URL = "http://dummy";

export const Endpoint = {
  CNI: "/cni",
  DELEGATE: "/delegate",
  HEALTHZ: "/healthz",
  READYZ: "/readyz",
  /** Ours, read-only: what `multus status` prints (DaemonStatus); never queued behind CNI requests. */
  STATUS: "/status",
} as const;

export function socketPathIn(dir: string): string {
  return dir.endsWith("/") ? dir + SOCKET_NAME : `${dir}/${SOCKET_NAME}`;
}
