// WebSocket proxying: one client socket tunnelled to one upstream socket, frames relayed as they come.
//
// Order of events, and why: the upstream handshake happens FIRST, the client's upgrade only after the
// upstream accepted. That is what nginx and HAProxy do, and it is what users see best:
//  - an unreachable upstream is an HTTP 502/503 on the upgrade (with a JSON body and a retry on another
//    server), not a socket that opens and then dies with 1011/1014 — clients and monitors read it as a
//    failed connect and back off properly;
//  - an upstream that refuses (401, 403, 404...) is relayed with its status, as nginx relays the answer;
//  - the client's handshake carries the subprotocol the upstream actually chose. Upgrading first would
//    have to pick one before knowing, and a wrong pick cannot be taken back.
// The price is one upstream round trip before the client's 101. As the client's socket only opens once
// the upstream is open, there is no "client message before upstream open" window to queue for; the
// queue runs the other way: what the upstream sends before the client's socket is open waits for it.
import type { RequestContext, Runtime } from "../runtime/types.ts";
import type { SelectionInput } from "../balancing/selector.ts";
import type { ProxyContext, ProxyError } from "../plugin/types.ts";
import type { IncomingExchange, ProxyRoute } from "./http-proxy.ts";
import { addForwarded, stripHopByHop } from "./headers.ts";
import { errorResponse, UpstreamFailure } from "./errors.ts";
import { tryServers } from "./attempts.ts";
import { HandshakeRefused, Tunnel } from "./websocket-tunnel.ts";
import { answerFailure, beforeUpstream, newProxyContext, toProxyError } from "./phases.ts";

// ---- Recognising an upgrade -------------------------------------------------------------------------

function hasToken(value: string | null, token: string): boolean {
  return value !== null && value.split(",").some((part) => part.trim().toLowerCase() === token);
}

/**
 * Whether the client asks for a WebSocket (`Upgrade: websocket`). Deliberately loose: a request that
 * asks but gets the rest wrong must reach proxyWebSocket and get its 400, not be proxied as plain HTTP.
 */
export function isWebSocketUpgrade(request: Request): boolean {
  return hasToken(request.headers.get("upgrade"), "websocket");
}

/** A Sec-WebSocket-Key is 16 random bytes in base64 (RFC 6455 §4.1): 22 characters and "==". */
const KEY = /^[A-Za-z0-9+/]{22}==$/;

/** What is wrong with an upgrade request (RFC 6455 §4.2.1), or undefined when it is well formed. */
function upgradeProblem(request: Request): { error: string; headers?: Record<string, string> } | undefined {
  const h = request.headers;
  if (request.method !== "GET") return { error: "malformed WebSocket upgrade: method must be GET" };
  if (!hasToken(h.get("connection"), "upgrade")) return { error: "malformed WebSocket upgrade: Connection must include upgrade" };
  if (!KEY.test(h.get("sec-websocket-key")?.trim() ?? "")) return { error: "malformed WebSocket upgrade: missing or invalid Sec-WebSocket-Key" };
  if (h.get("sec-websocket-version")?.trim() !== "13") {
    // RFC 6455 §4.4: say which version we speak.
    return { error: "unsupported Sec-WebSocket-Version (supported: 13)", headers: { "sec-websocket-version": "13" } };
  }
  return undefined;
}

// ---- Close codes ------------------------------------------------------------------------------------

// ---- The exchange -----------------------------------------------------------------------------------

/** The upstream's ws:// or wss:// URL for a server target like "http://127.0.0.1:9001". */
function upstreamUrl(target: string, pathAndQuery: string): string {
  return target.replace(/^http/i, "ws") + pathAndQuery;
}

/** The client's end-to-end headers plus X-Forwarded-*; the handshake headers are the upstream client's own. */
function upstreamHeaders(request: Request, exchange: IncomingExchange, route: ProxyRoute): Headers {
  const headers = new Headers(request.headers);
  stripHopByHop(headers);
  route.pool.sticky?.stripFrom(headers);
  for (const name of ["sec-websocket-key", "sec-websocket-version", "sec-websocket-extensions", "sec-websocket-accept"]) {
    headers.delete(name);
  }
  addForwarded(headers, { clientIp: exchange.clientIp, proto: "http", host: exchange.host, requestId: exchange.requestId });
  // Bun's client sends the Host given; Deno's always sends the URL's.
  if (!route.preserveHost) headers.delete("host");
  return headers;
}

async function connectToPool(
  runtime: Runtime,
  route: ProxyRoute,
  exchange: IncomingExchange,
  ctx: ProxyContext,
  protocols: string[],
  selection: SelectionInput,
): Promise<Tunnel> {
  const pool = route.pool;
  // The upgrade is a GET without a body: a failed connect may always go to another server.
  const { value: tunnel, server } = await tryServers(
    pool,
    selection,
    1 + route.policy.retries,
    exchange.request.signal,
    async (server) => {
      const tunnel = new Tunnel(server, pool);
      await tunnel.connect(
        runtime,
        upstreamUrl(server.target, ctx.upstream.pathAndQuery),
        { protocols, headers: ctx.upstream.headers },
        route.policy.connectTimeout,
        exchange.request.signal,
      );
      return tunnel;
    },
    // Only a server that could not be reached counts against it: a refusal or a subprotocol mismatch
    // is decided by what the client asked for, and must not let one client take servers out.
    (error) => {
      const unreachable = error instanceof UpstreamFailure && error.kind === "connect";
      return { blameServer: unreachable, retry: unreachable };
    },
  );
  server.succeeded(Date.now());
  return tunnel;
}

/** A refused handshake is relayed; everything else fails as an HTTP request would. */
function upgradeError(error: unknown, poolName: string): ProxyError {
  if (error instanceof HandshakeRefused) {
    // Relayed like nginx relays the upstream's answer (401/403/404 mean something to the client);
    // a non-error status other than 101 is just a bad answer.
    const relay = error.status >= 400 && error.status <= 599;
    return relay
      ? { status: error.status, kind: "refused", message: `upstream refused the WebSocket upgrade (${error.status})`, detail: error.message }
      : { status: 502, kind: "bad-response", message: "bad gateway: invalid upstream response", detail: error.message };
  }
  return toProxyError(error, poolName);
}

/**
 * Proxy a WebSocket upgrade: validate it, run the plugins' beforeUpstream phase (auth plugins guard
 * sockets too), open the upstream socket, then upgrade the client and relay frames both ways.
 * `exchange.request` must be the runtime's original Request: Bun cannot upgrade a rebuilt one.
 */
export async function proxyWebSocket(runtime: Runtime, route: ProxyRoute, exchange: IncomingExchange, context: RequestContext): Promise<Response> {
  const { request, requestId } = exchange;
  const problem = upgradeProblem(request);
  if (problem) {
    exchange.log.error = problem.error;
    return errorResponse(400, problem.error, requestId, problem.headers);
  }

  const headers = upstreamHeaders(request, exchange, route);
  const ctx = newProxyContext(route, exchange, headers);
  const early = await beforeUpstream(route, ctx);
  if (early) return early;
  // Read after the plugins, which may change it; the upstream client sends it from `protocols`.
  const protocols = (ctx.upstream.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim()).filter(Boolean);
  ctx.upstream.headers.delete("sec-websocket-protocol");

  const selection = route.pool.selectionFor({ clientIp: exchange.clientIp, view: exchange.view });
  let tunnel: Tunnel;
  try {
    tunnel = await connectToPool(runtime, route, exchange, ctx, protocols, selection);
  } catch (error) {
    return answerFailure(route, ctx, exchange, upgradeError(error, route.pool.name));
  }
  ctx.server = exchange.log.server = tunnel.server.id;

  const upgradeHeaders = new Headers({ "x-request-id": requestId });
  const sticky = route.pool.sticky;
  if (sticky && selection.stickyId !== tunnel.server.id) upgradeHeaders.append("set-cookie", sticky.setCookieFor(tunnel.server.id));
  const response = context.upgrade(tunnel.handlers, {
    protocol: tunnel.protocol || undefined,
    headers: upgradeHeaders,
  });
  if (!response) {
    tunnel.shutdown(1011, "client upgrade failed");
    exchange.log.error = "the runtime refused the client's upgrade";
    return errorResponse(400, "malformed WebSocket upgrade", requestId);
  }
  tunnel.awaitDownstream();
  return response;
}
