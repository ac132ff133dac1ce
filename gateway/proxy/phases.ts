// What HTTP requests and WebSocket upgrades share around the upstream exchange: the plugins' context,
// the beforeUpstream and onError phases, and turning a failure into the client's JSON answer.
import type { ProxyContext, ProxyError } from "../plugin/types.ts";
import type { IncomingExchange, ProxyRoute } from "./http-proxy.ts";
import { NoServerAvailable } from "./attempts.ts";
import { ClientBodyFailure, errorResponse, UpstreamFailure } from "./errors.ts";
import type { RequestHead } from "../http/head.ts";
import { headerValue } from "../http/head.ts";

export function newProxyContext(route: ProxyRoute, exchange: IncomingExchange, upstreamHeaders: Headers): ProxyContext {
  return {
    request: exchange.request,
    requestId: exchange.requestId,
    clientIp: exchange.clientIp,
    route: route.name,
    pool: route.pool.name,
    upstream: { headers: upstreamHeaders, pathAndQuery: exchange.pathAndQuery, pool: route.pool.name },
    startedAt: Date.now(),
    vars: exchange.vars ?? new Map(),
  };
}

/** The beforeUpstream phase: the first plugin answering ends it (and the request) with its Response. */
export async function beforeUpstream(route: ProxyRoute, ctx: ProxyContext): Promise<Response | undefined> {
  for (const plugin of route.plugins) {
    const early = await plugin.hooks.beforeUpstream?.(ctx);
    if (early) return early;
  }
  return undefined;
}

const STATUS_FOR: Record<string, number> = {
  connect: 502,
  "bad-response": 502,
  timeout: 504,
  aborted: 499,
  "body-too-large": 413,
};

// What the client is told; the details (addresses, error codes) go to the log only.
const PUBLIC_MESSAGE: Record<string, string> = {
  connect: "bad gateway: upstream unreachable",
  "bad-response": "bad gateway: invalid upstream response",
  timeout: "gateway timeout: upstream did not answer in time",
  aborted: "client closed the request",
  "body-too-large": "request body too large",
};

export function toProxyError(error: unknown, poolName: string): ProxyError {
  if (error instanceof NoServerAvailable)
    return { status: 503, kind: "unavailable", message: `no server available in pool "${poolName}"`, detail: error.message };
  if (error instanceof ClientBodyFailure) return { status: error.status, kind: error.kind, message: error.message };
  if (error instanceof UpstreamFailure) {
    return { status: STATUS_FOR[error.kind] ?? 502, kind: error.kind, message: PUBLIC_MESSAGE[error.kind] ?? "bad gateway", detail: error.message };
  }
  return { status: 502, kind: "bad-response", message: PUBLIC_MESSAGE["bad-response"]!, detail: (error as Error)?.message ?? String(error) };
}

/** The onError phase, then the JSON error (503 with Retry-After) when no plugin answered. */
export async function answerFailure(route: ProxyRoute, ctx: ProxyContext, exchange: IncomingExchange, error: ProxyError): Promise<Response> {
  exchange.log.error = error.detail ? `${error.message} (${error.detail})` : error.message;
  for (const plugin of route.plugins) {
    const answer = await plugin.hooks.onError?.(ctx, error);
    if (answer) return answer;
  }
  return errorResponse(error.status, error.message, exchange.requestId, error.status === 503 ? { "retry-after": "1" } : undefined);
}

/** A Sec-WebSocket-Key is 16 random bytes in base64 (RFC 6455 §4.1): 22 characters and "==". */
const WEBSOCKET_KEY = /^[A-Za-z0-9+/]{22}==$/;

/**
 * What is wrong with a WebSocket upgrade request (RFC 6455 §4.2.1), or undefined when it is well formed or
 * asks for another protocol (those pass as they are). `extra`: header lines for the 400 answer.
 */
export function upgradeProblemOf(head: RequestHead): { error: string; extra?: string } | undefined {
  if (!head.upgrade!.split(",").some((p) => p.trim().toLowerCase() === "websocket")) return undefined;
  if (head.method !== "GET") return { error: "malformed WebSocket upgrade: method must be GET" };
  if (!WEBSOCKET_KEY.test(headerValue(head, "sec-websocket-key") ?? "")) return { error: "malformed WebSocket upgrade: missing or invalid Sec-WebSocket-Key" };
  if (headerValue(head, "sec-websocket-version") !== "13") {
    // RFC 6455 §4.4: say which version we speak.
    return { error: "unsupported Sec-WebSocket-Version (supported: 13)", extra: "sec-websocket-version: 13\r\n" };
  }
  return undefined;
}
