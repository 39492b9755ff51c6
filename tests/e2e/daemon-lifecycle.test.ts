// The daemon's socket file across restarts, and the shim while the daemon is
// away: a stale socket (a killed daemon, or a socket nobody listens on) is
// taken over; a live daemon's socket is not; the shim fails with code 11 (try
// again later) within its deadline, naming the socket it waited for.
import { describe, expect, test } from "bun:test";
import { mkdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { BINARY, runCni, shimConf, startDaemon } from "../helpers/multus.ts";
import { canRunE2e, containerId, socketRequest, waitFor, workdirPerTest } from "../helpers/e2e.ts";

const { work, cleanup } = workdirPerTest();

const daemonConfig = () => ({ cniDir: join(work.dir, "cache"), binDir: "/usr/lib/cni" });
const socketOf = (dir: string) => join(dir, "multus.sock");

/** The daemon serves CNI: a DEL of a container it never saw is a success. */
async function expectServing(socketDir: string): Promise<void> {
  const del = await runCni(work.shim, {
    command: "DEL",
    containerId: containerId("probe"),
    stdin: shimConf(socketDir, { daemonReadyTimeoutSeconds: 2 }),
  });
  expect([del.code, del.stdout]).toEqual([0, ""]);
}

async function writeConfig(config: Record<string, unknown>): Promise<string> {
  const path = join(work.dir, `daemon-config-${Math.random().toString(36).slice(2)}.json`);
  await Bun.write(path, JSON.stringify(config));
  return path;
}

/** A socket file whose owner died without removing it (bound and listening, then SIGKILL). */
async function makeStaleSocket(path: string): Promise<void> {
  const code = `Bun.listen({ unix: ${JSON.stringify(path)}, socket: { data() {} } }); process.kill(process.pid, "SIGKILL");`;
  const proc = Bun.spawn([process.execPath, "-e", code], { stdout: "ignore", stderr: "ignore" });
  await proc.exited;
  expect(proc.signalCode).toBe("SIGKILL");
  expect((await stat(path)).isSocket()).toBe(true);
}

describe.skipIf(!canRunE2e)("the daemon's socket", () => {
  test("a daemon killed with SIGKILL leaves its socket; the next daemon takes it over and serves", async () => {
    const first = await startDaemon(work.dir, daemonConfig());
    cleanup.add(() => first.stop());
    expect(await first.stop("SIGKILL")).not.toBe(0);
    expect((await stat(socketOf(first.socketDir))).isSocket()).toBe(true);

    const second = await startDaemon(work.dir, daemonConfig());
    cleanup.add(() => second.stop());
    await expectServing(second.socketDir);
  });

  test("temp files of cache writes cut short by a SIGKILL are swept at start; a live writer's stay", async () => {
    const cniDir = join(work.dir, "cache");
    await mkdir(join(cniDir, "results"), { recursive: true });
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    const stale = [
      join(cniDir, `.c1.${dead.pid}.0123456789ab.tmp`),
      join(cniDir, "results", `.n-c1-eth0.${dead.pid}.0123456789ab.tmp`),
    ];
    const live = join(cniDir, `.c2.${process.pid}.0123456789ab.tmp`);
    for (const f of [...stale, live]) await Bun.write(f, "{");
    const daemon = await startDaemon(work.dir, { ...daemonConfig(), cniDir });
    cleanup.add(() => daemon.stop());
    await expectServing(daemon.socketDir);
    for (const f of stale) expect(await Bun.file(f).exists()).toBe(false);
    expect(await Bun.file(live).exists()).toBe(true);
  });

  test("a socket file nobody listens on is replaced", async () => {
    const socketDir = join(work.dir, "run");
    await mkdir(socketDir, { mode: 0o700 });
    await makeStaleSocket(socketOf(socketDir));
    const daemon = await startDaemon(work.dir, { ...daemonConfig(), socketDir });
    cleanup.add(() => daemon.stop());
    await expectServing(socketDir);
  });

  test("a live owner that accepts but does not answer /healthz keeps its socket; the new daemon exits non-zero", async () => {
    const socketDir = join(work.dir, "run");
    await mkdir(socketDir, { mode: 0o700 });
    const path = socketOf(socketDir);
    // A daemon that is alive but too busy to answer: it accepts connections and never replies.
    const accepted: unknown[] = [];
    const hung = Bun.listen({ unix: path, socket: { open: (sock) => void accepted.push(sock), data() {} } });
    cleanup.add(() => hung.stop(true));
    const before = await stat(path);

    const proc = Bun.spawn(
      [BINARY, "daemon", `-config=${await writeConfig({ ...daemonConfig(), socketDir, multusConfigFile: "" })}`],
      {
        stdout: "pipe",
        stderr: "pipe",
      },
    );
    cleanup.add(() => proc.exitCode === null && proc.kill("SIGKILL"));
    await waitFor("the daemon to give up on the socket", () => proc.exitCode !== null, 10_000);
    const stderr = await new Response(proc.stderr).text();
    expect([proc.exitCode, stderr]).toEqual([3, expect.stringContaining(`another multus daemon holds ${path}`)]);
    expect(accepted.length).toBeGreaterThan(0);
    const after = await stat(path);
    expect(after.ino).toBe(before.ino);
  });

  test("a second daemon refuses a live daemon's socket and exits non-zero; the first keeps serving", async () => {
    const first = await startDaemon(work.dir, daemonConfig());
    cleanup.add(() => first.stop());
    const before = await stat(socketOf(first.socketDir));

    const second = Bun.spawn([BINARY, "daemon", `-config=${first.configPath}`], { stdout: "pipe", stderr: "pipe" });
    cleanup.add(() => second.exitCode === null && second.kill("SIGKILL"));
    await waitFor("the second daemon to exit", () => second.exitCode !== null, 10_000);
    const stderr = await new Response(second.stderr).text();
    expect(second.exitCode).not.toBe(0);
    expect(stderr).toContain(`another multus daemon is serving ${socketOf(first.socketDir)}`);

    const after = await stat(socketOf(first.socketDir));
    expect(after.ino).toBe(before.ino);
    expect((await socketRequest(socketOf(first.socketDir), "/readyz", { method: "GET" })).status).toBe(200);
    await expectServing(first.socketDir);
  });
});

describe.skipIf(!canRunE2e)("a hostile daemon configuration", () => {
  test.each([
    ["a wrong type", { metricsPort: "abc" }, ['"metricsPort"', "number"]],
    ["a wrong type in a per-request key", { namespaceIsolation: "yes" }, ['"namespaceIsolation"', "boolean"]],
    ["a port out of range", { metricsPort: 70000 }, ['"metricsPort"']],
    ["a list where a string goes", { socketDir: ["/run/multus/"] }, ['"socketDir"', "string"]],
    ["a misspelt log level", { logLevel: "verbos" }, ['"logLevel"', '"verbos"', "panic, error, verbose, debug"]],
    ["not JSON", "{ this is not json", ["failed to decode daemon configuration", "line 1, column 3"]],
    ["a trailing comma", '{\n  "logLevel": "debug",\n}\n', ["daemon configuration", "line 3, column 1"]],
    ["a JSON list", "[]", ["daemon configuration"]],
  ] as const)("%s: exit 1 with a message naming the key, nothing listening", async (_what, config, needles) => {
    const { writeFile } = await import("node:fs/promises");
    const configPath = join(work.dir, "daemon-config.json");
    const socketDir = join(work.dir, "run");
    await writeFile(
      configPath,
      typeof config === "string" ? config : JSON.stringify({ socketDir, multusConfigFile: "", ...config }),
    );
    const proc = Bun.spawn([BINARY, "daemon", `-config=${configPath}`], { stdout: "pipe", stderr: "pipe" });
    cleanup.add(() => proc.exitCode === null && proc.kill("SIGKILL"));
    const code = await proc.exited;
    const stderr = await new Response(proc.stderr).text();
    expect(code, stderr).toBe(1);
    for (const needle of needles) expect(stderr).toContain(needle);
    expect(await Bun.file(socketOf(socketDir)).exists()).toBe(false);
  });

  test("an unknown key is warned about once at start with the closest known key, and the daemon serves", async () => {
    const daemon = await startDaemon(work.dir, { ...daemonConfig(), metricPort: 9091, myCompanyTag: "x" });
    cleanup.add(() => daemon.stop());
    await expectServing(daemon.socketDir);
    const lines = daemon.stderr().split("\n");
    expect(lines.filter((l) => l.includes('"metricPort": did you mean "metricsPort"?'))).toHaveLength(1);
    expect(lines.filter((l) => l.includes("unknown key") && l.includes('"myCompanyTag"'))).toHaveLength(1);
    expect(daemon.stderr()).not.toContain('"binDir"');
  });

  test("keys in Go's case-insensitive spelling (LogLevel, LogToStderr) take effect and are not warned about", async () => {
    const daemon = await startDaemon(work.dir, { ...daemonConfig(), LogLevel: "Verbose", LogToStderr: true });
    cleanup.add(() => daemon.stop());
    await expectServing(daemon.socketDir);
    expect(daemon.stderr()).toMatch(/\[verbose\] listening on /);
    expect(daemon.stderr()).not.toContain("unknown key");
  });

  test("a config file that does not exist: exit 1 naming it", async () => {
    const missing = join(work.dir, "nope.json");
    const proc = Bun.spawn([BINARY, "daemon", `-config=${missing}`], { stdout: "pipe", stderr: "pipe" });
    cleanup.add(() => proc.exitCode === null && proc.kill("SIGKILL"));
    expect(await proc.exited).toBe(1);
    expect(await new Response(proc.stderr).text()).toContain(missing);
  });
});

describe.skipIf(!canRunE2e)("the daemon's Kubernetes environment", () => {
  test("in a pod without its service-account token (KUBERNETES_SERVICE_HOST set) the daemon exits 3 instead of running without Kubernetes", async () => {
    const { writeFile } = await import("node:fs/promises");
    const configPath = join(work.dir, "daemon-config.json");
    await writeFile(
      configPath,
      JSON.stringify({ ...daemonConfig(), socketDir: join(work.dir, "run"), multusConfigFile: "" }),
    );
    const proc = Bun.spawn([BINARY, "daemon", `-config=${configPath}`], {
      stdout: "pipe",
      stderr: "pipe",
      // A host name nothing resolves: the token check must fail first, with no request sent.
      env: {
        PATH: process.env.PATH ?? "/usr/bin:/bin",
        KUBERNETES_SERVICE_HOST: "kube.invalid",
        KUBERNETES_SERVICE_PORT: "443",
      },
    });
    cleanup.add(() => proc.exitCode === null && proc.kill("SIGKILL"));
    const code = await proc.exited;
    const stderr = await new Response(proc.stderr).text();
    expect(code).toBe(3);
    expect(stderr).toContain(
      "KUBERNETES_SERVICE_HOST is set but /var/run/secrets/kubernetes.io/serviceaccount/token is missing",
    );
  });
});

describe.skipIf(!canRunE2e)("the shim while the daemon is down", () => {
  const READY_TIMEOUT_S = 0.5;
  const cases = [
    ["no socket file", async (_socketDir: string) => undefined],
    [
      "a stale socket file",
      async (socketDir: string) => {
        await mkdir(socketDir, { mode: 0o700 });
        await makeStaleSocket(socketOf(socketDir));
      },
    ],
  ] as const;

  for (const [label, prepare] of cases) {
    test(`${label}: ADD, CHECK and DEL fail with code 11 naming the socket, within the ready deadline`, async () => {
      const socketDir = join(work.dir, "run");
      await prepare(socketDir);
      // the three wait side by side: one deadline's worth of test time
      const runs = await Promise.all(
        ["ADD", "CHECK", "DEL"].map((command) =>
          runCni(work.shim, {
            command,
            containerId: containerId(),
            netns: "/var/run/netns/not-reached",
            stdin: shimConf(socketDir, { daemonReadyTimeoutSeconds: READY_TIMEOUT_S }),
          }),
        ),
      );
      for (const run of runs) {
        expect(run.code).toBe(1);
        const err = run.json();
        expect(err.code).toBe(11);
        expect(err.msg).toBe(`multus daemon is not ready at ${socketOf(socketDir)}`);
        expect(err.details).toContain(label === "no socket file" ? "ENOENT" : "ECONNREFUSED");
        // It waited: the last retry comes at most one poll (100 ms) before the deadline.
        expect(run.ms).toBeGreaterThanOrEqual(READY_TIMEOUT_S * 1000 - 100);
        expect(run.ms).toBeLessThan(READY_TIMEOUT_S * 1000 + 4000);
      }
    });
  }

  test("a shim started before the daemon waits for it within its deadline", async () => {
    const socketDir = join(work.dir, "run");
    const shim = runCni(work.shim, {
      command: "DEL",
      containerId: containerId(),
      stdin: shimConf(socketDir, { daemonReadyTimeoutSeconds: 10 }),
    });
    const daemon = await startDaemon(work.dir, { ...daemonConfig(), socketDir });
    cleanup.add(() => daemon.stop());
    const run = await shim;
    expect([run.code, run.stdout]).toEqual([0, ""]);
  });
});
