// /status with `--workers`: the document keeps its shape, its figures become the whole gateway's, and a `workers`
// part shows each process on its own. What adds up is summed over the processes that answered: a server's
// `active`, `requests` and `failures`, a pool's `queued`, an HTTP listener's `connections` and `refused`. What is
// shared is the primary's: the admin state, weights, health and its last check (workers follow the primary's).
// A server is `down` in the summed view when any process keeps it out (a worker's passive failures are its own):
// the `workers` part tells which. Its latency is the mean of the processes' estimates that have one.
import type { ListenerInfo, PoolStatus } from "../admin/status.ts";
import type { ProcessView } from "./process-view.ts";

/**
 * One process of the gateway as /status lists it: `up` with its view; `silent` when connected but it did not
 * answer in time; `starting` before it first connected; `unreachable` when its connection closed while it runs;
 * `gone` once it exited (`exit` says how: "exit 1", "SIGKILL"), until the primary starts it again. `restarts`
 * (workers only) counts how many times it was started again.
 */
export type WorkerEntry = { restarts?: number } & (
  | ({ state: "up" } & ProcessView)
  | { state: "silent" | "starting" | "unreachable"; worker: number; pid?: number }
  | { state: "gone"; worker: number; pid?: number; exit: string }
);

interface StatusShape {
  pools: Record<string, PoolStatus>;
  listeners: readonly ListenerInfo[];
}

/** The primary's /status document made the whole gateway's, with every process listed under `workers`. */
export function mergeStatus<T extends StatusShape>(primary: T, entries: readonly WorkerEntry[]): T & { workers: WorkerEntry[] } {
  const views = entries.filter((e): e is { state: "up" } & ProcessView => e.state === "up");
  const pools: Record<string, PoolStatus> = {};
  for (const [name, pool] of Object.entries(primary.pools)) {
    const seen = views.map((v) => v.pools[name]).filter((p) => p !== undefined);
    pools[name] = {
      ...pool,
      queued: seen.reduce((sum, p) => sum + p.queued, 0),
      servers: pool.servers.map((server) => {
        const mine = seen.map((p) => p.servers.find((s) => s.id === server.id)).filter((s) => s !== undefined);
        if (mine.length === 0) return server;
        const latencies = mine.map((s) => s.latencyMs).filter((ms) => ms > 0);
        const outSomewhere = server.state !== "disabled" && mine.some((s) => s.state === "down");
        return {
          ...server,
          state: outSomewhere ? "down" : server.state,
          active: mine.reduce((sum, s) => sum + s.active, 0),
          requests: mine.reduce((sum, s) => sum + s.requests, 0),
          failures: mine.reduce((sum, s) => sum + s.failures, 0),
          latencyMs: latencies.length === 0 ? 0 : Math.round((latencies.reduce((a, b) => a + b, 0) / latencies.length) * 10) / 10,
        };
      }),
    };
  }
  const listeners = primary.listeners.map((listener) => {
    if (listener.kind !== "http") return listener;
    const mine = views.map((v) => v.listeners.find((l) => l.address === listener.address)).filter((l) => l !== undefined);
    if (mine.length === 0) return listener;
    return {
      ...listener,
      connections: mine.reduce((sum, l) => sum + l.connections, 0),
      refused: mine.reduce((sum, l) => sum + l.refused, 0),
    };
  });
  return { ...primary, pools, listeners, workers: [...entries] };
}
