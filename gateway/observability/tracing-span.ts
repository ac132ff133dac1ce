// One recorded span, as the SDK's batch span processor and OTLP exporters take it (a ReadableSpan), without the
// SDK's Span behind it: the gateway knows every attribute it records (names from the semantic conventions,
// values that are strings and numbers), so the checks the SDK makes on each setAttribute, the contexts it
// allocates and its clock arithmetic are work a request need not pay for. A span is its own SpanContext (no
// object for that), and it is handed to the processor once, ended.
//
// The attributes are kept as the fields a request fills in (ServerSpan, ClientSpan): the `attributes` object a
// ReadableSpan has is made only when something reads it (the JSON exporter), and the protobuf encoder asks the
// span to write its attributes itself (writeAttributes), from those fields, in the same order.
import { TraceFlags, type Attributes, type HrTime, type Link, type SpanContext, type SpanKind, type SpanStatus, type TraceState } from "@opentelemetry/api";
import type { InstrumentationScope } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace";
import type { ProtobufWriter } from "./protobuf-writer.ts";
import { hrDuration, wallTime } from "./tracing-clock.ts";

/** Where a tracer's spans come from: the same for every span it records. */
export interface SpanSource {
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
}

const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];
const UNSET: SpanStatus = Object.freeze({ code: 0 });

export abstract class RecordedSpan implements ReadableSpan, SpanContext {
  status: SpanStatus = UNSET;
  /** spanClock() at the end; NaN while the span is open. */
  endReading = NaN;

  constructor(
    private readonly source: SpanSource,
    readonly traceId: string,
    readonly spanId: string,
    readonly traceState: TraceState | undefined,
    /** The client's span for a server span with a traceparent, the server span for a client span. */
    readonly parentSpanContext: SpanContext | undefined,
    /** spanClock() at the start. */
    readonly startReading: number,
  ) {}

  abstract readonly kind: SpanKind;
  abstract readonly name: string;
  /** The span's attributes as an object, made anew on each read. */
  abstract readonly attributes: Attributes;

  /**
   * The attributes as OTLP's repeated KeyValue field `field` of the span message: the same keys, values and
   * order as `attributes` has them (tests/otlp-trace-protobuf.test.ts holds the two to the SDK's encoding).
   */
  abstract writeAttributes(w: ProtobufWriter, field: number): void;

  /** The span's name as OTLP's field `field`, written from its parts. */
  abstract writeName(w: ProtobufWriter, field: number): void;

  spanContext(): SpanContext {
    return this;
  }

  // What is the same for every span is read from the prototype: a span holds only what is its own, which is
  // what a span queued for export keeps in memory.

  /** Recorded spans are sampled: only those are made. */
  get traceFlags(): number {
    return TraceFlags.SAMPLED;
  }

  get links(): Link[] {
    return NO_LINKS;
  }

  get events(): TimedEvent[] {
    return NO_EVENTS;
  }

  get droppedAttributesCount(): number {
    return 0;
  }

  get droppedEventsCount(): number {
    return 0;
  }

  get droppedLinksCount(): number {
    return 0;
  }

  get startTime(): HrTime {
    return wallTime(this.startReading);
  }

  get endTime(): HrTime {
    return wallTime(this.endReading);
  }

  get duration(): HrTime {
    return hrDuration(this.endReading - this.startReading);
  }

  get ended(): boolean {
    return !Number.isNaN(this.endReading);
  }

  get resource(): Resource {
    return this.source.resource;
  }

  get instrumentationScope(): InstrumentationScope {
    return this.source.instrumentationScope;
  }
}
