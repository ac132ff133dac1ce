// The OpenTelemetry SDK behind `Tracing`, loaded only when a config has `telemetry` (see tracing.ts): a tracer
// provider with a parent-based ratio sampler, and a batch span processor with a bounded queue feeding the
// OTLP/HTTP exporter. Spans are exported in the background: a slow or dead collector costs the requests nothing
// (the queue fills, then new spans are dropped), and its failures are reported on stderr at most once a minute.
import { diag, DiagLogLevel, type DiagLogger } from "@opentelemetry/api";
import { setGlobalErrorHandler, W3CTraceContextPropagator } from "@opentelemetry/core";
import { defaultResource, detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler, TracerProvider, type Sampler } from "@opentelemetry/sdk-trace";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { ATTR_SERVICE_NAME } from "@opentelemetry/semantic-conventions";
import { markSdkLoaded, type ServerTrace, type TelemetryConfig, type TracedRequest, type Tracing } from "./tracing.ts";
import { tracingSettings, type SamplingSettings } from "./tracing-settings.ts";
import { RequestSpans } from "./tracing-spans.ts";

markSdkLoaded();

/** The instrumentation scope of Sluice's spans. */
const SCOPE = "sluice";
const DEFAULT_SERVICE_NAME = "sluice";
/** Export failures and dropped spans are told at most this often: a collector that is down stays down a while. */
const REPORT_EVERY_MS = 60_000;
/** The exporter's own default time for one export (OTEL_EXPORTER_OTLP_TIMEOUT). */
const DEFAULT_EXPORT_TIME_MS = 10_000;

class SdkTracing implements Tracing {
  private readonly propagator = new W3CTraceContextPropagator();
  private readonly fields = this.propagator.fields();
  private readonly tracer;
  private stopped: Promise<void> | undefined;

  /** `flushMs`: how long stopping waits for the last spans to be exported (a dead collector must not hold it up). */
  constructor(private readonly provider: TracerProvider, private readonly flushMs: number) {
    this.tracer = provider.getTracer(SCOPE);
  }

  serverSpan(request: TracedRequest): ServerTrace {
    return new RequestSpans(this.tracer, this.propagator, this.fields, request);
  }

  shutdown(): Promise<void> {
    if (this.stopped) return this.stopped;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flushed = this.provider.shutdown().catch((error) => report(`telemetry shutdown failed: ${describe(error)}`));
    const givenUp = new Promise<void>((resolve) => (timer = setTimeout(resolve, this.flushMs)));
    return (this.stopped = Promise.race([flushed, givenUp]).finally(() => clearTimeout(timer)));
  }
}

export function sdkTracing(config: TelemetryConfig): Tracing {
  reportSdkProblems();
  const settings = tracingSettings(config);
  type ExporterOptions = NonNullable<ConstructorParameters<typeof OTLPTraceExporter>[0]>;
  const exporter = new OTLPTraceExporter({
    url: settings.url,
    headers: settings.headers,
    timeoutMillis: settings.timeoutMillis,
    // The exporter's CompressionAlgorithm is an enum of exactly these strings.
    compression: settings.compression as ExporterOptions["compression"],
  });
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
  const resource = defaultResource().merge(fromEnv).merge(resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }));
  const provider = new TracerProvider({ resource, sampler: samplerOf(settings.sampling), spanProcessors: [processor] });
  return new SdkTracing(provider, settings.timeoutMillis ?? DEFAULT_EXPORT_TIME_MS);
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
