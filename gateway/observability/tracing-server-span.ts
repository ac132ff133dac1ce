// The SERVER span of a request: from its parsed head to the end of its answer, with the attributes of the
// OpenTelemetry HTTP server semantic conventions, kept as the fields the request fills in. `attributes` (the
// object a ReadableSpan has) and `writeAttributes` (the same for the protobuf encoder) are two readings of those
// fields, side by side below, in one order.
import { SpanKind, type Attributes, type SpanContext, type TraceState } from "@opentelemetry/api";
import {
  ATTR_CLIENT_ADDRESS,
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_HTTP_ROUTE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_PATH,
  ATTR_URL_QUERY,
  ATTR_URL_SCHEME,
  ATTR_USER_AGENT_ORIGINAL,
} from "@opentelemetry/semantic-conventions";
import { writeIntAttribute, writeRangeAttribute, writeStringAttribute } from "./otlp-attribute-writer.ts";
import * as KEY from "./otlp-http-attribute-keys.ts";
import type { ProtobufWriter } from "./protobuf-writer.ts";
import { RecordedSpan, type SpanSource } from "./tracing-span.ts";

/** The conventions' stand-in for a method they do not name (the method as sent goes in method_original). */
export const OTHER_METHOD = "_OTHER";

export class ServerSpan extends RecordedSpan {
  /** http.route: the route that won, once known. */
  route: string | undefined;
  /** http.response.status_code; undefined when no answer was sent (the client went away). */
  statusCode: number | undefined;
  /** error.type, when the request failed. */
  errorType: string | undefined;

  constructor(
    source: SpanSource,
    traceId: string,
    spanId: string,
    traceState: TraceState | undefined,
    parent: SpanContext | undefined,
    start: number,
    /** http.request.method: a method the conventions name, or OTHER_METHOD. */
    readonly method: string,
    /** The method as the client sent it. */
    readonly originalMethod: string,
    /** url.scheme: what the listener speaks. */
    readonly scheme: string,
    /** The request target as sent: url.path, and url.query after a "?". */
    readonly target: string,
    readonly clientAddress: string,
    /** network.protocol.version: "1.1" or "1.0". */
    readonly protocolVersion: string,
    /** The request's Host ("" for none): server.address and server.port. */
    readonly authority: string,
    /** user_agent.original, null for none. */
    readonly userAgent: string | null,
  ) {
    super(source, traceId, spanId, traceState, parent, start);
  }

  get kind(): SpanKind {
    return SpanKind.SERVER;
  }

  /** "GET" until routed, then "GET route"; "HTTP" in place of a method the conventions do not name. */
  get name(): string {
    const method = this.method === OTHER_METHOD ? "HTTP" : this.method;
    return this.route === undefined ? method : `${method} ${this.route}`;
  }

  writeName(w: ProtobufWriter, field: number): void {
    w.tag(field, 2);
    if (this.route === undefined) return w.string(this.method === OTHER_METHOD ? "HTTP" : this.method);
    const mark = w.begin();
    w.utf8(this.method === OTHER_METHOD ? "HTTP" : this.method);
    w.byte(0x20);
    w.utf8(this.route);
    w.end(mark);
  }

  get attributes(): Attributes {
    const target = this.target;
    const q = target.indexOf("?");
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: this.method,
      [ATTR_URL_SCHEME]: this.scheme,
      [ATTR_URL_PATH]: q < 0 ? target : target.slice(0, q),
      [ATTR_CLIENT_ADDRESS]: this.clientAddress,
      [ATTR_NETWORK_PROTOCOL_VERSION]: this.protocolVersion,
    };
    if (this.method === OTHER_METHOD) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = this.originalMethod;
    if (q >= 0) attributes[ATTR_URL_QUERY] = target.slice(q + 1);
    const authority = this.authority;
    if (authority !== "") {
      splitAuthority(authority);
      attributes[ATTR_SERVER_ADDRESS] = authority.slice(parts.addressStart, parts.addressEnd);
      const port = portOf(authority, parts.colon);
      if (port !== undefined) attributes[ATTR_SERVER_PORT] = port;
    }
    if (this.userAgent !== null) attributes[ATTR_USER_AGENT_ORIGINAL] = this.userAgent;
    if (this.route !== undefined) attributes[ATTR_HTTP_ROUTE] = this.route;
    if (this.statusCode !== undefined) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = this.statusCode;
    if (this.errorType !== undefined) attributes[ATTR_ERROR_TYPE] = this.errorType;
    return attributes;
  }

  writeAttributes(w: ProtobufWriter, field: number): void {
    const target = this.target;
    const q = target.indexOf("?");
    writeStringAttribute(w, field, KEY.HTTP_REQUEST_METHOD, this.method);
    writeStringAttribute(w, field, KEY.URL_SCHEME, this.scheme);
    writeRangeAttribute(w, field, KEY.URL_PATH, target, 0, q < 0 ? target.length : q);
    writeStringAttribute(w, field, KEY.CLIENT_ADDRESS, this.clientAddress);
    writeStringAttribute(w, field, KEY.NETWORK_PROTOCOL_VERSION, this.protocolVersion);
    if (this.method === OTHER_METHOD) writeStringAttribute(w, field, KEY.HTTP_REQUEST_METHOD_ORIGINAL, this.originalMethod);
    if (q >= 0) writeRangeAttribute(w, field, KEY.URL_QUERY, target, q + 1, target.length);
    const authority = this.authority;
    if (authority !== "") {
      splitAuthority(authority);
      writeRangeAttribute(w, field, KEY.SERVER_ADDRESS, authority, parts.addressStart, parts.addressEnd);
      const port = portOf(authority, parts.colon);
      if (port !== undefined) writeIntAttribute(w, field, KEY.SERVER_PORT, port);
    }
    if (this.userAgent !== null) writeStringAttribute(w, field, KEY.USER_AGENT_ORIGINAL, this.userAgent);
    if (this.route !== undefined) writeStringAttribute(w, field, KEY.HTTP_ROUTE, this.route);
    if (this.statusCode !== undefined) writeIntAttribute(w, field, KEY.HTTP_RESPONSE_STATUS_CODE, this.statusCode);
    if (this.errorType !== undefined) writeStringAttribute(w, field, KEY.ERROR_TYPE, this.errorType);
  }
}

// server.address and server.port from the request's authority ("host", "host:port", "[v6]:port").

/** Where server.address lies in the last authority split (an IPv6 literal without its brackets), and the colon
 * before the port (-1 for none). */
const parts = { addressStart: 0, addressEnd: 0, colon: -1 };

function splitAuthority(authority: string): void {
  const close = authority.charCodeAt(0) === 91 /* [ */ ? authority.indexOf("]") : -1;
  const colon = authority.indexOf(":", close < 0 ? 0 : close);
  parts.addressStart = close > 0 ? 1 : 0;
  parts.addressEnd = close > 0 ? close : colon < 0 ? authority.length : colon;
  parts.colon = colon;
}

/** The port after `colon`, when it is a positive integer. */
function portOf(authority: string, colon: number): number | undefined {
  if (colon < 0) return undefined;
  const port = Number(authority.slice(colon + 1));
  return Number.isInteger(port) && port > 0 ? port : undefined;
}
