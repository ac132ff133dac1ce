// The CLIENT span of one upstream attempt (a retry is another), a child of the request's server span, with the
// attributes of the OpenTelemetry HTTP client semantic conventions, kept as the fields the attempt fills in.
// `attributes` and `writeAttributes` are two readings of those fields, side by side below, in one order.
import { SpanKind, type Attributes, type TraceState } from "@opentelemetry/api";
import {
  ATTR_ERROR_TYPE,
  ATTR_HTTP_REQUEST_METHOD,
  ATTR_HTTP_REQUEST_METHOD_ORIGINAL,
  ATTR_HTTP_REQUEST_RESEND_COUNT,
  ATTR_HTTP_RESPONSE_STATUS_CODE,
  ATTR_NETWORK_PROTOCOL_VERSION,
  ATTR_SERVER_ADDRESS,
  ATTR_SERVER_PORT,
  ATTR_URL_FULL,
} from "@opentelemetry/semantic-conventions";
import { writeIntAttribute, writePiecesAttribute, writeStringAttribute } from "./otlp-attribute-writer.ts";
import * as KEY from "./otlp-http-attribute-keys.ts";
import type { ProtobufWriter } from "./protobuf-writer.ts";
import type { TracedServer } from "./tracing.ts";
import { RecordedSpan, type SpanSource } from "./tracing-span.ts";
import { OTHER_METHOD } from "./tracing-server-span.ts";

/** The gateway speaks HTTP/1.1 to every upstream. */
const UPSTREAM_PROTOCOL_VERSION = "1.1";

export class ClientSpan extends RecordedSpan {
  /** http.response.status_code, once the server answered. */
  statusCode: number | undefined;
  /** error.type, when the attempt failed or was answered with a 4xx or 5xx. */
  errorType: string | undefined;

  constructor(
    source: SpanSource,
    traceId: string,
    spanId: string,
    traceState: TraceState | undefined,
    parent: RecordedSpan,
    start: number,
    /** http.request.method: a method the conventions name, or OTHER_METHOD. */
    readonly method: string,
    /** The method as sent. */
    readonly originalMethod: string,
    readonly server: TracedServer,
    /** The request target sent to the server. */
    readonly pathAndQuery: string,
    /** http.request.resend_count: attempts of this request before this one. */
    readonly resends: number,
  ) {
    super(source, traceId, spanId, traceState, parent, start);
  }

  get kind(): SpanKind {
    return SpanKind.CLIENT;
  }

  get name(): string {
    return this.method === OTHER_METHOD ? "HTTP" : this.method;
  }

  writeName(w: ProtobufWriter, field: number): void {
    w.tag(field, 2);
    w.string(this.name);
  }

  /** url.full's scheme: https for a server spoken to over TLS. */
  private get scheme(): string {
    return this.server.tls === undefined ? "http://" : "https://";
  }

  get attributes(): Attributes {
    const server = this.server;
    const attributes: Attributes = {
      [ATTR_HTTP_REQUEST_METHOD]: this.method,
      [ATTR_SERVER_ADDRESS]: server.hostname,
      [ATTR_SERVER_PORT]: server.port,
      [ATTR_URL_FULL]: `${this.scheme}${server.hostPort}${this.pathAndQuery}`,
      [ATTR_NETWORK_PROTOCOL_VERSION]: UPSTREAM_PROTOCOL_VERSION,
    };
    if (this.method === OTHER_METHOD) attributes[ATTR_HTTP_REQUEST_METHOD_ORIGINAL] = this.originalMethod;
    if (this.resends > 0) attributes[ATTR_HTTP_REQUEST_RESEND_COUNT] = this.resends;
    if (this.statusCode !== undefined) attributes[ATTR_HTTP_RESPONSE_STATUS_CODE] = this.statusCode;
    if (this.errorType !== undefined) attributes[ATTR_ERROR_TYPE] = this.errorType;
    return attributes;
  }

  writeAttributes(w: ProtobufWriter, field: number): void {
    const server = this.server;
    writeStringAttribute(w, field, KEY.HTTP_REQUEST_METHOD, this.method);
    writeStringAttribute(w, field, KEY.SERVER_ADDRESS, server.hostname);
    writeIntAttribute(w, field, KEY.SERVER_PORT, server.port);
    writePiecesAttribute(w, field, KEY.URL_FULL, this.scheme, server.hostPort, this.pathAndQuery);
    writeStringAttribute(w, field, KEY.NETWORK_PROTOCOL_VERSION, UPSTREAM_PROTOCOL_VERSION);
    if (this.method === OTHER_METHOD) writeStringAttribute(w, field, KEY.HTTP_REQUEST_METHOD_ORIGINAL, this.originalMethod);
    if (this.resends > 0) writeIntAttribute(w, field, KEY.HTTP_REQUEST_RESEND_COUNT, this.resends);
    if (this.statusCode !== undefined) writeIntAttribute(w, field, KEY.HTTP_RESPONSE_STATUS_CODE, this.statusCode);
    if (this.errorType !== undefined) writeStringAttribute(w, field, KEY.ERROR_TYPE, this.errorType);
  }
}
