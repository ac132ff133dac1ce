// What the byte path needs from the gateway around it: the snapshot in force, the upstream connections, and
// where a finished request is counted and logged. One object per gateway, built in gateway.ts.
import type { Snapshot } from "../snapshot.ts";
import type { UpstreamPool } from "../http/upstream-pool.ts";
import type { AccessLog } from "../access-log.ts";
import type { HttpCounters } from "../observability/http-counters.ts";
import { methodIndex } from "../observability/methods.ts";
import type { Exchange } from "./exchange.ts";
import { runLogHooks } from "../plugin/log-hooks.ts";
import type { LogEntry } from "../plugin/types.ts";

export interface EngineServices {
  snapshot(): Snapshot;
  readonly upstreams: UpstreamPool;
  /** A request ended with `status`: count it, and write its log line when anyone reads it. */
  logged(exchange: Exchange, status: number): void;
  /** A plugin answered a request itself (401, 403, 429…) in the onRequest phase; counted when someone counts. */
  rejected?(route: string, status: number): void;
  /** The connection refused a request before its head was whole or valid (400, 408, 414, 431…): counted and logged. */
  refusedHead(clientIp: string, status: number, message: string, requestId: string): void;
}

export function engineServices(snapshot: () => Snapshot, upstreams: UpstreamPool, accessLog: AccessLog, counters: HttpCounters): EngineServices {
  return {
    snapshot,
    upstreams,
    logged(exchange, status) {
      const durationMs = performance.now() - exchange.started;
      // A proxied request counts on its route's slot, found once and kept on the route; one that never reached a
      // pool (no route, a plugin's answer, a refusal) is looked up by name.
      const route = exchange.proxyRoute;
      const log = exchange.log;
      const slot =
        route !== undefined
          ? (route.figures ??= counters.route(route.name, route.pool.name))
          : log.route === undefined
            ? counters.unrouted
            : counters.route(log.route, log.pool ?? "");
      slot.count(methodIndex(exchange.head.method), status, durationMs);
      // The route's hooks (global plugins' included) when one was chosen, else the global plugins' alone.
      const hooks = exchange.logHooks ?? snapshot().logHooks;
      if (!accessLog.enabled && hooks.length === 0) return;
      const entry = exchange.logEntry(status, durationMs);
      accessLog.add(entry);
      runLogHooks(hooks, entry);
    },
    rejected: (route, status) => counters.rejected(route, status),
    refusedHead(clientIp, status, message, requestId) {
      counters.unrouted.count(methodIndex(""), status, 0);
      const hooks = snapshot().logHooks;
      if (!accessLog.enabled && hooks.length === 0) return;
      // No head was read: what nginx logs for a request line it could not parse ("-" for the unknown parts).
      const entry: LogEntry = {
        time: new Date().toISOString(),
        requestId,
        clientIp,
        method: "-",
        host: "",
        path: "",
        protocol: "HTTP/1.1",
        status,
        durationMs: 0,
        bytesIn: 0,
        bytesOut: 0,
        retries: 0,
        termination: "refused",
        error: message,
      };
      accessLog.add(entry);
      runLogHooks(hooks, entry);
    },
  };
}
