// Builds everything a config describes into one immutable Snapshot: pools, the compiled route table,
// loaded plugins and the hono app that serves requests. A reload builds a new Snapshot and swaps one
// reference; requests in flight finish on the snapshot they started with.
import { Hono } from "hono";
import type { Config } from "./config/schema.ts";
import type { Runtime } from "./runtime/types.ts";
import { Pool } from "./pool/pool.ts";
import { loadUpstreamTls } from "./config/certificates.ts";
import { createStickyCookie } from "./pool/sticky.ts";
import { loadPlugins, type LoadedPlugin } from "./plugin/load.ts";
import type { GatewayEnv, LogEntry } from "./plugin/types.ts";
import { compileRouteTable, type RouteTable } from "./routing/table.ts";
import type { UpstreamPool } from "./http/upstream-pool.ts";
import { compileRoute, requestHooksOf, type RequestHook, type RouteAction } from "./route-action.ts";
import { AddressSet } from "./config/cidr.ts";
import { coreMiddleware } from "./core-middleware.ts";
import type { AccessLog } from "./access-log.ts";
import type { HttpCounters } from "./observability/http-counters.ts";
import { errorResponse } from "./proxy/errors.ts";
import { RequestView } from "./routing/view.ts";
import { SnapshotUse } from "./snapshot-use.ts";
import { teardownPlugins } from "./plugin/teardown.ts";
import { sameTelemetry, startTracing, type Tracing } from "./observability/tracing.ts";

export interface Snapshot {
  readonly config: Config;
  readonly configDir: string;
  readonly pools: ReadonlyMap<string, Pool>;
  /** The hono app: plugins' middleware and routes, static files, redirects. */
  readonly app: Hono<GatewayEnv>;
  readonly routes: readonly RouteAction[];
  readonly table: RouteTable<RouteAction>;
  /** Every request goes through the hono app first (global plugins with middleware or routes of their own). */
  readonly honoFirst: boolean;
  /** The global plugins' onLog hooks. */
  readonly logHooks: readonly ((entry: LogEntry) => void)[];
  /** Every plugin set up for this snapshot, global ones first, in setup order (for their teardown). */
  readonly plugins: readonly LoadedPlugin[];
  /** The requests being served on this snapshot. */
  readonly use: SnapshotUse;
  /** The global plugins' onRequest hooks (all a request no route matched meets). */
  readonly requestHooks: readonly RequestHook[];
  /** Some plugin, global or a route's, has an onRequest hook. */
  readonly requestPhase: boolean;
  /** `trustedProxies`, parsed once. */
  readonly trustedProxies: AddressSet;
  /** Spans for every request, exported over OTLP (`telemetry`); undefined when tracing is off. */
  readonly tracing: Tracing | undefined;
}

export interface SnapshotContext {
  runtime: Runtime;
  /** The gateway's upstream connections: they outlive reloads. */
  upstreams: UpstreamPool;
  accessLog: AccessLog;
  /** Requests per route and status class, for /metrics: the gateway's, so counts outlive reloads. */
  counters: HttpCounters;
  /** Signs sticky cookies of pools without a `sticky.key` of their own. */
  stickySecret: string;
  /** The snapshot this one replaces (reload): a tracer with the same settings carries over. */
  previous?: Snapshot;
}

export async function buildSnapshot(config: Config, configDir: string, context: SnapshotContext): Promise<Snapshot> {
  const { runtime, accessLog } = context;
  // Upstream TLS files are read on every load: a reload picks up renewed certificates.
  const upstreamTls = loadUpstreamTls(config, configDir, runtime.tlsClientLimits);
  for (const line of upstreamTls.warnings) console.error(`sluice: warning: ${line}`);
  const pools = new Map<string, Pool>();
  for (const [name, poolConfig] of Object.entries(config.pools)) {
    const pool = new Pool(name, poolConfig, upstreamTls.pools.get(name));
    if (poolConfig.mode === "http" && poolConfig.sticky) {
      pool.sticky = createStickyCookie(poolConfig.sticky, name, pool.servers, poolConfig.sticky.key ?? context.stickySecret);
    }
    pools.set(name, pool);
  }

  const trustedProxies = new AddressSet(config.trustedProxies);
  const plugins: LoadedPlugin[] = [];
  const globalPlugins = await loadPlugins(config.plugins, "plugins", configDir);
  plugins.push(...globalPlugins);
  const routes: RouteAction[] = [];
  try {
    for (const [i, route] of config.routes.entries()) {
      const own: LoadedPlugin[] = await loadPlugins(route.plugins, `routes[${i}].plugins`, configDir);
      plugins.push(...own);
      routes.push(
        compileRoute(route, i, { pools, config, configDir, runtime, upstreams: context.upstreams, globalPlugins, routePlugins: own, trustedProxies }),
      );
    }
  } catch (error) {
    // This snapshot will never serve: the plugins that did set up close what they opened.
    await teardownPlugins(plugins, (line) => console.error(line));
    throw error;
  }
  const table = compileRouteTable(
    config.routes.map((route, i) => ({ route, value: routes[i]! })),
    config.pathNormalization,
  );

  const app = new Hono<GatewayEnv>();
  // Request limits were applied before hono: target length and header size by the request parser, an announced
  // body over maxBodySize by the exchange, a chunked one by the connection as it streams.
  app.use(coreMiddleware(globalPlugins, accessLog, context.counters));
  for (const plugin of globalPlugins) if (plugin.hooks.middleware) app.use(plugin.hooks.middleware);
  for (const plugin of globalPlugins) plugin.hooks.routes?.(app);
  app.all("*", (c) => {
    const view = RequestView.fromRequest(c.req.raw, c.env.sluice.target);
    const found = table.match(view);
    if (!found) return errorResponse(404, "no route matched", c.get("requestId"));
    c.get("log").route = found.value.name;
    c.env.sluice.logHooks = found.value.logHooks;
    return found.value.handle(c, found);
  });
  // Nothing a plugin or the proxy throws may take the process down: it becomes a 500 for that request.
  app.onError((error, c) => {
    c.get("log").error = `internal error: ${error.message}`;
    console.error(`request ${c.get("requestId")} failed:`, error);
    // hono copies the fields of an answer already made (middleware that failed after next()) into the one returned
    // here, its Content-Length too: that answer is dropped first, its body let go, so the 500 is framed as itself.
    if (c.finalized) {
      void c.res.body?.cancel().catch(() => {});
      c.res = undefined;
    }
    return errorResponse(500, "internal gateway error", c.get("requestId"));
  });

  const honoFirst = globalPlugins.some((p) => p.hooks.middleware || p.hooks.routes);
  const logHooks = globalPlugins.flatMap((p) => (p.hooks.onLog ? [p.hooks.onLog] : []));
  const requestHooks = requestHooksOf(globalPlugins);
  const requestPhase = plugins.some((p) => p.hooks.onRequest);
  // A reload that leaves `telemetry` as it was keeps the running tracer and its queue of spans.
  const previous = context.previous;
  const tracing = previous && sameTelemetry(previous.config.telemetry, config.telemetry) ? previous.tracing : await startTracing(config.telemetry);
  return {
    config,
    configDir,
    pools,
    app,
    routes,
    table,
    honoFirst,
    logHooks,
    plugins,
    use: new SnapshotUse(),
    requestHooks,
    requestPhase,
    trustedProxies,
    tracing,
  };
}

/**
 * The new snapshot's pools take over their servers' state from the running ones (health, admin changes,
 * counters): the last step of a reload, run when nothing can refuse it any more (a plugin that fails to load,
 * a listen address in use), so that a refused reload leaves the running pools' state as it was.
 */
export function inheritServerState(snapshot: Snapshot, previous: Snapshot): void {
  for (const [name, pool] of snapshot.pools) {
    const before = previous.pools.get(name);
    if (before) pool.inherit(before);
  }
}

/**
 * A snapshot built for a reload that was refused after all: its plugins close what they opened, and a tracer it
 * started for itself stops. It never served a request.
 */
export async function discardSnapshot(snapshot: Snapshot, running: Snapshot): Promise<void> {
  await Promise.all([
    teardownPlugins(snapshot.plugins, (line) => console.error(line)),
    snapshot.tracing !== running.tracing ? snapshot.tracing?.shutdown() : undefined,
  ]);
}
