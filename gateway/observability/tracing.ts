// Tracing as the rest of the gateway sees it: a `Tracing` per telemetry config, which opens a server span per
// request (`ServerTrace`), and within it a client span per upstream attempt. Only types and the loader live
// here: the OpenTelemetry SDK (tracing-sdk.ts and what it imports) is loaded on first use, so a gateway without
// `telemetry` never loads it, and its requests pay one `undefined` check (the snapshot's `tracing`).
import type { Config } from "../config/schema.ts";
import type { RequestHead } from "../http/head.ts";
import { env } from "node:process";

export type TelemetryConfig = NonNullable<Config["telemetry"]>;

/** What a server span is made from: the request's parsed head and the client's address (an Exchange is one). */
export interface TracedRequest {
  readonly head: RequestHead;
  readonly clientIp: string;
  /** What the listener speaks (url.scheme). */
  readonly proto: "http" | "https";
  /** performance.now() when the head was parsed: the server span's start. */
  readonly started: number;
}

/** An upstream server as a client span names it. */
export interface TracedServer {
  readonly hostname: string;
  readonly port: number;
  /** `host:port`, brackets around an IPv6 address. */
  readonly hostPort: string;
  /** Set for a server spoken to over TLS (url.full is https then). */
  readonly tls?: object | undefined;
}

/** Why an attempt failed: an UpstreamFailure's `kind` ("connect", "timeout", "bad-response", "aborted", …) and message. */
export interface AttemptFailure {
  readonly kind: string;
  readonly message: string;
}

/** How a request ended, for its server span. */
export interface RequestOutcome {
  /** The route that won (http.route), when there was one. */
  route?: string;
  /** What went wrong, when something did (the span's status message). */
  error?: string;
}

/** A request's server span and the client span of its current upstream attempt. */
export interface ServerTrace {
  /** The route that won, when the path that chose it is not the one that ends the span (the hono path). */
  routed(name: string): void;
  /** A new upstream attempt (the first, or a retry): its client span starts, a child of the server span. */
  attempt(method: string, server: TracedServer, pathAndQuery: string): void;
  /**
   * The `traceparent` (and `tracestate`) header lines of the current attempt, which make the upstream's spans
   * children of its client span; they replace any the client sent.
   */
  attemptLines(): string;
  /** The same for the hono path: the fields are set on `headers`, replacing any the client sent. */
  attemptHeaders(headers: Headers): void;
  /** The current attempt's server answered with this status (its head). */
  attemptAnswered(status: number): void;
  /** The current attempt failed: its client span ends with the error. */
  attemptFailed(failure: AttemptFailure): void;
  /** The answer is done (or the request ended without one): the spans end. Later calls do nothing. */
  end(status: number, outcome?: RequestOutcome): void;
}

export interface Tracing {
  /** A server span for a request whose head was just parsed, a child of the client's `traceparent` if it sent one. */
  serverSpan(request: TracedRequest): ServerTrace;
  /** Export what is queued, then stop exporting (once; later calls wait for the same). */
  shutdown(): Promise<void>;
}

let sdkLoaded = false;

/** Whether the OpenTelemetry SDK was loaded in this process: never while no config asked for tracing. */
export function tracingSdkLoaded(): boolean {
  return sdkLoaded;
}

/** Called by tracing-sdk.ts as it is evaluated, that is, once the SDK packages it imports are loaded. */
export function markSdkLoaded(): void {
  sdkLoaded = true;
}

/**
 * Tracing for a config's `telemetry`: loads the SDK and starts its exporter; undefined when tracing is off (no
 * `telemetry`, or OTEL_SDK_DISABLED=true, which turns every OpenTelemetry SDK off whatever its configuration).
 */
export async function startTracing(telemetry: TelemetryConfig | undefined): Promise<Tracing | undefined> {
  if (telemetry === undefined) return undefined;
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === "true") return undefined;
  const { sdkTracing } = await import("./tracing-sdk.ts");
  return sdkTracing(telemetry);
}

/** Whether two telemetry configs describe the same exporter and sampling (a reload then keeps the running tracer). */
export function sameTelemetry(a: TelemetryConfig | undefined, b: TelemetryConfig | undefined): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
