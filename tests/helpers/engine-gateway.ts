// The gateway under the HTTP engine suites, on either runtime: on Bun in this process (or in a child process of
// its own, when its memory is measured), on Deno in a child process running tests/helpers/gateway-deno.ts.
// Either way a suite sees the same handle: the listen port, the pools' server counters, and the memory figures.
import { resolve } from "node:path";
import type { ConfigInput } from "../../gateway/config/schema.ts";
import { askInTurn, jsonLines } from "./json-lines.ts";
import { repoRoot } from "./process.ts";
import { gateway, spawnGateway } from "./upstream.ts";

export type EngineRuntime = "bun" | "deno";

/** A server's counters, as /status shows them. */
export interface ServerFigures {
  id: string;
  failures: number;
  active: number;
  requests: number;
}

export interface EngineGateway {
  readonly runtime: EngineRuntime;
  readonly url: string;
  readonly port: number;
  /** The first server of `pool`. */
  server(pool: string): Promise<ServerFigures>;
  /** Highest RSS (MB) since the previous call and RSS now: only for a gateway in a process of its own. */
  peak(): Promise<{ peakMB: number; nowMB: number }>;
  stop(): Promise<void>;
}

export const denoPath = resolve(repoRoot, "node_modules/.bin/deno");
/** The flags `deno task start` gives the gateway (deno.json), less --allow-run: what a Deno gateway in a test needs. */
export const DENO_GATEWAY_FLAGS = ["--unstable-no-legacy-abort", "--unstable-net", "--allow-net", "--allow-read", "--allow-env", "--allow-sys"];

/** Start a gateway on `runtime` with `config` (no admin listener, no access log, on a free loopback port). */
export async function startEngineGateway(runtime: EngineRuntime, config: ConfigInput, options: { ownProcess?: boolean } = {}): Promise<EngineGateway> {
  if (runtime === "deno") return startDeno(config);
  if (options.ownProcess) {
    const child = await spawnGateway(config);
    return {
      runtime,
      url: child.url,
      port: Number(new URL(child.url).port),
      server: () => Promise.reject(new Error("server counters are not reported by a Bun gateway process")),
      peak: () => child.peak(),
      stop: () => child.stop(),
    };
  }
  const gw = await gateway(config as Parameters<typeof gateway>[0]);
  return {
    runtime,
    url: gw.url,
    port: Number(new URL(gw.url).port),
    async server(pool) {
      const s = gw.current.pools.get(pool)!.servers[0]!;
      return { id: s.id, failures: s.failures, active: s.active, requests: s.requests };
    },
    peak: () => Promise.reject(new Error("memory is measured only for a gateway in a process of its own")),
    stop: () => gw.stop(0),
  };
}

async function startDeno(config: ConfigInput): Promise<EngineGateway> {
  const full = { listen: "127.0.0.1:0", admin: false, accessLog: false, ...config };
  const proc = Bun.spawn([denoPath, "run", ...DENO_GATEWAY_FLAGS, "tests/helpers/gateway-deno.ts", JSON.stringify(full)], {
    cwd: repoRoot,
    stdin: "pipe",
    stdout: "pipe",
    stderr: "inherit",
  });
  const next = jsonLines(proc.stdout, "the Deno gateway exited");
  const ask = askInTurn(proc.stdin, next);
  const { url } = await next();
  return {
    runtime: "deno",
    url,
    port: Number(new URL(url).port),
    async server(pool) {
      const pools = await ask<Record<string, ServerFigures[]>>("servers");
      return pools[pool]![0]!;
    },
    peak: () => ask("peak"),
    async stop() {
      proc.stdin.end();
      const exited = await Promise.race([proc.exited, Bun.sleep(3_000).then(() => undefined)]);
      if (exited === undefined) {
        proc.kill();
        await proc.exited;
      }
    },
  };
}
