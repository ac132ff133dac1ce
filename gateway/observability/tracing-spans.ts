// The spans of one request: a SERVER span from the parsed head to the end of the answer, and a CLIENT span per
// upstream attempt (a retry is a second one, with http.request.resend_count), each with the attributes of the
// OpenTelemetry HTTP semantic conventions. The client's traceparent, if valid, is the server span's parent; the
// client span's context is what the upstream receives, so the upstream's own spans hang below the gateway's.
//
// A request the sampler leaves out records nothing: it keeps its trace id and the id of its current attempt,
// which is all the traceparent it passes upstream needs (same trace, sampled flag off). A recorded request
// makes a ServerSpan and a ClientSpan per attempt, their attributes kept as fields, handed to the batch processor
// as they end.
import { SpanStatusCode, trace, type Context, type SpanContext, type TextMapPropagator } from "@opentelemetry/api";
import { headerValue } from "../http/head.ts";
import type { AttemptFailure, RequestOutcome, ServerTrace, TracedRequest, TracedServer } from "./tracing.ts";
import { ClientSpan } from "./tracing-client-span.ts";
import { spanClock } from "./tracing-clock.ts";
import { clientContext, setTraceHeaders, traceLines, traceparentOf } from "./tracing-context.ts";
import { ATTEMPT_SPAN_ID_END, newRequestIds, newSpanId, SERVER_SPAN_ID_END, TRACE_ID_END } from "./tracing-ids.ts";
import { OTHER_METHOD, ServerSpan } from "./tracing-server-span.ts";
import type { RecordedSpan, SpanSource } from "./tracing-span.ts";

/** Methods the conventions name; any other is recorded as `_OTHER`, the method as sent in http.request.method_original. */
const KNOWN_METHODS = new Set(["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"]);
/** What a request whose client went away before its answer was done ended with (the access log's 499). */
const CLIENT_GONE = 499;

/** What the spans of every request share: made once per tracer (SdkTracing). */
export interface SpanRecorder extends SpanSource {
  readonly propagator: TextMapPropagator;
  /** Whether a request is recorded: the sampler's decision for its trace, with the client's context if it sent one. */
  sampled(client: Context | undefined, traceId: string): boolean;
  /** A span has ended: on to the batch span processor. */
  finished(span: RecordedSpan): void;
}

/** A request's spans; made by SdkTracing.serverSpan for every request while tracing is on. */
export class RequestSpans implements ServerTrace {
  private readonly traceId: string;
  /** Whether this request is recorded (its traceparent's sampled flag). */
  private readonly sampled: boolean;
  /** The client's tracestate, serialised, passed on upstream; undefined when it sent none. */
  private readonly tracestate: string | undefined;
  /** The server span, when the request is recorded. */
  private readonly server: ServerSpan | undefined;
  /** The request's first ids (tracing-ids.ts newRequestIds): the first attempt's span id is cut from them. */
  private readonly ids: string;
  /** The span id of the attempt under way ("" before the first): the upstream's parent. */
  private attemptSpanId = "";
  /** The client span of the attempt under way, when recorded and not yet ended. */
  private current: ClientSpan | undefined;
  private attempts = 0;
  /** How the last failed attempt failed: the server span's error.type when the answer is the gateway's 5xx. */
  private failureKind: string | undefined;
  private ended = false;

  constructor(
    private readonly recorder: SpanRecorder,
    request: TracedRequest,
  ) {
    const head = request.head;
    const context = clientContext(recorder.propagator, head);
    const parent = context === undefined ? undefined : validParent(trace.getSpanContext(context));
    const ids = (this.ids = newRequestIds());
    const traceId = (this.traceId = parent?.traceId ?? ids.slice(0, TRACE_ID_END));
    const traceState = parent?.traceState;
    const tracestate = traceState?.serialize();
    this.tracestate = tracestate === "" ? undefined : tracestate;
    this.sampled = recorder.sampled(context, traceId);
    if (!this.sampled) return;
    this.server = new ServerSpan(
      recorder,
      traceId,
      ids.slice(TRACE_ID_END, SERVER_SPAN_ID_END),
      traceState,
      parent,
      // The exchange's own reading of the clock when the head was parsed: the span starts with the request.
      request.started,
      KNOWN_METHODS.has(head.method) ? head.method : OTHER_METHOD,
      head.method,
      request.proto,
      head.pathAndQuery,
      request.clientIp,
      head.minor === 1 ? "1.1" : "1.0",
      head.host,
      headerValue(head, "user-agent"),
    );
  }

  routed(name: string): void {
    if (this.server !== undefined) this.server.route = name;
  }

  attempt(method: string, server: TracedServer, pathAndQuery: string): void {
    const resends = this.attempts++;
    const spanId = (this.attemptSpanId = resends === 0 ? this.ids.slice(SERVER_SPAN_ID_END, ATTEMPT_SPAN_ID_END) : newSpanId());
    const parent = this.server;
    if (parent === undefined) return;
    // One reading: the attempt before (a retry's) ends when this one starts.
    const now = spanClock();
    this.endAttempt(now);
    const known = KNOWN_METHODS.has(method) ? method : OTHER_METHOD;
    this.current = new ClientSpan(this.recorder, this.traceId, spanId, parent.traceState, parent, now, known, method, server, pathAndQuery, resends);
  }

  attemptLines(): string {
    if (this.attemptSpanId === "") return "";
    return traceLines(traceparentOf(this.traceId, this.attemptSpanId, this.sampled), this.tracestate);
  }

  attemptHeaders(headers: Headers): void {
    if (this.attemptSpanId === "") return setTraceHeaders(headers, undefined, undefined);
    setTraceHeaders(headers, traceparentOf(this.traceId, this.attemptSpanId, this.sampled), this.tracestate);
  }

  attemptAnswered(status: number): void {
    const attempt = this.current;
    if (attempt === undefined) return;
    attempt.statusCode = status;
    // A client span's 4xx is an error too: the request did not get what it asked for.
    if (status >= 400) {
      attempt.errorType = String(status);
      attempt.status = { code: SpanStatusCode.ERROR };
    }
  }

  attemptFailed(failure: AttemptFailure): void {
    this.failureKind = failure.kind;
    const attempt = this.current;
    if (attempt === undefined) return;
    attempt.errorType = failure.kind;
    attempt.status = { code: SpanStatusCode.ERROR, message: failure.message };
    this.endAttempt(spanClock());
  }

  end(status: number, outcome?: RequestOutcome): void {
    if (this.ended) return;
    this.ended = true;
    // A request left out by the sampler has no spans, its attempts' included.
    const span = this.server;
    if (span === undefined) return;
    // One reading for both ends: the answer is over as the last attempt's is.
    const now = spanClock();
    this.endAttempt(now);
    if (outcome?.route !== undefined) span.route = outcome.route;
    const error = outcome?.error;
    if (status === CLIENT_GONE) {
      // No answer was sent: no status code, and the client's leaving is what went wrong.
      span.errorType = "aborted";
      span.status = { code: SpanStatusCode.ERROR, message: error ?? "client went away" };
    } else {
      span.statusCode = status;
      // A server span's 4xx is the client's doing (status left unset); a 5xx, or an answer cut short after its
      // head (the status says 2xx, the log an error), is the gateway's or the upstream's.
      if (status >= 500 || (status < 400 && error !== undefined)) {
        span.errorType = this.failureKind ?? String(status);
        span.status = { code: SpanStatusCode.ERROR, message: error };
      }
    }
    span.endReading = now;
    this.recorder.finished(span);
  }

  /** The client span of the attempt under way ends (the next attempt, a failure or the request's end). */
  private endAttempt(now: number): void {
    const attempt = this.current;
    if (attempt === undefined) return;
    this.current = undefined;
    attempt.endReading = now;
    this.recorder.finished(attempt);
  }
}

/** The client's span context when the propagator found a valid one (an invalid traceparent starts a new trace). */
function validParent(parent: SpanContext | undefined): SpanContext | undefined {
  return parent !== undefined && trace.isSpanContextValid(parent) ? parent : undefined;
}
