// `multus thin-entrypoint`: the thin DaemonSet's main container, as Go's
// thin_entrypoint. It writes the thin plugin's kubeconfig and 00-multus.conf(list)
// into the CNI conf dir, then keeps both current: once a second it renders
// them again from the service account and the primary conf and rewrites a
// file only when its text changed (a poll, not fs.watch: the kubelet swaps the
// token by symlink, and a primary may appear on a different filesystem event
// each runtime). On SIGTERM it removes what it wrote, with --cleanup-config-on-exit.
import { copyFile, mkdir, readFile, rename, rm, stat } from "node:fs/promises";
import { basename, join } from "node:path";
import { listConfFiles } from "../cni/conf-files.ts";
import { writeFileAtomic } from "../util/atomic-write.ts";
import {
  THIN_CONF_FILE,
  THIN_CONF_PREFIX,
  THIN_CONFLIST_FILE,
  THIN_KUBECONFIG,
  renderKubeconfig,
  renderThinConf,
  type ThinConfOptions,
} from "./entrypoint-conf.ts";

export const SERVICE_ACCOUNT_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";
const POLL_MS = 1000;

export interface EntrypointOptions extends ThinConfOptions {
  cniConfDir: string;
  multusConfFile: string;
  multusAutoconfigDir: string;
  multusMasterCniFileName: string;
  renameConfFile: boolean;
  skipTlsVerify: boolean;
  cleanupConfigOnExit: boolean;
  skipConfigWatch: boolean;
  serviceAccountDir: string;
  env: Record<string, string | undefined>;
}

/** Go's start-up messages go to stdout, failures to stderr. */
const say = (line: string) => void process.stdout.write(`${line}\n`);
/** Writes `line` to stderr; returns 1, the exit code of a failed start. */
const fail = (line: string): number => {
  process.stderr.write(`${line}\n`);
  return 1;
};
const complain = (line: string) => void fail(line);

/** Runs until SIGTERM/SIGINT (exit 0), or fails the first pass (exit 1, Go's message). */
export async function runEntrypoint(o: EntrypointOptions): Promise<number> {
  const stopped = stopSignal();
  if (o.multusConfFile !== "auto") {
    const dest = join(o.cniConfDir, basename(o.multusConfFile));
    const copyError = await copyUserConf(o.multusConfFile, dest).catch((err: Error) => err);
    if (copyError) return fail(`failed at copy multus conf file: ${copyError.message}`);
    say(`multus config file ${o.multusConfFile} is copied.`);
    await stopped;
    return 0;
  }
  const run: Run = { o, written: new Set(), first: true };
  const first = await syncPass(run).catch((err: Error) => err);
  if (first) return fail(first.message);
  // Go's lines; the second also tells a supervisor (or a test) that the first pass is done.
  say("kubeconfig file is created.");
  say("multus config file is created.");
  if (!o.skipConfigWatch) say("Entering watch loop...");
  run.first = false;
  if (!o.skipConfigWatch) await watchLoop(run, stopped);
  else await stopped;
  if (o.cleanupConfigOnExit) {
    for (const path of run.written) await rm(path, { force: true });
    say("generated files removed");
  }
  return 0;
}

/** One entrypoint run: its options and what its passes leave for the next. */
interface Run {
  o: EntrypointOptions;
  /** The start-up pass (Go's); later ones are the watch's. */
  first: boolean;
  /** Every file this process wrote, for --cleanup-config-on-exit. */
  written: Set<string>;
  /** The last failure logged, so a lasting problem is logged once. */
  lastProblem?: string;
}

/** The kubeconfig first: a conf must never name a kubeconfig that is not there. */
async function syncPass(run: Run): Promise<void> {
  await writeKubeconfig(run).catch((err: Error) => {
    throw new Error(`failed to create multus kubeconfig: ${err.message}`);
  });
  // With --rename-conf-file the primary is gone after the first pass: only the kubeconfig is kept current.
  if (!run.first && run.o.renameConfFile) return;
  await writeConf(run).catch((err: Error) => {
    throw new Error(`failed to create multus config: ${err.message}`);
  });
}

/** One pass a second until stopped; a failing pass is logged (once) and retried, the files left as they are. */
async function watchLoop(run: Run, stopped: Promise<void>): Promise<void> {
  let done = false;
  void stopped.then(() => {
    done = true;
  });
  while (!done) {
    await Promise.race([stopped, new Promise((r) => setTimeout(r, POLL_MS))]);
    if (done) break;
    try {
      await syncPass(run);
      run.lastProblem = undefined;
    } catch (err) {
      const message = (err as Error).message;
      if (message !== run.lastProblem) complain(message);
      run.lastProblem = message;
    }
  }
}

/** Resolves on SIGTERM or SIGINT; a signal listener alone does not keep the process alive, the timer does. */
function stopSignal(): Promise<void> {
  return new Promise((resolve) => {
    const keepAlive = setInterval(() => undefined, 1 << 30);
    const stop = () => {
      clearInterval(keepAlive);
      resolve();
    };
    process.once("SIGTERM", stop);
    process.once("SIGINT", stop);
  });
}

/** Writes `path` (mode 0600, temp + rename) unless it already holds `text`; true when written. */
async function writeIfChanged(run: Run, { path, text }: { path: string; text: string }): Promise<boolean> {
  run.written.add(path);
  const current = await readFile(path, "utf8").catch(() => undefined);
  if (current === text) return false;
  await writeFileAtomic(path, text, 0o600);
  return true;
}

async function writeKubeconfig(run: Run): Promise<void> {
  const { o } = run;
  const tokenFile = join(o.serviceAccountDir, "token");
  const caFile = join(o.serviceAccountDir, "ca.crt");
  await stat(tokenFile).catch((err: Error) => {
    throw new Error(`service account token is not found: ${err.message}`);
  });
  await stat(caFile).catch((err: Error) => {
    throw new Error(`service account ca is not found: ${err.message}`);
  });
  await mkdir(join(o.cniConfDir, "multus.d"), { recursive: true, mode: 0o755 });
  if (o.multusCniConfDir !== "") await mkdir(o.multusCniConfDir, { recursive: true, mode: 0o755 });
  const text = renderKubeconfig({
    protocol: o.env.KUBERNETES_SERVICE_PROTOCOL ?? "",
    host: o.env.KUBERNETES_SERVICE_HOST ?? "",
    port: o.env.KUBERNETES_SERVICE_PORT ?? "",
    token: await readFile(tokenFile, "utf8"),
    ca: o.skipTlsVerify ? undefined : await readFile(caFile),
  });
  const path = join(o.cniConfDir, THIN_KUBECONFIG);
  if (await writeIfChanged(run, { path, text })) say(`kubeconfig is created in ${path}`);
}

async function writeConf(run: Run): Promise<void> {
  const { o } = run;
  const path = await findMaster(o);
  const text = await readFile(path, "utf8").catch((err: Error) => {
    throw new Error(`cannot read master CNI config file ${JSON.stringify(path)}: ${err.message}`);
  });
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`cannot read master CNI config json: ${(err as Error).message}`);
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw))
    throw new Error(`cannot read master CNI config json: ${path} is not a JSON object`);
  const conf = renderThinConf(o, { path, raw: raw as Record<string, unknown> });
  const target = join(o.cniConfDir, conf.name);
  if (await writeIfChanged(run, { path: target, text: conf.text })) say(`multus config is written to ${target}`);
  // The other name left from an earlier version would sort first and be the one a runtime reads.
  const other = join(o.cniConfDir, conf.name === THIN_CONF_FILE ? THIN_CONFLIST_FILE : THIN_CONF_FILE);
  await rm(other, { force: true });
  run.written.delete(other);
  if (o.renameConfFile) {
    await rename(path, `${path}.old`).catch(() => {
      throw new Error(`cannot move original master file to ${JSON.stringify(`${path}.old`)}`);
    });
    say(`Original master file moved to ${JSON.stringify(`${path}.old`)}`);
  }
}

/** --multus-master-cni-file-name, else the first .conf/.conflist by name that is not ours. */
async function findMaster(o: EntrypointOptions): Promise<string> {
  if (o.multusMasterCniFileName !== "") return join(o.multusAutoconfigDir, o.multusMasterCniFileName);
  const files = await listConfFiles(o.multusAutoconfigDir, [".conf", ".conflist"]);
  const master = files.find((f) => !basename(f).startsWith(THIN_CONF_PREFIX));
  if (master === undefined)
    throw new Error(`cannot find valid master CNI config in ${JSON.stringify(o.multusAutoconfigDir)}`);
  return master;
}

/** A user's own conf (--multus-conf-file), copied in by temp + rename with its mode. */
async function copyUserConf(source: string, dest: string): Promise<void> {
  const tmp = `${dest}.temp`;
  await copyFile(source, tmp);
  await rename(tmp, dest).catch(async (err) => {
    await rm(tmp, { force: true });
    throw err;
  });
}
