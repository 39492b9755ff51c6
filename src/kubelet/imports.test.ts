// src/kubelet reads what the kubelet knows; it imports nothing of Multus' own and
// no gRPC library, and node:http2 only behind import() (plus `import type`), so
// loading the module costs next to nothing until a pod asks for a device.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dir;
const transpiler = new Bun.Transpiler({ loader: "ts" });

test("src/kubelet imports only node built-ins, valibot and its own files; node:http2 lazily", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
  expect(files.length).toBe(3);
  for (const f of files) {
    for (const { path, kind } of transpiler.scanImports(readFileSync(join(dir, f), "utf8"))) {
      const ok =
        (path.startsWith("node:") && (path !== "node:http2" || kind === "dynamic-import")) ||
        path === "valibot" ||
        /^\.\/[a-z-]+\.ts$/.test(path);
      if (!ok) throw new Error(`${f} imports ${path} (${kind})`);
    }
  }
});
