// The first middleware of every request on the hono path: assigns the request ID and, after the answer, counts
// the request for /metrics, writes the access-log line and runs the plugins' onLog hooks. On the engine's
// connection those wait until the answer has been written (its bytes, how it ended: see
// observability/answer-outcome.ts). (Request limits are the engine's, applied before hono.)
import type { MiddlewareHandler } from "hono";
import type { LoadedPlugin } from "./plugin/load.ts";
import type { GatewayEnv, LogEntry, RequestLog } from "./plugin/types.ts";
import type { AccessLog } from "./access-log.ts";
import { isRejection, type HttpCounters } from "./observability/http-counters.ts";
import { methodIndex } from "./observability/methods.ts";
import { terminationOf } from "./observability/termination.ts";
import type { AnswerOutcome } from "./observability/answer-outcome.ts";
import { requestIdFor } from "./proxy/headers.ts";
import { pathAndQueryOf } from "./proxy/upstream-path.ts";
import { runLogHooks } from "./plugin/log-hooks.ts";

export function coreMiddleware(plugins: readonly LoadedPlugin[], accessLog: AccessLog, counters: HttpCounters): MiddlewareHandler<GatewayEnv> {
  const logHooks = plugins.flatMap((p) => (p.hooks.onLog ? [p.hooks.onLog] : []));
  return async (c, next) => {
    const request = c.req.raw;
    const started = performance.now();
    const log: RequestLog = {};
    c.set("requestId", requestIdFor(request.headers.get("x-request-id")));
    c.set("log", log);

    await next();

    const requestId = c.get("requestId");
    const response = c.res;
    try {
      response.headers.set("x-request-id", requestId);
    } catch {
      // A plugin answered with immutable headers (Response.redirect): keep its answer as it is.
    }
    const status = response.status;
    // 401, 403 and 429 that no upstream gave are a plugin's refusal: the proxy itself never answers with them.
    if (log.server === undefined && isRejection(status)) counters.rejected(log.route ?? "", status);
    // The route's hooks once it was routed (global plugins' included), else the global plugins' alone.
    const hooks = (c.env.sluice.logHooks as readonly ((entry: LogEntry) => void)[] | undefined) ?? logHooks;
    const sluice = c.env.sluice;

    const finish = (outcome: AnswerOutcome) => {
      const answered = outcome.status ?? status;
      counters.route(log.route ?? "", log.pool ?? "").count(methodIndex(request.method), answered, outcome.durationMs);
      if (hooks.length === 0 && !accessLog.enabled) return;
      // The answer is the upstream's, or a route's own (a static file, a redirect): it went out as it should.
      const fromRoute = log.server !== undefined || (log.route !== undefined && log.pool === undefined && answered < 500);
      const q = outcome.target.indexOf("?");
      const entry: LogEntry = {
        time: new Date().toISOString(),
        requestId,
        clientIp: sluice.client.address,
        method: request.method,
        host: request.headers.get("host") ?? "",
        path: q < 0 ? outcome.target : outcome.target.slice(0, q),
        query: q < 0 ? undefined : outcome.target.slice(q + 1),
        protocol: outcome.protocol,
        status: answered,
        durationMs: Math.round(outcome.durationMs * 100) / 100,
        bytesIn: outcome.bytesIn,
        bytesOut: outcome.bytesOut,
        ...log,
        retries: log.retries ?? 0,
        termination: outcome.termination ?? terminationOf(answered, fromRoute),
        userAgent: request.headers.get("user-agent") ?? undefined,
        referer: request.headers.get("referer") ?? undefined,
      };
      accessLog.add(entry);
      runLogHooks(hooks, entry);
    };

    if (sluice.deferLog) sluice.pendingLog = { finish };
    else {
      // Not on an engine connection: the line is written now, with what the Response says of itself.
      const length = Number(response.headers.get("content-length") ?? 0);
      finish({
        durationMs: performance.now() - started,
        bytesIn: 0,
        bytesOut: Number.isFinite(length) ? length : 0,
        protocol: "HTTP/1.1",
        target: pathAndQueryOf(request.url),
      });
    }
  };
}
