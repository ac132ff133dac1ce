// The upstream client in fetch's shape, for the hono path (routes whose plugins work on Request/Response
// objects): the same pooled connections, strict response parsing and stale-connection retry as the byte
// path, but the answer comes back as a Response whose body streams with backpressure. Unlike fetch it adds
// no header of its own, keeps Content-Length as given, and has a real connect timeout.
import type { HeaderFields, ResponseHead } from "./head.ts";
import { UpstreamCall, type ResponseSink } from "./upstream-call.ts";
import type { UpstreamAddress, UpstreamPool } from "./upstream-pool.ts";
import { chunkHead, CHUNK_END, lastChunk } from "./chunked.ts";
import { bodylessStatus, latin1 } from "./response-writer.ts";
import { UpstreamFailure } from "../proxy/errors.ts";

export interface PooledRequest {
  method: string;
  pathAndQuery: string;
  /** Sent as given (Host included), in this order; Content-Length decides the framing of `body`. */
  headers: Headers;
  body: ReadableStream<Uint8Array> | null;
  signal: AbortSignal;
  connectTimeout: number;
  /** How long the answer's body may stay silent once its head came (UpstreamCall.stallTimeout); default: no limit. */
  stallTimeout?: number;
  /** Filled in with what the call learnt of its tries (for /metrics and the access log). */
  timing?: PooledTiming;
}

/** What one pooledFetch learnt: tries (2 when a stale pooled connection was retried), connecting, answering. */
export interface PooledTiming {
  tries: number;
  /** The last try used an idle pooled connection. */
  reused: boolean;
  /** How long connecting took (ms): 0 for a reused connection, undefined when none was made. */
  connectMs: number | undefined;
  /** From the request sent whole to the answer's head (ms). */
  responseMs: number;
}

export interface Address extends UpstreamAddress {
  readonly id: string;
}

const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"]);
/** The caller runs the response timeout (through `signal`): the call's own timer only backstops. */
const NO_TIMEOUT = 2 ** 31 - 1;

class Stale extends Error {}

export async function pooledFetch(pool: UpstreamPool, server: Address, request: PooledRequest): Promise<Response> {
  const retryStale = request.body === null && IDEMPOTENT.has(request.method);
  try {
    return await once(pool, server, request, false);
  } catch (error) {
    if (error instanceof Stale && retryStale) {
      try {
        return await once(pool, server, request, true);
      } catch (again) {
        throw again instanceof Stale ? new UpstreamFailure("bad-response", again.message) : again;
      }
    }
    throw error instanceof Stale ? new UpstreamFailure("bad-response", error.message) : error;
  }
}

async function once(pool: UpstreamPool, server: Address, request: PooledRequest, fresh: boolean): Promise<Response> {
  const { signal } = request;
  if (signal.aborted) throw signal.reason ?? new Error("aborted");
  const timing = request.timing;
  if (timing) timing.tries++;
  let connection = fresh ? undefined : pool.takeIdle(server);
  const reused = connection !== undefined;
  if (!connection) {
    try {
      connection = await pool.connect(server, request.connectTimeout, signal);
    } catch (error) {
      if (signal.aborted) throw signal.reason ?? error;
      const e = error as { code?: string; message?: string };
      throw new UpstreamFailure("connect", `cannot connect to ${server.id}: ${[e?.code, e?.message].filter(Boolean).join(": ")}`, { cause: error });
    }
  }
  if (timing) {
    timing.reused = reused;
    timing.connectMs = reused ? 0 : connection.connectMs;
  }
  const sink = new ResponseBuilder(request.method, timing);
  const call = new UpstreamCall(pool, connection, reused, request.method, sink, server.id, NO_TIMEOUT);
  if (request.stallTimeout !== undefined) call.stallTimeout = request.stallTimeout;
  sink.call = call;
  const onAbort = () => {
    call.abort();
    sink.abort(signal.reason);
  };
  signal.addEventListener("abort", onAbort, { once: true });
  sink.done = () => signal.removeEventListener("abort", onAbort);

  let head = `${request.method} ${request.pathAndQuery} HTTP/1.1\r\n`;
  let lengthKnown = false;
  request.headers.forEach((value, name) => {
    if (name === "content-length") lengthKnown = true;
    if (name !== "set-cookie") head += `${name}: ${value}\r\n`;
  });
  const chunked = request.body !== null && !lengthKnown;
  if (chunked) head += "transfer-encoding: chunked\r\n";
  call.write(latin1(`${head}\r\n`));
  if (request.body === null) call.requestSent();
  else
    void sendBody(call, request.body, chunked).catch((error) => {
      call.abort();
      sink.abort(error);
    });
  return sink.response;
}

async function sendBody(call: UpstreamCall, body: ReadableStream<Uint8Array>, chunked: boolean): Promise<void> {
  const reader = body.getReader();
  let wake: (() => void) | undefined;
  call.onDrain = () => wake?.();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    if (value.byteLength === 0) continue;
    let more: boolean;
    if (chunked) {
      call.write(chunkHead(value.byteLength));
      call.write(value);
      more = call.write(CHUNK_END);
    } else more = call.write(value);
    if (!more) await new Promise<void>((resolve) => (wake = resolve));
  }
  if (chunked) call.write(lastChunk());
  call.requestSent();
}

/** Turns the call's events into a Response with a streaming body. */
class ResponseBuilder implements ResponseSink {
  call!: UpstreamCall;
  done: () => void = () => {};
  readonly response: Promise<Response>;
  private resolve!: (response: Response) => void;
  private reject!: (error: unknown) => void;
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  private settled = false;

  constructor(
    private readonly method: string,
    private readonly timing: PooledTiming | undefined,
  ) {
    this.response = new Promise((resolve, reject) => {
      this.resolve = resolve;
      this.reject = reject;
    });
  }

  informational(_head: ResponseHead): void {
    // A Response cannot carry 1xx answers: the hono path drops them.
  }

  responseHead(head: ResponseHead): void {
    if (this.timing) this.timing.responseMs = this.call.responseMs;
    const headers = new Headers();
    const fields = head.fields;
    for (let i = 0; i < fields.length; i += 2) headers.append(fields[i]!, fields[i + 1]!);
    const bodyless = this.method === "HEAD" || bodylessStatus(head.status);
    let body: ReadableStream<Uint8Array> | null = null;
    if (!bodyless) {
      body = new ReadableStream<Uint8Array>(
        {
          start: (controller) => {
            this.controller = controller;
          },
          pull: () => this.call.resumeResponse(),
          cancel: () => {
            this.call.abort();
            this.done();
          },
        },
        { highWaterMark: 0 },
      );
    }
    this.settled = true;
    // The parser admits 100–599 only and 1xx never get here: the status fits a Response.
    this.resolve(new Response(body, { status: head.status, statusText: head.reason, headers }));
  }

  responseBody(bytes: Uint8Array, start: number, end: number): boolean {
    const controller = this.controller;
    if (!controller) return true;
    controller.enqueue(bytes.slice(start, end));
    return (controller.desiredSize ?? 0) > 0;
  }

  responseFlush(): void {
    // Each piece was enqueued as it came.
  }

  responseEnd(_trailers: HeaderFields | undefined): void {
    this.done();
    try {
      this.controller?.close();
    } catch {
      // cancelled already
    }
  }

  upstreamFailed(failure: UpstreamFailure, stale: boolean): void {
    this.done();
    if (!this.settled) {
      this.settled = true;
      this.reject(stale ? new Stale(failure.message) : failure);
      return;
    }
    try {
      this.controller?.error(failure);
    } catch {
      // cancelled already
    }
  }

  abort(reason: unknown): void {
    this.done();
    if (!this.settled) {
      this.settled = true;
      this.reject(reason ?? new Error("aborted"));
      return;
    }
    try {
      this.controller?.error(reason);
    } catch {
      // closed already
    }
  }
}
