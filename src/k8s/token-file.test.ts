import { describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node/dist/config.js";
import { createTokenFile, followTokenFile, tokenFileOf } from "./token-file.ts";

const withDir = async (run: (dir: string) => Promise<void>) => {
  const dir = mkdtempSync(join(tmpdir(), "token-file-"));
  try {
    await run(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
};

describe("token file", () => {
  test("a change is read at once; an empty or vanished file keeps the last token", () =>
    withDir(async (dir) => {
      const path = join(dir, "token");
      writeFileSync(path, "one\n");
      const t = createTokenFile(path);
      expect(await t.read()).toBe("one");
      writeFileSync(path, "two-longer");
      expect(await t.read()).toBe("two-longer");
      writeFileSync(path, "");
      expect(await t.read()).toBe("two-longer");
      rmSync(path);
      expect(await t.read()).toBe("two-longer");
    }));

  test("with no token yet, an unreadable file is an error naming it", () =>
    withDir(async (dir) => {
      const path = join(dir, "missing");
      await expect(createTokenFile(path).read()).rejects.toThrow(`cannot read the token file ${path}`);
    }));

  test("a kubeconfig token-file (relative: to the working directory, as client-node read it) becomes a followed file; a fixed token wins", () =>
    withDir(async (dir) => {
      writeFileSync(join(dir, "tok"), "t");
      const text = (user: string) =>
        `apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\nusers:\n- name: u\n  user:\n${user}\ncontexts:\n- name: x\n  context:\n    cluster: c\n    user: u\ncurrent-context: x\n`;
      const load = (user: string) => {
        const path = join(dir, "kubeconfig");
        writeFileSync(path, text(user));
        const kc = new KubeConfig();
        kc.loadFromFile(path);
        followTokenFile(kc, text(user));
        return kc;
      };
      const prev = process.cwd();
      process.chdir(dir); // client-node reads a relative token-file from the working directory at load
      try {
        expect(tokenFileOf(load("    token-file: tok"))).toBe(join(dir, "tok"));
        expect(tokenFileOf(load("    token: fixed\n    token-file: tok"))).toBeUndefined();
      } finally {
        process.chdir(prev);
      }
    }));
});
