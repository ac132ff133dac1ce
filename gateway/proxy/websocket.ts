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
import type { DownstreamHandlers, DownstreamSocket, RequestContext, Runtime, UpstreamSocket } from "../runtime/types.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { Pool } from "../pool/pool.ts";
import type { SelectionInput } from "../balancing/selector.ts";
import type { ProxyContext, ProxyError } from "../plugin/types.ts";
import type { IncomingExchange, ProxyRoute } from "./http-proxy.ts";
import { addForwarded, stripHopByHop } from "./headers.ts";
import { errorResponse, UpstreamFailure } from "./errors.ts";
import { tryServers } from "./attempts.ts";
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

/**
 * The code to pass on for a close seen on the other side. 1005 (closed without a code) and 1006 (lost
 * without a close frame) are reserved: they may be reported, never sent (RFC 6455 §7.4.1).
 */
export function relayCloseCode(code: number): number {
  if (code === 1005) return 1000;
  if ((code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) || (code >= 3000 && code <= 4999)) return code;
  return 1011;
}

const encoder = new TextEncoder();

/** Close reasons are limited to 123 bytes of UTF-8; cut on a character boundary. */
function fitReason(reason: string): string {
  if (encoder.encode(reason).length <= 123) return reason;
  let cut = reason;
  while (encoder.encode(cut).length > 123) cut = cut.slice(0, -1);
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  return cut;
}

// ---- Flow control beyond runtime/types.ts ----------------------------------------------------------
// Bun exposes all of these, Deno none: they are optional, used when present.

type Frame = string | Uint8Array;
interface UpstreamFlow {
  pause?(): void;
  resume?(): void;
  readonly bufferedAmount?: number;
}
interface DownstreamFlow {
  pause?(): void;
  resume?(): void;
}
/** Bun's ServerWebSocket.send: bytes sent, -1 = queued under backpressure, 0 = dropped (or empty message). */
type SendResult = number | void;

/** Upstream bytes buffered before the client is paused, and the level at which it is resumed. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;
const DRAIN_POLL_MS = 20;
/** After answering the upgrade, how long the client's socket may take to open before the tunnel is dropped. */
const DOWNSTREAM_OPEN_GRACE_MS = 10_000;

// ---- The tunnel -------------------------------------------------------------------------------------

/** The upstream answered the handshake with an HTTP status instead of 101. */
class HandshakeRefused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

const tunnels = new Set<Tunnel>();

/** Tunnels open (or opening) in this process. */
export function openTunnelCount(): number {
  return tunnels.size;
}

/** Close every tunnel, both sides, e.g. on shutdown (1001: going away). */
export function closeAllTunnels(code = 1001, reason = "gateway shutting down"): void {
  for (const tunnel of [...tunnels]) tunnel.shutdown(code, reason);
}

type State = "connecting" | "upgrading" | "open" | "closed";

class Tunnel {
  private state: State = "connecting";
  private upstream?: UpstreamSocket & UpstreamFlow;
  private downstream?: DownstreamSocket & DownstreamFlow;
  /** Frames from the upstream that arrived before the client's socket opened. */
  private pending: Frame[] = [];
  /** The upstream closed before the client's socket opened: pass it on once it does. */
  private upstreamClose?: { code: number; reason: string };
  private upstreamPaused = false;
  private downstreamPaused = false;
  private drainPoll?: ReturnType<typeof setInterval>;
  private graceTimer?: ReturnType<typeof setTimeout>;
  protocol = "";

  /** The pool has counted the server busy (acquire) from the connect attempt; release gives it back. */
  constructor(readonly server: UpstreamServer, private readonly pool: Pool) {
    tunnels.add(this);
  }

  /** Open the upstream socket: resolves once it is open, rejects with an UpstreamFailure or HandshakeRefused. */
  connect(runtime: Runtime, url: string, options: { protocols: string[]; headers: Headers }, timeoutMs: number, signal: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      let socket: (UpstreamSocket & UpstreamFlow) | undefined;
      let lastError: Error | undefined;
      const settle = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", onAbort);
      };
      const fail = (failure: Error) => {
        if (this.state !== "connecting") return;
        settle();
        // The failed attempt's pool slot is given back by the retry loop (tryServers), not here.
        this.release(false);
        try {
          socket?.close();
        } catch {
          // Already failed: nothing to close.
        }
        reject(failure);
      };
      const timer = setTimeout(
        () => fail(new UpstreamFailure("connect", `${this.server.id}: no WebSocket handshake within ${timeoutMs}ms`)),
        timeoutMs,
      );
      const onAbort = () => fail(new UpstreamFailure("aborted", "client went away"));
      if (signal.aborted) return onAbort();
      signal.addEventListener("abort", onAbort, { once: true });

      try {
        socket = runtime.connectWebSocket(url, options, {
          open: () => {
            if (this.state !== "connecting") return void socket?.close(1001, "gateway gave up waiting");
            settle();
            this.state = "upgrading";
            this.upstream = socket;
            this.protocol = socket!.protocol ?? "";
            resolve();
          },
          message: (data) => this.fromUpstream(data),
          error: (error) => void (lastError = error),
          close: (code, reason) => {
            if (this.state === "connecting") fail(handshakeFailure(this.server, lastError, code));
            else this.upstreamClosed(code, reason);
          },
          ping: (data) => this.state === "open" && this.downstream!.ping(data),
          pong: (data) => this.state === "open" && this.downstream!.pong(data),
        });
      } catch (error) {
        fail(handshakeFailure(this.server, error as Error, 1006));
      }
    });
  }

  /** What the runtime calls for the client's socket. `drain` is Bun's "backpressure is over". */
  readonly handlers: DownstreamHandlers & { drain(): void } = {
    open: (socket) => this.downstreamOpened(socket),
    message: (data) => this.fromDownstream(data),
    close: (code, reason) => this.downstreamClosed(code, reason),
    ping: (data) => this.state === "open" && this.upstream!.ping?.(data),
    pong: (data) => this.state === "open" && this.upstream!.pong?.(data),
    drain: () => {
      if (!this.upstreamPaused) return;
      this.upstreamPaused = false;
      this.upstream?.resume?.();
    },
  };

  /** The client's upgrade was answered: its socket should open soon; if it never does, do not leak. */
  awaitDownstream(): void {
    this.graceTimer = setTimeout(() => {
      if (this.state === "upgrading") this.shutdown(1011, "client never completed the upgrade");
    }, DOWNSTREAM_OPEN_GRACE_MS);
  }

  /** Close both sides with the same code (shutdown, failed client upgrade). */
  shutdown(code: number, reason: string): void {
    if (this.state === "closed") return;
    if (this.state === "connecting") return; // connect() owns this phase and settles it
    this.upstream?.close(code, reason);
    this.downstream?.close(code, reason);
    this.release();
  }

  private downstreamOpened(socket: DownstreamSocket): void {
    if (this.state !== "upgrading") {
      // The tunnel ended while the client's handshake was in flight.
      socket.close(1011, "upstream connection lost");
      return;
    }
    clearTimeout(this.graceTimer);
    this.state = "open";
    this.downstream = socket as DownstreamSocket & DownstreamFlow;
    for (const frame of this.pending) this.toClient(frame);
    this.pending = [];
    if (this.upstreamClose) this.upstreamClosed(this.upstreamClose.code, this.upstreamClose.reason);
  }

  private fromUpstream(data: Frame): void {
    if (this.state === "open") this.toClient(data);
    else if (this.state === "upgrading") this.pending.push(data);
  }

  private toClient(data: Frame): void {
    const sent = this.downstream!.send(data) as SendResult;
    // -1: Bun queued it in memory. Stop reading the upstream until `drain`, so the queue stays small
    // (the upstream then sees TCP backpressure) instead of growing to Bun's 16 MB drop limit.
    if (sent === -1 && !this.upstreamPaused && this.upstream?.pause) {
      this.upstreamPaused = true;
      this.upstream.pause();
    }
  }

  private fromDownstream(data: Frame): void {
    if (this.state !== "open") return;
    const upstream = this.upstream!;
    upstream.send(data);
    // The upstream client has no drain event: pause the client while too much is buffered and poll.
    if (this.downstreamPaused || !this.downstream!.pause || (upstream.bufferedAmount ?? 0) <= HIGH_WATER) return;
    this.downstreamPaused = true;
    this.downstream!.pause();
    this.drainPoll = setInterval(() => {
      if (this.state === "open" && (upstream.bufferedAmount ?? 0) > LOW_WATER) return;
      clearInterval(this.drainPoll);
      this.downstreamPaused = false;
      if (this.state === "open") this.downstream!.resume?.();
    }, DRAIN_POLL_MS);
  }

  private upstreamClosed(code: number, reason: string): void {
    if (this.state === "upgrading") {
      this.upstreamClose = { code, reason };
      return;
    }
    if (this.state !== "open") return;
    this.downstream!.close(relayCloseCode(code), fitReason(reason || lostReason(code, "upstream")));
    this.release();
  }

  private downstreamClosed(code: number, reason: string): void {
    if (this.state === "closed" || this.state === "connecting") return;
    if (!this.upstreamClose) this.upstream?.close(relayCloseCode(code), fitReason(reason || lostReason(code, "client")));
    this.release();
  }

  /** The tunnel is over: everything it holds is given back exactly once. */
  private release(givePoolSlotBack = true): void {
    if (this.state === "closed") return;
    this.state = "closed";
    this.pending = [];
    clearTimeout(this.graceTimer);
    clearInterval(this.drainPoll);
    if (givePoolSlotBack) this.pool.release(this.server);
    tunnels.delete(this);
  }
}

function lostReason(code: number, side: string): string {
  return code === 1006 || code === 0 ? `${side} connection lost` : "";
}

/**
 * Why the upstream handshake failed. Adapters put the HTTP status on the error when the upstream
 * answered one; anything about the handshake itself (protocol mismatch, bad accept) is a bad response;
 * everything else is a connection failure, worth another server.
 */
function handshakeFailure(server: UpstreamServer, error: Error | undefined, code: number): Error {
  const detail = `${server.id}: ${error?.message ?? `closed during the handshake (${code})`}`;
  const status = (error as { status?: unknown } | undefined)?.status;
  if (typeof status === "number") return new HandshakeRefused(status, detail);
  if (error && /protocol|101|handshake|Sec-WebSocket|upgrade/i.test(error.message)) return new UpstreamFailure("bad-response", detail);
  return new UpstreamFailure("connect", detail, { cause: error });
}

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
