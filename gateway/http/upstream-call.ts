// One request on one borrowed upstream connection: the caller writes the request (head, then body with
// backpressure), this reads the answer strictly — 100 Continue swallowed, other 1xx passed on, the final head,
// then the body by its framing (Content-Length, chunked with trailers, or until the server closes) — and gives
// the connection back to the pool only when both messages ended cleanly. A reused connection that closes
// before any byte of the answer is reported as `stale` (the keep-alive race): the caller may retry it once.
import type { HeaderFields, HeadError, ResponseHead } from "./head.ts";
import { parseResponseHead } from "./response-parser.ts";
import { ChunkedDecoder } from "./chunked.ts";
import type { ConnectionUser, UpstreamConnection, UpstreamPool } from "./upstream-pool.ts";
import { ClosedBeforeAnswer, UpstreamFailure } from "../proxy/errors.ts";
import { headerValue } from "./head.ts";
import type { TcpSocket } from "../runtime/sockets.ts";
import type { Expiring } from "./deadlines.ts";

/** Largest response head accepted from a server when the pool sets no other (limits.maxResponseHeaderSize). */
const MAX_RESPONSE_HEAD = 64 * 1024;
const EMPTY = new Uint8Array(0);
/** The CRLF that closes a chunk's data. */
const DATA_END = new Uint8Array([13, 10]);

/** Where the answer goes. */
export interface ResponseSink {
  /** An informational answer other than 100 Continue (103 Early Hints, 102…). */
  informational(head: ResponseHead): void;
  /** The final head. After a 101 the caller takes the socket over (`takeSocket`). */
  responseHead(head: ResponseHead): void;
  /** Body bytes `bytes[start..end)`, valid only during the call. False: the client is full, call `resumeResponse` later. */
  responseBody(bytes: Uint8Array, start: number, end: number): boolean;
  /** The answer is complete; trailers of a chunked body, if any. */
  responseEnd(trailers: HeaderFields | undefined): void;
  /** The bytes of one read from the server have been handed on: a moment to write what they made. */
  responseFlush(): void;
  /**
   * The exchange failed. `stale`: a reused connection closed before any byte of the answer (safe to retry an
   * idempotent request on a new connection). `headSent`: the failure came after the final head.
   */
  upstreamFailed(failure: UpstreamFailure, stale: boolean, headSent: boolean): void;
}

const enum Body {
  None,
  Length,
  Chunked,
  UntilClose,
}

export class UpstreamCall implements ConnectionUser, Expiring {
  private pending: Uint8Array = EMPTY;
  private head: ResponseHead | undefined;
  private body = Body.None;
  private remaining = 0;
  private decoder: ChunkedDecoder | undefined;
  /** Any byte of the answer arrived. */
  private answered = false;
  private requestDone = false;
  private responseDone = false;
  private finished = false;
  private paused = false;
  /** The server sent bytes beyond its answer: the connection cannot be trusted for another request. */
  private outOfStep = false;
  /**
   * Hand on a chunked body with its framing as the server wrote it (validated by the decoder), instead of the
   * decoded data: the sink re-frames nothing, only writes the last chunk and its (filtered) trailers itself.
   */
  passFraming = false;
  /** Framing bytes not yet known to be anything but the start of the last chunk: held until data follows them. */
  private held: Uint8Array | undefined;
  private sawData = false;
  /** When the server's time to answer, or to send more of its answer, runs out (0: not waiting on it). */
  deadline = 0;
  /**
   * How long the body of the answer may stay silent once its head came (nginx's proxy_read_timeout): a server
   * that stalls mid-answer is cut instead of holding the client forever. The time a client takes to read does
   * not count: the clock stops while the answer is paused for it.
   */
  stallTimeout: number;
  /** Bytes after a 101 head: the tunnel's first. */
  leftover: Uint8Array = EMPTY;
  /** Called when the connection can take more request bytes. */
  onDrain: (() => void) | undefined;
  /** When the whole request had been written (Date.now(); 0 until then). */
  private sentAt = 0;
  /**
   * From the request written whole to the final head (or a 101), in whole ms: the server's time to answer, the
   * span `timeouts.response` bounds. 0 for an answer that came before the request was all sent. Read off the
   * clock readings the timeouts make anyway (a clock read costs about as much as all the counting of a request).
   */
  responseMs = 0;

  constructor(
    private readonly pool: UpstreamPool,
    readonly connection: UpstreamConnection,
    readonly reused: boolean,
    /** The request's method: HEAD answers have no body. */
    private readonly method: string,
    private readonly sink: ResponseSink,
    /** For messages: the server's id. */
    private readonly serverId: string,
    private readonly responseTimeout: number,
  ) {
    connection.user = this;
    connection.requests++;
    this.stallTimeout = responseTimeout;
  }

  // ---- the request side ----------------------------------------------------------------------------

  /** Write request bytes (the first `length` when given); false: wait for `onDrain`. Writes after the exchange ended are dropped. */
  write(bytes: Uint8Array, length?: number): boolean {
    if (this.finished || this.responseDone) return true;
    return this.connection.socket.write(bytes, length);
  }

  /** The whole request has been written: the server's time to answer starts now. */
  requestSent(): void {
    this.requestDone = true;
    if (this.responseDone) this.complete();
    // Until the final head: a 1xx or part of a head does not stop the clock (the server may stall after either).
    else if (this.head === undefined && !this.finished) {
      const now = Date.now();
      this.sentAt = now;
      this.deadline = now + this.responseTimeout;
      this.pool.timeouts.add(this);
    }
  }

  /** The client went away or the caller gave up: close the connection, report nothing more. */
  abort(): void {
    if (this.finished) return;
    this.finished = true;
    this.stopTimer();
    this.connection.discard();
  }

  pauseResponse(): void {
    if (!this.paused) {
      this.paused = true;
      this.connection.socket.pause();
      // Waiting for the client to read is not the server stalling.
      if (this.head !== undefined) this.stopTimer();
    }
  }

  resumeResponse(): void {
    if (this.paused) {
      this.paused = false;
      this.connection.socket.resume();
      if (this.head !== undefined && !this.responseDone && !this.finished) this.watchStall();
    }
  }

  /** After a 101: the socket leaves the pool for good; its later events go to the new owner. */
  takeSocket(): TcpSocket {
    this.finished = true;
    this.stopTimer();
    this.connection.handOver();
    this.connection.user = undefined;
    return this.connection.socket;
  }

  // ---- the connection's events ---------------------------------------------------------------------------

  data(chunk: Uint8Array): void {
    if (this.finished) return;
    if (this.reading) {
      // Arrived while an earlier read is still being handled (a write to the client can run its drain, which
      // resumes this socket, which reads): the decoder is mid-step, so this waits its turn, in order.
      (this.backlog ??= []).push(chunk.slice());
      return;
    }
    this.reading = true;
    this.read(chunk);
    while (this.backlog !== undefined && this.backlog.length > 0 && !this.finished) this.read(this.backlog.shift()!);
    this.reading = false;
  }
  /** Inside `data`: reads that arrive now wait in `backlog`. */
  private reading = false;
  private backlog: Uint8Array[] | undefined;

  private read(chunk: Uint8Array): void {
    this.answered = true;
    if (this.head === undefined) {
      const bytes = this.pending.length === 0 ? chunk : concat(this.pending, chunk);
      this.pending = EMPTY;
      this.readHeads(bytes, bytes !== chunk);
    } else {
      if (this.deadline !== 0) this.deadline = Date.now() + this.stallTimeout;
      this.readBody(chunk, 0);
    }
    if (!this.finished && !this.responseDone && this.head !== undefined) this.sink.responseFlush();
  }

  drain(): void {
    this.onDrain?.();
  }

  end(): void {
    this.closed(undefined);
  }

  close(error?: Error): void {
    this.closed(error);
  }

  private closed(error: Error | undefined): void {
    if (this.finished) return;
    if (this.head !== undefined && this.body === Body.UntilClose) {
      this.responseDone = true;
      this.finished = true;
      this.stopTimer();
      this.connection.discard();
      this.sink.responseEnd(undefined);
      return;
    }
    const why = error ? `${(error as { code?: string }).code ?? error.message}` : "closed the connection";
    if (!this.answered) {
      this.fail(new ClosedBeforeAnswer(`${this.serverId} ${why} before answering`), this.reused);
    } else {
      this.fail(new UpstreamFailure("bad-response", `${this.serverId} ${why} in the middle of its answer`), false);
    }
  }

  expire(): void {
    this.stopTimer();
    if (this.finished || this.responseDone) return;
    if (this.head === undefined) this.fail(new UpstreamFailure("timeout", `${this.serverId} did not answer within ${this.responseTimeout}ms`), false);
    else this.fail(new UpstreamFailure("timeout", `${this.serverId} sent nothing for ${this.stallTimeout}ms in the middle of its answer`), false);
  }

  private fail(failure: UpstreamFailure, stale: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.stopTimer();
    this.connection.discard();
    this.sink.upstreamFailed(failure, stale, this.head !== undefined);
  }

  /** Parse heads from `bytes` (1xx first, then the final one), then hand what follows to the body. */
  private readHeads(bytes: Uint8Array, owned: boolean): void {
    let offset = 0;
    for (;;) {
      const view = offset === 0 ? bytes : bytes.subarray(offset);
      const parsed = parseResponseHead(view, this.pool.options.maxResponseHead ?? MAX_RESPONSE_HEAD);
      if (parsed === undefined) {
        if (view.length > 0) this.pending = owned ? view : view.slice();
        return;
      }
      if ((parsed as HeadError).error) {
        this.fail(new UpstreamFailure("bad-response", `${this.serverId} sent an invalid response head: ${(parsed as HeadError).message}`), false);
        return;
      }
      const head = parsed as ResponseHead;
      offset += head.headBytes;
      if (head.status === 101) {
        this.stopTimer();
        if (this.sentAt > 0) this.responseMs = Date.now() - this.sentAt;
        this.head = head;
        this.leftover = offset < bytes.length ? bytes.slice(offset) : EMPTY;
        this.sink.responseHead(head);
        return;
      }
      if (head.status < 200) {
        if (head.status !== 100) this.sink.informational(head);
        if (offset >= bytes.length) return;
        continue;
      }
      this.finalHead(head);
      if (this.finished) return;
      if (offset < bytes.length) this.readBody(bytes, offset);
      return;
    }
  }

  private finalHead(head: ResponseHead): void {
    // From here the clock watches the body's silence (stopped when the answer ends).
    const now = this.watchStall();
    if (this.sentAt > 0) this.responseMs = now - this.sentAt;
    this.head = head;
    if (head.status === 204 || head.status === 304 || this.method === "HEAD") this.body = Body.None;
    else if (head.chunked) {
      this.body = Body.Chunked;
      this.decoder = new ChunkedDecoder();
    } else if (head.contentLength >= 0) {
      this.body = Body.Length;
      this.remaining = head.contentLength;
    } else this.body = Body.UntilClose;
    // Servers that announce a keep-alive timeout say so in Connection too; others are not searched for one.
    const hint = head.connectionTokens?.includes("keep-alive") ? headerValue(head, "keep-alive") : null;
    if (hint !== null) {
      const m = /timeout=(\d+)/i.exec(hint);
      if (m) this.connection.keepAliveHint = Number(m[1]) * 1000;
    }
    this.sink.responseHead(head);
    if (this.finished) return;
    if (this.body === Body.None || (this.body === Body.Length && this.remaining === 0)) this.responseEnded(undefined);
  }

  private readBody(bytes: Uint8Array, offset: number): void {
    if (this.responseDone) {
      // Bytes beyond the announced answer: the connection is out of step, never reuse it.
      this.connection.discard();
      return;
    }
    switch (this.body) {
      case Body.Length: {
        const n = Math.min(this.remaining, bytes.length - offset);
        this.remaining -= n;
        const more = n === 0 || this.sink.responseBody(bytes, offset, offset + n);
        if (!more) this.pauseResponse();
        if (this.remaining === 0) {
          if (offset + n < bytes.length) this.outOfStep = true;
          this.responseEnded(undefined);
        }
        return;
      }
      case Body.Chunked: {
        const decoder = this.decoder!;
        const next = this.passFraming
          ? this.passChunked(decoder, bytes, offset)
          : decoder.push(bytes, offset, bytes.length, (data) => {
              if (!this.sink.responseBody(data, 0, data.length)) this.pauseResponse();
            });
        if (next < 0) {
          this.fail(new UpstreamFailure("bad-response", `${this.serverId} sent an invalid chunked body: ${decoder.error}`), false);
          return;
        }
        if (decoder.done) {
          if (next < bytes.length) this.outOfStep = true;
          this.responseEnded(decoder.trailers.length > 0 ? decoder.trailers : undefined);
        }
        return;
      }
      case Body.UntilClose: {
        if (offset < bytes.length && !this.sink.responseBody(bytes, offset, bytes.length)) this.pauseResponse();
        return;
      }
      default:
        this.connection.discard();
    }
  }

  /**
   * Decode `bytes[offset..]` and hand on the raw bytes up to the end of each data run: framing is passed on only
   * once data follows it, since until then it may be the last chunk, which the sink writes itself. At the end,
   * the CRLF closing the last data (if any) goes on; the last chunk and trailers do not.
   */
  private passChunked(decoder: ChunkedDecoder, bytes: Uint8Array, offset: number): number {
    const base = bytes.byteOffset;
    let forwarded = offset;
    const next = decoder.push(bytes, offset, bytes.length, (data) => {
      const dataEnd = data.byteOffset - base + data.length;
      let more = true;
      if (this.held !== undefined) {
        more = this.sink.responseBody(this.held, 0, this.held.length);
        this.held = undefined;
      }
      more = this.sink.responseBody(bytes, forwarded, dataEnd) && more;
      forwarded = dataEnd;
      this.sawData = true;
      if (!more) this.pauseResponse();
    });
    if (next < 0) return next;
    if (decoder.done) {
      this.held = undefined;
      if (this.sawData) this.sink.responseBody(DATA_END, 0, 2);
    } else if (forwarded < next) {
      const tail = bytes.slice(forwarded, next);
      const held = this.held === undefined ? tail : concat(this.held, tail);
      // Framing whose size line already has a digit other than 0 opens a data chunk, never the last one: on at once
      // (the next read then starts with data and goes on without being copied).
      if (mayStartLastChunk(held, this.sawData)) this.held = held;
      else {
        this.held = undefined;
        if (!this.sink.responseBody(held, 0, held.length)) this.pauseResponse();
      }
    }
    return next;
  }

  private responseEnded(trailers: HeaderFields | undefined): void {
    this.responseDone = true;
    if (this.requestDone) this.complete();
    else {
      // The server answered before the request was all sent: the rest will not be sent, so no reuse.
      this.finished = true;
      this.stopTimer();
      this.connection.discard();
    }
    this.sink.responseEnd(trailers);
  }

  /** Returns the time it read. */
  private watchStall(): number {
    const now = Date.now();
    this.deadline = now + this.stallTimeout;
    this.pool.timeouts.add(this);
    return now;
  }

  private stopTimer(): void {
    if (this.deadline !== 0) {
      this.deadline = 0;
      this.pool.timeouts.delete(this);
    }
  }

  /** Both messages are complete: back to the pool when the server allows it. */
  private complete(): void {
    this.finished = true;
    this.stopTimer();
    if (this.paused) this.connection.socket.resume();
    const reusable = !this.head!.close && !this.outOfStep;
    if (reusable) this.pool.release(this.connection);
    else this.connection.discard();
  }
}

/**
 * Whether framing bytes (after the last data, if any: its CRLF first) may still turn out to be the last chunk:
 * true until the size line shows a digit other than 0.
 */
function mayStartLastChunk(framing: Uint8Array, afterData: boolean): boolean {
  let i = afterData ? 2 : 0;
  for (; i < framing.length; i++) {
    const byte = framing[i]!;
    if (byte === 0x30) continue; // "0"
    const hex = (byte >= 0x31 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x46) || (byte >= 0x61 && byte <= 0x66);
    return !hex;
  }
  return true;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const joined = new Uint8Array(a.length + b.length);
  joined.set(a);
  joined.set(b, a.length);
  return joined;
}
