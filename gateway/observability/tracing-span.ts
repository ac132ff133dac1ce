// One recorded span, as the SDK's batch span processor and OTLP exporter take it (a ReadableSpan), without the
// SDK's Span behind it: the gateway knows every attribute it sets (names from the semantic conventions, values
// that are strings and numbers), so the checks the SDK makes on each setAttribute, the contexts it allocates and
// its clock arithmetic are work a request need not pay for. A span is its own SpanContext (no object for that),
// and it is handed to the processor once, ended.
import { TraceFlags, type Attributes, type HrTime, type Link, type SpanContext, type SpanKind, type SpanStatus, type TraceState } from "@opentelemetry/api";
import type { InstrumentationScope } from "@opentelemetry/core";
import type { Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace";
import { hrDuration, wallTime } from "./tracing-clock.ts";

/** Where a tracer's spans come from: the same for every span it records. */
export interface SpanSource {
  readonly resource: Resource;
  readonly instrumentationScope: InstrumentationScope;
}

const NO_LINKS: Link[] = [];
const NO_EVENTS: TimedEvent[] = [];
const UNSET: SpanStatus = Object.freeze({ code: 0 });

export class RecordedSpan implements ReadableSpan, SpanContext {
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
    readonly kind: SpanKind,
    public name: string,
    readonly attributes: Attributes,
    /** spanClock() at the start. */
    readonly startReading: number,
  ) {}

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
