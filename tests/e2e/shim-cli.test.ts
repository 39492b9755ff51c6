// The shim outside a CNI call: run by hand (no CNI_COMMAND) it prints the
// "about" text to stderr and exits 0 without waiting for stdin; VERSION is
// answered by the shim itself, whether invoked as multus-shim or `multus shim`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BINARY, createWorkdir } from "../helpers/multus.ts";
import { canRunE2e, ensureBinary, waitFor } from "../helpers/e2e.ts";

const VERSIONS = ["0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0", "1.1.0"];
let work: Awaited<ReturnType<typeof createWorkdir>>;

beforeAll(async () => {
  if (!canRunE2e) return;
  await ensureBinary();
  work = await createWorkdir();
});
afterAll(async () => {
  if (canRunE2e) await work.remove();
});

async function run(cmd: string[], env: Record<string, string>, stdin?: string) {
  const proc = Bun.spawn(cmd, {
    env: { PATH: "/usr/bin:/bin", ...env },
    // without stdin text the pipe is left open: a shim that read it would hang
    stdin: stdin === undefined ? "pipe" : new TextEncoder().encode(stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const out = Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text()]);
  try {
    await waitFor(`${cmd.join(" ")} to exit`, () => proc.exitCode !== null, 5000, 10);
  } finally {
    if (proc.exitCode === null) proc.kill("SIGKILL");
  }
  const [stdout, stderr] = await out;
  return { code: proc.exitCode, stdout, stderr };
}

describe.skipIf(!canRunE2e)("the shim outside a CNI call", () => {
  test("no CNI_COMMAND: the about text on stderr, nothing on stdout, exit 0, stdin not read", async () => {
    const r = await run([work.shim], {});
    expect(r).toEqual({
      code: 0,
      stdout: "",
      stderr: `meta-plugin that delegates to other CNI plugins\nCNI protocol versions supported: ${VERSIONS.join(", ")}\n`,
    });
  });

  test("VERSION as multus-shim and as `multus shim`: the versions we speak, on stdout", async () => {
    const expected = `${JSON.stringify({ cniVersion: "1.1.0", supportedVersions: VERSIONS })}\n`;
    for (const cmd of [[work.shim], [BINARY, "shim"]]) {
      const r = await run(cmd, { CNI_COMMAND: "VERSION" }, `{"cniVersion":"0.4.0","name":"x","type":"multus-shim"}`);
      expect(r).toEqual({ code: 0, stdout: expected, stderr: "" });
    }
  });

  test("-version prints the build's version line", async () => {
    const r = await run([work.shim, "-version"], {});
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^multus-shim: version:\d+\.\d+\.\d+\S*, commit:\S+, date:\S+\n$/);
  });
});

describe.skipIf(!canRunE2e)("the shim's own log lines", () => {
  test("logToStderr: a failed call logs one Go-style line on stderr; stdout holds only the CNI error", async () => {
    const conf = {
      cniVersion: "1.1.0",
      name: "multus-cni-network",
      type: "multus-shim",
      daemonSocketDir: `${work.dir}/no-daemon`,
      daemonReadyTimeoutSeconds: 0.2,
      logToStderr: true,
      logLevel: "verbose",
    };
    const env = { CNI_COMMAND: "STATUS", CNI_PATH: "/usr/lib/cni" };
    const r = await run([work.shim], env, JSON.stringify(conf));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ code: 11, msg: expect.stringContaining("not ready") });
    const lines = r.stderr.split("\n").filter(Boolean);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^\d{4}-\d\d-\d\dT\S+Z \[error\] request failed: code 11: .* command=STATUS$/);
  });
});
