// OTLP's protobuf encoding of a batch of spans (an ExportTraceServiceRequest), for the SDK's export delegate in
// place of its ProtobufTraceSerializer (otlp-exporter.ts). The bytes are the SDK serializer's own, field for
// field and in the same order (tests/otlp-trace-protobuf.test.ts compares the two on generated spans); what
// differs is the work. The SDK's writer goes over a batch twice, once to size its buffer and once to fill it, and
// makes an array per id and per timestamp; this one writes each batch once into a buffer kept from the last
// batch (and hands it out in a buffer used again once its export is over, otlp-export-bodies.ts), turns hex ids into bytes in place, reads a RecordedSpan's times from its clock readings and has it write
// its name and attributes from its fields (no attributes object, no string built to be taken apart again). At
// 100% sampling the SDK's serializer was the largest part of what tracing cost a request (bench/PLUGINS.md).
//
// Any ReadableSpan is encoded (events, links, every attribute value type): only the gateway's own spans take
// the shorter way.
import type { HrTime, SpanContext } from "@opentelemetry/api";
import type { InstrumentationScope } from "@opentelemetry/core";
import { ProtobufTraceSerializer, type IExportTraceServiceResponse, type ISerializer } from "@opentelemetry/otlp-transformer";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan } from "@opentelemetry/sdk-trace";
import { ExportBodies } from "./otlp-export-bodies.ts";
import { ProtobufWriter } from "./protobuf-writer.ts";
import { readWallTime, type WallTime } from "./tracing-clock.ts";
import { RecordedSpan } from "./tracing-span.ts";

// Wire types.
const VARINT = 0;
const FIXED64 = 1;
const LENGTH_DELIMITED = 2;
const FIXED32 = 5;

/** Span.flags: the W3C trace flags in the low byte, then whether the parent's remoteness is known, and whether it is. */
const HAS_IS_REMOTE = 0x100;
const IS_REMOTE = 0x200;

const MIN_INT64 = -(2 ** 63);
const MAX_INT64 = 2 ** 63;
const TWO_32 = 4294967296;

const writer = new ProtobufWriter();
/** Where each batch's bytes go for its export: buffers used again once an export is over (releaseExportBody). */
const exportBodies = new ExportBodies();
const wall: WallTime = { seconds: 0, nanos: 0 };

export const protobufTraceSerializer: ISerializer<ReadableSpan[], IExportTraceServiceResponse> = {
  serializeRequest(spans: ReadableSpan[]): Uint8Array {
    writer.reset();
    const first = spans[0];
    if (first !== undefined && spans.every((span) => span.resource === first.resource && span.instrumentationScope === first.instrumentationScope)) {
      // One tracer's spans, as every batch of the gateway's is: no grouping to do.
      writeResourceSpans(writer, first.resource, [spans]);
    } else {
      for (const [resource, scopes] of grouped(spans)) writeResourceSpans(writer, resource, [...scopes.values()]);
    }
    return exportBodies.copy(writer.written());
  },
  deserializeResponse: (data: Uint8Array) => ProtobufTraceSerializer.deserializeResponse(data),
};

/** The export of `body` (a serializeRequest answer, or any other body) is over, retries included. */
export function releaseExportBody(body: Uint8Array): void {
  exportBodies.release(body);
}

/** Spans by resource, then by instrumentation scope, each in the order first met (as the SDK groups them). */
function grouped(spans: ReadableSpan[]): Map<Resource, Map<InstrumentationScope, ReadableSpan[]>> {
  const resources = new Map<Resource, Map<InstrumentationScope, ReadableSpan[]>>();
  for (const span of spans) {
    let scopes = resources.get(span.resource);
    if (scopes === undefined) resources.set(span.resource, (scopes = new Map()));
    let list = scopes.get(span.instrumentationScope);
    if (list === undefined) scopes.set(span.instrumentationScope, (list = []));
    list.push(span);
  }
  return resources;
}

/** ExportTraceServiceRequest.resource_spans (1): the resource, then its spans scope by scope. */
function writeResourceSpans(w: ProtobufWriter, resource: Resource, scopes: ReadableSpan[][]): void {
  w.tag(1, LENGTH_DELIMITED);
  const resourceSpans = w.begin(3);
  // ResourceSpans.resource (1): attributes (1), dropped_attributes_count (2, always 0).
  w.tag(1, LENGTH_DELIMITED);
  const resourceMark = w.begin(2);
  if (resource.attributes) writeAttributes(w, resource.attributes, 1);
  w.tag(2, VARINT);
  w.varint(0);
  w.end(resourceMark);
  for (const spans of scopes) {
    // ResourceSpans.scope_spans (2): the scope (1), the spans (2), the scope's schema_url (3).
    w.tag(2, LENGTH_DELIMITED);
    const scopeSpans = w.begin(3);
    const scope = spans[0]!.instrumentationScope;
    writeScope(w, scope);
    for (const span of spans) writeSpan(w, span);
    if (scope.schemaUrl) {
      w.tag(3, LENGTH_DELIMITED);
      w.string(scope.schemaUrl);
    }
    w.end(scopeSpans);
  }
  if (resource.schemaUrl) {
    w.tag(3, LENGTH_DELIMITED);
    w.string(resource.schemaUrl);
  }
  w.end(resourceSpans);
}

/** InstrumentationScope: name (1), version (2), attributes (3), dropped_attributes_count (4). */
function writeScope(w: ProtobufWriter, scope: InstrumentationScope & { attributes?: object; droppedAttributesCount?: number }): void {
  w.tag(1, LENGTH_DELIMITED);
  const mark = w.begin();
  w.tag(1, LENGTH_DELIMITED);
  w.string(scope.name);
  if (scope.version) {
    w.tag(2, LENGTH_DELIMITED);
    w.string(scope.version);
  }
  if (scope.attributes) writeAttributes(w, scope.attributes, 3);
  if (scope.droppedAttributesCount) {
    w.tag(4, VARINT);
    w.int64(scope.droppedAttributesCount);
  }
  w.end(mark);
}

/**
 * ScopeSpans.spans (2): one of the gateway's own spans, written from its fields in one pass: the bytes
 * writeSpan makes of any ReadableSpan (the tests hold the two, and the SDK's serializer, to the same bytes),
 * without the interface's getters, the arrays of its times or the branches for what these spans never have.
 */
function writeRecordedSpan(w: ProtobufWriter, span: RecordedSpan): void {
  w.byte(0x12);
  const mark = w.begin(2);
  w.byte(0x0a); // trace_id
  w.hexBytes(span.traceId);
  w.byte(0x12); // span_id
  w.hexBytes(span.spanId);
  if (span.traceState !== undefined) {
    const traceState = span.traceState.serialize();
    if (traceState) {
      w.byte(0x1a);
      w.string(traceState);
    }
  }
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    w.byte(0x22);
    w.hexBytes(parent.spanId);
  }
  span.writeName(w, 5);
  w.byte(0x30); // kind, OTLP's numbering (the API's plus one)
  w.byte(span.kind + 1);
  w.byte(0x39); // start_time_unix_nano
  writeReading(w, span.startReading);
  w.byte(0x41); // end_time_unix_nano
  writeReading(w, span.endReading);
  span.writeAttributes(w, 9);
  // No dropped attributes (10), events (12) or links (14), then the status (15), written byte by byte: this
  // tail is the same for nearly every span, and copying it from a constant cost more.
  w.ensure(10);
  const b = w.array;
  let at = w.pos;
  b[at++] = 0x50;
  b[at++] = 0;
  b[at++] = 0x60;
  b[at++] = 0;
  b[at++] = 0x70;
  b[at++] = 0;
  b[at++] = 0x7a;
  const { code, message } = span.status;
  if (message) {
    w.pos = at;
    const status = w.begin();
    w.byte(0x12);
    w.string(message);
    w.byte(0x18);
    w.byte(code);
    w.end(status);
  } else {
    // A status of its code alone: its length is known.
    b[at++] = 2;
    b[at++] = 0x18;
    b[at++] = code;
    w.pos = at;
  }
  w.byte(0x85); // flags (field 16, fixed32)
  w.byte(0x01);
  w.fixed32(spanFlags(span, parent?.isRemote));
  w.end(mark);
}

/** ScopeSpans.spans (2): one Span message, its fields in number order. */
function writeSpan(w: ProtobufWriter, span: ReadableSpan): void {
  if (span instanceof RecordedSpan) return writeRecordedSpan(w, span);
  w.tag(2, LENGTH_DELIMITED);
  // A span of the gateway's is 200-400 bytes: its length takes two.
  const mark = w.begin(2);
  const context = span.spanContext();
  w.tag(1, LENGTH_DELIMITED);
  w.hexBytes(context.traceId);
  w.tag(2, LENGTH_DELIMITED);
  w.hexBytes(context.spanId);
  const traceState = context.traceState?.serialize();
  if (traceState) {
    w.tag(3, LENGTH_DELIMITED);
    w.string(traceState);
  }
  const parent = span.parentSpanContext;
  if (parent?.spanId) {
    w.tag(4, LENGTH_DELIMITED);
    w.hexBytes(parent.spanId);
  }
  w.tag(5, LENGTH_DELIMITED);
  w.string(span.name);
  // SpanKind in the API counts from INTERNAL = 0; in OTLP 0 is "unspecified" and INTERNAL 1.
  const kind = span.kind == null ? 0 : span.kind + 1;
  if (kind !== 0) {
    w.tag(6, VARINT);
    w.int64(kind);
  }
  w.tag(7, FIXED64);
  writeHrTime(w, span.startTime);
  w.tag(8, FIXED64);
  writeHrTime(w, span.endTime);
  if (span.attributes) writeAttributes(w, span.attributes, 9);
  w.tag(10, VARINT);
  w.int64(span.droppedAttributesCount);
  for (const event of span.events) {
    // Span.events (11): time_unix_nano (1), name (2), attributes (3), dropped_attributes_count (4).
    w.tag(11, LENGTH_DELIMITED);
    const eventMark = w.begin();
    w.tag(1, FIXED64);
    writeHrTime(w, event.time);
    w.tag(2, LENGTH_DELIMITED);
    w.string(event.name);
    if (event.attributes) writeAttributes(w, event.attributes, 3);
    w.tag(4, VARINT);
    w.int64(event.droppedAttributesCount || 0);
    w.end(eventMark);
  }
  w.tag(12, VARINT);
  w.int64(span.droppedEventsCount);
  for (const link of span.links) {
    // Span.links (13): trace_id (1), span_id (2), trace_state (3), attributes (4), dropped_attributes_count (5), flags (6).
    w.tag(13, LENGTH_DELIMITED);
    const linkMark = w.begin();
    const linked = link.context;
    w.tag(1, LENGTH_DELIMITED);
    w.hexBytes(linked.traceId);
    w.tag(2, LENGTH_DELIMITED);
    w.hexBytes(linked.spanId);
    const linkedState = linked.traceState?.serialize();
    if (linkedState) {
      w.tag(3, LENGTH_DELIMITED);
      w.string(linkedState);
    }
    if (link.attributes) writeAttributes(w, link.attributes, 4);
    w.tag(5, VARINT);
    w.int64(link.droppedAttributesCount || 0);
    w.tag(6, FIXED32);
    w.fixed32(spanFlags(linked, linked.isRemote));
    w.end(linkMark);
  }
  w.tag(14, VARINT);
  w.int64(span.droppedLinksCount);
  // Span.status (15): message (2), code (3).
  w.tag(15, LENGTH_DELIMITED);
  const statusMark = w.begin();
  if (span.status.message) {
    w.tag(2, LENGTH_DELIMITED);
    w.string(span.status.message);
  }
  w.tag(3, VARINT);
  w.int64(span.status.code);
  w.end(statusMark);
  w.tag(16, FIXED32);
  w.fixed32(spanFlags(context, parent?.isRemote));
  w.end(mark);
}

/** Span.flags / Link.flags: `context`'s trace flags, and whether the parent (or the linked span) is remote. */
function spanFlags(context: SpanContext, isRemote: boolean | undefined): number {
  return (context.traceFlags & 0xff) | HAS_IS_REMOTE | (isRemote ? IS_REMOTE : 0);
}

/** A spanClock() reading as fixed64 nanoseconds since the epoch. */
function writeReading(w: ProtobufWriter, reading: number): void {
  readWallTime(reading, wall);
  writeNanos(w, wall.seconds, wall.nanos);
}

function writeHrTime(w: ProtobufWriter, time: HrTime): void {
  writeNanos(w, time[0], time[1]);
}

/**
 * seconds × 10^9 + nanos as a fixed64 (past 2^53, so in 32-bit words): the seconds' low 16 bits and the rest
 * multiplied apart, each product exact in a double, then added with carries.
 */
function writeNanos(w: ProtobufWriter, seconds: number, nanos: number): void {
  const fromLow = (seconds & 0xffff) * 1e9;
  const fromHigh = ((seconds / 0x10000) >>> 0) * 1e9;
  const sumLow = (fromLow >>> 0) + (((fromHigh & 0xffff) * 0x10000) >>> 0) + nanos;
  const high = (Math.floor(fromLow / TWO_32) + ((fromHigh / 0x10000) >>> 0) + Math.floor(sumLow / TWO_32)) >>> 0;
  w.fixed64(sumLow >>> 0, high);
}

/** Repeated KeyValue under `field`: key (1), value (2), for each own property in insertion order. */
function writeAttributes(w: ProtobufWriter, attributes: object, field: number): void {
  const values = attributes as Record<string, unknown>;
  for (const key in values) {
    if (!Object.hasOwn(values, key)) continue;
    w.tag(field, LENGTH_DELIMITED);
    const mark = w.begin();
    writeKeyValue(w, key, values[key]);
    w.end(mark);
  }
}

function writeKeyValue(w: ProtobufWriter, key: string, value: unknown): void {
  w.tag(1, LENGTH_DELIMITED);
  w.string(key);
  w.tag(2, LENGTH_DELIMITED);
  const mark = w.begin();
  writeAnyValue(w, value);
  w.end(mark);
}

/**
 * AnyValue: string (1), bool (2), int64 (3), double (4), array (5), key-value list (6), bytes (7). A value of
 * none of those kinds (undefined, a bigint) is an empty AnyValue, as the SDK writes it.
 */
function writeAnyValue(w: ProtobufWriter, value: unknown): void {
  switch (typeof value) {
    case "string":
      w.tag(1, LENGTH_DELIMITED);
      w.string(value);
      return;
    case "boolean":
      w.tag(2, VARINT);
      w.varint(value ? 1 : 0);
      return;
    case "number":
      if (Number.isInteger(value) && value >= MIN_INT64 && value < MAX_INT64) {
        w.tag(3, VARINT);
        w.int64(value);
      } else {
        w.tag(4, FIXED64);
        w.double(value);
      }
      return;
    case "object":
      if (value === null) return;
      if (value instanceof Uint8Array) {
        w.tag(7, LENGTH_DELIMITED);
        w.bytes(value);
      } else if (Array.isArray(value)) {
        w.tag(5, LENGTH_DELIMITED);
        const array = w.begin();
        for (const item of value) {
          w.tag(1, LENGTH_DELIMITED);
          const itemMark = w.begin();
          writeAnyValue(w, item);
          w.end(itemMark);
        }
        w.end(array);
      } else {
        w.tag(6, LENGTH_DELIMITED);
        const list = w.begin();
        const entries = value as Record<string, unknown>;
        for (const key in entries) {
          if (!Object.hasOwn(entries, key)) continue;
          w.tag(1, LENGTH_DELIMITED);
          const kv = w.begin();
          writeKeyValue(w, key, entries[key]);
          w.end(kv);
        }
        w.end(list);
      }
      return;
  }
}
