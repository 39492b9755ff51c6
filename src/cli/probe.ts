// `multus probe`: an exec probe for the DaemonSet that needs no curl in the
// image and reaches the daemon the way the shim does, over its unix socket.
// main.ts runs it through probe-run.ts without citty; this definition serves
// `multus probe --help` and the command list.
import { defineCommand } from "citty";
import { PROBE_DEFAULTS, probeDaemon } from "./probe-run.ts";

export const probeCommand = defineCommand({
  meta: { name: "probe", description: "Probe the daemon's /healthz or /readyz over its unix socket (exit 0 when 200)" },
  args: {
    socket: { type: "string", description: "daemon socket path", default: PROBE_DEFAULTS.socket },
    endpoint: { type: "string", description: "healthz or readyz", default: PROBE_DEFAULTS.endpoint },
    timeout: { type: "string", description: "seconds to wait for the answer", default: PROBE_DEFAULTS.timeout },
  },
  run: ({ args }) => probeDaemon({ socket: args.socket, endpoint: args.endpoint, timeout: args.timeout }),
});
