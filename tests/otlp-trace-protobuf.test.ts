// The gateway's OTLP protobuf encoder (gateway/observability/otlp-trace-protobuf.ts) against the SDK's own
// ProtobufTraceSerializer: for the same spans the two must give the same bytes, field for field. Checked on the
// spans the gateway records for generated requests (methods known and not, queries, non-ASCII user agents,
// client trace contexts with tracestate, retries, failures, clients that left), and on arbitrary ReadableSpans
// (every attribute value type, events, links, several resources and scopes, long strings, large numbers), as
// fast-check properties; then a few cases at the edges of the wire format's lengths.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { SpanKind, TraceFlags, type Attributes, type HrTime, type Link, type SpanContext } from "@opentelemetry/api";
import { W3CTraceContextPropagator, TraceState } from "@opentelemetry/core";
import { ProtobufTraceSerializer } from "@opentelemetry/otlp-transformer";
import { defaultResource, resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import type { ReadableSpan, TimedEvent } from "@opentelemetry/sdk-trace";
import { parseRequestHead } from "../gateway/http/request-parser.ts";
import type { RequestHead } from "../gateway/http/head.ts";
import { protobufTraceSerializer, releaseExportBody } from "../gateway/observability/otlp-trace-protobuf.ts";
import { spanClock } from "../gateway/observability/tracing-clock.ts";
import type { RecordedSpan } from "../gateway/observability/tracing-span.ts";
import { RequestSpans, type SpanRecorder } from "../gateway/observability/tracing-spans.ts";

const LIMITS = { maxUriLength: 8192, maxHeaderSize: 65536, maxHeaderCount: 100 };
const RUNS = 300;

/** The two encoders' bytes for `spans`, as hex (a mismatch then shows where). */
function bothEncodings(spans: ReadableSpan[]): { ours: string; sdk: string } {
  const ours = protobufTraceSerializer.serializeRequest(spans);
  const sdk = ProtobufTraceSerializer.serializeRequest(spans);
  return { ours: Buffer.from(ours ?? []).toString("hex"), sdk: Buffer.from(sdk ?? []).toString("hex") };
}

function expectSameBytes(spans: ReadableSpan[]): void {
  const { ours, sdk } = bothEncodings(spans);
  expect(ours).toBe(sdk);
}

// ---- the gateway's own spans -------------------------------------------------------------------------------

const resource = defaultResource().merge(resourceFromAttributes({ "service.name": "sluice-test", "deployment.environment": "ci" }));

/** A span recorder as SdkTracing is one, keeping what ends. */
function recorder(spans: RecordedSpan[]): SpanRecorder {
  return {
    propagator: new W3CTraceContextPropagator(),
    resource,
    instrumentationScope: { name: "sluice" },
    sampled: () => true,
    finished: (span) => void spans.push(span),
  };
}

const headerValue = fc.stringMatching(/^[\x21-\x7e\x80-\xff]([\x20-\x7e\x80-\xff]{0,60}[\x21-\x7e\x80-\xff])?$/);

const gatewayRequest = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "PURGE", "PROPFIND"),
  path: fc.stringMatching(/^\/[A-Za-z0-9._~\-/]{0,40}$/),
  query: fc.option(fc.stringMatching(/^[A-Za-z0-9=&._-]{0,30}$/), { nil: undefined }),
  host: fc.constantFrom("example.com", "example.com:8443", "[::1]:8080", "127.0.0.1:80", "api.example.com"),
  userAgent: fc.option(headerValue, { nil: undefined }),
  traceparent: fc.option(
    fc.record({
      traceId: fc.stringMatching(/^[0-9a-f]{32}$/),
      spanId: fc.stringMatching(/^[0-9a-f]{16}$/),
      sampled: fc.boolean(),
      tracestate: fc.option(fc.constantFrom("vendor=abc", "a=1,b=2", "congo=t61rcWkgMzE"), { nil: undefined }),
    }),
    { nil: undefined },
  ),
  clientIp: fc.constantFrom("127.0.0.1", "::1", "203.0.113.9"),
  proto: fc.constantFrom("http" as const, "https" as const),
  attempts: fc.array(
    fc.record({
      server: fc.constantFrom(
        { hostname: "127.0.0.1", port: 9000, hostPort: "127.0.0.1:9000" },
        { hostname: "::1", port: 8081, hostPort: "[::1]:8081" },
        { hostname: "backend.internal", port: 443, hostPort: "backend.internal:443", tls: {} },
      ),
      outcome: fc.oneof(
        fc.record({ status: fc.constantFrom(200, 204, 301, 404, 429, 500, 503) }),
        fc.record({ kind: fc.constantFrom("connect", "timeout", "bad-response"), message: fc.string({ maxLength: 40 }) }),
      ),
    }),
    { minLength: 0, maxLength: 3 },
  ),
  route: fc.option(fc.stringMatching(/^[a-z][a-z0-9-]{0,20}$/), { nil: undefined }),
  end: fc.oneof(
    fc.record({ status: fc.constantFrom(200, 201, 302, 400, 404, 499, 500, 502, 504) }),
    fc.record({ status: fc.constantFrom(200, 502), error: fc.string({ maxLength: 30 }) }),
  ),
});

type GatewayRequest = typeof gatewayRequest extends fc.Arbitrary<infer T> ? T : never;

function headOf(request: GatewayRequest): RequestHead {
  const lines = [`${request.method} ${request.path}${request.query === undefined ? "" : `?${request.query}`} HTTP/1.1`];
  lines.push(`Host: ${request.host}`);
  if (request.userAgent !== undefined) lines.push(`User-Agent: ${request.userAgent}`);
  const parent = request.traceparent;
  if (parent !== undefined) {
    lines.push(`traceparent: 00-${parent.traceId}-${parent.spanId}-${parent.sampled ? "01" : "00"}`);
    if (parent.tracestate !== undefined) lines.push(`tracestate: ${parent.tracestate}`);
  }
  const bytes = Buffer.from(`${lines.join("\r\n")}\r\n\r\n`, "latin1");
  const head = parseRequestHead(new Uint8Array(bytes), LIMITS);
  if (head === undefined || !("method" in head)) throw new Error(`the generated head did not parse: ${JSON.stringify(lines)}`);
  return head as RequestHead;
}

/** The spans the gateway records for one request, driven as an Exchange drives them. */
function recordRequest(request: GatewayRequest, spans: RecordedSpan[]): void {
  const trace = new RequestSpans(recorder(spans), { head: headOf(request), clientIp: request.clientIp, proto: request.proto, started: performance.now() });
  if (request.route !== undefined) trace.routed(request.route);
  for (const attempt of request.attempts) {
    trace.attempt(request.method, attempt.server, `${request.path}${request.query === undefined ? "" : `?${request.query}`}`);
    trace.attemptLines();
    if ("status" in attempt.outcome) trace.attemptAnswered(attempt.outcome.status);
    else trace.attemptFailed(attempt.outcome);
  }
  trace.end(request.end.status, "error" in request.end ? { error: request.end.error, route: request.route } : { route: request.route });
}

describe("the gateway's spans", () => {
  test("the same bytes as the SDK's serializer, for batches of generated requests", () => {
    fc.assert(
      fc.property(fc.array(gatewayRequest, { minLength: 1, maxLength: 12 }), (requests) => {
        const spans: RecordedSpan[] = [];
        for (const request of requests) recordRequest(request, spans);
        expectSameBytes(spans);
      }),
      { numRuns: RUNS },
    );
  });

  test("a full batch (512 spans, far past the encoder's first buffer) and the next batch after it", () => {
    const sample = fc.sample(gatewayRequest, { numRuns: 400, seed: 42 });
    const spans: RecordedSpan[] = [];
    for (const request of sample) recordRequest(request, spans);
    const batch = spans.slice(0, 512);
    expect(batch).toHaveLength(512);
    expectSameBytes(batch);
    // The buffer is kept between batches: a smaller batch after a large one is whole and nothing more.
    expectSameBytes(batch.slice(0, 3));
    const again = protobufTraceSerializer.serializeRequest(batch.slice(0, 3))!;
    expect(again.length).toBe(ProtobufTraceSerializer.serializeRequest(batch.slice(0, 3))!.length);
  });

  test("a batch's body stays as it is until its export is over; then its buffer holds a later batch", () => {
    const spans: RecordedSpan[] = [];
    for (const request of fc.sample(gatewayRequest, { numRuns: 4, seed: 7 })) recordRequest(request, spans);
    const first = protobufTraceSerializer.serializeRequest(spans.slice(0, 2))!;
    const kept = Buffer.from(first).toString("hex");
    // Not released (its export still running, or to be retried): later batches go elsewhere.
    const second = protobufTraceSerializer.serializeRequest(spans.slice(2))!;
    expect(second.buffer).not.toBe(first.buffer);
    expect(Buffer.from(first).toString("hex")).toBe(kept);
    // Released: the next batch is written into the same memory, and is whole.
    releaseExportBody(first);
    const third = protobufTraceSerializer.serializeRequest(spans.slice(1, 3))!;
    expect(third.buffer).toBe(first.buffer);
    expect(Buffer.from(third).toString("hex")).toBe(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans.slice(1, 3))!).toString("hex"));
    releaseExportBody(second);
    releaseExportBody(third);
  });

  test("a body the encoder did not make (the JSON serializer's) is left alone when its export ends", () => {
    const foreign = new Uint8Array([1, 2, 3]);
    releaseExportBody(foreign);
    releaseExportBody(foreign);
    const spans: RecordedSpan[] = [];
    for (const request of fc.sample(gatewayRequest, { numRuns: 2, seed: 8 })) recordRequest(request, spans);
    const body = protobufTraceSerializer.serializeRequest(spans)!;
    expect(body.buffer).not.toBe(foreign.buffer);
    expect([...foreign]).toEqual([1, 2, 3]);
    releaseExportBody(body);
  });

  test("a batch larger than every buffer kept gets a buffer of its own size", () => {
    const sample = fc.sample(gatewayRequest, { numRuns: 600, seed: 9 });
    const spans: RecordedSpan[] = [];
    for (const request of sample) recordRequest(request, spans);
    const small = protobufTraceSerializer.serializeRequest(spans.slice(0, 2))!;
    releaseExportBody(small);
    const large = protobufTraceSerializer.serializeRequest(spans)!;
    expect(large.length).toBeGreaterThan(64 * 1024);
    expect(Buffer.from(large).toString("hex")).toBe(Buffer.from(ProtobufTraceSerializer.serializeRequest(spans)!).toString("hex"));
    releaseExportBody(large);
  });

  test("an empty batch is an empty body, as the SDK's", () => {
    expect(protobufTraceSerializer.serializeRequest([])!.length).toBe(0);
    expectSameBytes([]);
  });
});

// ---- any ReadableSpan --------------------------------------------------------------------------------------

const hex = (bytes: number) => fc.uint8Array({ minLength: bytes, maxLength: bytes }).map((b) => Buffer.from(b).toString("hex"));

/** Strings of every kind of code unit: ASCII, Latin-1, BMP, astral pairs and lone surrogates. */
const anyString = fc.oneof(
  fc.string({ maxLength: 20 }),
  fc.string({ unit: "binary", maxLength: 20 }),
  fc.string({ unit: fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c)), maxLength: 4 }),
  fc.constantFrom("", "é", "日本語", "🙂", "\u0000", "x".repeat(130), "é".repeat(70)),
);

const numberValue = fc.oneof(
  fc.integer(),
  fc.integer({ min: -(2 ** 53), max: 2 ** 53 }),
  fc.constantFrom(0, -0, 1, -1, 127, 128, 2 ** 31, 2 ** 32 - 1, 2 ** 32, 2 ** 53 + 2, -(2 ** 32), 2 ** 62, 2 ** 63, -(2 ** 63), 1e300),
  fc.double(),
);

const leafValue = fc.oneof(anyString, numberValue, fc.boolean(), fc.uint8Array({ maxLength: 20 }), fc.constant(undefined), fc.constant(null));
const anyValue = fc.letrec((tie) => ({
  value: fc.oneof({ depthSize: "small", withCrossShrink: true }, leafValue, tie("array"), tie("object")),
  array: fc.array(tie("value"), { maxLength: 4 }),
  object: fc.dictionary(anyString, tie("value"), { maxKeys: 4 }),
})).value;

const attributes = fc.dictionary(anyString, anyValue, { maxKeys: 6 }) as fc.Arbitrary<Attributes>;
const hrTime = fc.tuple(fc.integer({ min: 0, max: 2 ** 32 }), fc.integer({ min: 0, max: 999_999_999 })) as fc.Arbitrary<HrTime>;
const traceState = fc.option(fc.constantFrom("a=1", "vendor=abc,other=x"), { nil: undefined }).map((s) => (s === undefined ? undefined : new TraceState(s)));

const spanContext = fc.record({
  traceId: hex(16),
  spanId: hex(8),
  traceFlags: fc.constantFrom(TraceFlags.NONE, TraceFlags.SAMPLED, 0xff),
  isRemote: fc.option(fc.boolean(), { nil: undefined }),
  traceState,
}) as fc.Arbitrary<SpanContext>;

const event = fc.record(
  { name: anyString, time: hrTime, attributes: fc.option(attributes, { nil: undefined }), droppedAttributesCount: fc.option(fc.nat(5), { nil: undefined }) },
  { requiredKeys: ["name", "time"] },
) as fc.Arbitrary<TimedEvent>;

const link = fc.record(
  { context: spanContext, attributes: fc.option(attributes, { nil: undefined }), droppedAttributesCount: fc.option(fc.nat(5), { nil: undefined }) },
  { requiredKeys: ["context"] },
) as fc.Arbitrary<Link>;

const scopes = [
  { name: "sluice" },
  { name: "plugin", version: "1.2.3", schemaUrl: "https://opentelemetry.io/schemas/1.30.0" },
  { name: "ünïcode", version: "", attributes: { team: "edge", weight: 3 }, droppedAttributesCount: 2 },
];
const resources: Resource[] = [
  resource,
  resourceFromAttributes({ "service.name": "other", "host.cores": 2, ok: true, tags: ["a", "b"] }),
  resourceFromAttributes({}, { schemaUrl: "https://opentelemetry.io/schemas/1.21.0" }),
];

function readableSpan(fields: {
  context: SpanContext;
  parent: SpanContext | undefined;
  name: string;
  kind: SpanKind | undefined;
  start: HrTime;
  end: HrTime;
  attributes: Attributes;
  events: TimedEvent[];
  links: Link[];
  status: { code: number; message?: string };
  dropped: [number, number, number];
  resource: number;
  scope: number;
}): ReadableSpan {
  return {
    name: fields.name,
    kind: fields.kind as SpanKind,
    spanContext: () => fields.context,
    parentSpanContext: fields.parent,
    startTime: fields.start,
    endTime: fields.end,
    status: fields.status,
    attributes: fields.attributes,
    links: fields.links,
    events: fields.events,
    duration: [0, 0],
    ended: true,
    resource: resources[fields.resource]!,
    instrumentationScope: scopes[fields.scope]!,
    droppedAttributesCount: fields.dropped[0],
    droppedEventsCount: fields.dropped[1],
    droppedLinksCount: fields.dropped[2],
  };
}

const anySpan = fc
  .record({
    context: spanContext,
    parent: fc.option(spanContext, { nil: undefined }),
    name: anyString,
    kind: fc.option(fc.constantFrom(SpanKind.INTERNAL, SpanKind.SERVER, SpanKind.CLIENT, SpanKind.PRODUCER, SpanKind.CONSUMER), { nil: undefined }),
    start: hrTime,
    end: hrTime,
    attributes,
    events: fc.array(event, { maxLength: 3 }),
    links: fc.array(link, { maxLength: 3 }),
    status: fc.record({ code: fc.constantFrom(0, 1, 2), message: fc.option(anyString, { nil: undefined }) }, { requiredKeys: ["code"] }),
    dropped: fc.tuple(fc.nat(300), fc.nat(3), fc.nat(3)),
    resource: fc.nat(resources.length - 1),
    scope: fc.nat(scopes.length - 1),
  })
  .map(readableSpan);

describe("any ReadableSpan", () => {
  test("the same bytes as the SDK's serializer: every attribute value type, events, links, resources and scopes", () => {
    fc.assert(
      fc.property(fc.array(anySpan, { minLength: 1, maxLength: 8 }), (spans) => expectSameBytes(spans)),
      { numRuns: RUNS },
    );
  });

  test("lengths at the varint steps: fields of 127, 128, 16383, 16384 and 2^21 bytes, and a span past 64 KB", () => {
    const base = fc.sample(anySpan, { numRuns: 1, seed: 3 })[0]!;
    for (const length of [0, 1, 127, 128, 129, 16_383, 16_384, 16_385, 2 ** 21 + 5]) {
      const long = "a".repeat(length);
      const span = { ...base, name: long, attributes: { "long.value": long, [`k${long.slice(0, 200)}`]: "é".repeat(length >> 2) } };
      expectSameBytes([span, base]);
    }
  });

  test("the gateway's spans and others in one batch: grouped by resource and scope as the SDK groups them", () => {
    const spans: ReadableSpan[] = [];
    for (const request of fc.sample(gatewayRequest, { numRuns: 5, seed: 11 })) recordRequest(request, spans as RecordedSpan[]);
    const others = fc.sample(anySpan, { numRuns: 6, seed: 12 });
    expectSameBytes([others[0]!, ...spans.slice(0, 3), ...others.slice(1), ...spans.slice(3)]);
  });
});

describe("times", () => {
  test("a recorded span's clock readings come out as the wall-clock times its startTime and endTime report", () => {
    const spans: RecordedSpan[] = [];
    recordRequest(fc.sample(gatewayRequest, { numRuns: 1, seed: 5 })[0]!, spans);
    const before = Date.now();
    expect(spanClock()).toBeGreaterThan(0);
    // Equal bytes with the SDK (which reads startTime/endTime) is the check that matters; and the time is now.
    expectSameBytes(spans);
    const [seconds] = spans[0]!.startTime;
    expect(Math.abs(seconds * 1000 - before)).toBeLessThan(60_000);
  });
});
