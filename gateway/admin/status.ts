// The /status document: pools with each server's state and counters, routes and listeners.
import type { Snapshot } from "../snapshot.ts";

export interface ListenerInfo {
  kind: "http" | "admin" | "tcp" | "udp";
  address: string;
}

export function statusDocument(snapshot: Snapshot, listeners: readonly ListenerInfo[], startedAt: number) {
  const now = Date.now();
  const pools: Record<string, unknown> = {};
  for (const [name, pool] of snapshot.pools) {
    pools[name] = {
      mode: pool.mode,
      balance: snapshot.config.pools[name]!.balance,
      servers: pool.servers.map((s) => ({
        id: s.id,
        target: s.target,
        // Passive failures take a server out for failTimeout: users see it as down for that window.
        state: s.state === "up" && s.failedUntil > now ? "down" : s.state,
        weight: s.weight,
        backup: s.backup,
        active: s.active,
        requests: s.requests,
        failures: s.failures,
      })),
    };
  }
  return {
    uptimeSeconds: Math.round((now - startedAt) / 1000),
    pools,
    routes: snapshot.routes.map((r) => ({ name: r.name, kind: r.kind, pool: r.pool })),
    listeners,
  };
}
