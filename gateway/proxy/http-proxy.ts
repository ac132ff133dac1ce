// The handler of a route with a `pool`: prepares the upstream request (headers, path), runs the plugin
// phases around `forward`, and turns the upstream's answer or failure into the client's response.
import type { Runtime } from "../runtime/types.ts";
import type { Pool } from "../pool/pool.ts";
import type { LoadedPlugin } from "../plugin/load.ts";
import type { ProxyContext, ProxyError } from "../plugin/types.ts";
import { addForwarded, stripHopByHop } from "./headers.ts";
import { errorResponse, UpstreamFailure } from "./errors.ts";
import { forward, NoServerAvailable, type ForwardPolicy } from "./forward.ts";
import { watchBody } from "./body-limit.ts";
import type { RequestView } from "../routing/view.ts";
import { keepOutOfSharedCaches } from "../pool/sticky.ts";

export interface ProxyRoute {
  name: string;
  pool: Pool;
  policy: ForwardPolicy;
  preserveHost: boolean;
  /** Global plugins' phases first, then the route's own. */
  plugins: readonly LoadedPlugin[];
  maxBodySize: number;
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
  log: { server?: string; error?: string };
}

const BODYLESS_STATUS = new Set([101, 204, 205, 304]);

const STATUS_FOR: Record<string, number> = {
  connect: 502,
  "bad-response": 502,
  timeout: 504,
  aborted: 499,
  "body-too-large": 413,
};

export async function proxyHttp(runtime: Runtime, route: ProxyRoute, exchange: IncomingExchange): Promise<Response> {
  const { request, requestId } = exchange;
  const pool = route.pool;
  const selection = pool.selectionFor({ clientIp: exchange.clientIp, view: exchange.view });
  const headers = new Headers(request.headers);
  stripHopByHop(headers);
  pool.sticky?.stripFrom(headers);
  addForwarded(headers, { clientIp: exchange.clientIp, proto: "http", host: exchange.host, requestId });

  const ctx: ProxyContext = {
    request,
    requestId,
    clientIp: exchange.clientIp,
    route: route.name,
    pool: route.pool.name,
    upstream: { headers, pathAndQuery: exchange.pathAndQuery },
    startedAt: Date.now(),
    vars: new Map(),
  };

  for (const plugin of route.plugins) {
    const early = await plugin.hooks.beforeUpstream?.(ctx);
    if (early) return early;
  }

  // Every body is watched (so a failed upload is not blamed on the server); one of unannounced size is also counted.
  const body = request.body ? watchBody(request.body, request.headers.has("content-length") ? undefined : route.maxBodySize) : undefined;

  let upstream: Response;
  try {
    const result = await forward(runtime, route.pool, route.policy, {
      method: request.method,
      pathAndQuery: ctx.upstream.pathAndQuery,
      headers,
      host: route.preserveHost ? request.headers.get("host") ?? undefined : undefined,
      body: body?.stream ?? null,
      clientBodyFailure: () => body?.failure,
      bodySent: body?.finished,
      clientSignal: request.signal,
      selection,
    });
    upstream = result.response;
    ctx.server = exchange.log.server = result.server.id;
  } catch (error) {
    return failed(route, ctx, exchange, toProxyError(error, route.pool.name));
  }

  const bodyless = request.method === "HEAD" || BODYLESS_STATUS.has(upstream.status);
  // Where the runtime allows it, the upstream's Response is relayed as it is, its headers edited in place.
  const reuse = runtime.mutableUpstreamHeaders && !bodyless;
  const responseHeaders = reuse ? upstream.headers : new Headers(upstream.headers);
  stripHopByHop(responseHeaders);
  if (!runtime.keepsContentEncoding && responseHeaders.has("content-encoding")) {
    // The runtime decoded the body: the header would now lie about it.
    responseHeaders.delete("content-encoding");
    responseHeaders.delete("content-length");
  }
  if (pool.sticky && selection.stickyId !== ctx.server) {
    // A new client, or its server is gone: bind it to the one that answered.
    responseHeaders.append("set-cookie", pool.sticky.setCookieFor(ctx.server!));
    keepOutOfSharedCaches(responseHeaders);
  }
  let response = reuse ? upstream : new Response(bodyless ? null : upstream.body, {
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
  return response;
}

// What the client is told; the details (addresses, error codes) go to the log only.
const PUBLIC_MESSAGE: Record<string, string> = {
  connect: "bad gateway: upstream unreachable",
  "bad-response": "bad gateway: invalid upstream response",
  timeout: "gateway timeout: upstream did not answer in time",
  aborted: "client closed the request",
  "body-too-large": "request body too large",
};

function toProxyError(error: unknown, poolName: string): ProxyError {
  if (error instanceof NoServerAvailable) return { status: 503, kind: "unavailable", message: `no server available in pool "${poolName}"` };
  if (error instanceof UpstreamFailure) {
    const status = STATUS_FOR[error.kind] ?? 502;
    return { status, kind: error.kind, message: PUBLIC_MESSAGE[error.kind] ?? "bad gateway", detail: error.message };
  }
  return { status: 502, kind: "bad-response", message: "bad gateway", detail: (error as Error)?.message ?? String(error) };
}

async function failed(route: ProxyRoute, ctx: ProxyContext, exchange: IncomingExchange, error: ProxyError): Promise<Response> {
  exchange.log.error = error.detail ? `${error.message} (${error.detail})` : error.message;
  for (const plugin of route.plugins) {
    const answer = await plugin.hooks.onError?.(ctx, error);
    if (answer) return answer;
  }
  const extra: Record<string, string> | undefined = error.status === 503 ? { "retry-after": "1" } : undefined;
  return errorResponse(error.status, error.message, exchange.requestId, extra);
}
