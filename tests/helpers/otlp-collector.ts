// A test OTLP/HTTP collector: a Bun.serve on 127.0.0.1 that takes POST /v1/traces as an OpenTelemetry collector
// does, decodes the export request (OTLP's protobuf encoding, which the gateway's exporter sends by default, or
// its JSON encoding, either of them gzipped; anything else is answered 415 and counted as refused) and keeps every
// span with its resource and the headers of the export request that carried it, flattened for assertions. It can
// be told to turn the first export requests away (a collector that is overloaded or failing), to test retries.
import type { Server } from "bun";
import { gunzipSync } from "node:zlib";
import { decodeTraceExport } from "./otlp-protobuf.ts";

/** An OTLP AnyValue as JSON: one of these keys holds it (int64 as a string or a number). */
interface AnyValue {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
}

interface KeyValue {
  key: string;
  value: AnyValue;
}

interface ExportRequest {
  resourceSpans?: {
    resource?: { attributes?: KeyValue[] };
    scopeSpans?: {
      scope?: { name?: string };
      spans?: {
        traceId: string;
        spanId: string;
        parentSpanId?: string;
        name: string;
        kind: number;
        attributes?: KeyValue[];
        status?: { code?: number; message?: string };
        startTimeUnixNano: string | number;
        endTimeUnixNano: string | number;
      }[];
    }[];
  }[];
}

/** OTLP's SpanKind numbers (they differ from the API's enum). */
export const OTLP_KIND = { internal: 1, server: 2, client: 3 } as const;
/** OTLP's status codes. */
export const OTLP_STATUS = { unset: 0, ok: 1, error: 2 } as const;

export type AttributeValue = string | number | boolean | AttributeValue[] | undefined;

export interface ReceivedSpan {
  traceId: string;
  spanId: string;
  /** "" for a root span. */
  parentSpanId: string;
  name: string;
  kind: number;
  attributes: Record<string, AttributeValue>;
  status: { code: number; message?: string };
  resource: Record<string, AttributeValue>;
  scope: string;
  /** How the export request that carried it was encoded. */
  encoding: "protobuf" | "json";
  /** The headers of the export request that carried it, by lower-case name. */
  exportHeaders: Record<string, string>;
  startNs: bigint;
  endNs: bigint;
}

export interface Collector {
  readonly url: string;
  readonly port: number;
  readonly spans: ReceivedSpan[];
  /** Export requests received, and those refused (neither protobuf nor JSON). */
  readonly requests: number;
  readonly refused: number;
  /** The spans of one trace. */
  trace(traceId: string): ReceivedSpan[];
  stop(): Promise<void>;
}

function valueOf(value: AnyValue): AttributeValue {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(valueOf);
  return undefined;
}

function attributesOf(list: KeyValue[] | undefined): Record<string, AttributeValue> {
  const out: Record<string, AttributeValue> = {};
  for (const { key, value } of list ?? []) out[key] = valueOf(value);
  return out;
}

/** The first `count` export requests are answered with `status` (and Retry-After when given), not taken. */
export interface TurnAway {
  count: number;
  status: number;
  retryAfter?: string;
}

export function startCollector(options: { turnAway?: TurnAway } = {}): Collector {
  const spans: ReceivedSpan[] = [];
  let requests = 0;
  let refused = 0;
  let turnedAway = 0;
  const server: Server<unknown> = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const path = new URL(request.url).pathname;
      if (request.method !== "POST" || path !== "/v1/traces") return new Response("not found", { status: 404 });
      requests++;
      const away = options.turnAway;
      if (away !== undefined && turnedAway < away.count) {
        turnedAway++;
        const headers: Record<string, string> = away.retryAfter === undefined ? {} : { "retry-after": away.retryAfter };
        return new Response("not now", { status: away.status, headers });
      }
      const type = request.headers.get("content-type") ?? "";
      const protobuf = type.startsWith("application/x-protobuf");
      if (!protobuf && !type.startsWith("application/json")) {
        refused++;
        return new Response("only OTLP/protobuf or OTLP/JSON here", { status: 415 });
      }
      const exportHeaders = Object.fromEntries(request.headers);
      let bytes = new Uint8Array(await request.arrayBuffer());
      if (request.headers.get("content-encoding") === "gzip") bytes = new Uint8Array(gunzipSync(bytes));
      const body = (protobuf ? decodeTraceExport(bytes) : JSON.parse(new TextDecoder().decode(bytes))) as ExportRequest;
      for (const rs of body.resourceSpans ?? []) {
        const resource = attributesOf(rs.resource?.attributes);
        for (const ss of rs.scopeSpans ?? []) {
          for (const span of ss.spans ?? []) {
            spans.push({
              traceId: span.traceId,
              spanId: span.spanId,
              parentSpanId: span.parentSpanId ?? "",
              name: span.name,
              kind: span.kind,
              attributes: attributesOf(span.attributes),
              status: { code: span.status?.code ?? 0, message: span.status?.message },
              resource,
              scope: ss.scope?.name ?? "",
              encoding: protobuf ? "protobuf" : "json",
              exportHeaders,
              startNs: BigInt(span.startTimeUnixNano),
              endNs: BigInt(span.endTimeUnixNano),
            });
          }
        }
      }
      // An empty ExportTraceServiceResponse: no bytes in protobuf.
      return protobuf ? new Response(new Uint8Array(0), { headers: { "content-type": "application/x-protobuf" } }) : Response.json({ partialSuccess: {} });
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    port: server.port!,
    spans,
    get requests() {
      return requests;
    },
    get refused() {
      return refused;
    },
    trace: (traceId) => spans.filter((s) => s.traceId === traceId),
    stop: () => server.stop(true),
  };
}

/** A W3C traceparent's parts: "00-<trace id>-<parent id>-<flags>". */
export function parseTraceparent(value: string | null | undefined): { traceId: string; parentId: string; flags: string } | undefined {
  const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$/.exec(value ?? "");
  return m ? { traceId: m[1]!, parentId: m[2]!, flags: m[3]! } : undefined;
}
