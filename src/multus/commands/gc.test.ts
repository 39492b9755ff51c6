// GC's stale DELs against a container's other requests.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { chmod, mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validate } from "../../cni/schemas.ts";
import { ErrorCode } from "../../cni/errors.ts";
import { createKeyedLock, type KeyedLock } from "../../util/keyed-lock.ts";
import { createLogger } from "../../util/log.ts";
import { delegateCachePath, writeDelegateCache } from "../delegate-cache.ts";
import { delegateFromBytes } from "../delegates.ts";
import { MultusConfSchema } from "../netconf.ts";
import type { MultusRequest } from "../request.ts";
import { waitFor } from "../../../tests/helpers/e2e.ts";
import { cmdGc } from "./gc.ts";

let tmp = "";
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "gc-test-"));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

test("a stale container's DEL waits for the request holding that container's lock", async () => {
  const binDir = join(tmp, "bin");
  await mkdir(binDir);
  await writeFile(join(binDir, "ok"), "#!/bin/sh\ncat >/dev/null\nexit 0\n");
  await chmod(join(binDir, "ok"), 0o755);
  const delegateConf = { cniVersion: "1.1.0", name: "net", type: "ok" };
  const conf = validate(
    MultusConfSchema,
    {
      cniVersion: "1.1.0",
      name: "multus",
      type: "multus-shim",
      cniDir: join(tmp, "cache"),
      binDir,
      delegates: [delegateConf],
    },
    ErrorCode.InvalidConfig,
    "test configuration",
  );
  const spec = delegateFromBytes({ raw: delegateConf, bytes: JSON.stringify(delegateConf), role: "cluster" });
  await writeDelegateCache(conf.cniDir, "stale1", [{ delegate: { ...spec, ifname: "eth0" } }]);

  const real = createKeyedLock();
  // The real lock, noting who asks for it: GC asking for stale1's is the moment its DEL waits.
  const asked: string[] = [];
  const locks: KeyedLock = {
    run: (key, fn) => {
      asked.push(key);
      return real.run(key, fn);
    },
    isHeld: (key) => real.isHeld(key),
    get size() {
      return real.size;
    },
  };
  let release = () => {};
  const held = real.run("stale1", () => new Promise<void>((resolve) => (release = resolve)));
  const req: MultusRequest = {
    args: { command: "GC", containerId: "", netns: "", ifname: "", args: "", path: binDir, stdin: new Uint8Array() },
    conf,
    pod: { rest: [] },
  };
  const gc = cmdGc(
    req,
    { log: createLogger({}), delegateBaseEnv: { PATH: "/usr/bin:/bin" }, locks },
    {
      "cni.dev/valid-attachments": [],
    },
  );
  await waitFor("GC to ask for stale1's lock", () => asked.includes("stale1"), 5000, 5);
  // An ADD or DEL of stale1 is still running: its cache is left alone until it is done.
  expect(await exists(delegateCachePath(conf.cniDir, "stale1"))).toBe(true);
  release();
  await held;
  await gc;
  expect(await exists(delegateCachePath(conf.cniDir, "stale1"))).toBe(false);
});
