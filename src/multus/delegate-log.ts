// At debug level, one line per delegate call: the plugin, the command, how it
// ended and how long it took. Only a trace: a failure itself is thrown, and the
// request's one failure line (request-log.ts) reports it.
import type { PluginRunner } from "../cni/invoke.ts";
import type { Logger } from "../util/log.ts";

export function loggedRunner(run: PluginRunner, log: Logger): PluginRunner {
  return async (exec) => {
    const started = performance.now();
    // Stays so when the plugin never started (not found, refused type).
    let status = "not run";
    const onExit = (s: string) => {
      status = s;
      exec.onExit?.(s);
    };
    try {
      return await run({ ...exec, onExit });
    } finally {
      const ms = performance.now() - started;
      log.debug(`delegate ${exec.pluginType} ${exec.command}: ${status} in ${ms.toFixed(1)} ms`, {
        plugin: exec.pluginType,
        command: exec.command,
        network: networkName(exec.stdin),
        exitStatus: status,
        durationMs: Math.round(ms * 10) / 10,
        containerID: exec.cniEnv.containerId,
        ifname: exec.cniEnv.ifname,
      });
    }
  };
}

function networkName(stdin: Uint8Array | string): string | undefined {
  try {
    const conf = JSON.parse(typeof stdin === "string" ? stdin : new TextDecoder().decode(stdin)) as { name?: unknown };
    return typeof conf.name === "string" ? conf.name : undefined;
  } catch {
    return undefined;
  }
}
