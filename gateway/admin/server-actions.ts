// What the admin API may change about a server at run time: its admin state and its weight. The change goes
// through the current snapshot's pool, so balancing sees it at once, and a reload keeps it (the new pool
// takes over the server's state). Health is not the operator's to set: an "enable" on a server failing its
// checks leaves it out of rotation (its state stays "down") until the checks pass.
//
// With `--workers`, the primary applies a change to itself and then to every worker (each applies it with
// applyChange below, over the workers' channel); the admin API answers once every live worker confirmed, or
// after a bounded wait, naming those that did not (WorkerReplies).
import type { Pool } from "../pool/pool.ts";
import type { AdminState, UpstreamServer } from "../pool/server.ts";
import type { ServerChange } from "../workers/messages.ts";

export type StateAction = "drain" | "disable" | "enable";

const TARGET: Record<StateAction, AdminState> = { drain: "drain", disable: "disabled", enable: "up" };

export const STATE_ACTIONS: readonly StateAction[] = ["drain", "disable", "enable"];

const MIN_WEIGHT = 1;
const MAX_WEIGHT = 1000;

export type { ServerChange };

/**
 * Apply drain / disable / enable; returns the admin state it had before. An enable brings a server back in
 * rotation for new clients: slow start ramps its weight up from then, and requests queued while every other
 * server was at maxConns may go to it (Pool.setAdminState).
 */
export function changeState(pool: Pool, server: UpstreamServer, action: StateAction, now = Date.now()): AdminState {
  return pool.setAdminState(server, TARGET[action], now);
}

/** What is wrong with a weight the admin API was given, or undefined when it is one. */
export function weightProblem(value: unknown): string | undefined {
  if (typeof value !== "number" || !Number.isInteger(value) || value < MIN_WEIGHT || value > MAX_WEIGHT) {
    return `weight: expected a whole number from ${MIN_WEIGHT} to ${MAX_WEIGHT} (got ${JSON.stringify(value) ?? "nothing"})`;
  }
  return undefined;
}

/** Set the weight balancing uses (slow start, if running, ramps toward it); returns the weight it had. */
export function changeWeight(pool: Pool, server: UpstreamServer, weight: number): number {
  return pool.setWeight(server, weight);
}

/** A change applied: the server, and its setting before (admin state, or weight) for the log line. */
export interface Applied {
  pool: Pool;
  server: UpstreamServer;
  before: AdminState | number;
}

/** Apply one change to these pools; a string says why it could not be (no such pool or server, a bad weight). */
export function applyChange(pools: ReadonlyMap<string, Pool>, change: ServerChange): Applied | string {
  const pool = pools.get(change.pool);
  if (!pool) return `no pool "${change.pool}"`;
  const server = pool.byId(change.server);
  if (!server) return `no server "${change.server}" in pool "${pool.name}"`;
  if (change.action === "weight") {
    const problem = weightProblem(change.weight);
    return problem ?? { pool, server, before: changeWeight(pool, server, change.weight) };
  }
  return { pool, server, before: changeState(pool, server, change.action) };
}

/** How the `--workers` processes took a change the primary made: who applied it, who refused, who was silent. */
export interface WorkerReplies {
  /** Workers (1…N) that applied it. */
  applied: number[];
  /** Workers that could not (their snapshot has no such server, e.g. in the middle of a reload), and why. */
  refused: Array<{ worker: number; error: string }>;
  /**
   * Live workers that did not confirm in time, or had not joined yet: a slow one still gets the change on its
   * connection, and one that joins is sent the primary's state of every server, this change included.
   */
  unanswered: number[];
}

/** Whether every live worker applied the change. */
export function everyWorkerApplied(replies: WorkerReplies): boolean {
  return replies.refused.length === 0 && replies.unanswered.length === 0;
}
