// The spans of one request: a SERVER span from the parsed head to the end of the answer, and a CLIENT span per
// upstream attempt (a retry is a second one, with http.request.resend_count), each with the attributes of the
// OpenTelemetry HTTP semantic conventions. The client's traceparent, if valid, is the server span's parent; the
// client span's context is what the upstream receives, so the upstream's own spans hang below the gateway's.
import { ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapPropagator, type Tracer } from "@opentelemetry/api";
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from "@opentelemetry/semantic-conventions";
import { headerValue } from "../http/head.ts";
import type { AttemptFailure, RequestOutcome, ServerTrace, TracedRequest, TracedServer } from "./tracing.ts";
import { fieldSetter, headGetter, setTraceHeaders, traceLines, type TraceFields } from "./tracing-context.ts";

/** Methods the conventions name; any other is recorded as `_OTHER`, the method as sent in http.request.method_original. */
const KNOWN_METHODS = new Set(["CONNECT", "DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "TRACE", "QUERY"]);
/** What a request whose client went away before its answer was done ended with (the access log's 499). */
const CLIENT_GONE = 499;
/** The trace context before any attempt: none. */
const NO_FIELDS: TraceFields = Object.freeze({});

/** A request's spans; made by SdkTracing.serverSpan for every request while tracing is on. */
export class RequestSpans implements ServerTrace {
  private readonly span: Span;
  /** The method as the span names and attributes carry it ("_OTHER" for a method the conventions do not know). */
  private readonly method: string;
  /** The server span as the parent of client spans, made at the first attempt. */
  private parent: Context | undefined;
  /** The client span of the attempt under way, and the trace context the upstream gets from it. */
  private current: Span | undefined;
  private fields: TraceFields = NO_FIELDS;
  private attempts = 0;
  /** How the last failed attempt failed: the server span's error.type when the answer is the gateway's 5xx. */
  private failureKind: string | undefined;
  private route: string | undefined;
  private ended = false;

  constructor(
    private readonly tracer: Tracer,
    private readonly propagator: TextMapPropagator,
    private readonly traceFields: readonly string[],
    request: TracedRequest,
  ) {
    const head = request.head;
    const method = (this.method = KNOWN_METHODS.has(head.method) ? head.method : "_OTHER");
    const parent = propagator.extract(ROOT_CONTEXT, head, headGetter);
    // Attributes are set once the span exists, not passed to startSpan: the sampler (parent-based, by trace id)
    // does not read them, the SDK checks attributes given at the start twice over (half the cost of a span), and
    // a span sampled out takes none.
    const span = (this.span = tracer.startSpan(method === "_OTHER" ? "HTTP" : method, { kind: SpanKind.SERVER }, parent));
    if (!span.isRecording()) return;
    const target = head.pathAndQuery;
    const q = target.indexOf("?");
    span.setAttribute(ATTR_HTTP_REQUEST_METHOD, method);
    if (method === "_OTHER") span.setAttribute(ATTR_HTTP_REQUEST_METHOD_ORIGINAL, head.method);
    span.setAttribute(ATTR_URL_SCHEME, "http");
    span.setAttribute(ATTR_URL_PATH, q < 0 ? target : target.slice(0, q));
    if (q >= 0) span.setAttribute(ATTR_URL_QUERY, target.slice(q + 1));
    if (head.host !== "") setAuthority(span, head.host);
    span.setAttribute(ATTR_CLIENT_ADDRESS, request.clientIp);
    const userAgent = headerValue(head, "user-agent");
    if (userAgent !== null) span.setAttribute(ATTR_USER_AGENT_ORIGINAL, userAgent);
    span.setAttribute(ATTR_NETWORK_PROTOCOL_VERSION, head.minor === 1 ? "1.1" : "1.0");
  }

  routed(name: string): void {
    this.route = name;
  }

  attempt(method: string, server: TracedServer, pathAndQuery: string): void {
    this.current?.end();
    const known = KNOWN_METHODS.has(method) ? method : "_OTHER";
    const resends = this.attempts++;
    const parent = (this.parent ??= trace.setSpan(ROOT_CONTEXT, this.span));
    const span = (this.current = this.tracer.startSpan(known === "_OTHER" ? "HTTP" : known, { kind: SpanKind.CLIENT }, parent));
    const fields: TraceFields = {};
    this.propagator.inject(trace.setSpan(ROOT_CONTEXT, span), fields, fieldSetter);
    this.fields = fields;
    if (!span.isRecording()) return;
    span.setAttribute(ATTR_HTTP_REQUEST_METHOD, known);
    if (known === "_OTHER") span.setAttribute(ATTR_HTTP_REQUEST_METHOD_ORIGINAL, method);
    span.setAttribute(ATTR_SERVER_ADDRESS, server.hostname);
    span.setAttribute(ATTR_SERVER_PORT, server.port);
    span.setAttribute(ATTR_URL_FULL, `http://${server.hostPort}${pathAndQuery}`);
    span.setAttribute(ATTR_NETWORK_PROTOCOL_VERSION, "1.1");
    if (resends > 0) span.setAttribute(ATTR_HTTP_REQUEST_RESEND_COUNT, resends);
  }

  attemptLines(): string {
    return traceLines(this.fields);
  }

  attemptHeaders(headers: Headers): void {
    setTraceHeaders(this.fields, this.traceFields, headers);
  }

  attemptAnswered(status: number): void {
    const attempt = this.current;
    if (attempt === undefined) return;
    attempt.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
    // A client span's 4xx is an error too: the request did not get what it asked for.
    if (status >= 400) {
      attempt.setAttribute(ATTR_ERROR_TYPE, String(status));
      attempt.setStatus({ code: SpanStatusCode.ERROR });
    }
  }

  attemptFailed(failure: AttemptFailure): void {
    this.failureKind = failure.kind;
    const attempt = this.current;
    if (attempt === undefined) return;
    this.current = undefined;
    attempt.setAttribute(ATTR_ERROR_TYPE, failure.kind);
    attempt.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
    attempt.end();
  }

  end(status: number, outcome?: RequestOutcome): void {
    if (this.ended) return;
    this.ended = true;
    this.current?.end();
    this.current = undefined;
    const span = this.span;
    if (!span.isRecording()) return span.end();
    const route = outcome?.route ?? this.route;
    if (route !== undefined) {
      span.setAttribute(ATTR_HTTP_ROUTE, route);
      span.updateName(`${this.method === "_OTHER" ? "HTTP" : this.method} ${route}`);
    }
    const error = outcome?.error;
    if (status === CLIENT_GONE) {
      // No answer was sent: no status code, and the client's leaving is what went wrong.
      span.setAttribute(ATTR_ERROR_TYPE, "aborted");
      span.setStatus({ code: SpanStatusCode.ERROR, message: error ?? "client went away" });
    } else {
      span.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, status);
      // A server span's 4xx is the client's doing (status left unset); a 5xx, or an answer cut short after its
      // head (the status says 2xx, the log an error), is the gateway's or the upstream's.
      if (status >= 500 || (status < 400 && error !== undefined)) {
        span.setAttribute(ATTR_ERROR_TYPE, this.failureKind ?? String(status));
        span.setStatus({ code: SpanStatusCode.ERROR, message: error });
      }
    }
    span.end();
  }
}

/** server.address and server.port from the request's authority ("host", "host:port", "[v6]:port"). */
function setAuthority(span: Span, authority: string): void {
  const close = authority.charCodeAt(0) === 91 /* [ */ ? authority.indexOf("]") : -1;
  const colon = authority.indexOf(":", close < 0 ? 0 : close);
  const host = colon < 0 ? authority : authority.slice(0, colon);
  span.setAttribute(ATTR_SERVER_ADDRESS, close > 0 ? host.slice(1, close) : host);
  if (colon >= 0) {
    const port = Number(authority.slice(colon + 1));
    if (Number.isInteger(port) && port > 0) span.setAttribute(ATTR_SERVER_PORT, port);
  }
}
