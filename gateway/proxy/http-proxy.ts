// The handler of a route with a `pool`: prepares the upstream request (headers, path), runs the plugin
// phases around `forward`, and turns the upstream's answer or failure into the client's response.
import type { UpstreamPool } from "../http/upstream-pool.ts";
import type { Pool } from "../pool/pool.ts";
import type { LoadedPlugin } from "../plugin/load.ts";
import type { LogEntry, ProxyContext, RequestLog } from "../plugin/types.ts";
import { addForwarded, settleOutgoing, stripHopByHop } from "./headers.ts";
import type { AddressSet } from "../config/cidr.ts";
import { forward, type ForwardPolicy } from "./forward.ts";
import { answerFailure, beforeUpstream, newProxyContext, toProxyError } from "./phases.ts";
import { watchBody } from "./body-limit.ts";
import type { RequestView } from "../routing/view.ts";
import type { ServerTrace } from "../observability/tracing.ts";
import { keepOutOfSharedCaches } from "../pool/sticky.ts";
import type { RouteFigures } from "../observability/http-counters.ts";

export interface ProxyRoute {
  name: string;
  pool: Pool;
  policy: ForwardPolicy;
  preserveHost: boolean;
  /** Global plugins' phases first, then the route's own. */
  plugins: readonly LoadedPlugin[];
  maxBodySize: number;
  /** The gateway's upstream connections (the hono path's client shares them with the byte path). */
  upstreams: UpstreamPool;
  /** Clients whose X-Forwarded-For is kept and appended to (`trustedProxies`). */
  trustedProxies: AddressSet;
  /** onLog hooks of the global plugins, then the route's own. */
  logHooks: readonly ((entry: LogEntry) => void)[];
  /** Some plugin of the route transforms bodies (requestBody or responseBody hooks). */
  bodyHooks: boolean;
  /** This route sent to the HTTP pool `name` instead (a beforeUpstream plugin chose it); undefined if there is none. */
  viaPool(name: string): ProxyRoute | undefined;
  /** Where its requests are counted for /metrics: looked up on the first one, then read from here. */
  figures?: RouteFigures;
}

export interface IncomingExchange {
  request: Request;
  /** The routing view of the request (cookies, query, headers, parsed once). */
  view: RequestView;
  /** Path and query for the upstream after stripPrefix/rewrite. */
  pathAndQuery: string;
  host: string;
  clientIp: string;
  requestId: string;
  /** Filled in for the access log. */
  log: RequestLog;
  /** What the onRequest phase's hooks left for the later phases, if anything. */
  vars?: Map<string, unknown>;
  /** The request's server span, while tracing is on: each attempt gets a client span and injects its context. */
  trace?: ServerTrace;
}

const BODYLESS_STATUS = new Set([101, 204, 205, 304]);

export async function proxyHttp(firstRoute: ProxyRoute, exchange: IncomingExchange): Promise<Response> {
  const { request, requestId } = exchange;
  exchange.trace?.routed(firstRoute.name);
  let route = firstRoute;
  let pool = route.pool;
  let selection = pool.selectionFor({ clientIp: exchange.clientIp, view: exchange.view });
  const headers = new Headers(request.headers);
  stripHopByHop(headers);
  pool.sticky?.stripFrom(headers);
  addForwarded(headers, {
    clientIp: exchange.clientIp,
    trusted: route.trustedProxies.has(exchange.clientIp),
    proto: request.url.startsWith("https:") ? "https" : "http",
    host: exchange.host,
    requestId,
  });

  const ctx = newProxyContext(route, exchange, headers);
  const early = await beforeUpstream(route, ctx);
  if (early) return early;
  if (ctx.upstream.pool !== pool.name) {
    route = chosenRoute(firstRoute, ctx.upstream.pool);
    pool = route.pool;
    exchange.log.pool = pool.name;
    pool.sticky?.stripFrom(headers);
    selection = pool.selectionFor({ clientIp: exchange.clientIp, view: exchange.view });
  }
  // A server a plugin chose is taken while it is available, as a sticky cookie's is.
  if (ctx.upstream.server !== undefined) selection.stickyId = ctx.upstream.server;

  // Every body is watched (so a failed upload is not blamed on the server); one of unannounced size is also counted.
  const body = request.body ? watchBody(request.body, request.headers.has("content-length") ? undefined : route.maxBodySize) : undefined;
  let upstreamBody = body?.stream ?? null;
  if (upstreamBody && route.bodyHooks) {
    for (const plugin of route.plugins) {
      const transform = plugin.hooks.requestBody?.(ctx);
      if (!transform) continue;
      upstreamBody = upstreamBody.pipeThrough(transform);
      // Its length is the transform's to decide: the upstream gets it chunked.
      headers.delete("content-length");
    }
  }
  // What the plugins left must still be sendable (a control character in a value they set is our 500).
  settleOutgoing(headers, upstreamBody !== null && upstreamBody === body?.stream ? request.headers.get("content-length") : null);

  let upstream: Response;
  try {
    const result = await forward(route.upstreams, route.pool, route.policy, {
      method: request.method,
      pathAndQuery: ctx.upstream.pathAndQuery,
      headers,
      host: route.preserveHost ? (request.headers.get("host") ?? undefined) : undefined,
      body: upstreamBody,
      clientBodyFailure: () => body?.failure,
      bodySent: body?.finished,
      clientSignal: request.signal,
      log: exchange.log,
      selection,
      trace: exchange.trace,
    });
    upstream = result.response;
    ctx.server = exchange.log.server = result.server.id;
  } catch (error) {
    return answerFailure(route, ctx, exchange, toProxyError(error, route.pool.name));
  }

  const bodyless = request.method === "HEAD" || BODYLESS_STATUS.has(upstream.status);
  // The upstream's Response is relayed as it is, its headers edited in place (the pooled client made them).
  const reuse = !bodyless;
  const responseHeaders = reuse ? upstream.headers : new Headers(upstream.headers);
  stripHopByHop(responseHeaders);
  if (pool.sticky && selection.stickyId !== ctx.server) {
    // A new client, or its server is gone: bind it to the one that answered.
    responseHeaders.append("set-cookie", pool.sticky.setCookieFor(ctx.server!));
    keepOutOfSharedCaches(responseHeaders);
  }
  let response = reuse
    ? upstream
    : new Response(bodyless ? null : upstream.body, {
        status: upstream.status,
        statusText: upstream.statusText,
        headers: responseHeaders,
      });
  if (bodyless) void upstream.body?.cancel().catch(() => {});

  // A plugin that answers with a response of its own (or throws) leaves the upstream body unread: let the
  // upstream go then — its connection, and the server's in-flight count forward() holds until the body ends.
  const relayed = response;
  const letGo = () => {
    if (relayed.body && !relayed.body.locked) void relayed.body.cancel().catch(() => {});
  };
  try {
    for (const plugin of route.plugins) {
      const replaced = await plugin.hooks.afterUpstream?.(ctx, response);
      if (replaced) response = replaced;
    }
  } catch (error) {
    letGo();
    throw error;
  }
  if (response !== relayed) letGo();
  return route.bodyHooks && !bodyless ? transformedBody(route, ctx, response) : response;
}

/** The answer with its body through the plugins' responseBody transforms, in plugin order. */
function transformedBody(route: ProxyRoute, ctx: ProxyContext, response: Response): Response {
  if (!response.body) return response;
  let body: ReadableStream<Uint8Array> = response.body;
  let changed = false;
  for (const plugin of route.plugins) {
    const transform = plugin.hooks.responseBody?.(ctx, response);
    if (!transform) continue;
    body = body.pipeThrough(transform);
    changed = true;
  }
  if (!changed) return response;
  const headers = new Headers(response.headers);
  // Other bytes: their length is unknown until they end, and the upstream's validators describe the old ones.
  headers.delete("content-length");
  headers.delete("etag");
  return new Response(body, { status: response.status, statusText: response.statusText, headers });
}

/**
 * An upgrade on the hono path: the beforeUpstream phase runs first (auth plugins guard sockets too), then the
 * connection proxies it as bytes (`upgradeVia`) with the headers and path the phase left.
 */
export async function proxyUpgrade(
  route: ProxyRoute,
  exchange: IncomingExchange,
  upgradeVia: (route: object, pathAndQuery: string, headers: Headers) => Response,
): Promise<Response> {
  exchange.trace?.routed(route.name);
  const ctx = newProxyContext(route, exchange, new Headers(exchange.request.headers));
  const early = await beforeUpstream(route, ctx);
  if (early) return early;
  const chosen = ctx.upstream.pool === route.pool.name ? route : chosenRoute(route, ctx.upstream.pool);
  exchange.log.pool = chosen.pool.name;
  settleOutgoing(ctx.upstream.headers, null);
  return upgradeVia(chosen, ctx.upstream.pathAndQuery, ctx.upstream.headers);
}

/** The route sent to the pool a plugin named; a name that is not an HTTP pool of the config is the plugin's bug (500). */
function chosenRoute(route: ProxyRoute, poolName: string): ProxyRoute {
  const chosen = route.viaPool(poolName);
  if (!chosen) throw new Error(`a beforeUpstream plugin chose pool ${JSON.stringify(poolName)}, which is not an HTTP pool of this config`);
  return chosen;
}
