// What the admin API may change about a server at run time: its admin state and its weight. The change goes
// through the current snapshot's pool, so balancing sees it at once, and a reload keeps it (the new pool
// takes over the server's state). Health is not the operator's to set: an "enable" on a server failing its
// checks leaves it out of rotation (its state stays "down") until the checks pass.
import type { Pool } from "../pool/pool.ts";
import type { AdminState, UpstreamServer } from "../pool/server.ts";

export type StateAction = "drain" | "disable" | "enable";

const TARGET: Record<StateAction, AdminState> = { drain: "drain", disable: "disabled", enable: "up" };

export const STATE_ACTIONS: readonly StateAction[] = ["drain", "disable", "enable"];

export const MIN_WEIGHT = 1;
export const MAX_WEIGHT = 1000;

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
