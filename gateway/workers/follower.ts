// A `--workers` process runs no active health checks of its own: it follows the primary's verdicts, which the
// primary pushes when a check flips a server and, whole, when the worker joins (with the operator's changes, so
// that a worker that joins late does not undo a drain) and after each of its reloads. The latest verdicts are kept
// here and applied again to every snapshot the worker serves (its own reload builds new pools, before or after the
// primary's) and to servers DNS discovery adds, so none of them starts out healthy against the primary's word.
// Passive failures are not touched: they stay the worker's.
import type { PoolConfig } from "../config/schema.ts";
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { HealthChecks } from "../health/checks.ts";
import type { SharedServerState } from "./messages.ts";

export class PrimaryFollower {
  /** The primary's latest verdict per pool and server id. */
  private readonly verdicts = new Map<string, Map<string, SharedServerState>>();
  private pools: ReadonlyMap<string, Pool> = new Map();
  /** The pools with active checks in the config this worker serves. */
  private checked = new Set<string>();

  /** Follow the primary for a snapshot's pools, in place of active checks; returns what stops following them. */
  follow(pools: ReadonlyMap<string, Pool>, configs: Readonly<Record<string, PoolConfig>>): HealthChecks {
    this.pools = pools;
    this.checked = new Set([...pools.keys()].filter((name) => configs[name]?.health !== undefined));
    const unwatch: (() => void)[] = [];
    for (const [name, pool] of pools) {
      if (!this.checked.has(name)) {
        // Judged passively only: a reload that removed `health` must not leave a server down for good.
        for (const server of pool.servers) pool.checksOff(server);
        continue;
      }
      for (const server of pool.servers) this.applyHealth(pool, server);
      unwatch.push(pool.watchServers((added) => added.forEach((server) => this.applyHealth(pool, server))));
    }
    let stopped = false;
    return {
      stop: () => {
        if (stopped) return;
        stopped = true;
        unwatch.forEach((stopWatching) => stopWatching());
      },
    };
  }

  /** What the primary pushed: kept, and applied to the pools served now. */
  receive(servers: readonly SharedServerState[], whole: boolean): void {
    if (whole) this.verdicts.clear();
    for (const shared of servers) {
      const pool = this.pools.get(shared.pool);
      const server = pool?.byId(shared.id);
      const same = server !== undefined && server.target === shared.target;
      if (whole && same && shared.adminState !== undefined && server.adminState !== shared.adminState) pool!.setAdminState(server, shared.adminState);
      if (whole && same && shared.weight !== undefined && server.weight !== shared.weight) pool!.setWeight(server, shared.weight);
      // Kept even for a pool this worker does not check yet: its own reload may be behind the primary's.
      let ofPool = this.verdicts.get(shared.pool);
      if (!ofPool) this.verdicts.set(shared.pool, (ofPool = new Map()));
      ofPool.set(shared.id, shared);
      if (same && this.checked.has(shared.pool)) this.applyHealth(pool!, server);
    }
  }

  /** Make the server's health the primary's verdict (the pool flips it, starting slow start when it comes back). */
  private applyHealth(pool: Pool, server: UpstreamServer): void {
    const verdict = this.verdicts.get(pool.name)?.get(server.id);
    if (!verdict || verdict.target !== server.target) return;
    const flip = verdict.healthy === server.healthy ? undefined : verdict.healthy ? "up" : "down";
    if (verdict.check) pool.checked(server, verdict.check, flip);
    else if (flip) pool.checked(server, { ok: verdict.healthy, at: Date.now(), durationMs: 0 }, flip);
  }
}
