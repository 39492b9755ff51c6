// `multus probe`: an exec probe for the DaemonSet that needs no curl in the
// image and reaches the daemon the way the shim does, over its unix socket.
import { defineCommand } from "citty";
import { DAEMON_URL, DEFAULT_SOCKET_DIR, socketPathIn } from "../api/api.ts";

export const probeCommand = defineCommand({
  meta: { name: "probe", description: "Probe the daemon's /healthz or /readyz over its unix socket (exit 0 when 200)" },
  args: {
    socket: { type: "string", description: "daemon socket path", default: socketPathIn(DEFAULT_SOCKET_DIR) },
    endpoint: { type: "string", description: "healthz or readyz", default: "healthz" },
    timeout: { type: "string", description: "seconds to wait for the answer", default: "2" },
  },
  async run({ args }) {
    if (args.endpoint !== "healthz" && args.endpoint !== "readyz") {
      throw new Error(`--endpoint must be healthz or readyz, got "${args.endpoint}"`);
    }
    const seconds = Number(args.timeout);
    if (!(seconds > 0)) throw new Error(`--timeout must be a positive number of seconds, got "${args.timeout}"`);
    try {
      const res = await fetch(`${DAEMON_URL}/${args.endpoint}`, {
        unix: args.socket,
        signal: AbortSignal.timeout(seconds * 1000),
      });
      await res.arrayBuffer();
      if (res.status === 200) return 0;
      process.stderr.write(`multus probe: /${args.endpoint} answered ${res.status}\n`);
    } catch (err) {
      const e = err as Error & { code?: string };
      const why = e.name === "TimeoutError" ? `timed out after ${seconds} s` : (e.code ?? e.message);
      process.stderr.write(`multus probe: ${args.socket}: ${why}\n`);
    }
    return 1;
  },
});
