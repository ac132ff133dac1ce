// Sending an export again when the collector's answer says to try later (429/502/503/504, a network error, a
// timeout): the OpenTelemetry JS SDK's policy, which its package keeps to itself (createRetryingTransport is not
// among its exports): up to 5 more attempts, 1 s after the first, then 1.5 times longer each time up to 5 s, each
// wait ±20% at random so that many gateways do not come back at once; the collector's Retry-After when it gave
// one. No attempt starts past the export's time limit. All of it happens after the batch left the request path.
import { diag } from "@opentelemetry/api";
import type { ExportResponse, IExporterTransport } from "@opentelemetry/otlp-exporter-base";

const MAX_RETRIES = 5;
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 5000;
const BACKOFF_MULTIPLIER = 1.5;
const JITTER = 0.2;

class RetryingTransport implements IExporterTransport {
  /** Set on shutdown: a retry still waiting is not sent. */
  private stopped = false;

  constructor(private readonly transport: IExporterTransport) {}

  async send(data: Uint8Array, timeoutMillis: number): Promise<ExportResponse> {
    const deadline = Date.now() + timeoutMillis;
    let backoff = FIRST_BACKOFF_MS;
    let result = await this.transport.send(data, timeoutMillis);
    for (let retries = 0; result.status === "retryable" && retries < MAX_RETRIES; retries++) {
      const jittered = Math.min(backoff * (1 + (Math.random() * 2 - 1) * JITTER), MAX_BACKOFF_MS);
      backoff *= BACKOFF_MULTIPLIER;
      const wait = result.retryInMillis ?? jittered;
      const left = deadline - Date.now();
      if (this.stopped) return result;
      if (wait > left) {
        diag.info(`Export retry time ${Math.round(wait)}ms exceeds remaining timeout ${Math.round(left)}ms, not retrying further.`);
        return result;
      }
      await new Promise((resolve) => setTimeout(resolve, wait));
      if (this.stopped) return result;
      result = await this.transport.send(data, Math.max(1, deadline - Date.now()));
    }
    return result;
  }

  shutdown(): void {
    this.stopped = true;
    this.transport.shutdown();
  }
}

export function retryingTransport(transport: IExporterTransport): IExporterTransport {
  return new RetryingTransport(transport);
}
