// The OpenTelemetry SDK behind `Tracing`, loaded only when a config has `telemetry` (see tracing.ts): the SDK's
// sampler (parent-based ratio), and its batch span processor with a bounded queue feeding its OTLP/HTTP exporter
// (protobuf bodies, or JSON when the environment asks for it), sending through fetch (otlp-exporter.ts).
// The spans themselves are the gateway's own RecordedSpans (tracing-span.ts), which the processor and exporter
// take as they take the SDK's. Spans are exported in the background: a slow or dead collector costs the requests
// nothing (the queue fills, then new spans are dropped), and its failures are reported on stderr at most once a
// minute.
import { diag, DiagLogLevel, ROOT_CONTEXT, SamplingDecision, SpanKind, type Attributes, type Context, type DiagLogger, type Link } from "@opentelemetry/api";
import { setGlobalErrorHandler, W3CTraceContextPropagator, type InstrumentationScope } from "@opentelemetry/core";
import { defaultResource, detectResources, envDetector, resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, type Sampler } from "@opentelemetry/sdk-trace";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { otlpTraceExporter } from "./otlp-exporter.ts";
import { markSdkLoaded, type ServerTrace, type TelemetryConfig, type TracedRequest, type Tracing } from "./tracing.ts";
import { tracingSettings, type SamplingSettings } from "./tracing-settings.ts";
import { resyncSpanClock } from "./tracing-clock.ts";
import type { RecordedSpan } from "./tracing-span.ts";
import { RequestSpans, type SpanRecorder } from "./tracing-spans.ts";

markSdkLoaded();

/** The instrumentation scope of Sluice's spans. */
const SCOPE = "sluice";
const DEFAULT_SERVICE_NAME = "sluice";
/** Export failures and dropped spans are told at most this often: a collector that is down stays down a while. */
const REPORT_EVERY_MS = 60_000;
/** The exporter's own default time for one export (OTEL_EXPORTER_OTLP_TIMEOUT). */
const DEFAULT_EXPORT_TIME_MS = 10_000;
const NO_ATTRIBUTES: Attributes = Object.freeze({});
const NO_LINKS: Link[] = [];
/** How many requests between two readings of the wall clock's offset to the span clock (tracing-clock.ts). */
const RESYNC_EVERY = 10_000;

class SdkTracing implements Tracing, SpanRecorder {
  readonly propagator = new W3CTraceContextPropagator();
  readonly instrumentationScope: InstrumentationScope = { name: SCOPE };
  /** Requests until the span clock's offset to the wall clock is read again. */
  private untilResync = RESYNC_EVERY;
  private stopped: Promise<void> | undefined;

  /** The SDK's sampler for the config's sampling. */
  private readonly sampler: Sampler;
  /** The root sampler's answer when it does not depend on the trace id (ratio 0 or 1); undefined otherwise. */
  private readonly rootAnswer: boolean | undefined;

  /** `flushMs`: how long stopping waits for the last spans to be exported (a dead collector must not hold it up). */
  constructor(
    readonly resource: Resource,
    sampling: SamplingSettings,
    private readonly processor: BatchSpanProcessor,
    private readonly flushMs: number,
  ) {
    this.sampler = samplerOf(sampling);
    this.rootAnswer = sampling.ratio >= 1 ? true : sampling.ratio <= 0 ? false : undefined;
  }

  sampled(client: Context | undefined, traceId: string): boolean {
    // A request without a trace context is the root sampler's to decide; at ratio 0 or 1 its answer is known
    // without reading the trace id. Otherwise the SDK's sampler decides, as for the SDK's own spans.
    if (client === undefined && this.rootAnswer !== undefined) return this.rootAnswer;
    const decision = this.sampler.shouldSample(client ?? ROOT_CONTEXT, traceId, "", SpanKind.SERVER, NO_ATTRIBUTES, NO_LINKS).decision;
    return decision === SamplingDecision.RECORD_AND_SAMPLED;
  }

  serverSpan(request: TracedRequest): ServerTrace {
    if (--this.untilResync === 0) {
      this.untilResync = RESYNC_EVERY;
      resyncSpanClock();
    }
    return new RequestSpans(this, request);
  }

  finished(span: RecordedSpan): void {
    this.processor.onEnd(span);
  }

  shutdown(): Promise<void> {
    if (this.stopped) return this.stopped;
    let timer: ReturnType<typeof setTimeout> | undefined;
    // The processor exports what is queued, then shuts its exporter down.
    const flushed = this.processor.shutdown().catch((error) => report(`telemetry shutdown failed: ${describe(error)}`));
    const givenUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.flushMs)));
    return (this.stopped = Promise.race([flushed, givenUp]).finally(() => clearTimeout(timer)));
  }
}

export function sdkTracing(config: TelemetryConfig): Tracing {
  reportSdkProblems();
  const settings = tracingSettings(config);
  const exporter = otlpTraceExporter(settings);
  const processor = new BatchSpanProcessor({
    exporter,
    maxQueueSize: settings.maxQueueSize,
    maxExportBatchSize: settings.maxExportBatchSize,
    scheduledDelayMillis: settings.scheduledDelayMillis,
    exportTimeoutMillis: settings.exportTimeoutMillis,
  });
  // OTEL_RESOURCE_ATTRIBUTES and OTEL_SERVICE_NAME add to the resource; the config's serviceName wins over both.
  const fromEnv = detectResources({ detectors: [envDetector] });
  const serviceName = settings.serviceName ?? (fromEnv.attributes[ATTR_SERVICE_NAME] as string | undefined) ?? DEFAULT_SERVICE_NAME;
  const resource = defaultResource()
    .merge(fromEnv)
    .merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }));
  return new SdkTracing(resource, settings.sampling, processor, settings.timeoutMillis ?? DEFAULT_EXPORT_TIME_MS);
}

function samplerOf({ parentBased, ratio }: SamplingSettings): Sampler {
  const root = new TraceIdRatioBasedSampler(ratio);
  return parentBased ? new ParentBasedSampler({ root }) : root;
}

// ---- what the SDK reports ----------------------------------------------------------------------------------
// The SDK tells of failed exports through its global error handler and of dropped spans and bad settings through
// its diagnostic logger. Both are process-wide: set once, and kept quiet enough for a collector that is down.

let reporting = false;
let lastReport = -Infinity;
let unreported = 0;

function reportSdkProblems(): void {
  if (reporting) return;
  reporting = true;
  setGlobalErrorHandler((error) => report(`telemetry export failed: ${describe(error)}`));
  const warn = (message: string) => report(`telemetry: ${message}`);
  const quiet = () => {};
  const logger: DiagLogger = { error: warn, warn, info: quiet, debug: quiet, verbose: quiet };
  diag.setLogger(logger, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
}

function report(line: string): void {
  const now = Date.now();
  if (now - lastReport < REPORT_EVERY_MS) {
    unreported++;
    return;
  }
  lastReport = now;
  const more = unreported > 0 ? ` (and ${unreported} more since the last report)` : "";
  unreported = 0;
  console.error(`sluice: ${line}${more}`);
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return [e?.code, e?.message].filter(Boolean).join(": ") || String(error);
}
