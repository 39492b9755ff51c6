// A recording test-double CNI plugin (in the spirit of containernetworking/cni
// plugins/test/noop). Compiled by build-fixtures.ts into a standalone
// executable. Self-contained on purpose: it imports nothing from src/.
//
// Every invocation appends one JSON line {command, env (CNI_* only), fullEnv,
// stdin, pid, cwd} to the file
// named by the config's "recordFile". What it answers is chosen by the config:
//   "result"            printed for ADD (default: {"cniVersion": <config's>})
//   "echoPrevResult"    ADD prints the incoming prevResult instead
//   "error"             {code,msg,details} printed to stdout, exit 1
//   "failOn"            commands the error applies to (default: all but VERSION)
//   "stdout"/"stderr"   raw text written as is (with "exitCode", default 0 or 1 with error)
//   "sleepMs"           sleep before answering (for deadline tests)
//   "waitForFile"       ADD answers only once this file exists (held in flight until the test lets go)
//   "gateDir"           any command but VERSION blocks until <gateDir>/<CNI_CONTAINERID> exists (one gate per container)
//   "recordEnd"         also append {command: "end", of, env, pid} when about to answer
//   "spawnChild"        argv of a child started first, inheriting stdout/stderr
//                       (a grandchild that outlives a killed plugin)
//   "supportedVersions" VERSION reply
import { appendFileSync, existsSync } from "node:fs";

interface RecorderConf {
  cniVersion?: string;
  recordFile?: string;
  result?: unknown;
  echoPrevResult?: boolean;
  prevResult?: unknown;
  error?: { code: number; msg: string; details?: string };
  failOn?: string[];
  stdout?: string;
  stderr?: string;
  exitCode?: number;
  sleepMs?: number;
  waitForFile?: string;
  gateDir?: string;
  recordEnd?: boolean;
  spawnChild?: string[];
  supportedVersions?: string[];
}

const ALL_VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];

const command = process.env.CNI_COMMAND ?? "";
const stdinText = await Bun.stdin.text();
let conf: RecorderConf = {};
try {
  conf = JSON.parse(stdinText) as RecorderConf;
} catch {
  process.stdout.write(JSON.stringify({ cniVersion: "1.1.0", code: 6, msg: "recorder: stdin is not JSON" }));
  process.exit(1);
}

if (conf.recordFile) {
  const env: Record<string, string> = {};
  const fullEnv: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (v === undefined) continue;
    fullEnv[k] = v;
    if (k.startsWith("CNI_")) env[k] = v;
  }
  const line = { command, env, fullEnv, stdin: stdinText, pid: process.pid, cwd: process.cwd() };
  appendFileSync(conf.recordFile, `${JSON.stringify(line)}\n`);
}

if (conf.spawnChild) {
  const child = Bun.spawn({ cmd: conf.spawnChild, stdin: "ignore", stdout: "inherit", stderr: "inherit" });
  if (conf.recordFile) appendFileSync(conf.recordFile, `${JSON.stringify({ command: "child", pid: child.pid })}\n`);
}
if (conf.sleepMs) await Bun.sleep(conf.sleepMs);
while (command === "ADD" && conf.waitForFile && !existsSync(conf.waitForFile)) await Bun.sleep(10);
if (conf.gateDir && command !== "VERSION") {
  const gate = `${conf.gateDir}/${process.env.CNI_CONTAINERID ?? ""}`;
  // Polled: the plugin has nothing else to do, and the daemon's delegate deadline bounds the wait.
  while (!existsSync(gate)) await Bun.sleep(10);
}
if (conf.recordFile && conf.recordEnd) {
  const env = { CNI_CONTAINERID: process.env.CNI_CONTAINERID ?? "" };
  appendFileSync(conf.recordFile, `${JSON.stringify({ command: "end", of: command, env, pid: process.pid })}\n`);
}
if (conf.stderr !== undefined) process.stderr.write(conf.stderr);

const failing = conf.error !== undefined && (conf.failOn ? conf.failOn.includes(command) : command !== "VERSION");
if (failing) {
  process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, ...conf.error }));
  process.exit(conf.exitCode ?? 1);
}
if (conf.stdout !== undefined) {
  process.stdout.write(conf.stdout);
  process.exit(conf.exitCode ?? 0);
}
if (command === "VERSION") {
  process.stdout.write(
    JSON.stringify({
      cniVersion: conf.cniVersion ?? "1.1.0",
      supportedVersions: conf.supportedVersions ?? ALL_VERSIONS,
    }),
  );
} else if (command === "ADD") {
  const result = conf.echoPrevResult ? conf.prevResult : (conf.result ?? { cniVersion: conf.cniVersion });
  process.stdout.write(JSON.stringify(result ?? {}));
}
process.exit(conf.exitCode ?? 0);
