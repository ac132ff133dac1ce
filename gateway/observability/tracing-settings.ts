// What the tracer runs with: the config's `telemetry`, and for what it leaves out, the OTEL_* environment
// variables the OpenTelemetry SDKs read, then the SDKs' defaults. A value in the config file always wins over the
// environment, as options given in code win in the SDKs. (The exporter reads its own OTEL_EXPORTER_OTLP_*
// variables for what is left undefined here: endpoint, headers, timeout, compression, certificates.)
import { diag } from "@opentelemetry/api";
import { getNumberFromEnv, getStringFromEnv } from "@opentelemetry/core";
import type { TelemetryConfig } from "./tracing.ts";

/** The sampler: the ratio of new traces kept, and whether a request that comes with a trace follows its decision. */
export interface SamplingSettings {
  /** Follow the parent's sampled flag (ParentBased); else every trace is sampled on its own by `ratio`. */
  parentBased: boolean;
  /** 0 to 1: the share of traces (by trace id) recorded and exported. */
  ratio: number;
}

/** How spans travel to the collector: OTLP/HTTP with protobuf bodies or JSON bodies. */
export type OtlpProtocol = "http/protobuf" | "http/json";

export interface TracingSettings {
  /** The OTLP/HTTP traces URL; undefined: OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, OTEL_EXPORTER_OTLP_ENDPOINT or http://localhost:4318/v1/traces. */
  url: string | undefined;
  headers: Record<string, string> | undefined;
  timeoutMillis: number | undefined;
  compression: "gzip" | "none" | undefined;
  /** OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL; http/protobuf (the OTLP default) without them. */
  protocol: OtlpProtocol;
  /** service.name of the resource, unless OTEL_RESOURCE_ATTRIBUTES/OTEL_SERVICE_NAME name one and the config does not. */
  serviceName: string | undefined;
  sampling: SamplingSettings;
  /** Spans waiting for export at most; further ones are dropped (a dead collector never grows memory). */
  maxQueueSize: number;
  maxExportBatchSize: number;
  /** How long a span may wait before its batch is sent. */
  scheduledDelayMillis: number;
  /** How long one batch export may take, retries included, before it is given up. */
  exportTimeoutMillis: number;
}

// The SDK's defaults (the OpenTelemetry specification's).
const DEFAULT_MAX_QUEUE_SIZE = 2048;
const DEFAULT_MAX_EXPORT_BATCH_SIZE = 512;
const DEFAULT_SCHEDULE_DELAY = 5000;
const DEFAULT_EXPORT_TIMEOUT = 30_000;

/** The traces path of an OTLP/HTTP collector, appended to `otlp` as to OTEL_EXPORTER_OTLP_ENDPOINT. */
const TRACES_PATH = "v1/traces";

export function tracingSettings(config: TelemetryConfig): TracingSettings {
  return {
    url: config.otlp === undefined ? undefined : tracesUrl(config.otlp),
    headers: config.headers,
    timeoutMillis: config.timeout,
    compression: config.compression,
    protocol: protocolFromEnv(),
    serviceName: config.serviceName,
    sampling: config.sampleRatio === undefined ? samplingFromEnv() : { parentBased: true, ratio: config.sampleRatio },
    maxQueueSize: config.maxQueueSize ?? positiveFromEnv("OTEL_BSP_MAX_QUEUE_SIZE") ?? DEFAULT_MAX_QUEUE_SIZE,
    maxExportBatchSize: config.maxExportBatchSize ?? positiveFromEnv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE") ?? DEFAULT_MAX_EXPORT_BATCH_SIZE,
    scheduledDelayMillis: config.scheduledDelay ?? positiveFromEnv("OTEL_BSP_SCHEDULE_DELAY") ?? DEFAULT_SCHEDULE_DELAY,
    exportTimeoutMillis: positiveFromEnv("OTEL_BSP_EXPORT_TIMEOUT") ?? DEFAULT_EXPORT_TIMEOUT,
  };
}

/** `otlp` is the collector's base URL ("http://collector:4318"), or already the traces URL. */
export function tracesUrl(otlp: string): string {
  const base = otlp.endsWith("/") ? otlp : `${otlp}/`;
  return base.endsWith(`/${TRACES_PATH}/`) ? base.slice(0, -1) : base + TRACES_PATH;
}

/**
 * The OTLP protocol the environment asks for; protobuf without one, as OTLP says. On Bun the SDK's JSON encoder
 * takes less CPU per span than its protobuf encoder (JSON.stringify is native, the protobuf writer JavaScript),
 * but its bodies are 2.5 times larger and cost more to send: end to end the two cost the gateway about the same
 * (bench/PLUGINS.md), and protobuf puts less on the wire. grpc is not offered (a collector's OTLP/HTTP port
 * takes the same spans): it falls back to the default.
 */
function protocolFromEnv(): OtlpProtocol {
  const name = (getStringFromEnv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") ?? getStringFromEnv("OTEL_EXPORTER_OTLP_PROTOCOL"))?.trim().toLowerCase();
  if (name === undefined || name === "http/protobuf") return "http/protobuf";
  if (name === "http/json") return "http/json";
  diag.warn(`OTEL_EXPORTER_OTLP_PROTOCOL=${name} is not a protocol Sluice exports with; using http/protobuf`);
  return "http/protobuf";
}

/**
 * OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG, as the SDKs read them: the always_on, always_off and
 * traceidratio samplers, each alone or parent-based; the default is parentbased_always_on.
 */
export function samplingFromEnv(): SamplingSettings {
  const name = getStringFromEnv("OTEL_TRACES_SAMPLER")?.trim().toLowerCase() ?? "parentbased_always_on";
  const parentBased = name.startsWith("parentbased_");
  switch (parentBased ? name.slice("parentbased_".length) : name) {
    case "always_on":
      return { parentBased, ratio: 1 };
    case "always_off":
      return { parentBased, ratio: 0 };
    case "traceidratio":
      return { parentBased, ratio: ratioFromEnv() };
  }
  diag.warn(`OTEL_TRACES_SAMPLER=${name} is not a sampler Sluice has; using parentbased_always_on`);
  return { parentBased: true, ratio: 1 };
}

function ratioFromEnv(): number {
  const ratio = getNumberFromEnv("OTEL_TRACES_SAMPLER_ARG");
  if (ratio === undefined) return 1;
  if (ratio >= 0 && ratio <= 1) return ratio;
  diag.warn(`OTEL_TRACES_SAMPLER_ARG=${ratio} is not between 0 and 1; using 1`);
  return 1;
}

function positiveFromEnv(name: string): number | undefined {
  const value = getNumberFromEnv(name);
  return value !== undefined && value > 0 ? value : undefined;
}
