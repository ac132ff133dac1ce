// What the byte path needs from the gateway around it: the snapshot in force, the upstream connections, and
// where a finished request is counted and logged. One object per gateway, built in gateway.ts.
import type { Snapshot } from "../snapshot.ts";
import type { UpstreamPool } from "../http/upstream-pool.ts";
import type { AccessLog } from "../access-log.ts";
import type { HttpCounters } from "../observability/http-counters.ts";
import type { Exchange } from "./exchange.ts";

export interface EngineServices {
  snapshot(): Snapshot;
  readonly upstreams: UpstreamPool;
  /** A request ended with `status`: count it, and write its log line when anyone reads it. */
  logged(exchange: Exchange, status: number): void;
  /** A plugin answered a request itself (401, 403, 429…) in the onRequest phase; counted when someone counts. */
  rejected?(route: string, status: number): void;
}

export function engineServices(snapshot: () => Snapshot, upstreams: UpstreamPool, accessLog: AccessLog, counters: HttpCounters): EngineServices {
  return {
    snapshot,
    upstreams,
    logged(exchange, status) {
      counters.count(exchange.log.route ?? "", status);
      // The route's hooks (global plugins' included) when one was chosen, else the global plugins' alone.
      const hooks = exchange.logHooks ?? snapshot().logHooks;
      if (!accessLog.enabled && hooks.length === 0) return;
      const entry = exchange.logEntry(status);
      accessLog.add(entry);
      for (const hook of hooks) {
        try {
          hook(entry);
        } catch (error) {
          console.error("onLog hook failed:", error);
        }
      }
    },
  };
}
