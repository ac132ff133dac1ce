// The first middleware of every request on the hono path: assigns the request ID and, after the answer, writes
// the access-log line and runs the plugins' onLog hooks. (Request limits are the engine's, applied before hono.)
import type { MiddlewareHandler } from "hono";
import type { LoadedPlugin } from "./plugin/load.ts";
import type { GatewayEnv, LogEntry, RequestLog } from "./plugin/types.ts";
import type { AccessLog } from "./access-log.ts";
import type { HttpCounters } from "./observability/http-counters.ts";
import { requestIdFor } from "./proxy/headers.ts";
import { pathAndQueryOf, splitQuery } from "./proxy/upstream-path.ts";

export function coreMiddleware(plugins: readonly LoadedPlugin[], accessLog: AccessLog, counters: HttpCounters): MiddlewareHandler<GatewayEnv> {
  const logHooks = plugins.flatMap((p) => (p.hooks.onLog ? [p.hooks.onLog] : []));
  return async (c, next) => {
    const request = c.req.raw;
    const started = performance.now();
    const log: RequestLog = {};
    c.set("requestId", requestIdFor(request.headers.get("x-request-id")));
    c.set("log", log);
    const pathAndQuery = pathAndQueryOf(request.url);

    await next();

    const requestId = c.get("requestId");
    const response = c.res;
    try {
      response.headers.set("x-request-id", requestId);
    } catch {
      // A plugin answered with immutable headers (Response.redirect): keep its answer as it is.
    }
    counters.count(log.route ?? "", response.status);
    // The route's hooks once it was routed (global plugins' included), else the global plugins' alone.
    const hooks = (c.env.sluice.logHooks as readonly ((entry: LogEntry) => void)[] | undefined) ?? logHooks;
    if (hooks.length === 0 && !accessLog.enabled) return;
    const entry: LogEntry = {
      time: new Date().toISOString(),
      requestId,
      clientIp: c.env.sluice.client.address,
      method: request.method,
      host: request.headers.get("host") ?? "",
      path: splitQuery(pathAndQuery)[0],
      status: response.status,
      durationMs: Math.round((performance.now() - started) * 100) / 100,
      ...log,
      userAgent: request.headers.get("user-agent") ?? undefined,
    };
    accessLog.add(entry);
    for (const hook of hooks) {
      try {
        hook(entry);
      } catch (error) {
        console.error("onLog hook failed:", error);
      }
    }
  };
}
