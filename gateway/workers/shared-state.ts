// What the primary tells its `--workers` processes about the servers: each one's health verdict and last check,
// and (when a worker joins) the operator's changes. See follower.ts for what a worker does with it.
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { SharedServerState } from "./messages.ts";

/** One server's health verdict, as pushed when a check flips it. */
export function healthOf(pool: Pool, server: UpstreamServer): SharedServerState {
  return { pool: pool.name, id: server.id, target: server.target, healthy: server.healthy, ...(server.lastCheck ? { check: server.lastCheck } : {}) };
}

/** Every server's health verdict: what the workers are sent after a reload of the primary. */
export function wholeHealthOf(pools: ReadonlyMap<string, Pool>): SharedServerState[] {
  return [...pools.values()].flatMap((pool) => pool.servers.map((server) => healthOf(pool, server)));
}

/** Every server's state, operator's changes included: what a worker that joins is sent. */
export function wholeStateOf(pools: ReadonlyMap<string, Pool>): SharedServerState[] {
  return [...pools.values()].flatMap((pool) =>
    pool.servers.map((server) => ({ ...healthOf(pool, server), adminState: server.adminState, weight: server.weight })),
  );
}
