// A/B of two daemon builds for memory and ADD latency: `bun bench/jit-policy-ab.ts <exe> <exe> ...`
// (built with and without --compile-jit-policy). Needs /tmp/mv/bin/triv (a trivial delegate)
// and a netns named mvbench; prints one JSON line per daemon.
import { mkdirSync, writeFileSync, readFileSync, rmSync } from "node:fs";
const variants = process.argv.slice(2);
const conf = {
  cniVersion: "1.0.0",
  name: "multus",
  type: "multus-shim",
  delegates: [
    { cniVersion: "1.0.0", name: "a", type: "triv" },
    { cniVersion: "1.0.0", name: "b", type: "triv" },
  ],
};
const b64 = Buffer.from(JSON.stringify(conf)).toString("base64");
function status(pid: number) {
  const s = readFileSync(`/proc/${pid}/status`, "utf8");
  const g = (k: string) => Number(new RegExp(`^${k}:\\s+(\\d+)`, "m").exec(s)![1]) / 1024;
  return { rss: g("VmRSS"), hwm: g("VmHWM"), anon: g("RssAnon") };
}
async function call(sock: string, cmd: string, id: string, ifname = "eth0") {
  const env = {
    CNI_COMMAND: cmd,
    CNI_CONTAINERID: id,
    CNI_NETNS: "/var/run/netns/mvbench",
    CNI_IFNAME: ifname,
    CNI_ARGS: "IgnoreUnknown=1",
    CNI_PATH: "/tmp/mv/bin",
  };
  const r = await fetch("http://d/cni", { unix: sock, method: "POST", body: JSON.stringify({ env, config: b64 }) });
  const t = await r.text();
  if (r.status !== 200) throw new Error(t);
}
for (const round of [1])
  for (const v of variants) {
    const dir = `/tmp/mv/run/${v.replaceAll("/", "_")}`;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      `${dir}/c.json`,
      JSON.stringify({ socketDir: `${dir}/s`, cniDir: `${dir}/cache`, binDir: "/tmp/mv/bin", multusConfigFile: "" }),
    );
    const p = Bun.spawn([v, "daemon", `-config=${dir}/c.json`], {
      stdout: "ignore",
      stderr: "ignore",
      env: { PATH: "/usr/bin:/bin" },
    });
    const sock = `${dir}/s/multus.sock`;
    for (;;) {
      try {
        if ((await fetch("http://d/readyz", { unix: sock })).status === 200) break;
      } catch {}
      await Bun.sleep(20);
    }
    await Bun.sleep(1500);
    const rest = status(p.pid);
    const lat: number[] = [];
    for (let i = 0; i < 40; i++) {
      const t = performance.now();
      await call(sock, "ADD", `s${i}`);
      lat.push(performance.now() - t);
      await call(sock, "DEL", `s${i}`);
    }
    lat.sort((a, b) => a - b);
    for (let r = 0; r < 5; r++)
      await Promise.all(
        Array.from({ length: 32 }, async (_, i) => {
          await call(sock, "ADD", `c${r}-${i}`);
          await call(sock, "DEL", `c${r}-${i}`);
        }),
      );
    const burst = status(p.pid);
    p.kill();
    await p.exited;
    const res = {
      restRss: rest.rss.toFixed(1),
      restAnon: rest.anon.toFixed(1),
      peak: burst.hwm.toFixed(1),
      afterAnon: burst.anon.toFixed(1),
      addP50: lat[20]!.toFixed(2),
    };
    console.log(round, v, JSON.stringify(res));
  }
