// The span exporter: the OpenTelemetry SDK's own OTLP/HTTP exporter, assembled from its parts with a transport of
// the gateway's (otlp-fetch-transport.ts) in place of its node:http one. The SDK's parts do the rest as in its
// OTLPTraceExporter: its configuration (the config's values, then the OTEL_EXPORTER_OTLP_* variables, then its
// defaults), its JSON serializer for http/json, its export delegate with its bound on concurrent exports, and its
// exporter metrics; retries follow its policy (otlp-retrying-transport.ts). Protobuf bodies, the default, are
// written by the gateway's own encoder (otlp-trace-protobuf.ts): the SDK's bytes, in less than half its time.
// A collector that needs the certificates of OTEL_EXPORTER_OTLP_CERTIFICATE / _CLIENT_KEY / _CLIENT_CERTIFICATE
// (a private CA, client TLS) is sent to by the SDK's own exporter, whose node:https agent reads them: fetch has no
// portable way to take them.
import { getStringFromEnv } from "@opentelemetry/core";
import { OTLPTraceExporter as SdkJsonExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { OTLPTraceExporter as SdkProtobufExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { createOtlpNetworkExportDelegate, OTLPExporterBase, type CompressionAlgorithm, type IExporterTransport } from "@opentelemetry/otlp-exporter-base";
import { convertLegacyHttpOptions, createOtlpHttpExporterMetrics } from "@opentelemetry/otlp-exporter-base/node-http";
import { JsonTraceSerializer, TraceExporterMetricsHelper } from "@opentelemetry/otlp-transformer";
import type { ReadableSpan, SpanExporter } from "@opentelemetry/sdk-trace";
import { fetchTransport } from "./otlp-fetch-transport.ts";
import { protobufTraceSerializer, releaseExportBody } from "./otlp-trace-protobuf.ts";
import { retryingTransport } from "./otlp-retrying-transport.ts";
import type { OtlpProtocol } from "./tracing-settings.ts";

export interface OtlpExporterOptions {
  protocol: OtlpProtocol;
  /** undefined: what the environment says, else the SDK's default (http://localhost:4318/v1/traces). */
  url: string | undefined;
  headers: Record<string, string> | undefined;
  timeoutMillis: number | undefined;
  compression: "gzip" | "none" | undefined;
}

/** The component type the SDK's own OTLP/HTTP span exporter reports its metrics under. */
const COMPONENT_TYPE = "otlp_http_span_exporter";

/** The variables naming TLS files for the exporter, for traces or for every signal. */
const CERTIFICATE_VARIABLES = ["CERTIFICATE", "CLIENT_KEY", "CLIENT_CERTIFICATE"].flatMap((name) => [
  `OTEL_EXPORTER_OTLP_TRACES_${name}`,
  `OTEL_EXPORTER_OTLP_${name}`,
]);

/** `transport`, handing each body back to the encoder's buffers once its export is over (retries included). */
function releasingTransport(transport: IExporterTransport): IExporterTransport {
  return {
    send: (data, timeoutMillis) => transport.send(data, timeoutMillis).finally(() => releaseExportBody(data)),
    shutdown: () => transport.shutdown(),
  };
}

export function otlpTraceExporter(options: OtlpExporterOptions): SpanExporter {
  const json = options.protocol === "http/json";
  const given = {
    url: options.url,
    headers: options.headers,
    timeoutMillis: options.timeoutMillis,
    // The SDK's CompressionAlgorithm is an enum of exactly these strings.
    compression: options.compression as CompressionAlgorithm | undefined,
  };
  if (CERTIFICATE_VARIABLES.some((name) => getStringFromEnv(name) !== undefined)) {
    return json ? new SdkJsonExporter(given) : new SdkProtobufExporter(given);
  }
  const contentType = json ? "application/json" : "application/x-protobuf";
  const config = convertLegacyHttpOptions(given, "TRACES", "v1/traces", { "Content-Type": contentType });
  const transport = releasingTransport(
    retryingTransport(fetchTransport({ url: config.url, headers: config.headers, compression: config.compression, userAgent: config.userAgent })),
  );
  const metrics = createOtlpHttpExporterMetrics(COMPONENT_TYPE, TraceExporterMetricsHelper, config.url, undefined);
  const serializer = json ? JsonTraceSerializer : protobufTraceSerializer;
  return new OTLPExporterBase<ReadableSpan[]>(createOtlpNetworkExportDelegate(config, serializer, metrics, transport));
}
