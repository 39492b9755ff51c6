// Who may import whom in src/ (docs/architecture.md has the table and the why):
// one table of the folders' allowed static imports, then the shim's whole
// static graph. The shim runs once per CNI call, so what it evaluates at start
// is its cost: that graph must stay free of the Kubernetes client, prom-client
// and the daemon's code. In the compiled binary a module behind import() is not
// evaluated until that branch runs, so only static imports count; type-only
// imports vanish from the bundle and are not counted. Bun's own parser reads them.
import { describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { builtinModules } from "node:module";
import { dirname, join, relative, resolve } from "node:path";

const SRC = import.meta.dir;
const transpiler = new Bun.Transpiler({ loader: "ts" });

/** Import kinds that are evaluated when the importing module is. */
const STATIC_KINDS = new Set(["import-statement", "require-call"]);

interface Rules {
  packages: RegExp[];
  /** Absolute directories no module of the graph may live in. */
  dirs: string[];
}

const SHIM_RULES: Rules = {
  packages: [/^@kubernetes\/client-node(\/|$)/, /^prom-client(\/|$)/],
  dirs: ["k8s", "multus", "daemon"].map((d) => join(SRC, d)),
};

interface Walk {
  /** Every module reached, absolute paths. */
  files: Set<string>;
  /** Bare specifiers (packages, node: built-ins) reached. */
  packages: Set<string>;
  /** "a.ts -> b.ts -> prom-client" for each rule broken. */
  violations: string[];
}

/** Follows static relative imports from `entries`; dynamic import() is not followed. */
async function walkStaticImports(entries: string[], rules: Rules, root: string): Promise<Walk> {
  const walk: Walk = { files: new Set(), packages: new Set(), violations: [] };
  const via = new Map<string, string>(); // module -> chain that reached it
  const name = (f: string) => relative(root, f);
  const queue = entries.map((e) => {
    via.set(e, name(e));
    return e;
  });
  while (queue.length > 0) {
    const file = queue.shift()!;
    if (walk.files.has(file)) continue;
    walk.files.add(file);
    const chain = via.get(file)!;
    if (rules.dirs.some((d) => file.startsWith(`${d}/`))) walk.violations.push(chain);
    const imports = transpiler.scanImports(await readFile(file, "utf8"));
    for (const imp of imports) {
      if (!STATIC_KINDS.has(imp.kind)) continue;
      if (!imp.path.startsWith(".")) {
        walk.packages.add(imp.path);
        if (rules.packages.some((p) => p.test(imp.path))) walk.violations.push(`${chain} -> ${imp.path}`);
        continue;
      }
      const target = resolve(dirname(file), imp.path);
      if (!via.has(target)) via.set(target, `${chain} -> ${name(target)}`);
      queue.push(target);
    }
  }
  return walk;
}

/**
 * What each folder of src/ may import statically: other folders (by name, its own is
 * always allowed), packages (exact or as a prefix before "/"), and "node:" for the
 * built-ins. "*" allows anything: the composition root wires the real parts together.
 */
const LAYERS: Record<string, { folders: string[]; packages: string[] } | "*"> = {
  ".": { folders: [], packages: [] },
  util: { folders: [], packages: ["consola", "node:"] },
  cni: { folders: ["util"], packages: ["valibot", "node:"] },
  api: { folders: ["cni"], packages: ["valibot"] },
  config: { folders: ["cni", "util", "api"], packages: ["valibot", "node:"] },
  // The Multus core: never k8s/, daemon/, kubelet/ or client-node; it declares what it needs in ports.ts.
  multus: { folders: ["cni", "config", "util"], packages: ["valibot", "node:"] },
  // I/O and error classification only: no Multus decisions, so nothing of multus/ (types aside).
  k8s: { folders: ["util"], packages: ["@kubernetes/client-node", "node:"] },
  kubelet: { folders: ["util"], packages: ["valibot", "node:"] },
  shim: { folders: ["api", "cni", "config", "util"], packages: ["node:fs", "node:path"] },
  passthru: { folders: ["cni", "util"], packages: [] },
  thin: { folders: ["cni", "config", "multus", "kubelet", "util", "api"], packages: ["node:"] },
  // citty statically; every role module through import().
  cli: { folders: ["api", "config", "util"], packages: ["citty", "node:"] },
  // Offline diagnostics (multus validate): the core's decisions over manifests read from files.
  diag: { folders: ["cni", "config", "multus", "k8s", "ports", "util"], packages: ["node:"] },
  // Types only: the shapes k8s/ and multus/ exchange.
  ports: { folders: [], packages: [] },
  daemon: "*",
};

function packageAllowed(spec: string, allowed: string[]): boolean {
  return allowed.some((p) => (p === "node:" ? spec.startsWith("node:") : spec === p || spec.startsWith(`${p}/`)));
}

/** "k8s/pods.ts imports ../multus/pod.ts" for every static import the table does not allow. */
async function layeringViolations(root: string, layers: typeof LAYERS): Promise<string[]> {
  const out: string[] = [];
  const files = (await readdir(root, { recursive: true })).filter((f) => f.endsWith(".ts") && !f.endsWith(".test.ts"));
  for (const file of files.sort()) {
    const folder = file.includes("/") ? file.split("/")[0]! : ".";
    const rule = layers[folder];
    if (rule === "*") continue;
    if (!rule) {
      out.push(`${file}: folder ${folder}/ has no row in the layering table`);
      continue;
    }
    for (const imp of transpiler.scanImports(await readFile(join(root, file), "utf8"))) {
      if (!STATIC_KINDS.has(imp.kind)) continue;
      if (!imp.path.startsWith(".")) {
        if (!packageAllowed(imp.path, rule.packages)) out.push(`${file} imports ${imp.path}`);
        continue;
      }
      const target = relative(root, resolve(root, dirname(file), imp.path));
      const targetFolder = target.includes("/") ? target.split("/")[0]! : ".";
      if (targetFolder !== folder && !rule.folders.includes(targetFolder)) out.push(`${file} imports ${imp.path}`);
    }
  }
  return out;
}

describe("the layering table", () => {
  test("every folder of src/ keeps to its row", async () => {
    expect(await layeringViolations(SRC, LAYERS)).toEqual([]);
  });

  test("every folder of src/ has a row (a new folder must say what it may import)", async () => {
    const folders = (await readdir(SRC, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
    expect(folders.filter((f) => !(f in LAYERS))).toEqual([]);
    expect(folders.length).toBeGreaterThanOrEqual(12);
  });

  test("it reports a forbidden folder, a forbidden package and a folder without a row; type imports pass", async () => {
    const root = await mkdtemp(join(tmpdir(), "layering-"));
    try {
      for (const d of ["multus", "k8s", "cni", "extra"]) await mkdir(join(root, d));
      await writeFile(
        join(root, "multus", "a.ts"),
        `import { x } from "../k8s/x.ts";\nimport type { T } from "../k8s/t.ts";\nexport const a: T = x;\n`,
      );
      await writeFile(join(root, "k8s", "x.ts"), `import * as v from "valibot";\nexport const x = v;\n`);
      await writeFile(
        join(root, "cni", "ok.ts"),
        `import { y } from "./y.ts";\nimport "node:fs";\nexport const z = y;\n`,
      );
      await writeFile(join(root, "extra", "e.ts"), "export {};\n");
      const layers = { multus: LAYERS.multus!, k8s: LAYERS.k8s!, cni: LAYERS.cni! };
      expect(await layeringViolations(root, layers)).toEqual([
        "extra/e.ts: folder extra/ has no row in the layering table",
        "k8s/x.ts imports valibot",
        "multus/a.ts imports ../k8s/x.ts",
      ]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

/** The dynamic imports inside one top-level function of a module (the branch a role takes). */
async function dynamicImportsOf(file: string, fn: string): Promise<string[]> {
  const text = await readFile(file, "utf8");
  const at = text.indexOf(`function ${fn}(`);
  if (at < 0) throw new Error(`no function ${fn} in ${file}`);
  const open = text.indexOf("{", text.indexOf(")", at));
  let depth = 0;
  let end = open;
  for (; end < text.length; end++) {
    if (text[end] === "{") depth++;
    else if (text[end] === "}" && --depth === 0) break;
  }
  const body = text.slice(open, end + 1);
  return transpiler
    .scanImports(body)
    .filter((i) => i.kind === "dynamic-import")
    .map((i) => resolve(dirname(file), i.path));
}

describe("Bun.Transpiler.scanImports", () => {
  test("tells static imports from dynamic import() and drops type-only imports", () => {
    const found = transpiler.scanImports(`
      import { a } from "./a.ts";
      import type { T } from "./types.ts";
      export { b } from "./b.ts";
      const c = await import("./c.ts");
      async function later() { return import("./d.ts"); }
      void a; void c; void later;
    `);
    expect(found).toEqual([
      { kind: "import-statement", path: "./a.ts" },
      { kind: "import-statement", path: "./b.ts" },
      { kind: "dynamic-import", path: "./c.ts" },
      { kind: "dynamic-import", path: "./d.ts" },
    ]);
  });
});

describe("the walker", () => {
  test("reports forbidden packages and directories with the chain that reached them; ignores import()", async () => {
    const root = await mkdtemp(join(tmpdir(), "imports-walk-"));
    try {
      await mkdir(join(root, "shim"));
      await mkdir(join(root, "daemon"));
      await mkdir(join(root, "cni"));
      await writeFile(
        join(root, "shim", "run.ts"),
        `import { x } from "../cni/x.ts";\nexport const lazy = () => import("../daemon/heavy.ts");\nvoid x;\n`,
      );
      // The package name is spliced in so that a grep for shim imports of it does not match this fixture.
      const prom = ["prom", "client"].join("-");
      await writeFile(
        join(root, "cni", "x.ts"),
        `import { Registry } from "${prom}";\nimport "../daemon/side.ts";\nexport const x = Registry;\n`,
      );
      await writeFile(join(root, "daemon", "side.ts"), `export {};\n`);
      await writeFile(join(root, "daemon", "heavy.ts"), `import "@kubernetes/client-node";\n`);
      const walk = await walkStaticImports(
        [join(root, "shim", "run.ts")],
        {
          packages: SHIM_RULES.packages,
          dirs: [join(root, "daemon")],
        },
        root,
      );
      expect(walk.violations.sort()).toEqual([
        "shim/run.ts -> cni/x.ts -> daemon/side.ts",
        "shim/run.ts -> cni/x.ts -> prom-client",
      ]);
      expect(walk.files.has(join(root, "daemon", "heavy.ts"))).toBe(false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});

describe("the shim's static import graph", () => {
  test("from src/shim/run.ts: no client-node, prom-client, k8s/, multus/ or daemon/", async () => {
    const walk = await walkStaticImports([join(SRC, "shim", "run.ts")], SHIM_RULES, SRC);
    expect(walk.violations).toEqual([]);
    // the walk really went somewhere
    for (const f of ["shim/client.ts", "cni/skel.ts", "api/api.ts", "config/shim-config.ts"]) {
      expect(walk.files.has(join(SRC, f))).toBe(true);
    }
  });

  test("Node built-ins: only node:fs and node:path (each other one is start time: zlib, net, http ~1-2 ms)", async () => {
    const main = join(SRC, "main.ts");
    const walk = await walkStaticImports([main, ...(await dynamicImportsOf(main, "runShimRole"))], SHIM_RULES, SRC);
    const builtins = [...walk.packages].filter((p) => p.startsWith("node:") || builtinModules.includes(p));
    expect(builtins.filter((p) => !["node:fs", "node:path"].includes(p))).toEqual([]);
  });

  test("from src/main.ts along the shim role: the same holds", async () => {
    const main = join(SRC, "main.ts");
    const shimBranch = await dynamicImportsOf(main, "runShimRole");
    expect(shimBranch).toContain(join(SRC, "shim", "run.ts"));
    const walk = await walkStaticImports([main, ...shimBranch], SHIM_RULES, SRC);
    expect(walk.violations).toEqual([]);
    // main.ts itself stays light: the CLI (citty) and the daemon are behind import()
    const mainOnly = await walkStaticImports([main], SHIM_RULES, SRC);
    expect([...mainOnly.packages]).toEqual([]);
    expect([...mainOnly.files].map((f) => relative(SRC, f))).toEqual(["main.ts"]);
  });

  test("the passthru role (main.ts -> passthru/run.ts) is held to the shim's rules", async () => {
    const main = join(SRC, "main.ts");
    const branch = await dynamicImportsOf(main, "runPassthruRole");
    expect(branch).toEqual([join(SRC, "passthru", "run.ts")]);
    const walk = await walkStaticImports([main, ...branch], SHIM_RULES, SRC);
    expect(walk.violations).toEqual([]);
    const builtins = [...walk.packages].filter((p) => p.startsWith("node:") || builtinModules.includes(p));
    expect(builtins.filter((p) => !["node:fs", "node:path"].includes(p))).toEqual([]);
    expect(walk.files.has(join(SRC, "cni", "skel.ts"))).toBe(true);
  });
});

describe("the probe's static import graph", () => {
  test("main.ts -> cli/probe-run.ts loads no package and only the socket's names (no citty, consola, valibot)", async () => {
    const main = join(SRC, "main.ts");
    const branch = await dynamicImportsOf(main, "runProbeRole");
    expect(branch).toEqual([join(SRC, "cli", "probe-run.ts")]);
    const walk = await walkStaticImports([main, ...branch], SHIM_RULES, SRC);
    expect([...walk.packages]).toEqual([]);
    expect([...walk.files].map((f) => relative(SRC, f)).sort()).toEqual([
      "api/socket.ts",
      "cli/probe-run.ts",
      "main.ts",
    ]);
  });
});

describe("the daemon's static import graph", () => {
  test("from src/daemon/run.ts: no prom-client (loaded through import() only when metricsPort is set)", async () => {
    const walk = await walkStaticImports(
      [join(SRC, "daemon", "run.ts")],
      { packages: [/^prom-client(\/|$)/], dirs: [] },
      SRC,
    );
    expect(walk.violations).toEqual([]);
    expect(walk.files.has(join(SRC, "daemon", "handler.ts"))).toBe(true);
    expect(walk.files.has(join(SRC, "daemon", "metrics.ts"))).toBe(false);
  });
});
