// src/k8s is the only code that imports client-node, and it imports nothing of Multus' own.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const dir = import.meta.dir;
const transpiler = new Bun.Transpiler({ loader: "ts" });

test("src/k8s imports only client-node, node built-ins, its own files and src/util", () => {
  const files = readdirSync(dir).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
  expect(files.length).toBeGreaterThanOrEqual(6);
  for (const f of files) {
    for (const { path } of transpiler.scanImports(readFileSync(join(dir, f), "utf8"))) {
      const ok =
        path.startsWith("@kubernetes/client-node") ||
        path.startsWith("node:") ||
        /^\.\/[a-z-]+\.ts$/.test(path) ||
        /^\.\.\/util\/[a-z-]+\.ts$/.test(path);
      if (!ok) throw new Error(`${f} imports ${path}`);
    }
  }
});
