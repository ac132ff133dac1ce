// One gateway process's own view, for the `workers` part of /status: who it is, how long it has run, what it
// served, and how it sees each server (its counters, and its state: the health verdicts and the operator's
// changes are the primary's everywhere, but passive failures are each process's own).
import type { Snapshot } from "../snapshot.ts";
import type { Figures } from "../observability/exposition.ts";
import type { ListenerInfo, ServerStatus } from "../admin/status.ts";
import { serverStatus } from "../admin/status.ts";

/** One server as one process sees it. */
export type ProcessServerView = Pick<ServerStatus, "id" | "state" | "adminState" | "weight" | "healthy" | "active" | "requests" | "failures" | "latencyMs">;

export interface ProcessView {
  /** 0 for the primary, 1…N for the `--workers` processes it started. */
  worker: number;
  pid: number;
  uptimeSeconds: number;
  /** HTTP requests this process answered since it started. */
  requests: number;
  /** Client connections open on its HTTP listeners, all together. */
  connections: number;
  /** Each HTTP listener's connections: open now, and refused over maxConnections since start. */
  listeners: Array<{ address: string; connections: number; refused: number }>;
  pools: Record<string, { queued: number; servers: ProcessServerView[] }>;
}

export interface ViewSources {
  worker: number;
  pid: number;
  startedAt: number;
  snapshot: Snapshot;
  listeners: readonly ListenerInfo[];
  /** This process's counted figures (what /metrics sums): its requests are read from them. */
  figures: Figures;
}

export function processView({ worker, pid, startedAt, snapshot, listeners, figures }: ViewSources, now = Date.now()): ProcessView {
  const pools: ProcessView["pools"] = {};
  for (const [name, pool] of snapshot.pools) {
    pools[name] = {
      queued: pool.queued,
      servers: pool.servers.map((s) => {
        const { id, state, adminState, weight, healthy, active, requests, failures, latencyMs } = serverStatus(s, now);
        return { id, state, adminState, weight, healthy, active, requests, failures, latencyMs };
      }),
    };
  }
  return {
    worker,
    pid,
    uptimeSeconds: Math.round((now - startedAt) / 1000),
    requests: (figures.sluice_http_requests_total ?? []).reduce((sum, [, , value]) => sum + value, 0),
    connections: listeners.reduce((sum, l) => sum + (l.kind === "http" ? (l.connections ?? 0) : 0), 0),
    listeners: listeners.filter((l) => l.kind === "http").map((l) => ({ address: l.address, connections: l.connections ?? 0, refused: l.refused ?? 0 })),
    pools,
  };
}
