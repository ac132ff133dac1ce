// One request from its parsed head to its log line: route → pool → upstream connection → answer relayed as
// bytes. The one object a request makes on this path: it carries the route, pool, server, timings and log
// fields, receives the connection's events (body bytes, drain, client gone) and the upstream's (head, body,
// end, failure). Routes with plugins that need request or response objects (hono middleware, routes, the
// beforeUpstream/afterUpstream/onError phases), static files and redirects go through hono (via-hono.ts).
import type { HeaderFields, RequestHead, ResponseHead } from "../http/head.ts";
import { headerValue } from "../http/head.ts";
import type { BodyFailure, BodySink, DownstreamConnection, ExchangeEvents } from "../http/downstream.ts";
import { bodylessStatus, errorAnswer, joinForWrite, latin1 } from "../http/response-writer.ts";
import { UpstreamCall, type ResponseSink } from "../http/upstream-call.ts";
import { chunkHead, CHUNK_END, lastChunk } from "../http/chunked.ts";
import type { UpstreamServer } from "../pool/server.ts";
import type { SelectionInput } from "../balancing/selector.ts";
import { privateCacheControl } from "../pool/sticky.ts";
import { RequestView } from "../routing/view.ts";
import { normalizeTarget } from "../http/path-normalization.ts";
import type { LogEntry, ProxyError, RequestLog, Termination } from "../plugin/types.ts";
import type { ProxyRoute } from "./http-proxy.ts";
import { requestIdFor } from "./headers.ts";
import { NoServerAvailable } from "./attempts.ts";
import { QueueFull, QueueTimeout } from "../pool/wait-queue.ts";
import type { UpstreamConnection } from "../http/upstream-pool.ts";
import { toProxyError, upgradeProblemOf } from "./phases.ts";
import { ClientBodyFailure, ClosedBeforeAnswer, UpstreamFailure } from "./errors.ts";
import { clientResponseHead, endToEndTrailers, upstreamRequestHead, type AnswerExtras } from "./header-rules.ts";
import { pipeBytes } from "./byte-pipe.ts";
import type { EngineServices } from "./engine-services.ts";
import { answerViaHono } from "./via-hono.ts";
import type { SnapshotUse } from "../snapshot-use.ts";
import type { Snapshot } from "../snapshot.ts";
import type { RouteMatch } from "../routing/table.ts";
import type { RequestHook, RouteAction } from "../route-action.ts";
import type { GatewayAnswer } from "../plugin/types.ts";
import { answerBytes, PhaseRequest } from "./request-phase.ts";
import type { HttpsRedirect } from "../http/https-redirect.ts";
import { terminationOf } from "../observability/termination.ts";
import type { ServerTrace } from "../observability/tracing.ts";

const RETRYABLE_METHODS = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
/** Request body bytes held while no upstream connection takes them yet (beyond it, the client is paused). */
const EARLY_BODY_LIMIT = 64 * 1024;
/** Answer bytes gathered before they are written even within one upstream read (within the composing buffer). */
const FLUSH_BYTES = 192 * 1024;

/** Framing of the answer toward the client. */
const enum Out {
  None,
  Length,
  Chunked,
  UntilClose,
}

const CLIENT_GONE = new UpstreamFailure("aborted", "client went away");

function noServer(pool: string): NoServerAvailable {
  return new NoServerAvailable(`no server of pool "${pool}" is available`);
}

export class Exchange implements ExchangeEvents, ResponseSink, BodySink {
  // What the log line says.
  readonly started = performance.now();
  /** The client's sane X-Request-Id or a new one; an onRequest hook may choose another (setRequestId). */
  requestId: string;
  readonly log: RequestLog = {};
  status = 0;
  private done = false;
  /** hono's core middleware writes this request's log line (an upgrade that came through hono). */
  private quiet = false;
  /** How the request ended, when more is known than its status says (see terminationOf). */
  private termination: Termination | undefined;
  /** Request body bytes received (for the log). */
  bytesIn = 0;
  /** Bytes of the answer written, and of its head (the log's bytesOut is what follows the head). */
  private sentBytes = 0;
  private headBytes = 0;
  /** Servers (or new connections) tried for this request. */
  private attempts = 0;
  /** The onRequest phase's view and edits; made only when some plugin has that hook. */
  private phase: PhaseRequest | undefined;
  /** The requests of the snapshot this one started on, until `leaveSnapshot` (its plugins' teardown waits). */
  private use: SnapshotUse | undefined;
  /** This request's server span and its attempts' client spans; only while tracing is on (the hono path ends it too). */
  trace: ServerTrace | undefined;

  // Where it goes.
  private _view: RequestView | undefined;
  /** Path and query as routing and hono read them: the client's target normalised (http/path-normalization.ts). */
  routingTarget = "";
  private route: ProxyRoute | undefined;
  /** Path and query for the upstream, after stripPrefix/rewrite. */
  private pathAndQuery = "";
  private selection: SelectionInput | undefined;

  // The attempts: one server after another, while the policy allows.
  private hasBody = false;
  private mayRetry = false;
  private attemptsLeft = 1;
  /** Servers that already failed this request: avoided while another is available. */
  private tried: Set<UpstreamServer> | undefined;
  private lastFailure: UpstreamFailure | undefined;
  /** The next connection must be a new one (the pooled one was stale). */
  private fresh = false;
  private server: UpstreamServer | undefined;
  /** The server whose slot this request holds (counted in its `active`), until `release`. */
  private holding: UpstreamServer | undefined;
  private call: UpstreamCall | undefined;
  private sentAt = 0;
  /** Made only for pools with a queue: lets a client that leaves give up its place. */
  private aborter: AbortController | undefined;

  // The request body.
  private bodyChunked = false;
  /** Body bytes that came before the upstream connection (copied), and how many. */
  private early: Uint8Array[] | undefined;
  private earlyBytes = 0;
  /** Reading the start of the body before taking a server (see proxy). */
  private awaitingBody = false;
  private earlyEnd: { trailers: HeaderFields | undefined } | undefined;
  /** The client's body failed while no upstream call was waiting: the attempt sees it when it gets there. */
  private bodyFailure: ClientBodyFailure | undefined;
  private clientGoneFlag = false;

  // The answer toward the client.
  private out = Out.None;
  private closeAfter = false;
  /** The answer's chunks go to the client as the server framed them (see UpstreamCall.passFraming). */
  private passingFraming = false;
  /** In threes, as joinForWrite takes them: text, 0, 0 or bytes, start, end. */
  private queued: (string | Uint8Array | number)[] = [];
  private queuedBytes = 0;
  /** Some of the final answer went to the client: a failure from here on can only cut the connection. */
  private answerStarted = false;

  constructor(
    readonly conn: DownstreamConnection,
    public head: RequestHead,
    private readonly services: EngineServices,
    /** How the request came: over TLS ("https") or not; the upstream learns it from X-Forwarded-Proto. */
    readonly proto: "http" | "https" = "http",
  ) {
    this.requestId = requestIdFor(headerValue(head, "x-request-id"));
    conn.attach(this);
  }

  get clientIp(): string {
    return this.conn.clientAddress;
  }

  /** Route the request and answer it. Nothing it throws may take the connection's event loop down. */
  run(): void {
    try {
      this.dispatch();
    } catch (error) {
      this.internalError(error);
    }
  }

  private dispatch(): void {
    const snapshot = this.services.snapshot();
    this.use = snapshot.use;
    snapshot.use.enter();
    if (snapshot.tracing !== undefined) this.trace = snapshot.tracing.serverSpan(this);
    const head = this.head;
    if (head.contentLength > snapshot.config.limits.maxBodySize) return this.answerError(413, "request body too large");
    const target = normalizeTarget(head.pathAndQuery, snapshot.config.pathNormalization);
    if (typeof target !== "string") {
      this.conn.closeWhenIdle(); // a malformed request closes its connection, as the parser's refusals do
      return this.answerError(400, target.message);
    }
    this.routingTarget = target;
    if (snapshot.honoFirst && !snapshot.requestPhase) return this.viaHono();
    const match = snapshot.table.match(this.view());
    const hooks = match ? match.value.requestHooks : snapshot.requestHooks;
    if (hooks.length > 0) return this.runPhase(hooks, 0, snapshot, match);
    this.routed(snapshot, match);
  }

  /** The onRequest phase done (or there was none): on to the route's action. */
  private routed(snapshot: Snapshot, match: RouteMatch<RouteAction> | undefined): void {
    if (snapshot.honoFirst) return this.viaHono();
    if (!match) return this.answerError(404, "no route matched");
    const action = match.value;
    this.log.route = action.name;
    if (action.viaHono || !action.proxy) return this.viaHono();
    this.route = action.proxy;
    this.log.pool = action.proxy.pool.name;
    this.pathAndQuery = match.upstreamTarget;
    this.proxy();
  }

  // ---- the onRequest phase ---------------------------------------------------------------------------------
  // Hooks run in order; one that returns a promise suspends the phase until it settles (the request's body, if
  // any, waits unread meanwhile); the first answer ends it.

  private runPhase(hooks: readonly RequestHook[], from: number, snapshot: Snapshot, match: RouteMatch<RouteAction> | undefined): void {
    const phase = (this.phase ??= new PhaseRequest({
      head: this.head,
      view: this.view(),
      peerIp: this.clientIp,
      trustedProxies: snapshot.trustedProxies,
      requestId: this.requestId,
      route: match?.value.name ?? "",
    }));
    for (let i = from; i < hooks.length; i++) {
      const outcome = hooks[i]!(phase);
      if (outcome instanceof Promise) {
        outcome.then(
          (answer) => {
            if (this.clientGoneFlag) return this.finishLog(499);
            try {
              if (answer) this.answerPlugin(answer, match);
              else this.runPhase(hooks, i + 1, snapshot, match);
            } catch (error) {
              this.internalError(error);
            }
          },
          (error) => (this.clientGoneFlag ? this.finishLog(499) : this.internalError(error)),
        );
        return;
      }
      if (outcome) return this.answerPlugin(outcome, match);
    }
    this.adoptChosenId();
    this.routed(snapshot, match);
  }

  /** The request id a hook of the phase chose, from here on (upstream, answer, log). */
  private adoptChosenId(): void {
    const chosen = this.phase?.chosenRequestId;
    if (chosen !== undefined) this.requestId = chosen;
  }

  /** A plugin answered in the onRequest phase: its answer instead of the upstream's. */
  private answerPlugin(answer: GatewayAnswer, match: RouteMatch<RouteAction> | undefined): void {
    this.adoptChosenId();
    const close = this.conn.willClose;
    const bytes = answerBytes(answer, this.requestId, this.phase?.answer, close, this.head.method === "HEAD", this.conn.answerFields?.lines);
    this.status = answer.status;
    if (match) this.log.route = match.value.name;
    if (answer.logError !== undefined) this.log.error = answer.logError;
    this.services.rejected?.(this.log.route ?? "", answer.status);
    this.sentBytes = bodyBytesOf(bytes);
    this.termination = answer.status >= 400 ? "refused" : "ok";
    this.conn.write(bytes);
    this.finishLog(answer.status);
    this.conn.finish(close);
  }

  /** What the onRequest phase decided (the hono path applies its edits to the Request and the Response). */
  get requestPhase(): PhaseRequest | undefined {
    return this.phase;
  }

  // ---- the upstream exchange -------------------------------------------------------------------------
  // Callbacks, not promises: a request whose pool has a free server and an idle connection goes from head to
  // upstream write without waiting on anything. Only a new connection or a place in the queue is awaited.

  private proxy(): void {
    const route = this.route!;
    const head = this.head;
    if (head.upgrade !== undefined) {
      const problem = upgradeProblemOf(head);
      if (problem) return this.answerError(400, problem.error, problem.extra);
    }
    this.selection = route.pool.selectionFor({ clientIp: this.clientIp, view: this.view() });
    const hasBody = (this.hasBody = head.chunked || head.contentLength > 0);
    this.mayRetry = !hasBody && RETRYABLE_METHODS.has(head.method);
    this.attemptsLeft = this.mayRetry ? 1 + route.policy.retries : 1;
    if (hasBody) {
      // No server is taken before the body has arrived whole, or its first EARLY_BODY_LIMIT bytes have (as HAProxy's
      // http-buffer-request): clients trickling their bodies hold no server slot and no upstream connection.
      this.awaitingBody = true;
      this.conn.readBody(this);
      return;
    }
    this.nextServer();
  }

  /** The body has arrived whole, or enough of it to be worth a server: the attempts begin. */
  private bodyArrived(): void {
    this.awaitingBody = false;
    this.nextServer();
  }

  /** Take a server for the next attempt, waiting in the pool's queue when every live one is full. */
  private nextServer(): void {
    if (this.clientGoneFlag) return this.finishLog(499);
    const pool = this.route!.pool;
    const selection = this.selection!;
    if (this.attemptsLeft-- <= 0) return this.failed(this.lastFailure ?? noServer(pool.name));
    const server = pool.take(selection, this.tried);
    if (server) return this.useServer(server);
    if (!pool.mayWait(selection.now, this.tried)) return this.failed(this.lastFailure ?? noServer(pool.name));
    const signal = (this.aborter ??= new AbortController()).signal;
    pool.acquire(selection, this.tried, signal).then(
      (queued) => (queued ? this.useServer(queued) : this.failed(this.lastFailure ?? noServer(pool.name))),
      (error) => {
        if (this.clientGoneFlag) return this.finishLog(499);
        if (error instanceof QueueFull || error instanceof QueueTimeout) return this.failed(new NoServerAvailable(`pool "${pool.name}": ${error.message}`));
        this.internalError(error);
      },
    );
  }

  /** An attempt on `server`: an idle connection now, or a new one. */
  private useServer(server: UpstreamServer): void {
    this.holding = this.server = server;
    this.log.server = server.id;
    if (this.clientGoneFlag || this.bodyFailure) return this.attemptFailed(server, this.bodyFailure ?? CLIENT_GONE, false);
    this.attempts++;
    server.figures.attempts++;
    this.trace?.attempt(this.head.method, server, this.pathAndQuery);
    const upstreams = this.services.upstreams;
    const idle = this.fresh ? undefined : upstreams.takeIdle(server);
    if (idle) return this.send(server, idle, true);
    upstreams.connect(server, this.route!.policy.connectTimeout).then(
      (connection) => {
        if (this.clientGoneFlag || this.bodyFailure) {
          // The client's side failed while the connection was being made: the connection is left unused.
          connection.discard();
          return this.attemptFailed(server, this.bodyFailure ?? CLIENT_GONE, false);
        }
        this.send(server, connection, false);
      },
      (error) => this.attemptFailed(server, new UpstreamFailure("connect", `cannot connect to ${server.id}: ${describe(error)}`, { cause: error }), false),
    );
  }

  private send(server: UpstreamServer, connection: UpstreamConnection, reused: boolean): void {
    const head = this.head;
    const timeout = head.upgrade !== undefined ? this.route!.policy.connectTimeout : this.route!.policy.responseTimeout;
    const call = (this.call = new UpstreamCall(this.services.upstreams, connection, reused, head.method, this, server.id, timeout));
    this.sentAt = Date.now();
    if (reused) this.log.upstreamConnectMs = 0;
    else {
      this.log.upstreamConnectMs = round2(connection.connectMs);
      server.figures.connect.observe(connection.connectMs);
    }
    this.sendHead(call, server, this.hasBody);
  }

  /**
   * An attempt failed before the answer's head. A stale pooled connection is tried again on a new one (not the
   * server's fault); a connect failure, or a connection closed before any byte of the answer, moves to another
   * server while attempts are left (only idempotent requests without a body have more than one); anything else
   * (a timeout, a bad answer: the server may have acted) ends it.
   */
  private attemptFailed(server: UpstreamServer, failure: UpstreamFailure, stale: boolean): void {
    this.call = undefined;
    this.trace?.attemptFailed(failure);
    if (stale && this.mayRetry && !this.fresh && !this.clientGoneFlag) {
      this.fresh = true;
      return this.useServer(server);
    }
    this.release();
    const clientsFault = failure.kind === "aborted" || failure.kind === "body-too-large" || this.clientGoneFlag;
    if (!clientsFault) this.blame(server, failure);
    if ((failure.kind === "connect" || failure instanceof ClosedBeforeAnswer) && !this.clientGoneFlag) {
      this.lastFailure = failure;
      (this.tried ??= new Set()).add(server);
      this.selection!.now = Date.now();
      this.fresh = false;
      return this.nextServer();
    }
    this.failed(failure);
  }

  /** A failure of the server's: counted against it by its pool (maxFails) and in its figures (/metrics). */
  private blame(server: UpstreamServer, failure: UpstreamFailure): void {
    this.route!.pool.failed(server, Date.now());
    server.figures.failed(failure);
  }

  /** No attempt succeeded: the client's answer. */
  private failed(error: UpstreamFailure | NoServerAvailable): void {
    if (this.clientGoneFlag) return this.finishLog(499);
    if (error instanceof ClientBodyFailure) return this.answerError(error.status, error.message);
    // An upgrade whose 101 never came is a server that cannot do it: a bad gateway, not a slow one.
    const failure =
      this.head.upgrade !== undefined && error instanceof UpstreamFailure && error.kind === "timeout"
        ? new UpstreamFailure("bad-response", error.message)
        : error;
    this.answerFailure(toProxyError(failure, this.route!.pool.name));
  }

  private sendHead(call: UpstreamCall, server: UpstreamServer, hasBody: boolean): void {
    const head = this.head;
    const route = this.route!;
    const framing = head.chunked ? "transfer-encoding: chunked\r\n" : hasBody ? `content-length: ${head.contentLength}\r\n` : "";
    this.bodyChunked = head.chunked;
    const text = upstreamRequestHead(
      head.method,
      this.pathAndQuery,
      head,
      {
        host: route.preserveHost && head.host !== "" ? head.host : server.hostHeader,
        clientIp: this.clientIp,
        trusted: route.trustedProxies.has(this.clientIp),
        proto: this.proto,
        forwardedHost: head.host,
        requestId: this.requestId,
        upgrade: head.upgrade !== undefined,
        stripCookie: route.pool.sticky ? (value) => route.pool.sticky!.stripFromValue(value) : undefined,
      },
      framing,
      this.phase?.upstream,
      this.trace?.attemptLines(),
    );
    call.write(joinForWrite([text, 0, 0], text.length), text.length);
    if (!hasBody) {
      call.requestSent();
      return;
    }
    // Only a body waits for the upstream to take more.
    call.onDrain = () => this.conn.resumeBody();
    // Body bytes that arrived before this connection existed go first.
    const early = this.early;
    this.early = undefined;
    if (early) for (const chunk of early) this.forwardBody(chunk);
    if (this.earlyEnd) this.end(this.earlyEnd.trailers);
    else this.conn.resumeBody();
  }

  // ---- the request body (from the client) -----------------------------------------------------------------

  data(chunk: Uint8Array): boolean {
    this.bytesIn += chunk.length;
    const call = this.call;
    if (call === undefined) {
      // No upstream connection yet: keep a copy, and pause the client past a small window.
      (this.early ??= []).push(chunk.slice());
      this.earlyBytes += chunk.length;
      if (this.earlyBytes < EARLY_BODY_LIMIT) return true;
      if (this.awaitingBody) this.bodyArrived();
      // An idle connection took the held bytes at once: the body flows on; else the client waits for sendHead.
      return this.call !== undefined;
    }
    return this.forwardBody(chunk);
  }

  private forwardBody(chunk: Uint8Array): boolean {
    const call = this.call!;
    if (this.bodyChunked) {
      call.write(chunkHead(chunk.length));
      call.write(chunk);
      return call.write(CHUNK_END);
    }
    return call.write(chunk);
  }

  end(trailers: HeaderFields | undefined): void {
    const call = this.call;
    if (call === undefined) {
      this.earlyEnd = { trailers };
      if (this.awaitingBody) this.bodyArrived();
      return;
    }
    if (this.bodyChunked) call.write(lastChunk(trailers && endToEndTrailers(trailers)));
    call.requestSent();
  }

  fail(failure: BodyFailure): void {
    // The client's body failed (cut short, too large, invalid framing, too slow): its fault, not the server's.
    const error = new ClientBodyFailure(failure.status, failure.message);
    if (this.awaitingBody) {
      // Before any server was taken: answered at once.
      this.awaitingBody = false;
      return this.failed(error);
    }
    const call = this.call;
    if (call && this.status === 0 && this.out === Out.None) {
      // Sent but not answered: this attempt ends with the client's error.
      call.abort();
      return this.attemptFailed(this.server!, error, false);
    }
    // Waiting for a server or a connection: the attempt sees it when it gets there.
    if (this.status === 0 && this.out === Out.None && !this.done) this.bodyFailure = error;
    else {
      call?.abort();
      this.cut(failure.message, terminationOf(failure.status, false));
    }
  }

  // ---- the answer (from the upstream) ---------------------------------------------------------------------

  informational(head: ResponseHead): void {
    if (this.head.minor === 1 && !this.clientGoneFlag) this.conn.write(latin1(clientResponseHead(head, this.requestId, undefined, "", "")));
  }

  responseHead(response: ResponseHead): void {
    const server = this.server!;
    const pool = this.route!.pool;
    const now = Date.now();
    pool.answered(server, now, now - this.sentAt);
    const responseMs = this.call!.responseMs;
    this.log.upstreamResponseMs = round2(responseMs);
    server.figures.response.observe(responseMs);
    this.trace?.attemptAnswered(response.status);
    if (pool.wantsLoadReports) {
      const load = headerValue(response, "x-server-load");
      if (load !== null) pool.loadReported(server, Number(load), now);
    }
    this.relayHead(response);
  }

  private stickyExtras(): AnswerExtras | undefined {
    const sticky = this.route!.pool.sticky;
    if (!sticky || this.selection!.stickyId === this.server!.id) return undefined;
    return { setCookie: sticky.setCookieFor(this.server!.id), cacheControl: privateCacheControl };
  }

  private relayHead(response: ResponseHead): void {
    const status = (this.status = response.status);
    if (status === 101) return this.switchProtocols(response);
    const minor = this.head.minor;
    const noBody = this.head.method === "HEAD" || bodylessStatus(status);
    let framing = "";
    if (noBody) {
      this.out = Out.None;
      if (response.contentLength >= 0 && status !== 204) framing = `content-length: ${response.contentLength}\r\n`;
    } else if (response.contentLength >= 0 && !response.chunked) {
      this.out = Out.Length;
      framing = `content-length: ${response.contentLength}\r\n`;
    } else if (minor === 1) {
      this.out = Out.Chunked;
      framing = "transfer-encoding: chunked\r\n";
      // A chunked answer keeps the server's own chunks (only the last chunk and trailers are written anew).
      if (response.chunked) this.passingFraming = this.call!.passFraming = true;
    } else this.out = Out.UntilClose;
    const close = this.conn.willClose || this.out === Out.UntilClose;
    const connection = close ? "connection: close\r\n" : minor === 0 ? "connection: keep-alive\r\n" : "";
    this.closeAfter = close;
    const text = clientResponseHead(response, this.requestId, this.stickyExtras(), framing, connection, this.phase?.answer, this.conn.answerFields);
    this.headBytes = text.length;
    this.queue(text);
  }

  responseBody(bytes: Uint8Array, start: number, end: number): boolean {
    if (this.clientGoneFlag) return true;
    if (this.out === Out.Chunked && !this.passingFraming) {
      this.queue(chunkHead(end - start));
      this.queueBytes(bytes, start, end);
      this.queue(CHUNK_END);
    } else this.queueBytes(bytes, start, end);
    return this.queuedBytes < FLUSH_BYTES || this.flush();
  }

  /** The upstream's bytes of one read are handled: send what they made, in one write. */
  responseFlush(): void {
    if (!this.flush()) this.call?.pauseResponse();
  }

  // One write per upstream read instead of one per piece (head, chunk framing, data): each write is a syscall.
  // What is queued is always written before the read's event ends, so the runtime's chunk needs no copy.

  /** Head text (latin1: one byte per character), or bytes of our own. */
  private queue(part: string | Uint8Array): void {
    this.queued.push(part, 0, part.length);
    this.queuedBytes += part.length;
  }

  private queueBytes(bytes: Uint8Array, start: number, end: number): void {
    const parts = this.queued;
    const last = parts.length - 3;
    // A range that continues the last one (passed chunked framing between two data runs) extends it: a read passed
    // on whole stays one part, written without a copy.
    if (last >= 0 && parts[last] === bytes && parts[last + 2] === start) parts[last + 2] = end;
    else parts.push(bytes, start, end);
    this.queuedBytes += end - start;
  }

  /** Write what is queued; false when the client is full (wait for drain). */
  private flush(): boolean {
    const parts = this.queued;
    if (parts.length === 0) return true;
    const total = this.queuedBytes;
    // The start of one read of the server's goes out as it is (the socket writes a prefix); anything else is
    // composed into one buffer.
    const single = parts.length === 3 && typeof parts[0] !== "string" && parts[1] === 0;
    const data = single ? (parts[0] as Uint8Array) : joinForWrite(parts, total);
    parts.length = 0;
    this.queuedBytes = 0;
    this.sentBytes += total;
    this.answerStarted = true;
    return this.conn.write(data, total);
  }

  /** The client took what was written: let the upstream (or the response writer) send more. */
  drain(): void {
    this.call?.resumeResponse();
  }

  responseEnd(trailers: HeaderFields | undefined): void {
    if (this.out === Out.Chunked) this.queue(lastChunk(trailers && endToEndTrailers(trailers)));
    this.flush();
    this.release();
    this.termination = "ok";
    this.finishLog(this.status);
    this.conn.finish(this.closeAfter);
  }

  upstreamFailed(failure: UpstreamFailure, stale: boolean, headSent: boolean): void {
    if (!headSent && this.status === 0) return this.attemptFailed(this.server!, failure, stale);
    this.trace?.attemptFailed(failure);
    if (this.server) this.blame(this.server, failure);
    this.log.error = failure.message;
    if (!this.answerStarted) {
      // The server's head came but none of it reached the client yet (the same read brought the failure): the
      // client still gets a clear answer instead of a closed connection. Not retried: the server did answer.
      this.queued.length = 0;
      this.queuedBytes = 0;
      this.out = Out.None;
      this.release();
      return this.answerFailure(toProxyError(failure, this.route!.pool.name));
    }
    // Mid-body: the client has a head already; all that can be done is cut its connection (never a short body
    // that looks complete).
    this.cut(failure.message, failure.kind === "timeout" ? "timeout" : "upstream-failed");
  }

  /** The client connection closed before the exchange ended: the upstream exchange ends too, not the server's fault. */
  clientGone(): void {
    if (this.done) return;
    this.clientGoneFlag = true;
    this.aborter?.abort();
    const call = this.call;
    if (call) {
      // Sent: the upstream exchange ends here, and its connection with it (never back to the pool mid-message).
      call.abort();
      this.call = undefined;
      this.release();
      this.finishLog(499);
    } else if (this.awaitingBody) {
      this.awaitingBody = false;
      this.finishLog(499);
    }
    // Queued or connecting: that step sees the flag when it completes.
  }

  /** End the client connection without completing the answer. */
  private cut(why: string, termination: Termination): void {
    this.log.error ??= why;
    this.termination ??= termination;
    this.release();
    this.finishLog(this.status || 502);
    this.conn.closeNow(false);
  }

  /** Give back the server slot this request holds (once). */
  private release(): void {
    const server = this.holding;
    if (server) {
      this.holding = undefined;
      this.route!.pool.release(server);
    }
  }

  // ---- 101: the pipe ---------------------------------------------------------------------------------

  private switchProtocols(response: ResponseHead): void {
    const call = this.call!;
    this.conn.write(latin1(clientResponseHead(response, this.requestId, this.stickyExtras(), "", "", this.phase?.answer, this.conn.answerFields)));
    this.finishLog(101);
    const leftover = call.leftover;
    const upstreamSocket = call.takeSocket();
    const pipe = pipeBytes({
      client: this.conn.socket,
      upstream: upstreamSocket,
      clientFirst: new Uint8Array(0),
      upstreamFirst: leftover,
      closed: () => this.release(),
    });
    call.connection.user = pipe.upstream;
    this.conn.takeOver(pipe.client);
  }

  // ---- the gateway's own answers -------------------------------------------------------------------------

  answerError(status: number, message: string, extra = ""): void {
    this.status = status;
    this.log.error ??= message;
    const close = this.conn.willClose;
    // The answer's headers the onRequest phase set (CORS, rate-limit figures) are on the gateway's errors too, and the listener's (HSTS).
    const edited = this.phase?.answer ? extra + this.phase.answer.lines() : extra;
    const own = this.conn.answerFields;
    const answer = errorAnswer(status, message, this.requestId, close, this.head.method === "HEAD", own === undefined ? edited : edited + own.lines);
    this.sentBytes = bodyBytesOf(answer);
    this.conn.write(answer);
    this.finishLog(status);
    this.conn.finish(close);
  }

  /**
   * On a listener that only redirects to HTTPS: the redirect built from the request's Host, or a 400 when it names
   * no host a URL can hold. No route, plugin or upstream; a body the request has is not read (the connection
   * closes after the answer, which says so).
   */
  redirectToHttps(redirect: HttpsRedirect): void {
    const close = this.conn.willClose;
    const answer = redirect.answer(this.head, this.requestId, close);
    if (answer === undefined) {
      this.conn.closeWhenIdle(); // a request that cannot be redirected closes its connection, as malformed ones do
      return this.answerError(400, "no host to redirect to");
    }
    this.status = redirect.status;
    this.conn.write(answer);
    this.finishLog(redirect.status);
    this.conn.finish(close);
  }

  private answerFailure(error: ProxyError): void {
    this.log.error = error.detail ? `${error.message} (${error.detail})` : error.message;
    this.answerError(error.status, error.message, error.status === 503 ? "retry-after: 1\r\n" : "");
  }

  internalError(error: unknown): void {
    console.error(`request ${this.requestId} failed:`, error);
    this.log.error = `internal error: ${(error as Error)?.message ?? error}`;
    this.call?.abort();
    this.release();
    if (this.status === 0 && this.out === Out.None && !this.clientGoneFlag) this.answerError(500, "internal gateway error");
    else this.cut("internal error", "internal-error");
  }

  private viaHono(): void {
    answerViaHono(this, this.services);
  }

  /**
   * A WebSocket (or other) upgrade that came through hono middleware and the route's beforeUpstream phase:
   * proxied as bytes from here, with the header fields the phase left (the same rules apply to them).
   */
  upgradeVia(route: ProxyRoute, pathAndQuery: string, headers: Headers): void {
    this.quiet = true; // hono's core middleware wrote the log line
    const fields: string[] = [];
    headers.forEach((value, name) => fields.push(name, value));
    this.head = { ...this.head, fields, source: undefined };
    this.conn.attach(this);
    this.route = route;
    this.log.pool = route.pool.name;
    this.pathAndQuery = pathAndQuery;
    this.proxy();
  }

  /** The routing view of the request, built on first use. */
  private view(): RequestView {
    if (this._view) return this._view;
    const head = this.head;
    const target = this.routingTarget;
    const q = target.indexOf("?");
    return (this._view = new RequestView(
      head.method,
      "http",
      head.host,
      q < 0 ? target : target.slice(0, q),
      q < 0 ? "" : target.slice(q),
      { get: (name) => headerValue(head, name) },
      head.pathAndQuery,
    ));
  }

  // ---- the log line ---------------------------------------------------------------------------------------

  /** The request no longer runs its snapshot's plugins: its answer is decided (once; later calls do nothing). */
  leaveSnapshot(): void {
    const use = this.use;
    if (!use) return;
    this.use = undefined;
    use.leave();
  }

  finishLog(status: number): void {
    this.leaveSnapshot();
    if (this.done) return;
    this.done = true;
    this.status = status;
    this.termination ??= terminationOf(status, false);
    this.trace?.end(status, this.log);
    if (!this.quiet) this.services.logged(this, status);
  }

  /** The proxy route the request went to (undefined before routing, or when it is not proxied on this path). */
  get proxyRoute(): ProxyRoute | undefined {
    return this.route;
  }

  /** The onLog hooks of the route that won (global plugins' first), once routed. */
  get logHooks(): readonly ((entry: LogEntry) => void)[] | undefined {
    return this.route?.logHooks;
  }

  /** The access-log entry of this request. */
  logEntry(status: number, durationMs: number): LogEntry {
    const head = this.head;
    const q = head.pathAndQuery.indexOf("?");
    return {
      time: new Date().toISOString(),
      requestId: this.requestId,
      clientIp: this.clientIp,
      method: head.method,
      host: head.host,
      path: q < 0 ? head.pathAndQuery : head.pathAndQuery.slice(0, q),
      query: q < 0 ? undefined : head.pathAndQuery.slice(q + 1),
      protocol: head.minor === 1 ? "HTTP/1.1" : "HTTP/1.0",
      status,
      durationMs: round2(durationMs),
      bytesIn: this.bytesIn,
      bytesOut: this.bytesOut,
      ...this.log,
      retries: this.attempts > 1 ? this.attempts - 1 : 0,
      termination: this.termination ?? terminationOf(status, false),
      userAgent: headerValue(head, "user-agent") ?? undefined,
      referer: headerValue(head, "referer") ?? undefined,
    };
  }

  /** Answer bytes written after the head (a gateway's own answer: its body). */
  get bytesOut(): number {
    return Math.max(0, this.sentBytes - this.headBytes);
  }
}

function round2(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** The body's length in a whole answer the gateway made (head and body in one buffer). */
function bodyBytesOf(answer: Uint8Array): number {
  for (let i = 3; i < answer.length; i++) {
    if (answer[i] === 10 && answer[i - 1] === 13 && answer[i - 2] === 10 && answer[i - 3] === 13) return answer.length - i - 1;
  }
  return 0;
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return [e?.code, e?.message].filter(Boolean).join(": ") || String(error);
}
