// How an encoded OTLP export request reaches the collector: one POST through fetch with the whole body at once
// (its length known, the connection kept alive between exports). The SDK's own node transport pipes a stream
// into a node:http request for every export, which on Bun costs far more CPU than the body's bytes do
// (bench/PLUGINS.md). What is sent is the same: the body the SDK's serializer made, the headers its configuration
// resolved (config, then OTEL_EXPORTER_OTLP_TRACES_HEADERS / OTEL_EXPORTER_OTLP_HEADERS, then Content-Type), gzip
// when asked; and an answer is judged as the SDK judges it (2xx success; 429, 502, 503 and 504 worth retrying,
// after Retry-After if the collector gave one; a network error or a timeout worth retrying; anything else failed).
import { gzip } from "node:zlib";
import { promisify } from "node:util";
import { OTLPExporterError, type ExportResponse, type IExporterTransport } from "@opentelemetry/otlp-exporter-base";

const gzipped = promisify(gzip);

/** What the transport sends with: the SDK's resolved HTTP configuration (convertLegacyHttpOptions), in part. */
export interface OtlpHttpTarget {
  readonly url: string;
  /** The request headers, Content-Type included, as the SDK's configuration merges them. */
  readonly headers: () => Promise<Record<string, string>>;
  readonly compression: "gzip" | "none";
  /** Put before the exporter's own User-Agent, when set. */
  readonly userAgent?: string;
}

/** The User-Agent of every export request. */
const EXPORTER_AGENT = "Sluice-OTLP-Exporter (OpenTelemetry JS SDK)";
/** A collector's answer is read up to this many bytes (the SDK's limit): an export never buffers more. */
const MAX_ANSWER_BYTES = 4 * 1024 * 1024;
/** Answers worth sending the same request again for (OTLP/HTTP's retryable statuses). */
const RETRYABLE_STATUSES = new Set([429, 502, 503, 504]);

class FetchTransport implements IExporterTransport {
  /** The headers of every export, resolved once: the SDK's configuration reads them from the environment. */
  private headers: Promise<Record<string, string>> | undefined;
  /** Aborted on shutdown: an export still waiting on the collector gives up. */
  private readonly stopping = new AbortController();

  constructor(private readonly target: OtlpHttpTarget) {}

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    const { url, compression, userAgent } = this.target;
    const headers = { ...(await (this.headers ??= this.resolveHeaders())) };
    let body = data;
    if (compression === "gzip") {
      body = await gzipped(data);
      headers["Content-Encoding"] = "gzip";
    }
    headers["User-Agent"] = userAgent ? `${userAgent} ${EXPORTER_AGENT}` : EXPORTER_AGENT;
    const signal = AbortSignal.any([AbortSignal.timeout(timeoutMillis), this.stopping.signal]);
    let response: Response;
    try {
      // The serializer writes into a plain ArrayBuffer; the type says only ArrayBufferLike.
      response = await fetch(url, { method: "POST", headers, body: body as Uint8Array<ArrayBuffer>, signal });
    } catch (error) {
      if (this.stopping.signal.aborted) return { status: "failure", error: new Error("The exporter was shut down") };
      // Refused, reset, unreachable or not answered in time: worth another try, as the SDK has it.
      if (isTimeout(error)) return { status: "retryable", error: new Error("Request timed out") };
      return { status: "retryable", error: error as Error };
    }
    let answer: Uint8Array;
    try {
      answer = await readLimited(response);
    } catch (error) {
      return { status: "failure", error: error as Error };
    }
    if (response.ok) return { status: "success", data: answer };
    if (RETRYABLE_STATUSES.has(response.status)) {
      return { status: "retryable", retryInMillis: retryAfterMillis(response.headers.get("retry-after")) };
    }
    return { status: "failure", error: new OTLPExporterError(response.statusText, response.status, new TextDecoder().decode(answer)) };
  }

  shutdown(): void {
    this.stopping.abort();
  }

  private async resolveHeaders(): Promise<Record<string, string>> {
    try {
      return await this.target.headers();
    } catch (error) {
      this.headers = undefined;
      throw error;
    }
  }
}

export function fetchTransport(target: OtlpHttpTarget): IExporterTransport {
  return new FetchTransport(target);
}

function isTimeout(error: unknown): boolean {
  const name = (error as { name?: string })?.name;
  return name === "TimeoutError" || name === "AbortError";
}

/** The collector's answer body, refused past MAX_ANSWER_BYTES (it is only ever a small partial-success message). */
async function readLimited(response: Response): Promise<Uint8Array> {
  const declared = response.headers.get("content-length");
  if (Number(declared) > MAX_ANSWER_BYTES) {
    await response.body?.cancel();
    throw new Error(`OTLP export response body exceeded size limit of ${MAX_ANSWER_BYTES} bytes`);
  }
  if (response.body === null) return new Uint8Array(0);
  // A length within the limit, which the runtime holds the body to: read in one call, without a reader.
  if (declared !== null) return new Uint8Array(await response.arrayBuffer());
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel();
      throw new Error(`OTLP export response body exceeded size limit of ${MAX_ANSWER_BYTES} bytes`);
    }
    chunks.push(value);
  }
  if (chunks.length === 1) return chunks[0]!;
  const whole = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    whole.set(chunk, at);
    at += chunk.byteLength;
  }
  return whole;
}

/** Retry-After as milliseconds from now: delay-seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMillis(value: string | null): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}
