// TCP listeners in a process of their own, on Bun or on Deno, so that one test suite can drive both
// runtime adapters from outside and measure the listeners' memory apart from the clients and upstreams.
// Started with `{ pools, tcp }` as JSON in argv; prints `{ ports }`, then answers each stdin line:
//   peak          the highest RSS (MB) seen since the last "peak" (sampled every 10 ms), and RSS now after a GC
//   stats         the listeners' stats and the pools' servers (active, requests, failures, state)
//   stop GRACE    stop(GRACE ms); answers once every connection is closed
import { askInTurn, jsonLines } from "./json-lines.ts";
import process from "node:process";
import { configSchema } from "../../gateway/config/schema.ts";
import { Pool } from "../../gateway/pool/pool.ts";
import { getRuntime } from "../../gateway/runtime/current.ts";
import { startTcpListeners, type TcpStats } from "../../gateway/l4/tcp-listeners.ts";

export interface ServerState {
  id: string;
  active: number;
  requests: number;
  failures: number;
  state: string;
}

export interface ChildStats {
  tcp: TcpStats;
  pools: Record<string, ServerState[]>;
}

async function main(): Promise<void> {
  const config = configSchema.parse(JSON.parse(process.argv.at(-1)!));
  const pools = new Map(Object.entries(config.pools).map(([name, p]) => [name, new Pool(name, p)]));
  const runtime = await getRuntime();
  const tcp = await startTcpListeners(config.tcp, { runtime, pools: () => pools, log: () => {} });
  let peak = 0;
  const sample = () => (peak = Math.max(peak, process.memoryUsage().rss));
  const sampler = setInterval(sample, 10);
  // Bun.gc on Bun; on Deno, V8's gc (the child is started with --expose-gc).
  const g = globalThis as { Bun?: { gc(force: boolean): void }; gc?: () => void };
  const gc = () => (g.Bun ? g.Bun.gc(true) : g.gc?.());
  const reply = (value: unknown) => console.log(JSON.stringify(value));
  reply({ runtime: runtime.name, ports: tcp.listeners.map((l) => Number(l.address.slice(l.address.lastIndexOf(":") + 1))) });

  let buffered = "";
  process.stdin.on("data", async (chunk: Uint8Array | string) => {
    buffered += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    let end;
    while ((end = buffered.indexOf("\n")) !== -1) {
      const [command, arg] = buffered.slice(0, end).trim().split(/\s+/);
      buffered = buffered.slice(end + 1);
      if (command === "peak") {
        sample();
        const peakMB = peak / 1024 / 1024;
        gc();
        reply({ peakMB, nowMB: process.memoryUsage().rss / 1024 / 1024 });
        peak = process.memoryUsage().rss;
      } else if (command === "stats") {
        const servers: ChildStats["pools"] = {};
        for (const [name, pool] of pools) {
          servers[name] = pool.servers.map((s) => ({ id: s.id, active: s.active, requests: s.requests, failures: s.failures, state: s.state }));
        }
        reply({ tcp: tcp.stats(), pools: servers } satisfies ChildStats);
      } else if (command === "stop") {
        await tcp.stop(Number(arg));
        clearInterval(sampler);
        reply({ stopped: true, active: tcp.active });
      }
    }
  });
}

if (import.meta.main) await main();

export type L4Runtime = "bun" | "deno";

export interface L4Process {
  readonly runtime: L4Runtime;
  readonly ports: number[];
  peak(): Promise<{ peakMB: number; nowMB: number }>;
  stats(): Promise<ChildStats>;
  /** stop(graceMs) in the child; resolves when it is done. */
  stopListeners(graceMs: number): Promise<{ stopped: boolean; active: number }>;
  kill(): Promise<void>;
}

/** Start listeners for `config` ({ pools, tcp }) in a child process on `runtime`. */
export async function spawnL4(config: unknown, runtime: L4Runtime = "bun"): Promise<L4Process> {
  const { resolve } = await import("node:path");
  const repo = resolve(import.meta.dir, "../..");
  const self = resolve(import.meta.dir, "l4-process.ts");
  const cmd =
    runtime === "bun"
      ? [process.execPath, self, JSON.stringify(config)]
      : [
          resolve(repo, "node_modules/.bin/deno"),
          "run",
          "--unstable-no-legacy-abort",
          "--v8-flags=--expose-gc",
          "--allow-net",
          "--allow-read",
          "--allow-env",
          "--allow-sys",
          self,
          JSON.stringify(config),
        ];
  const proc = Bun.spawn(cmd, { cwd: repo, stdin: "pipe", stdout: "pipe", stderr: "inherit" });
  const next = jsonLines(proc.stdout, `the L4 process (${runtime}) exited`);
  const ask = askInTurn(proc.stdin, next);
  const hello = await next();
  return {
    runtime,
    ports: hello.ports,
    peak: () => ask("peak"),
    stats: () => ask("stats"),
    stopListeners: (graceMs) => ask(`stop ${graceMs}`),
    async kill() {
      proc.kill();
      await proc.exited;
    },
  };
}
