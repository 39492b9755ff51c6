// DEL's forgiving paths and the ones that must fail for the runtime to retry.
import { afterEach, beforeEach, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CniError, ErrorCode } from "../../cni/errors.ts";
import { validate } from "../../cni/schemas.ts";
import { createLogger } from "../../util/log.ts";
import { MultusConfSchema } from "../netconf.ts";
import type { KubePort, MultusDeps } from "../ports.ts";
import { podArgsFrom, type MultusRequest } from "../request.ts";
import { delegateCachePath } from "../delegate-cache.ts";
import { cmdDel } from "./del.ts";

let tmp = "";
beforeEach(async () => {
  tmp = await mkdtemp(join(tmpdir(), "del-test-"));
});
afterEach(async () => {
  await rm(tmp, { recursive: true, force: true });
});

function request(): MultusRequest {
  const conf = validate(
    MultusConfSchema,
    {
      cniVersion: "1.1.0",
      name: "multus",
      type: "multus-shim",
      cniDir: join(tmp, "cache"),
      binDir: join(tmp, "bin"),
      delegates: [{ cniVersion: "1.1.0", name: "net", type: "no-such-plugin" }],
    },
    ErrorCode.InvalidConfig,
    "test configuration",
  );
  const cniArgs = "K8S_POD_NAMESPACE=ns;K8S_POD_NAME=pod";
  return {
    args: {
      command: "DEL",
      containerId: "c1",
      netns: "",
      ifname: "eth0",
      args: cniArgs,
      path: "/opt/cni/bin",
      stdin: new Uint8Array(),
    },
    conf,
    pod: podArgsFrom(cniArgs),
  };
}

function deps(getPod: KubePort["getPod"]): MultusDeps {
  const kube: KubePort = {
    getPod,
    getNad: async () => null,
    writePodAnnotation: async () => undefined,
    recordEvent: () => undefined,
  };
  return { log: createLogger({}), delegateBaseEnv: { PATH: "/usr/bin:/bin" }, kube };
}

test("no cache and the pod is gone: nothing to delete, DEL succeeds without running a delegate", async () => {
  const asked: unknown[] = [];
  // The configured delegate's plugin does not exist: had DEL tried to run it, it would have failed.
  await cmdDel(
    request(),
    deps(async (ref) => {
      asked.push(ref);
      return null;
    }),
  );
  expect(asked).toEqual([{ namespace: "ns", name: "pod", uid: undefined }]);
  expect(await stat(delegateCachePath(join(tmp, "cache"), "c1")).catch(() => null)).toBeNull();
});

test("no cache and the API cannot say whether the pod exists: code 11, for the runtime to retry", async () => {
  const err = await cmdDel(
    request(),
    deps(async () => {
      throw new Error("connection refused");
    }),
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(CniError);
  expect((err as CniError).code).toBe(ErrorCode.TryAgainLater);
  expect((err as CniError).msg).toBe("cannot get pod ns/pod from the Kubernetes API");
});

test.each([
  ["an entry that is not an object", "[null]"],
  ["an entry that is an array", '[["net"]]'],
  ["Bytes that are not a string", '[{"Name":"net","Bytes":5}]'],
  [
    "an ifname that is not a string",
    `[{"Name":"net","ifname":5,"Bytes":"${btoa('{"cniVersion":"1.1.0","name":"net","type":"x"}')}"}]`,
  ],
])("a delegate cache with %s is corrupt: removed, DEL goes on without it", async (_, text) => {
  const req = request();
  const path = delegateCachePath(req.conf.cniDir, req.args.containerId);
  await mkdir(req.conf.cniDir, { recursive: true });
  await writeFile(path, text);
  await cmdDel(req, { log: createLogger({}), delegateBaseEnv: { PATH: "/usr/bin:/bin" } });
  expect(
    await stat(path).then(
      () => true,
      () => false,
    ),
  ).toBe(false);
});
