// The /status document: pools with each server's state and counters, routes and listeners. The entry of
// one server (serverStatus) is also what the admin API answers after changing that server.
import type { Snapshot } from "../snapshot.ts";
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";

export interface ListenerInfo {
  kind: "http" | "https" | "https-redirect" | "admin" | "tcp" | "udp";
  /** A listener that only redirects to HTTPS: the status and the port of the URLs it sends clients to. */
  redirect?: { status: number; port: number };
  address: string;
  /** HTTP listeners: connections open now, the limit, and how many were refused over it since start. */
  connections?: number;
  maxConnections?: number;
  refused?: number;
}

export interface ServerStatus {
  id: string;
  /** The DNS name the server was resolved from (`resolve: true`); absent for a server configured as it is. */
  name?: string;
  target: string;
  /** up / down (health or passive failures keep it out, whatever the admin state but disabled) / drain / disabled. */
  state: "up" | "down" | "drain" | "disabled";
  /** What the operator set (config `down`, admin API): up / drain / disabled. */
  adminState: "up" | "drain" | "disabled";
  /** The weight balancing uses now: below the set weight while slow start ramps up. */
  weight: number;
  /** The weight in the config. */
  configuredWeight: number;
  /** The weight the admin API set, or null when it was not changed. */
  adminWeight: number | null;
  backup: boolean;
  maxConns: number;
  active: number;
  requests: number;
  failures: number;
  /** Active health checks' verdict (true without checks). */
  healthy: boolean;
  /** The latency estimate (peak EWMA) in ms, to 0.1 ms; 0 before the first answer. */
  latencyMs: number;
  /** The load the server reports (X-Server-Load), while fresh; else null. */
  load: number | null;
  /** The last active health check, or null without one. */
  lastCheck: { ok: boolean; status?: number; reason?: string; at: string; durationMs: number } | null;
}

export interface PoolStatus {
  mode: "http" | "tcp";
  balance: string;
  /** Requests waiting for a server under its maxConns. */
  queued: number;
  servers: ServerStatus[];
}

export function serverStatus(s: UpstreamServer, now = Date.now()): ServerStatus {
  // Round to 3 decimals: slow start's ramp is fractional, but /status need not show float noise.
  const weight = Math.round(s.effectiveWeight(now) * 1000) / 1000;
  const check = s.lastCheck;
  return {
    id: s.id,
    ...(s.name !== undefined ? { name: s.name } : {}),
    target: s.target,
    state: s.adminState === "disabled" ? "disabled" : s.alive(now) ? s.adminState : "down",
    adminState: s.adminState,
    weight,
    configuredWeight: s.configuredWeight,
    adminWeight: s.weight !== s.configuredWeight ? s.weight : null,
    backup: s.backup,
    maxConns: s.maxConns,
    active: s.active,
    requests: s.requests,
    failures: s.failures,
    healthy: s.healthy,
    latencyMs: Math.round(s.latencyEstimate(now) * 10) / 10,
    load: s.currentLoad(now) ?? null,
    lastCheck: check
      ? {
          ok: check.ok,
          ...(check.status !== undefined ? { status: check.status } : {}),
          ...(check.reason !== undefined ? { reason: check.reason } : {}),
          at: new Date(check.at).toISOString(),
          durationMs: check.durationMs,
        }
      : null,
  };
}

export function poolStatus(pool: Pool, now = Date.now()): PoolStatus {
  return {
    mode: pool.mode,
    balance: pool.balance,
    queued: pool.queued,
    servers: pool.servers.map((s) => serverStatus(s, now)),
  };
}

/** The `/status` document: pools and servers, routes, listeners, and the TCP/UDP listeners' figures. */
export function statusDocument(snapshot: Snapshot, listeners: readonly ListenerInfo[], startedAt: number, l4: { tcp?: unknown; udp?: unknown } = {}) {
  const now = Date.now();
  const pools: Record<string, PoolStatus> = {};
  for (const [name, pool] of snapshot.pools) pools[name] = poolStatus(pool, now);
  return {
    uptimeSeconds: Math.round((now - startedAt) / 1000),
    pools,
    routes: snapshot.routes.map((r) => ({ name: r.name, kind: r.kind, pool: r.pool })),
    listeners,
    ...(l4.tcp !== undefined && { tcp: l4.tcp }),
    ...(l4.udp !== undefined && { udp: l4.udp }),
  };
}
