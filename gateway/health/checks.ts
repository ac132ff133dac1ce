// Active health checks of a whole snapshot: one checker per server of every pool with `health`, started
// together and stopped together. The gateway starts them for each snapshot and stops them when the
// snapshot is replaced (reload) or the gateway stops.
//
// Start state: servers are up until checks prove otherwise (HAProxy and nginx-plus do the same without
// `mandatory`), and the first check of each comes within a second. After a reload, servers keep what the
// previous snapshot knew (Pool.inherit): a server that was down stays down until `rise` checks pass.
// Disabled servers (`down: true`, or the admin API) are checked too, so that enabling one sends traffic
// only if it is actually healthy, and /status shows its health while it is out.
import type { PoolConfig } from "../config/schema.ts";
import type { Pool } from "../pool/pool.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { Runtime } from "../runtime/types.ts";
import { ServerChecker } from "./checker.ts";
import { httpProbe } from "./http-check.ts";
import { tcpProbe } from "./tcp-check.ts";

export interface HealthChecks {
  /** Stop every check: timers cleared, probes in flight aborted. Idempotent. */
  stop(): void;
}

/** Where state changes are told: one line each ("sluice: pool app server a is DOWN (…)"). */
export type HealthLog = (line: string) => void;

export interface HealthCheckOptions {
  /** Source of jitter, 0 ≤ x < 1 (tests may pin it). */
  random?: () => number;
  /** Told when a check flipped a server up or down. */
  onFlip?: (pool: Pool, server: UpstreamServer) => void;
}

export function startHealthChecks(
  pools: ReadonlyMap<string, Pool>,
  configs: Readonly<Record<string, PoolConfig>>,
  runtime: Runtime,
  log: HealthLog,
  options: HealthCheckOptions = {},
): HealthChecks {
  const checkers = new Map<UpstreamServer, ServerChecker>();
  const unwatch: (() => void)[] = [];
  for (const [name, pool] of pools) {
    const config = configs[name];
    if (!config?.health) {
      // Judged passively only. A reload that removed `health` must not leave a server down for good.
      for (const server of pool.servers) forgetActiveHealth(pool, server, log);
      continue;
    }
    const { interval, timeout, rise, fall } = config.health;
    const checkerOf = (server: UpstreamServer) => {
      const probe = config.mode === "tcp" ? tcpProbe(runtime, server, timeout) : httpProbe(runtime, pool, server, config.health!);
      return new ServerChecker({ pool, server, probe, interval, timeout, rise, fall, log, random: options.random, onFlip: options.onFlip });
    };
    for (const server of pool.servers) checkers.set(server, checkerOf(server));
    // Servers DNS discovery adds are checked from then on; one it removed is no longer.
    unwatch.push(
      pool.watchServers((added, removed) => {
        for (const server of removed) {
          checkers.get(server)?.stop();
          checkers.delete(server);
        }
        for (const server of added) {
          const checker = checkerOf(server);
          checkers.set(server, checker);
          checker.start();
        }
      }),
    );
  }
  for (const checker of checkers.values()) checker.start();
  return {
    stop() {
      for (const stopWatching of unwatch) stopWatching();
      for (const checker of checkers.values()) checker.stop();
    },
  };
}

function forgetActiveHealth(pool: Pool, server: UpstreamServer, log: HealthLog): void {
  if (pool.checksOff(server)) log(`sluice: pool ${pool.name} server ${server.id} is UP (health checks turned off)`);
}
