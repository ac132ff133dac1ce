// One client connection of an HTTP listener: bytes in, request heads parsed strictly, bodies handed to the
// exchange with backpressure, keep-alive and pipelining (requests answered one at a time, in order: later
// ones wait in the buffer), `Expect: 100-continue`, and the timeouts that keep slow clients from holding a
// connection forever: the header timeout (a total for each head), the keep-alive idle timeout, the body
// timeout (a body must keep arriving) and the send timeout (the client must keep reading its answer).
// Knows nothing of routing or proxying: each request head goes to `onRequest`, which answers through
// `write` and says when it is done with `finish`.
import type { TcpHandlers, TcpSocket } from "../runtime/sockets.ts";
import type { HeaderFields, HeadError, RequestHead, RequestLimits } from "./head.ts";
import { parseRequestHead } from "./request-parser.ts";
import { ChunkedDecoder } from "./chunked.ts";
import type { Deadlines, Expiring } from "./deadlines.ts";
import { errorAnswer } from "./response-writer.ts";
import { requestIdFor } from "../proxy/headers.ts";
import type { AnswerFields } from "./answer-fields.ts";
import { Buffer } from "node:buffer";

/** Why a request body could not be read to its end: the answer the client is owed (or 499: it went away). */
export interface BodyFailure {
  status: number;
  message: string;
}

/** Where the bytes of a request body go. */
export interface BodySink {
  /** Body bytes, valid only during the call. False: stop until `resumeBody()`. */
  data(chunk: Uint8Array): boolean;
  /** The body ended; trailers of a chunked body, if it had any. */
  end(trailers: HeaderFields | undefined): void;
  fail(failure: BodyFailure): void;
}

/** What the connection tells the exchange in progress. */
export interface ExchangeEvents {
  /** Everything written so far has been flushed: write more. */
  drain(): void;
  /** The client closed the connection (or it broke) before the exchange finished. */
  clientGone(): void;
}

/** What a tunnel (after a 101) receives once it has taken the connection over. */
export type TunnelHandlers = TcpHandlers;

export interface DownstreamOptions {
  limits: RequestLimits;
  maxBodySize: number;
  /** How long a client may take to send a whole request head, from its first byte (or from accept) (ms). */
  headerTimeout: number;
  /** How long a connection may sit idle between requests (ms). */
  idleTimeout: number;
  /**
   * How long a request body may take to deliver its next BODY_PROGRESS_BYTES (all of it, when smaller): a body
   * that stalls or trickles slower is answered 408 (ms; default 30 s). Time while the gateway itself is not
   * reading (backpressure from the upstream) does not count.
   */
  bodyTimeout?: number;
  /** How long the client may leave its answer unread: no byte of what waits for it sent in that time cuts it (ms; default 60 s). */
  sendTimeout?: number;
  deadlines: Deadlines;
  /** What every answer on the connection carries (an HTTPS listener's Strict-Transport-Security). */
  answerFields?: AnswerFields;
  /** A request head arrived and passed every check. The handler answers through the connection. */
  onRequest(connection: DownstreamConnection, head: RequestHead): void;
  /** Called once when the connection is gone. */
  onClose(connection: DownstreamConnection): void;
  /** A request was refused before it had a head to answer (malformed, too large, too slow): counted and logged. */
  onRefused?(connection: DownstreamConnection, status: number, message: string, requestId: string): void;
}

const enum State {
  Head,
  Body,
  /** The request is read (or being answered without its body): later bytes wait for the answer to end. */
  Waiting,
  Closed,
}

/** Buffered bytes of not-yet-wanted input (a body before its sink, pipelined requests) above which reading pauses. */
const BUFFER_PAUSE = 64 * 1024;
/** How long a closed connection keeps reading (and dropping) what the client still sends. */
const LINGER_MS = 2_000;
/** How long an idle keep-alive connection is left open once the gateway drains (see closeWhenIdle). */
const DRAIN_IDLE_MS = 1_000;
/**
 * Body bytes that restart the body timeout: a body must deliver this much (or all of itself) within each
 * bodyTimeout. A per-read timeout alone (nginx's client_body_timeout) lets a client trickle one byte just
 * inside it forever; a total one (HAProxy's timeout http-request) cuts large uploads on slow links.
 */
const BODY_PROGRESS_BYTES = 64 * 1024;
const DEFAULT_BODY_TIMEOUT = 30_000;
const DEFAULT_SEND_TIMEOUT = 60_000;
const CONTINUE = new TextEncoder().encode("HTTP/1.1 100 Continue\r\n\r\n");
const EMPTY = new Uint8Array(0);
const LF = 0x0a;

export class DownstreamConnection implements TcpHandlers, Expiring {
  private state = State.Head;
  /** Input not consumed yet, owned by this connection (runtime chunks are copied before they are kept). */
  private buffer: Uint8Array = EMPTY;
  private head: RequestHead | undefined;
  private events: ExchangeEvents | undefined;
  private sink: BodySink | undefined;
  private bodyPaused = false;
  private bodyRemaining = 0;
  private decoder: ChunkedDecoder | undefined;
  private bodyDone = true;
  private continueSent = false;
  /** Reading paused for our own reasons (too much buffered). */
  private readPaused = false;
  /** The client sent FIN: answer what is in progress, then close. */
  private peerEnded = false;
  /** Close after the current answer (Connection: close, shutdown, a broken request). */
  private closeAfter = false;
  private tunnel: TunnelHandlers | undefined;
  /** Requests served on this connection. */
  requests = 0;
  /** Bytes of an incomplete head already scanned (0: none pending). */
  private scannedHead = 0;
  /** The most a head can take within the limits (request line, header section, a little slack). */
  private readonly maxHeadBytes: number;
  private readonly bodyTimeout: number;
  private readonly sendTimeout: number;
  /** The listener's fields for every answer (undefined on plain HTTP listeners). */
  readonly answerFields: AnswerFields | undefined;

  // ---- the deadlines (see `expire`) ----
  /** When the wait for the client's bytes ends: a head, the next request, more body (0: not waiting). */
  private readDeadline: number;
  /** Idle between requests: the first byte of the next head starts its header timeout. */
  private betweenRequests = false;
  /** Body bytes since the body timeout last restarted. */
  private bodyProgress = 0;
  /** When the client must have taken more of its answer (0: nothing waits for it). */
  private sendDeadline = 0;
  /** Bytes the socket still held when the send deadline was last set: fewer later means the client reads. */
  private sendMark = 0;

  constructor(
    readonly socket: TcpSocket,
    private readonly options: DownstreamOptions,
  ) {
    this.maxHeadBytes = options.limits.maxUriLength + options.limits.maxHeaderSize + 1024;
    this.bodyTimeout = options.bodyTimeout ?? DEFAULT_BODY_TIMEOUT;
    this.sendTimeout = options.sendTimeout ?? DEFAULT_SEND_TIMEOUT;
    this.clientAddress = socket.remoteAddress;
    this.clientPort = socket.remotePort;
    this.answerFields = options.answerFields;
    this.readDeadline = Date.now() + options.headerTimeout;
    options.deadlines.add(this);
  }

  /** The earlier of the two deadlines, for the sweep (0: none). */
  get deadline(): number {
    const read = this.readDeadline;
    const send = this.sendDeadline;
    return read === 0 ? send : send === 0 || read < send ? read : send;
  }

  /** Read once: the runtime makes a new string each time it is asked. */
  readonly clientAddress: string;
  readonly clientPort: number;
  /** Between requests with nothing buffered: safe to close without cutting anyone off. */
  get idle(): boolean {
    return this.state === State.Head && this.events === undefined && this.buffer.length === 0;
  }

  // ---- the runtime's events -------------------------------------------------------------------------

  data(chunk: Uint8Array): void {
    if (this.tunnel) return this.tunnel.data(chunk);
    if (this.state === State.Closed) return;
    if (this.lingering) return;
    if (this.betweenRequests) {
      // The next head begins: from its first byte it has headerTimeout in all (keep-alive idle time is not its).
      this.betweenRequests = false;
      this.readDeadline = Date.now() + this.options.headerTimeout;
    }
    if (this.processing) {
      // A read that arrives while an earlier one is being handled (a write upstream can run its drain, which
      // resumes this socket, which reads) waits its turn: bytes are handled in the order they came.
      (this.backlog ??= []).push(chunk.slice());
      return;
    }
    if (this.buffer.length > 0) {
      const joined = new Uint8Array(this.buffer.length + chunk.length);
      joined.set(this.buffer);
      joined.set(chunk, this.buffer.length);
      this.buffer = EMPTY;
      this.process(joined, true);
    } else this.process(chunk, false);
  }

  drain(): void {
    if (this.tunnel) return this.tunnel.drain();
    const wasFull = this.full;
    this.full = false;
    this.sendDeadline = 0;
    this.events?.drain();
    // Pipelined requests waited for the client to take the answers before theirs.
    if (wasFull && this.events === undefined && this.state === State.Head) {
      this.waitForNextRequest();
      this.resumeReading();
    }
  }

  end(): void {
    if (this.tunnel) return this.tunnel.end();
    if (this.lingering) return this.socket.destroy();
    this.peerEnded = true;
    if (this.state === State.Body && !this.bodyDone) {
      this.bodyFailed({ status: 400, message: "request body cut short" }, true);
      return;
    }
    // Between requests or mid-head, nothing is owed. A client that closes its side while its answer is pending
    // has gone away, as nginx reads it (proxy_ignore_client_abort off): the exchange ends and its upstream
    // connection with it, rather than the server's work going to a client that will not read it.
    this.closeNow(false);
  }

  close(error?: Error): void {
    if (this.state === State.Closed) return;
    this.state = State.Closed;
    this.readDeadline = this.sendDeadline = 0;
    this.options.deadlines.delete(this);
    if (this.tunnel) {
      this.tunnel.close(error);
      this.options.onClose(this);
      return;
    }
    const events = this.events;
    this.events = undefined;
    const sink = this.sink;
    this.sink = undefined;
    if (sink && !this.bodyDone) sink.fail({ status: 499, message: "client went away" });
    events?.clientGone();
    this.options.onClose(this);
  }

  expire(now: number): void {
    if (this.sendDeadline !== 0 && this.sendDeadline <= now) {
      const pending = this.socket.pendingBytes;
      if (pending !== undefined && pending < this.sendMark) {
        // Slowly, but the client reads: as nginx's send_timeout, only a wait with no progress at all counts.
        this.sendMark = pending;
        this.sendDeadline = now + this.sendTimeout;
      } else {
        // The client takes nothing: the answer (and, through clientGone, its upstream connection) ends here.
        this.closeNow(false);
        return;
      }
    }
    if (this.readDeadline === 0 || this.readDeadline > now) return;
    this.readDeadline = 0;
    if (this.state === State.Head && this.events === undefined) {
      // Idle keep-alive connections just close; a head that never completed (slowloris) gets its 408.
      if (this.buffer.length === 0) this.closeNow(false);
      else this.refuse(408, "request header timeout");
    } else if (this.state === State.Body && !this.bodyDone) {
      // While the gateway itself holds the body back, the client is not late.
      if (this.readPaused) this.restartBodyClock(now);
      else this.bodyFailed({ status: 408, message: "request body timeout" }, false);
    }
  }

  // ---- parsing ----------------------------------------------------------------------------------------

  /** Inside `process`: reads that arrive now wait in `backlog`, and a resume only clears the pause. */
  private processing = false;
  private backlog: Uint8Array[] | undefined;

  /** Consume what can be consumed of `bytes`; keep the rest. `owned`: `bytes` is ours to keep without copying. */
  private process(bytes: Uint8Array, owned: boolean): void {
    this.processing = true;
    try {
      this.consume(bytes, owned);
    } finally {
      this.processing = false;
    }
    const backlog = this.backlog;
    if (backlog !== undefined && backlog.length > 0 && this.state !== State.Closed) {
      this.backlog = undefined;
      const parts = this.buffer.length > 0 ? [this.buffer, ...backlog] : backlog;
      this.buffer = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      this.resumeReading();
    }
  }

  private consume(bytes: Uint8Array, owned: boolean): void {
    let offset = 0;
    while (offset < bytes.length && this.state !== State.Closed && !this.tunnel) {
      if (this.state === State.Head) {
        // Still answering the previous request, or its answer is not taken yet (a client that pipelines and does
        // not read must not make the gateway queue every answer): wait.
        if (this.events !== undefined || this.full) break;
        const view = offset === 0 ? bytes : bytes.subarray(offset);
        // A head can only complete (or break a rule a line at a time) once another LF arrives: a client trickling
        // bytes is not re-scanned for each one (slowloris costs CPU otherwise), until the limits are in reach.
        if (this.scannedHead > 0 && view.length < this.maxHeadBytes && view.indexOf(LF, this.scannedHead) < 0) {
          this.scannedHead = view.length;
          break;
        }
        const parsed = parseRequestHead(view, this.options.limits);
        if (parsed === undefined) {
          this.scannedHead = view.length;
          break;
        }
        this.scannedHead = 0;
        if ((parsed as HeadError).error) {
          this.refuse((parsed as HeadError).status, (parsed as HeadError).message, view);
          return;
        }
        const head = parsed as RequestHead;
        offset += head.headBytes;
        this.begin(head);
      } else if (this.state === State.Body) {
        if (this.sink === undefined || this.bodyPaused) break;
        offset = this.feedBody(bytes, offset);
      } else break;
    }
    if (this.state === State.Closed || this.tunnel) {
      if (this.tunnel && offset < bytes.length) this.tunnel.data(bytes.subarray(offset));
      return;
    }
    if (offset < bytes.length) {
      this.buffer = owned ? bytes.subarray(offset) : bytes.slice(offset);
      if (this.buffer.length > BUFFER_PAUSE && !this.readPaused) {
        // A head still incomplete past every limit was refused by the parser; this is a body or pipelined input.
        this.readPaused = true;
        this.socket.pause();
      }
    } else if (this.readPaused && this.sink !== undefined && !this.bodyPaused) this.resumeSocket();
  }

  private begin(head: RequestHead): void {
    this.head = head;
    this.requests++;
    this.continueSent = false;
    this.closeAfter = head.close || this.closeAfter;
    const hasBody = head.chunked || head.contentLength > 0;
    this.bodyDone = !hasBody;
    this.bodyRemaining = head.contentLength > 0 ? head.contentLength : 0;
    this.decoder = head.chunked ? new ChunkedDecoder() : undefined;
    this.state = hasBody ? State.Body : State.Waiting;
    // The answer's own timeouts govern from here; a body that stalls or trickles is caught by the body timeout.
    if (hasBody) this.restartBodyClock(Date.now());
    else this.readDeadline = 0;
    this.events = NO_EVENTS; // marks "an exchange is in progress" until the handler installs its own
    this.options.onRequest(this, head);
  }

  /** Pass body bytes from `bytes[offset..]` to the sink; returns the new offset. */
  private feedBody(bytes: Uint8Array, offset: number): number {
    if (this.decoder === undefined) {
      const n = Math.min(this.bodyRemaining, bytes.length - offset);
      this.bodyRemaining -= n;
      this.bodyProgressed(n);
      const more = this.sink!.data(offset === 0 && n === bytes.length ? bytes : bytes.subarray(offset, offset + n));
      if (!more) this.pauseBody();
      if (this.bodyRemaining === 0) this.bodyEnded(undefined);
      return offset + n;
    }
    const decoder = this.decoder;
    const sink = this.sink!;
    const max = this.options.maxBodySize;
    let over = false;
    const next = decoder.push(bytes, offset, bytes.length, (data) => {
      // Nothing past the limit is handed on, not even the rest of the chunk that crossed it.
      if (over || decoder.bodyBytes > max) {
        over = true;
        return;
      }
      if (!sink.data(data)) this.pauseBody();
    });
    if (next < 0) {
      this.bodyFailed({ status: 400, message: `invalid chunked body: ${decoder.error}` }, true);
      return bytes.length;
    }
    this.bodyProgressed(next - offset);
    if (over || decoder.bodyBytes > max) {
      this.bodyFailed({ status: 413, message: "request body too large" }, true);
      return bytes.length;
    }
    if (decoder.done) this.bodyEnded(decoder.trailers.length > 0 ? decoder.trailers : undefined);
    return next;
  }

  /** `n` more body bytes arrived: each BODY_PROGRESS_BYTES of them earn the body another bodyTimeout. */
  private bodyProgressed(n: number): void {
    this.bodyProgress += n;
    if (this.bodyProgress >= BODY_PROGRESS_BYTES) this.restartBodyClock(Date.now());
  }

  private restartBodyClock(now: number): void {
    this.bodyProgress = 0;
    this.readDeadline = now + this.bodyTimeout;
  }

  private bodyEnded(trailers: HeaderFields | undefined): void {
    this.bodyDone = true;
    this.state = State.Waiting;
    this.readDeadline = 0;
    const sink = this.sink!;
    this.sink = undefined;
    sink.end(trailers);
  }

  /** The body cannot be read to its end: the connection closes after the answer (`cut`: nothing more is read at all). */
  private bodyFailed(failure: BodyFailure, cut: boolean): void {
    this.bodyDone = true;
    this.closeAfter = true;
    this.state = State.Waiting;
    this.readDeadline = 0;
    if (cut) this.buffer = EMPTY;
    const sink = this.sink;
    this.sink = undefined;
    if (sink) sink.fail(failure);
    else this.bodyFailure = failure;
  }
  /** A body failure that came before anyone asked for the body: told to the sink when it arrives. */
  private bodyFailure: BodyFailure | undefined;

  // ---- what the exchange calls ------------------------------------------------------------------------

  /** The exchange in progress installs its event handlers. */
  attach(events: ExchangeEvents): void {
    this.events = events;
  }

  /** Start delivering the request body to `sink` (answers `100 Continue` first when the client waits for it). */
  readBody(sink: BodySink): void {
    if (this.bodyFailure) {
      const failure = this.bodyFailure;
      this.bodyFailure = undefined;
      sink.fail(failure);
      return;
    }
    if (this.bodyDone) {
      sink.end(undefined);
      return;
    }
    this.sink = sink;
    this.bodyPaused = false;
    if (this.head?.expectContinue && !this.continueSent && this.buffer.length === 0) {
      this.continueSent = true;
      this.socket.write(CONTINUE);
    }
    this.resumeReading();
  }

  pauseBody(): void {
    if (this.bodyPaused) return;
    this.bodyPaused = true;
    if (!this.readPaused) {
      this.readPaused = true;
      this.socket.pause();
    }
  }

  resumeBody(): void {
    if (!this.bodyPaused) return;
    this.bodyPaused = false;
    this.resumeReading();
  }

  private resumeReading(): void {
    // Within `process` the loop itself goes on once the pause is lifted.
    if (this.processing) return;
    if (this.buffer.length > 0) {
      const pending = this.buffer;
      this.buffer = EMPTY;
      this.process(pending, true);
    }
    if (this.readPaused && !this.bodyPaused && this.buffer.length <= BUFFER_PAUSE && this.state !== State.Closed) this.resumeSocket();
  }

  /** Read again after a pause of ours. A body's clock starts afresh: the time it was held back was not the client's. */
  private resumeSocket(): void {
    this.readPaused = false;
    if (this.state === State.Body && !this.bodyDone) this.restartBodyClock(Date.now());
    this.socket.resume();
  }

  /** Whether the request body has been read to its end. */
  get bodyComplete(): boolean {
    return this.bodyDone;
  }

  /** Write `bytes` (its first `length` bytes when given). */
  write(bytes: Uint8Array, length?: number): boolean {
    const taken = this.socket.write(bytes, length);
    if (!taken) {
      // From the first write the socket could not take, the client has sendTimeout to read some of it.
      if (!this.full) this.sendDeadline = Date.now() + this.sendTimeout;
      this.full = true;
      this.sendMark = this.socket.pendingBytes ?? 0;
    }
    return taken;
  }
  /** The socket holds bytes it could not send yet (until `drain`). */
  private full = false;

  /** The answer went out whole: close, or go on with the next request. `close`: the answer said it closes. */
  finish(close: boolean): void {
    if (this.state === State.Closed) return;
    this.events = undefined;
    this.head = undefined;
    if (close || this.closeAfter || this.peerEnded || !this.bodyDone) {
      // A body left unread cannot be skipped safely: close instead of guessing where the next request starts.
      this.closeNow(true);
      return;
    }
    this.state = State.Head;
    this.sink = undefined;
    if (this.full) {
      // The next request waits for the client to take this answer: the send timeout governs until drain.
      this.readDeadline = 0;
      return;
    }
    this.waitForNextRequest();
    if (this.buffer.length > 0) queueMicrotask(() => this.resumeReading());
    else if (this.readPaused) this.resumeSocket();
  }

  /** Between requests: a pipelined head already begun has headerTimeout; an empty connection is idle until its next byte. */
  private waitForNextRequest(): void {
    const pipelined = this.buffer.length > 0;
    this.betweenRequests = !pipelined;
    this.readDeadline = Date.now() + (pipelined ? this.options.headerTimeout : this.options.idleTimeout);
  }

  /** Whether the answer being written must tell the client the connection closes. */
  get willClose(): boolean {
    return this.closeAfter || this.peerEnded || !this.bodyDone;
  }

  /**
   * Answer no more requests on this connection (shutdown): busy → closed after its answer (which says
   * `Connection: close`); idle → closed unless a request comes within DRAIN_IDLE_MS. A connection that has just
   * been answered is idle, but its client may be sending the next request on it this very moment: closing it at
   * once would lose that request (the keep-alive race). Within the grace it is answered, and closes the connection.
   */
  closeWhenIdle(): void {
    this.closeAfter = true;
    if (!this.idle) return;
    setTimeout(() => {
      if (this.idle) this.closeNow(false);
    }, DRAIN_IDLE_MS);
  }

  /** Hand the connection to a tunnel (after a 101): every later event goes to `handlers`; buffered input is passed on. */
  takeOver(handlers: TunnelHandlers): void {
    this.tunnel = handlers;
    this.options.deadlines.delete(this);
    this.events = undefined;
    if (this.readPaused) this.resumeSocket();
    const pending = this.buffer;
    this.buffer = EMPTY;
    if (pending.length > 0) handlers.data(pending);
  }

  /** Refuse what the client sent with a JSON error, then close. */
  refuse(status: number, message: string, input: Uint8Array = this.buffer): void {
    this.closeAfter = true;
    this.buffer = EMPTY;
    const requestId = requestIdIn(input);
    this.socket.write(errorAnswer(status, message, requestId, true, this.head?.method === "HEAD", this.answerFields?.lines));
    this.closeNow(true);
    this.options.onRefused?.(this, status, message, requestId);
  }

  /**
   * Close: `graceful` lets queued bytes out first. A client may still be sending (a body we refused): closing
   * with unread input makes the kernel reset the connection, and the client may lose our answer. So, like
   * nginx's lingering close, only our side is shut, and what still comes is read and dropped until the client
   * closes too or LINGER_MS pass.
   */
  closeNow(graceful: boolean): void {
    if (this.state === State.Closed) return;
    if (graceful && !this.peerEnded && !this.tunnel) {
      this.lingering = true;
      this.socket.shutdown();
      if (this.readPaused) this.socket.resume();
      const socket = this.socket;
      const sendTimeout = this.sendTimeout;
      setTimeout(() => closeAfterLinger(socket, sendTimeout), LINGER_MS);
    } else if (graceful) this.socket.end();
    else this.socket.destroy();
    // The runtime's close event does the bookkeeping; a socket already gone may not send one, so do it here too.
    this.close();
  }
  /** Our side is shut; the client's bytes are dropped until it closes. */
  private lingering = false;
}

const NO_EVENTS: ExchangeEvents = { drain() {}, clientGone() {} };

/**
 * The end of a lingering close: a normal close once the socket's own queue is out, so that the kernel still sends
 * a slow reader what it holds of the answer (a reset would throw that away; the input, drained while lingering,
 * no longer turns the close into one). A client whose queue does not shrink for `sendTimeout` is reset.
 */
function closeAfterLinger(socket: TcpSocket, sendTimeout: number): void {
  socket.end();
  let pending = socket.pendingBytes ?? 0;
  let stalledFor = 0;
  const watch = () => {
    const now = socket.pendingBytes ?? 0;
    if (now === 0) return;
    stalledFor = now < pending ? 0 : stalledFor + LINGER_MS;
    pending = now;
    if (stalledFor >= sendTimeout) socket.destroy();
    else setTimeout(watch, LINGER_MS);
  };
  if (pending > 0) setTimeout(watch, LINGER_MS);
}

/** Bytes of a refused head searched for the client's X-Request-Id, so that even a refusal carries it. */
const ID_SEARCH_BYTES = 64 * 1024;

/** The client's X-Request-Id in a head that could not be parsed (when it has a sane one), else a new id. */
function requestIdIn(input: Uint8Array): string {
  const text = Buffer.from(input.buffer, input.byteOffset, Math.min(input.length, ID_SEARCH_BYTES)).toString("latin1");
  const found = /\r\nx-request-id:[ \t]*([^\r\n]*?)[ \t]*\r\n/i.exec(text);
  return requestIdFor(found ? found[1]! : null);
}
