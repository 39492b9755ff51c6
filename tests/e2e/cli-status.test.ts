// `multus status` through the compiled binary against a real daemon: ready
// (table and --json), connected to the fake Kubernetes API with its informers
// listed, busy (a request in flight and one queued behind connectionLimit 1:
// /status still answers at once), stopping (not ready: exit 1), and no daemon
// at all (exit 3, saying why).
import { afterEach, beforeAll, describe, expect, test } from "bun:test";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DaemonStatus } from "../../src/api/api.ts";
import { buildRecordingPlugin } from "../helpers/build-fixtures.ts";
import { canRunE2e, containerId, createBinDir, ensureBinary, waitFor, writeJson } from "../helpers/e2e.ts";
import { startFakeKube } from "../helpers/fake-kube.ts";
import {
  createWorkdir,
  runCni,
  runMultus,
  shimConf,
  startDaemon,
  type CliRun,
  type ShimRun,
} from "../helpers/multus.ts";
import { createCleanup, createNetns, deleteNetns } from "../helpers/netns.ts";

const cleanup = createCleanup();
afterEach(() => cleanup.run());
let recorder = "";
beforeAll(async () => {
  if (!canRunE2e) return;
  [, recorder] = await Promise.all([ensureBinary(), buildRecordingPlugin()]);
});

async function workdir() {
  const work = await createWorkdir();
  cleanup.add(() => work.remove());
  return work;
}

async function statusJson(socketDir: string): Promise<{ run: CliRun; status: DaemonStatus }> {
  const run = await runMultus(["status", "--socket-dir", socketDir, "--json"]);
  return { run, status: JSON.parse(run.stdout) as DaemonStatus };
}

describe.skipIf(!canRunE2e)("multus status against a running daemon", () => {
  test("ready: exit 0, the table and --json agree on what the daemon runs with", async () => {
    const work = await workdir();
    const daemon = await startDaemon(work.dir, { logLevel: "verbose", connectionLimit: 7, metricPort: 1 });
    cleanup.add(() => daemon.stop());

    const { run, status } = await statusJson(daemon.socketDir);
    expect(run.code).toBe(0);
    expect(status).toMatchObject({
      ready: true,
      pid: daemon.proc.pid,
      socket: join(daemon.socketDir, "multus.sock"),
      config: { path: daemon.configPath, multusConfigFile: "", logLevel: "verbose", unknownKeys: ["metricPort"] },
      kubernetes: { connected: false, informers: [] },
      requests: { inFlight: 0, queued: 0, connectionLimit: 7, queueDeadlineSeconds: 60 },
    });
    expect(status.version).toMatch(/^\d+\.\d+\.\d+/);

    const table = await runMultus(["status", "--socket-dir", daemon.socketDir]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^ready\s+yes$/m);
    expect(table.stdout).toMatch(/^\s+unknown keys\s+metricPort$/m);
    expect(table.stdout).toMatch(/^kubernetes\s+none \(static delegates only\)$/m);
    expect(table.stdout).toMatch(/^\s+connectionLimit\s+7$/m);
  });

  test("connected to the API: each informer, synced, with what it holds", async () => {
    const work = await workdir();
    const fake = await startFakeKube();
    cleanup.add(() => fake.stop());
    fake.createNad({ namespace: "default", name: "a", config: "{}" });
    fake.createNad({ namespace: "default", name: "b", config: "{}" });
    const kubeconfig = fake.writeKubeconfig(join(work.dir, "kubeconfig"));
    const daemon = await startDaemon(work.dir, { kubeconfig }, { env: { MULTUS_NODE_NAME: "node-1" } });
    cleanup.add(() => daemon.stop());

    const synced = await waitFor("both informers to list", async () => {
      const { status } = await statusJson(daemon.socketDir);
      return status.kubernetes.informers.every((i) => i.synced) ? status : undefined;
    });
    expect(synced.kubernetes).toEqual({
      connected: true,
      informers: [
        { name: "pods", synced: true, objects: 0, lastSyncAt: expect.any(Number), restarts: 0 },
        {
          name: "network-attachment-definitions",
          synced: true,
          objects: 2,
          lastSyncAt: expect.any(Number),
          restarts: 0,
        },
      ],
    });
    const table = await runMultus(["status", "--socket-dir", daemon.socketDir]);
    expect(table.stdout).toMatch(
      /^\s+informer network-attachment-definitions\s+synced, 2 cached, 0 restarts, last heard \d+ s ago$/m,
    );
  });

  test("busy: one ADD in flight and one queued are reported, and /status does not wait for them", async () => {
    const work = await workdir();
    const slow = await writeJson(join(work.dir, "slow.conflist"), {
      cniVersion: "1.0.0",
      name: "slow",
      // Holds the only slot for the whole test; the daemon is killed at the end.
      plugins: [{ type: "recorder", recordFile: join(work.dir, "rec"), sleepMs: 60_000 }],
    });
    const binDir = await createBinDir(join(work.dir, "plugins"), { extra: { recorder } });
    const daemon = await startDaemon(work.dir, {
      cniDir: join(work.dir, "cache"),
      binDir,
      clusterNetwork: slow,
      connectionLimit: 1,
      gracePeriodSeconds: 30,
    });
    const adds: Promise<ShimRun>[] = [];
    // Cleaned up last to first: the daemon is killed, then the shims it left without an answer are awaited.
    cleanup.add(() => Promise.allSettled(adds));
    cleanup.add(() => daemon.stop("SIGKILL"));
    for (let i = 0; i < 2; i++) {
      const ns = await createNetns("mtst");
      cleanup.add(() => deleteNetns(ns.name));
      const call = { command: "ADD", containerId: containerId(), netns: ns.path, stdin: shimConf(daemon.socketDir) };
      adds.push(runCni(work.shim, call));
    }

    const busy = await waitFor("one ADD in flight and one queued", async () => {
      const { status } = await statusJson(daemon.socketDir);
      return status.requests.inFlight === 1 && status.requests.queued === 1 ? status : undefined;
    });
    expect(busy.ready).toBe(true);
    const table = await runMultus(["status", "--socket-dir", daemon.socketDir, "--timeout", "2"]);
    expect(table.stdout).toMatch(/^requests in flight\s+1$/m);
    expect(table.stdout).toMatch(/^requests queued\s+1$/m);

    // Stopping: /readyz and /status say not ready while the ADD in flight gets its grace period.
    daemon.proc.kill("SIGTERM");
    const stopping = await waitFor("the daemon to say it is stopping", async () => {
      const r = await statusJson(daemon.socketDir);
      return r.status.ready ? undefined : r;
    });
    expect(stopping.run.code).toBe(1);
    const notReady = await runMultus(["status", "--socket-dir", daemon.socketDir]);
    expect(notReady.code).toBe(1);
    expect(notReady.stdout).toMatch(/^ready\s+no \(starting or stopping\)$/m);
  });
});

describe.skipIf(!canRunE2e)("multus status without a daemon", () => {
  test("no socket: exit 3, naming the socket and the flag to check", async () => {
    const work = await workdir();
    const r = await runMultus(["status", "--socket-dir", join(work.dir, "run")]);
    expect({ code: r.code, stdout: r.stdout }).toEqual({ code: 3, stdout: "" });
    expect(r.stderr).toBe(
      `multus status: ${join(work.dir, "run", "multus.sock")}: no such socket (is the daemon running? see --socket-dir)\n`,
    );
  });

  test("a socket file nobody listens on: exit 3, connection refused", async () => {
    const work = await workdir();
    await writeFile(join(work.dir, "multus.sock"), "");
    const r = await runMultus(["status", "--socket-dir", work.dir, "--json"]);
    expect(r.code).toBe(3);
    expect(r.stdout).toBe("");
    expect(r.stderr).toContain("connection refused");
  });

  test("--help names the options and the exit codes; a bad --timeout is a usage error", async () => {
    const help = await runMultus(["status", "--help"]);
    expect(help.code).toBe(0);
    for (const word of ["--socket-dir", "--json", "--timeout", "exit 0 ready, 1 not ready, 3 no daemon"]) {
      expect(help.stdout).toContain(word);
    }
    expect(help.stdout).toMatch(/EXAMPLES\n\n {2}multus status/);
    const bad = await runMultus(["status", "--timeout", "soon"]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("--timeout");
  });
});
