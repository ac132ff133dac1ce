// What a matched route does, compiled once per route at load: proxy to a pool (with its plugins),
// redirect, or serve static files.
import type { Context, MiddlewareHandler } from "hono";
import type { Config, HttpPoolConfig, RouteConfig } from "./config/schema.ts";
import type { Runtime } from "./runtime/types.ts";
import type { Pool } from "./pool/pool.ts";
import type { LoadedPlugin } from "./plugin/load.ts";
import type { GatewayEnv, LogEntry, PluginHooks } from "./plugin/types.ts";
import type { RouteMatch } from "./routing/table.ts";
import { proxyHttp, proxyUpgrade, type IncomingExchange, type ProxyRoute } from "./proxy/http-proxy.ts";
import type { UpstreamPool } from "./http/upstream-pool.ts";
import { createStaticHandler } from "./static/serve.ts";
import type { AddressSet } from "./config/cidr.ts";
import { runMiddleware } from "./plugin/run-middleware.ts";

type Ctx = Context<GatewayEnv>;

export interface RouteAction {
  readonly name: string;
  readonly kind: "proxy" | "redirect" | "static";
  readonly pool?: string;
  /** For proxy routes: what the byte path needs to forward a request. */
  readonly proxy?: ProxyRoute;
  /**
   * Requests of this route go through the hono app: its plugins work on Request/Response objects (middleware,
   * phases), or it answers with one (static files, redirects).
   */
  readonly viaHono: boolean;
  /** onLog hooks of the global plugins, then the route's own. */
  readonly logHooks: readonly ((entry: LogEntry) => void)[];
  /** onRequest hooks of the global plugins, then the route's own: the phase before the route's action. */
  readonly requestHooks: readonly RequestHook[];
  /** Answer a request this route won; `match` knows the upstream path, params and redirect target. */
  handle(c: Ctx, match: RouteMatch<RouteAction>): Response | Promise<Response>;
}

export interface RouteDeps {
  pools: ReadonlyMap<string, Pool>;
  config: Config;
  configDir: string;
  runtime: Runtime;
  upstreams: UpstreamPool;
  globalPlugins: readonly LoadedPlugin[];
  routePlugins: readonly LoadedPlugin[];
  /** `trustedProxies`, parsed once per config. */
  trustedProxies: AddressSet;
}

/** One plugin's onRequest hook. */
export type RequestHook = NonNullable<PluginHooks["onRequest"]>;

/** The onRequest hooks of a list of plugins, in order. */
export function requestHooksOf(plugins: readonly LoadedPlugin[]): RequestHook[] {
  return plugins.flatMap((p) => (p.hooks.onRequest ? [p.hooks.onRequest] : []));
}

export function compileRoute(route: RouteConfig, index: number, deps: RouteDeps): RouteAction {
  const name = route.name ?? `#${index}`;
  const middleware: MiddlewareHandler<GatewayEnv>[] = deps.routePlugins.flatMap((p) => (p.hooks.middleware ? [p.hooks.middleware] : []));
  const logHooks = [...deps.globalPlugins, ...deps.routePlugins].flatMap((p) => (p.hooks.onLog ? [p.hooks.onLog] : []));
  const requestHooks = requestHooksOf([...deps.globalPlugins, ...deps.routePlugins]);
  const withPlugins = (handler: (c: Ctx) => Promise<Response> | Response) =>
    middleware.length === 0 ? handler : (c: Ctx) => runMiddleware(c, middleware, () => handler(c));

  if (route.redirect) {
    const status = route.redirect.status;
    const redirect = (match: RouteMatch<RouteAction>) => new Response(null, { status, headers: { location: match.redirectLocation! } });
    return { name, kind: "redirect", viaHono: true, logHooks, requestHooks, handle: (c, match) => withPlugins(() => redirect(match))(c) };
  }
  if (route.static) {
    const serve = createStaticHandler({ ...route.static, configDir: deps.configDir });
    return {
      name,
      kind: "static",
      viaHono: true,
      logHooks,
      requestHooks,
      handle: (c, match) => withPlugins(() => serve(c.req.raw, match.view.path, c.get("requestId")))(c),
    };
  }

  const pool = deps.pools.get(route.pool!)!;
  const poolConfig = deps.config.pools[route.pool!]!;
  if (poolConfig.mode !== "http") throw new Error(`route ${name} names tcp pool ${route.pool}`);
  const plugins = [...deps.globalPlugins, ...deps.routePlugins];
  const trustedProxies = deps.trustedProxies;
  // The same route sent to another pool (a beforeUpstream plugin chose it): that pool's policy and Host rule.
  const viaPool = new Map<string, ProxyRoute | undefined>();
  const proxyRouteFor = (target: Pool, targetConfig: HttpPoolConfig): ProxyRoute => ({
    name,
    pool: target,
    policy: { retries: targetConfig.retries, connectTimeout: targetConfig.timeouts.connect, responseTimeout: targetConfig.timeouts.response },
    preserveHost: route.preserveHost ?? targetConfig.preserveHost,
    plugins,
    maxBodySize: deps.config.limits.maxBodySize,
    upstreams: deps.upstreams,
    trustedProxies,
    logHooks,
    bodyHooks: plugins.some((p) => p.hooks.requestBody || p.hooks.responseBody),
    viaPool(poolName) {
      if (poolName === pool.name) return proxyRoute;
      if (!viaPool.has(poolName)) {
        const other = deps.pools.get(poolName);
        const otherConfig = deps.config.pools[poolName];
        viaPool.set(poolName, other && otherConfig?.mode === "http" ? proxyRouteFor(other, otherConfig) : undefined);
      }
      return viaPool.get(poolName);
    },
  });
  const proxyRoute = proxyRouteFor(pool, poolConfig);
  const objectHooks = proxyRoute.plugins.some((p) => {
    const h = p.hooks;
    return h.beforeUpstream || h.afterUpstream || h.requestBody || h.responseBody || h.onError;
  });
  return {
    name,
    kind: "proxy",
    pool: pool.name,
    proxy: proxyRoute,
    logHooks,
    requestHooks,
    viaHono: middleware.length > 0 || objectHooks,
    handle(c, match) {
      const log = c.get("log");
      log.pool = pool.name;
      // Built when the route's middleware has run: a plugin there may have changed the request ID.
      const run = () => {
        const exchange: IncomingExchange = {
          request: c.req.raw,
          view: match.view,
          pathAndQuery: match.upstreamTarget,
          host: c.req.raw.headers.get("host") ?? "",
          clientIp: c.env.sluice.client.address,
          requestId: c.get("requestId"),
          log,
          vars: c.env.sluice.vars,
          trace: c.env.sluice.trace,
        };
        // Upgrades are proxied as bytes by the connection (after this route's middleware and phases said yes).
        const upgradeVia = c.env.sluice.upgradeVia;
        return upgradeVia && exchange.request.headers.has("upgrade") ? proxyUpgrade(proxyRoute, exchange, upgradeVia) : proxyHttp(proxyRoute, exchange);
      };
      return withPlugins(run)(c);
    },
  };
}
