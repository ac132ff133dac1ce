// Tracing end to end: requests through a gateway with `telemetry`, a real upstream that records the trace context
// it receives, and a test OTLP/HTTP collector that decodes what the SDK's exporter sends. The upstream must see
// the gateway's client span as its parent, in the same trace as the gateway's server span (itself a child of
// the client's traceparent when there is one), on the engine's byte path and on the hono path alike.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { deadPort, valueOf, until } from "./helpers/common.ts";
import { OTLP_KIND, OTLP_STATUS, parseTraceparent, startCollector, type Collector, type ReceivedSpan } from "./helpers/otlp-collector.ts";
import { gateway, rawRequest, startBlackhole, startRawUpstream, startUpstream, type Gateway } from "./helpers/upstream.ts";
import { startGateway, validateConfig } from "../gateway/gateway.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";
import { repoRoot } from "./helpers/process.ts";
import { startEngineGateway } from "./helpers/engine-gateway.ts";
import { makeCertificates } from "./helpers/test-certificates.ts";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";

const fixtures = resolve(import.meta.dir, "fixtures/plugins");
/** A client's own trace: what a traced service in front of the gateway would send. */
const CLIENT_TRACE = "0af7651916cd43dd8448eb211c80319c";
const CLIENT_SPAN = "b7ad6b7169203331";

let collector: Collector;
beforeAll(() => {
  collector = startCollector();
});
afterAll(() => collector.stop());

/** Telemetry to the test collector, with batches sent every 20 ms so that spans arrive at once. */
function telemetry(extra: NonNullable<ConfigInput["telemetry"]> = {}): NonNullable<ConfigInput["telemetry"]> {
  return { otlp: collector.url, serviceName: "sluice-test", scheduledDelay: 20, ...extra };
}

/** At least `count` spans of a trace, once they have reached the collector. */
function spansOf(traceId: string, count: number): Promise<ReceivedSpan[]> {
  return valueOf(() => {
    const spans = collector.trace(traceId);
    return spans.length >= count ? spans : undefined;
  }, `${count} spans of trace ${traceId} at the collector`);
}

function serverSpanOf(spans: ReceivedSpan[]): ReceivedSpan {
  const found = spans.filter((s) => s.kind === OTLP_KIND.server);
  expect(found).toHaveLength(1);
  return found[0]!;
}

/** The client spans, first attempt first. */
function clientSpansOf(spans: ReceivedSpan[]): ReceivedSpan[] {
  return spans.filter((s) => s.kind === OTLP_KIND.client).sort((a, b) => (a.startNs < b.startNs ? -1 : 1));
}

/** The trace context lines of a raw request head, by lower-case name. */
function traceLinesOf(head: string): { traceparent: string[]; tracestate: string[] } {
  const lines = head.split("\r\n").slice(1);
  const values = (name: string) => lines.filter((l) => l.toLowerCase().startsWith(`${name}:`)).map((l) => l.slice(name.length + 1).trim());
  return { traceparent: values("traceparent"), tracestate: values("tracestate") };
}

/** An upstream speaking raw HTTP/1.1 that records each request head as it arrived, and answers 200 "ok". */
function rawOk() {
  return startRawUpstream((socket) => socket.write("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
}

describe("the byte path", () => {
  test("a server span per request and a client span per attempt, with the HTTP semantic-convention attributes; the upstream's parent is the client span", async () => {
    const up = startUpstream("a");
    const gw = await gateway({ pools: { app: [up.url] }, routes: [{ name: "api", pool: "app" }], telemetry: telemetry() });
    try {
      const response = await fetch(`${gw.url}/items/7?color=red`, { headers: { "user-agent": "trace-test/1.0" } });
      expect(response.status).toBe(200);
      expect(await response.text()).toBe("a");
      const sent = parseTraceparent(up.seen[0]!.headers.get("traceparent"));
      expect(sent?.flags).toBe("01");
      const spans = await spansOf(sent!.traceId, 2);
      expect(spans).toHaveLength(2);
      const server = serverSpanOf(spans);
      const [client] = clientSpansOf(spans);
      expect(server.parentSpanId).toBe("");
      expect(client!.parentSpanId).toBe(server.spanId);
      expect(sent!.parentId).toBe(client!.spanId);

      const gwPort = Number(new URL(gw.url).port);
      expect(server.name).toBe("GET api");
      expect(server.attributes).toEqual({
        "http.request.method": "GET",
        "url.scheme": "http",
        "url.path": "/items/7",
        "url.query": "color=red",
        "server.address": "127.0.0.1",
        "server.port": gwPort,
        "client.address": "127.0.0.1",
        "user_agent.original": "trace-test/1.0",
        "network.protocol.version": "1.1",
        "http.response.status_code": 200,
        "http.route": "api",
      });
      expect(server.status.code).toBe(OTLP_STATUS.unset);
      expect(client!.name).toBe("GET");
      expect(client!.attributes).toEqual({
        "http.request.method": "GET",
        "server.address": "127.0.0.1",
        "server.port": up.port,
        "url.full": `${up.url}/items/7?color=red`,
        "network.protocol.version": "1.1",
        "http.response.status_code": 200,
      });
      // The attempt lies within the request (to the millisecond: the SDK stamps each span's start from Date.now()).
      const ms = 1_000_000n;
      expect(client!.startNs + ms >= server.startNs && client!.endNs <= server.endNs + ms).toBe(true);
      expect(server.resource["service.name"]).toBe("sluice-test");
      expect(server.resource["telemetry.sdk.name"]).toBe("opentelemetry");
      expect(server.scope).toBe("sluice");
    } finally {
      await gw.stop(0);
      await up.stop();
    }
  });

  test("over TLS at both ends: the server span's url.scheme is https, the client span's url.full is an https URL", async () => {
    const certs = await makeCertificates("sluice-trace-tls-");
    await certs.leaf("local", "IP:127.0.0.1");
    const files = certs.files("local");
    const seen: string[] = [];
    const upstream = createHttpsServer({ cert: await Bun.file(files.cert).text(), key: await Bun.file(files.key).text() }, (req, res) => {
      seen.push(String(req.headers.traceparent));
      res.end("secure");
    });
    await new Promise<void>((done) => upstream.listen(0, "127.0.0.1", done));
    const upPort = (upstream.address() as AddressInfo).port;
    const gwPort = await deadPort();
    const gw = await gateway({
      listen: [{ address: `127.0.0.1:${gwPort}`, tls: { certificates: [files] } }],
      pools: { app: { servers: [{ url: `https://127.0.0.1:${upPort}` }], tls: { ca: certs.ca } } },
      routes: [{ name: "secure", pool: "app" }],
      telemetry: telemetry(),
    });
    try {
      const response = await fetch(`https://127.0.0.1:${gwPort}/s?x=1`, { tls: { ca: await Bun.file(certs.ca).text() } });
      expect(await response.text()).toBe("secure");
      const sent = parseTraceparent(seen[0]);
      const spans = await spansOf(sent!.traceId, 2);
      expect(serverSpanOf(spans).attributes).toMatchObject({ "url.scheme": "https", "url.path": "/s", "server.port": gwPort });
      expect(clientSpansOf(spans)[0]!.attributes).toMatchObject({ "url.full": `https://127.0.0.1:${upPort}/s?x=1`, "server.port": upPort });
    } finally {
      await gw.stop(0);
      await new Promise((done) => upstream.close(done));
      await certs.remove();
    }
  });

  test("a client's traceparent makes the server span its child; the upstream gets one traceparent (ours) and the tracestate", async () => {
    const up = await rawOk();
    const gw = await gateway({ pools: { app: [up.url] }, routes: [{ name: "api", pool: "app" }], telemetry: telemetry() });
    try {
      const port = Number(new URL(gw.url).port);
      // Field names in a case of their own: the gateway's replace them all the same.
      const answer = await rawRequest(
        port,
        `GET /child HTTP/1.1\r\nHost: example.test\r\nTraceParent: 00-${CLIENT_TRACE}-${CLIENT_SPAN}-01\r\nTraceState: vendor=abc\r\nConnection: close\r\n\r\n`,
      );
      expect(answer.status).toBe(200);
      const lines = traceLinesOf(up.heads[0]!);
      expect(lines.traceparent).toHaveLength(1);
      expect(lines.tracestate).toEqual(["vendor=abc"]);
      const sent = parseTraceparent(lines.traceparent[0]);
      expect(sent?.traceId).toBe(CLIENT_TRACE);
      expect(sent?.parentId).not.toBe(CLIENT_SPAN);
      const spans = await spansOf(CLIENT_TRACE, 2);
      const server = serverSpanOf(spans);
      const [client] = clientSpansOf(spans);
      expect(server.parentSpanId).toBe(CLIENT_SPAN);
      expect(client!.parentSpanId).toBe(server.spanId);
      expect(sent!.parentId).toBe(client!.spanId);
      // The authority without a port: server.address alone.
      expect(server.attributes["server.address"]).toBe("example.test");
      expect(server.attributes["server.port"]).toBeUndefined();
      expect(server.attributes["user_agent.original"]).toBeUndefined();
    } finally {
      await gw.stop(0);
      await up.close();
    }
  });

  test("two traceparent fields are no parent at all: the request starts a trace of its own", async () => {
    const up = await rawOk();
    const gw = await gateway({ pools: { app: [up.url] }, routes: [{ pool: "app" }], telemetry: telemetry() });
    try {
      const other = "1".repeat(32);
      const answer = await rawRequest(
        Number(new URL(gw.url).port),
        `GET /two HTTP/1.1\r\nHost: a\r\ntraceparent: 00-${CLIENT_TRACE}-${CLIENT_SPAN}-01\r\ntraceparent: 00-${other}-${CLIENT_SPAN}-01\r\nConnection: close\r\n\r\n`,
      );
      expect(answer.status).toBe(200);
      const lines = traceLinesOf(up.heads[0]!);
      expect(lines.traceparent).toHaveLength(1);
      const sent = parseTraceparent(lines.traceparent[0])!;
      expect([CLIENT_TRACE, other]).not.toContain(sent.traceId);
      const server = serverSpanOf(await spansOf(sent.traceId, 2));
      expect(server.parentSpanId).toBe("");
      // Unnamed routes are named by their place in the table.
      expect(server.attributes["http.route"]).toBe("#0");
    } finally {
      await gw.stop(0);
      await up.close();
    }
  });

  test("an invalid traceparent is no parent, and its tracestate is dropped with it: the request starts a trace of its own", async () => {
    const up = await rawOk();
    const gw = await gateway({ pools: { app: [up.url] }, routes: [{ pool: "app" }], telemetry: telemetry() });
    try {
      const port = Number(new URL(gw.url).port);
      const invalid = [
        `00-${"0".repeat(32)}-${CLIENT_SPAN}-01`, // an all-zero trace id
        `00-${CLIENT_TRACE}-${"0".repeat(16)}-01`, // an all-zero parent id
        `ff-${CLIENT_TRACE}-${CLIENT_SPAN}-01`, // version ff is forbidden
        `00-${CLIENT_TRACE.toUpperCase()}-${CLIENT_SPAN}-01`, // upper-case hex
        "not a traceparent",
      ];
      for (const [i, value] of invalid.entries()) {
        const answer = await rawRequest(
          port,
          `GET /invalid HTTP/1.1\r\nHost: a\r\ntraceparent: ${value}\r\ntracestate: vendor=abc\r\nConnection: close\r\n\r\n`,
        );
        expect(answer.status).toBe(200);
        const lines = traceLinesOf(up.heads[i]!);
        expect(lines.tracestate).toEqual([]);
        const sent = parseTraceparent(lines.traceparent[0])!;
        expect(sent.flags).toBe("01");
        expect(sent.traceId).not.toBe(CLIENT_TRACE);
        expect(sent.traceId).not.toBe("0".repeat(32));
        const server = serverSpanOf(await spansOf(sent.traceId, 2));
        expect(server.parentSpanId).toBe("");
      }
    } finally {
      await gw.stop(0);
      await up.close();
    }
  });

  test("a retry is a second client span with http.request.resend_count; the upstream's parent is the attempt that reached it", async () => {
    const dead = await deadPort();
    const up = startUpstream("live");
    const gw = await gateway({
      pools: { app: { balance: "first", retries: 1, servers: [{ url: `http://127.0.0.1:${dead}` }, { url: up.url }] } },
      routes: [{ name: "r", pool: "app" }],
      telemetry: telemetry(),
    });
    try {
      const response = await fetch(`${gw.url}/retry`);
      expect(await response.text()).toBe("live");
      const sent = parseTraceparent(up.seen[0]!.headers.get("traceparent"))!;
      const spans = await spansOf(sent.traceId, 3);
      const server = serverSpanOf(spans);
      const clients = clientSpansOf(spans);
      expect(clients).toHaveLength(2);
      const [first, second] = clients as [ReceivedSpan, ReceivedSpan];
      for (const c of clients) expect(c.parentSpanId).toBe(server.spanId);
      expect(first.attributes["server.port"]).toBe(dead);
      expect(first.attributes["error.type"]).toBe("connect");
      expect(first.attributes["http.request.resend_count"]).toBeUndefined();
      expect(first.attributes["http.response.status_code"]).toBeUndefined();
      expect(first.status.code).toBe(OTLP_STATUS.error);
      expect(second.attributes["server.port"]).toBe(up.port);
      expect(second.attributes["http.request.resend_count"]).toBe(1);
      expect(second.attributes["http.response.status_code"]).toBe(200);
      expect(sent.parentId).toBe(second.spanId);
      // The request itself succeeded.
      expect(server.attributes["http.response.status_code"]).toBe(200);
      expect(server.attributes["error.type"]).toBeUndefined();
      expect(server.status.code).toBe(OTLP_STATUS.unset);
    } finally {
      await gw.stop(0);
      await up.stop();
    }
  });

  test("a failed request: error.type on both spans, and the server span's status is an error", async () => {
    const dead = await deadPort();
    const gw = await gateway({
      pools: { app: [`http://127.0.0.1:${dead}`] },
      routes: [{ name: "down", match: { path: "/fails" }, pool: "app" }],
      telemetry: telemetry(),
    });
    try {
      const response = await fetch(`${gw.url}/fails`, { headers: { traceparent: `00-${"2".repeat(32)}-${CLIENT_SPAN}-01` } });
      expect(response.status).toBe(502);
      const spans = await spansOf("2".repeat(32), 2);
      const server = serverSpanOf(spans);
      const [client] = clientSpansOf(spans);
      expect(server.attributes["http.response.status_code"]).toBe(502);
      expect(server.attributes["error.type"]).toBe("connect");
      expect(server.status.code).toBe(OTLP_STATUS.error);
      expect(server.status.message).toContain("cannot connect");
      expect(client!.attributes["error.type"]).toBe("connect");
      // A 4xx is the client's doing: the server span's status stays unset, and no route means no http.route.
      const missing = await fetch(`${gw.url}/nowhere`, { headers: { traceparent: `00-${"3".repeat(32)}-${CLIENT_SPAN}-01` } });
      expect(missing.status).toBe(404);
      const [notFound] = await spansOf("3".repeat(32), 1);
      expect(notFound!.attributes["http.response.status_code"]).toBe(404);
      expect(notFound!.attributes["error.type"]).toBeUndefined();
      expect(notFound!.attributes["http.route"]).toBeUndefined();
      expect(notFound!.name).toBe("GET");
      expect(notFound!.status.code).toBe(OTLP_STATUS.unset);
    } finally {
      await gw.stop(0);
    }
  });
});

describe("sampling", () => {
  test("sampleRatio 0: nothing is exported and the upstream gets the trace context with the sampled flag off; a sampled parent is still followed", async () => {
    const up = startUpstream("a");
    const gw = await gateway({ pools: { app: [up.url] }, routes: [{ pool: "app" }], telemetry: telemetry({ sampleRatio: 0 }) });
    let stopped = false;
    try {
      for (let i = 0; i < 5; i++) expect((await fetch(`${gw.url}/unsampled`)).status).toBe(200);
      const unsampled = up.seen.map((s) => parseTraceparent(s.headers.get("traceparent")));
      for (const t of unsampled) {
        expect(t?.flags).toBe("00");
        expect(t?.traceId).not.toBe("0".repeat(32));
      }
      const sampledParent = "4".repeat(32);
      expect((await fetch(`${gw.url}/sampled`, { headers: { traceparent: `00-${sampledParent}-${CLIENT_SPAN}-01` } })).status).toBe(200);
      expect(parseTraceparent(up.seen[5]!.headers.get("traceparent"))?.flags).toBe("01");
      // Stopping exports everything queued: after it, what was not exported never will be.
      await gw.stop(0);
      stopped = true;
      expect(collector.trace(sampledParent)).toHaveLength(2);
      for (const t of unsampled) expect(collector.trace(t!.traceId)).toHaveLength(0);
    } finally {
      if (!stopped) await gw.stop(0);
      await up.stop();
    }
  });
  test("sampleRatio 0.5: each new trace is recorded as the SDK's ratio sampler decides by its trace id; recorded spans carry wall-clock times", async () => {
    const up = startUpstream("r");
    const gw = await gateway({ pools: { app: [up.url] }, routes: [{ pool: "app" }], telemetry: telemetry({ sampleRatio: 0.5 }) });
    const { TraceIdRatioBasedSampler } = await import("@opentelemetry/sdk-trace");
    const { ROOT_CONTEXT } = await import("@opentelemetry/api");
    const reference = new TraceIdRatioBasedSampler(0.5);
    let stopped = false;
    try {
      const before = BigInt(Date.now()) * 1_000_000n;
      for (let i = 0; i < 40; i++) expect((await fetch(`${gw.url}/ratio`)).status).toBe(200);
      const after = BigInt(Date.now()) * 1_000_000n;
      const sent = up.seen.map((s) => parseTraceparent(s.headers.get("traceparent"))!);
      await gw.stop(0);
      stopped = true;
      const flags = new Set<string>();
      for (const t of sent) {
        const recorded = reference.shouldSample(ROOT_CONTEXT, t.traceId).decision === 2;
        flags.add(t.flags);
        expect(t.flags).toBe(recorded ? "01" : "00");
        const spans = collector.trace(t.traceId);
        expect(spans).toHaveLength(recorded ? 2 : 0);
        for (const span of spans) {
          expect(span.startNs >= before - 1_000_000n && span.endNs <= after + 1_000_000n).toBe(true);
          expect(span.endNs >= span.startNs).toBe(true);
        }
      }
      // 40 random trace ids at one half: both decisions came up (the odds against are 2 in a trillion).
      expect([...flags].sort()).toEqual(["00", "01"]);
    } finally {
      if (!stopped) await gw.stop(0);
      await up.stop();
    }
  });
});

describe("a collector that is down", () => {
  test("refusing connections: every request is answered, and the failed export is reported on stderr", async () => {
    const up = startUpstream("a");
    const lines: string[] = [];
    const original = console.error;
    console.error = (...args: unknown[]) => void lines.push(args.join(" "));
    const gw = await gateway({
      pools: { app: [up.url] },
      routes: [{ pool: "app" }],
      telemetry: telemetry({ otlp: `http://127.0.0.1:${await deadPort()}`, timeout: "300ms", maxQueueSize: 16, maxExportBatchSize: 8 }),
    });
    try {
      for (let round = 0; round < 10; round++) {
        const answers = await Promise.all(Array.from({ length: 20 }, () => fetch(`${gw.url}/x`).then((r) => r.status)));
        expect(answers.every((s) => s === 200)).toBe(true);
      }
      expect(up.seen).toHaveLength(200);
      await until(() => lines.some((l) => l.startsWith("sluice: telemetry export failed")), "an export failure on stderr");
    } finally {
      await gw.stop(0);
      console.error = original;
      await up.stop();
    }
  });

  test("never answering (connects that hang): requests are answered while the export waits", async () => {
    const up = startUpstream("a");
    const hole = await startBlackhole();
    const gw = await gateway({
      pools: { app: [up.url] },
      routes: [{ pool: "app" }],
      telemetry: telemetry({ otlp: hole.url, timeout: "500ms", maxQueueSize: 8 }),
    });
    try {
      for (let i = 0; i < 100; i++) expect((await fetch(`${gw.url}/y`)).status).toBe(200);
      expect(up.seen).toHaveLength(100);
    } finally {
      await gw.stop(0);
      hole.close();
      await up.stop();
    }
  });
});

describe("telemetry off", () => {
  test("no span, no traceparent injected, and the client's trace context passes untouched", async () => {
    const up = await rawOk();
    const gw = await gateway({ pools: { app: [up.url] }, routes: [{ pool: "app" }] });
    try {
      expect(gw.current.tracing).toBeUndefined();
      const port = Number(new URL(gw.url).port);
      const theirs = `00-${CLIENT_TRACE}-${CLIENT_SPAN}-01`;
      expect((await rawRequest(port, `GET /a HTTP/1.1\r\nHost: a\r\nTraceParent: ${theirs}\r\ntracestate: v=1\r\nConnection: close\r\n\r\n`)).status).toBe(200);
      expect((await rawRequest(port, "GET /b HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")).status).toBe(200);
      expect(up.heads[0]).toContain(`\r\nTraceParent: ${theirs}\r\n`);
      expect(traceLinesOf(up.heads[0]!)).toEqual({ traceparent: [theirs], tracestate: ["v=1"] });
      expect(traceLinesOf(up.heads[1]!)).toEqual({ traceparent: [], tracestate: [] });
    } finally {
      await gw.stop(0);
      await up.close();
    }
  });

  test("the OpenTelemetry SDK is not even loaded until a config asks for tracing", async () => {
    // A process of its own: this one has loaded the SDK for the tests above.
    const tracingModule = JSON.stringify(resolve(repoRoot, "gateway/observability/tracing.ts"));
    const gatewayModule = JSON.stringify(resolve(repoRoot, "gateway/gateway.ts"));
    const script = `
      const { tracingSdkLoaded } = await import(${tracingModule});
      const { startGateway } = await import(${gatewayModule});
      const up = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
      const base = { listen: "127.0.0.1:0", admin: false, accessLog: false, pools: { app: { servers: [{ url: "http://127.0.0.1:" + up.port }] } }, routes: [{ pool: "app" }] };
      const off = await startGateway({ config: base });
      const status = (await fetch(off.url + "/")).status;
      const offLoaded = tracingSdkLoaded();
      await off.stop(0);
      const on = await startGateway({ config: { ...base, telemetry: { otlp: "http://127.0.0.1:9" } } });
      const onLoaded = tracingSdkLoaded();
      await on.stop(0);
      up.stop(true);
      console.log(JSON.stringify({ status, offLoaded, onLoaded }));
      process.exit(0);
    `;
    const proc = Bun.spawn([process.execPath, "-e", script], { cwd: repoRoot, stdout: "pipe", stderr: "inherit" });
    const output = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    expect(JSON.parse(output.trim().split("\n").pop()!)).toEqual({ status: 200, offLoaded: false, onLoaded: true });
  }, 15_000);
});

describe("the hono path", () => {
  test("a route with a middleware plugin: spans, propagation, a client's parent and retries as on the byte path", async () => {
    const dead = await deadPort();
    const up = startUpstream("h");
    const clientTrace = "6".repeat(32);
    const gw = await startGateway({
      configDir: fixtures,
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        pools: {
          app: { servers: [{ url: up.url }] },
          flaky: { balance: "first", retries: 1, servers: [{ url: `http://127.0.0.1:${dead}` }, { url: up.url }] },
        },
        routes: [
          { name: "flaky", match: { path: "/flaky/*" }, pool: "flaky", plugins: [{ use: "./tagger.ts", options: { tag: "t" } }] },
          { name: "tagged", pool: "app", plugins: [{ use: "./tagger.ts", options: { tag: "t" } }] },
        ],
        telemetry: telemetry(),
      },
    });
    try {
      const response = await fetch(`${gw.url}/h?q=1`, { headers: { traceparent: `00-${clientTrace}-${CLIENT_SPAN}-01`, tracestate: "k=v" } });
      expect(await response.text()).toBe("h");
      // The tagger's middleware and phases ran: this request took the hono path.
      expect(response.headers.get("x-tagged-by")).toBe("t");
      expect(up.seen[0]!.headers.get("x-tag")).toBe("t");
      // One traceparent (two would be joined by a comma and not parse), ours, in the client's trace.
      const sent = parseTraceparent(up.seen[0]!.headers.get("traceparent"))!;
      expect(sent.traceId).toBe(clientTrace);
      expect(up.seen[0]!.headers.get("tracestate")).toBe("k=v");
      const spans = await spansOf(clientTrace, 2);
      const server = serverSpanOf(spans);
      const [client] = clientSpansOf(spans);
      expect(server.parentSpanId).toBe(CLIENT_SPAN);
      expect(client!.parentSpanId).toBe(server.spanId);
      expect(sent.parentId).toBe(client!.spanId);
      expect(server.name).toBe("GET tagged");
      expect(server.attributes).toMatchObject({ "http.route": "tagged", "url.path": "/h", "url.query": "q=1", "http.response.status_code": 200 });
      expect(client!.attributes).toMatchObject({ "server.port": up.port, "url.full": `${up.url}/h?q=1`, "http.response.status_code": 200 });

      const retried = await fetch(`${gw.url}/flaky/z`);
      expect(await retried.text()).toBe("h");
      const again = parseTraceparent(up.seen[1]!.headers.get("traceparent"))!;
      const retrySpans = await spansOf(again.traceId, 3);
      const attempts = clientSpansOf(retrySpans);
      expect(attempts.map((a) => a.attributes["error.type"])).toEqual(["connect", undefined]);
      expect(attempts[1]!.attributes["http.request.resend_count"]).toBe(1);
      expect(again.parentId).toBe(attempts[1]!.spanId);
      expect(serverSpanOf(retrySpans).attributes["http.route"]).toBe("flaky");
    } finally {
      await gw.stop(0);
      await up.stop();
    }
  });

  test("a global middleware plugin (every request through hono): the route is still named, the span still ends with the answer", async () => {
    const up = startUpstream("g");
    const gw = await startGateway({
      configDir: fixtures,
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        pools: { app: { servers: [{ url: up.url }] } },
        plugins: [{ use: "./tagger.ts", options: { tag: "g" } }],
        routes: [{ name: "all", pool: "app" }],
        telemetry: telemetry(),
      },
    });
    try {
      const response = await fetch(`${gw.url}/global`);
      expect(await response.text()).toBe("g");
      const sent = parseTraceparent(up.seen[0]!.headers.get("traceparent"))!;
      const spans = await spansOf(sent.traceId, 2);
      const server = serverSpanOf(spans);
      expect(server.attributes).toMatchObject({ "http.route": "all", "http.response.status_code": 200 });
      expect(sent.parentId).toBe(clientSpansOf(spans)[0]!.spanId);
      // A plugin's own answer (its middleware refuses): a span with no attempt.
      const blocked = await fetch(`${gw.url}/global`, { headers: { "x-block": "yes", traceparent: `00-${"5".repeat(32)}-${CLIENT_SPAN}-01` } });
      expect(blocked.status).toBe(403);
      const refused = await spansOf("5".repeat(32), 1);
      expect(refused).toHaveLength(1);
      expect(refused[0]!.attributes["http.response.status_code"]).toBe(403);
    } finally {
      await gw.stop(0);
      await up.stop();
    }
  });
});

describe("config and reloads", () => {
  test("telemetry is accepted and checked: sampleRatio between 0 and 1, otlp an http(s) URL", () => {
    const base = { pools: { app: { servers: [{ url: "http://127.0.0.1:9001" }] } }, routes: [{ pool: "app" }] };
    expect(validateConfig({ ...base, telemetry: { otlp: "http://127.0.0.1:4318", serviceName: "sluice", sampleRatio: 1.0 } }).telemetry).toEqual({
      otlp: "http://127.0.0.1:4318",
      serviceName: "sluice",
      sampleRatio: 1,
    });
    let problems: string[] = [];
    try {
      validateConfig({ ...base, telemetry: { otlp: "ftp://collector", sampleRatio: 1.5, timeout: "soon" } });
    } catch (error) {
      problems = (error as { problems: string[] }).problems;
    }
    expect(problems.map((p) => p.slice(0, p.indexOf(":")))).toEqual(["telemetry.otlp", "telemetry.sampleRatio", "telemetry.timeout"]);
  });

  test("a reload that changes telemetry starts a new tracer (the old one is shut); one that keeps it keeps the tracer", async () => {
    const up = startUpstream("a");
    const config = {
      listen: "127.0.0.1:0",
      admin: false as const,
      accessLog: false,
      pools: { app: { servers: [{ url: up.url }] } },
      routes: [{ pool: "app" }],
    };
    const gw: Gateway = await startGateway({ config: { ...config, telemetry: telemetry({ serviceName: "before" }) } });
    try {
      const first = gw.current.tracing;
      await gw.reload({ ...config, telemetry: telemetry({ serviceName: "before" }) });
      expect(gw.current.tracing).toBe(first!);
      await gw.reload({ ...config, telemetry: telemetry({ serviceName: "after" }) });
      expect(gw.current.tracing).not.toBe(first!);
      await fetch(`${gw.url}/reloaded`);
      const sent = parseTraceparent(up.seen[0]!.headers.get("traceparent"))!;
      const [span] = await spansOf(sent.traceId, 2);
      expect(span!.resource["service.name"]).toBe("after");
      await gw.reload(config);
      expect(gw.current.tracing).toBeUndefined();
      await fetch(`${gw.url}/off`);
      expect(up.seen[1]!.headers.get("traceparent")).toBeNull();
    } finally {
      await gw.stop(0);
      await up.stop();
    }
  });
});

describe("OTEL_* environment variables", () => {
  /** Run a gateway with `telemetry` in a process with `env`, send one request through it, and report what the upstream saw. */
  async function inProcessWith(env: Record<string, string>, telemetryConfig: object, headers: Record<string, string>) {
    const gatewayModule = JSON.stringify(resolve(repoRoot, "gateway/gateway.ts"));
    const script = `
      const { startGateway } = await import(${gatewayModule});
      let seen = null;
      const up = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: (r) => { seen = r.headers.get("traceparent"); return new Response("ok"); } });
      const gw = await startGateway({ config: { listen: "127.0.0.1:0", admin: false, accessLog: false,
        pools: { app: { servers: [{ url: "http://127.0.0.1:" + up.port }] } }, routes: [{ pool: "app" }], telemetry: ${JSON.stringify(telemetryConfig)} } });
      const status = (await fetch(gw.url + "/env", { headers: ${JSON.stringify(headers)} })).status;
      const tracing = gw.current.tracing !== undefined;
      await gw.stop(0);
      up.stop(true);
      console.log(JSON.stringify({ status, tracing, seen }));
      process.exit(0);
    `;
    const proc = Bun.spawn([process.execPath, "-e", script], { cwd: repoRoot, env: { ...process.env, ...env }, stdout: "pipe", stderr: "inherit" });
    const output = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    return JSON.parse(output.trim().split("\n").pop()!) as { status: number; tracing: boolean; seen: string | null };
  }

  test("fill in what the config leaves out: endpoint, service name, resource attributes, sampler, batch delay", async () => {
    const unsampledParent = "7".repeat(32);
    const result = await inProcessWith(
      {
        OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
        OTEL_SERVICE_NAME: "from-env",
        OTEL_RESOURCE_ATTRIBUTES: "deployment.environment.name=test",
        // Not parent-based: a client's unsampled trace is recorded all the same.
        OTEL_TRACES_SAMPLER: "always_on",
        OTEL_BSP_SCHEDULE_DELAY: "20",
      },
      {},
      { traceparent: `00-${unsampledParent}-${CLIENT_SPAN}-00` },
    );
    expect(result).toMatchObject({ status: 200, tracing: true });
    expect(parseTraceparent(result.seen)).toMatchObject({ traceId: unsampledParent, flags: "01" });
    const server = serverSpanOf(await spansOf(unsampledParent, 2));
    expect(server.resource["service.name"]).toBe("from-env");
    expect(server.resource["deployment.environment.name"]).toBe("test");
  }, 15_000);

  test("a config value wins over its variable, and OTEL_SDK_DISABLED=true turns tracing off", async () => {
    const parent = "8".repeat(32);
    const named = await inProcessWith(
      { OTEL_SERVICE_NAME: "from-env", OTEL_TRACES_SAMPLER: "always_off" },
      { otlp: collector.url, serviceName: "from-config", sampleRatio: 1, scheduledDelay: 20 },
      {
        traceparent: `00-${parent}-${CLIENT_SPAN}-01`,
      },
    );
    expect(named.status).toBe(200);
    expect(serverSpanOf(await spansOf(parent, 2)).resource["service.name"]).toBe("from-config");
    const disabled = await inProcessWith({ OTEL_SDK_DISABLED: "true" }, { otlp: collector.url }, { traceparent: `00-${"9".repeat(32)}-${CLIENT_SPAN}-01` });
    // Off: the client's own traceparent passes as it came.
    expect(disabled).toEqual({ status: 200, tracing: false, seen: `00-${"9".repeat(32)}-${CLIENT_SPAN}-01` });
  }, 15_000);
  test("the exporter sends OTLP protobuf; OTEL_EXPORTER_OTLP_PROTOCOL=http/json makes it JSON", async () => {
    const viaProtobuf = "a".repeat(32);
    const viaJson = "b".repeat(32);
    const config = { otlp: collector.url, sampleRatio: 1, scheduledDelay: 20 };
    expect((await inProcessWith({}, config, { traceparent: `00-${viaProtobuf}-${CLIENT_SPAN}-01` })).status).toBe(200);
    expect((await inProcessWith({ OTEL_EXPORTER_OTLP_PROTOCOL: "http/json" }, config, { traceparent: `00-${viaJson}-${CLIENT_SPAN}-01` })).status).toBe(200);
    expect((await spansOf(viaProtobuf, 2)).map((s) => s.encoding)).toEqual(["protobuf", "protobuf"]);
    const json = await spansOf(viaJson, 2);
    expect(json.map((s) => s.encoding)).toEqual(["json", "json"]);
    // The same spans either way.
    const server = serverSpanOf(json);
    expect(server.parentSpanId).toBe(CLIENT_SPAN);
    expect(server.attributes).toMatchObject({ "http.request.method": "GET", "url.path": "/env", "http.response.status_code": 200 });
    expect(clientSpansOf(json)[0]!.parentSpanId).toBe(server.spanId);
  }, 15_000);

  test("the config's headers and OTEL_EXPORTER_OTLP_TRACES_HEADERS go with every export; compression gzip gzips it", async () => {
    const parent = "c".repeat(32);
    const config = { otlp: collector.url, sampleRatio: 1, scheduledDelay: 20, headers: { "x-api-key": "from-config" }, compression: "gzip" };
    const result = await inProcessWith({ OTEL_EXPORTER_OTLP_TRACES_HEADERS: "x-tenant=from-env" }, config, { traceparent: `00-${parent}-${CLIENT_SPAN}-01` });
    expect(result.status).toBe(200);
    const spans = await spansOf(parent, 2);
    for (const span of spans) {
      expect(span.exportHeaders).toMatchObject({
        "x-api-key": "from-config",
        "x-tenant": "from-env",
        "content-encoding": "gzip",
        "content-type": "application/x-protobuf",
      });
      expect(span.exportHeaders["user-agent"]).toContain("OpenTelemetry");
    }
    expect(serverSpanOf(spans).attributes["url.path"]).toBe("/env");
  }, 15_000);

  test("with OTEL_EXPORTER_OTLP_CERTIFICATE (TLS files for the collector) the SDK's own node:https exporter sends", async () => {
    const parent = "e".repeat(32);
    // Any readable file does for a collector on plain http: what is checked is which exporter sent.
    const env = { OTEL_EXPORTER_OTLP_CERTIFICATE: resolve(repoRoot, "package.json") };
    const result = await inProcessWith(env, { otlp: collector.url, sampleRatio: 1, scheduledDelay: 20 }, { traceparent: `00-${parent}-${CLIENT_SPAN}-01` });
    expect(result.status).toBe(200);
    const spans = await spansOf(parent, 2);
    expect(spans[0]!.exportHeaders["user-agent"]).toStartWith("OTel-OTLP-Exporter-JavaScript/");
    expect(spans.map((s) => s.encoding)).toEqual(["protobuf", "protobuf"]);
  }, 15_000);
});

describe("a collector that turns exports away", () => {
  test("a 503 with Retry-After is tried again (as 429, 502 and 504 are) until the spans are taken", async () => {
    const up = startUpstream("a");
    const busy = startCollector({ turnAway: { count: 2, status: 503, retryAfter: "0" } });
    const gw = await gateway({ pools: { app: [up.url] }, routes: [{ pool: "app" }], telemetry: { otlp: busy.url, scheduledDelay: 20 } });
    try {
      const response = await fetch(`${gw.url}/again`, { headers: { traceparent: `00-${"d".repeat(32)}-${CLIENT_SPAN}-01` } });
      expect(response.status).toBe(200);
      await until(() => busy.trace("d".repeat(32)).length === 2, "both spans at the collector after two 503s");
      // Two turned away, then the one taken: the same batch sent three times.
      expect(busy.requests).toBe(3);
      expect(busy.spans).toHaveLength(2);
    } finally {
      await gw.stop(0);
      await busy.stop();
      await up.stop();
    }
  });

  test("any other error status is not retried: the failure is reported on stderr after the one attempt", async () => {
    const refusing = startCollector({ turnAway: { count: 1, status: 400 } });
    // In a process of its own: failures are reported at most once a minute per process, and this file's other
    // tests report theirs.
    const gatewayModule = JSON.stringify(resolve(repoRoot, "gateway/gateway.ts"));
    const script = `
      const lines = [];
      console.error = (...args) => void lines.push(args.join(" "));
      const { startGateway } = await import(${gatewayModule});
      const up = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("ok") });
      const gw = await startGateway({ config: { listen: "127.0.0.1:0", admin: false, accessLog: false,
        pools: { app: { servers: [{ url: "http://127.0.0.1:" + up.port }] } }, routes: [{ pool: "app" }],
        telemetry: { otlp: ${JSON.stringify(refusing.url)}, scheduledDelay: 20 } } });
      const status = (await fetch(gw.url + "/bad")).status;
      const deadline = Date.now() + 5000;
      while (!lines.some((l) => l.startsWith("sluice: telemetry export failed")) && Date.now() < deadline) await Bun.sleep(10);
      console.log(JSON.stringify({ status, reported: lines.filter((l) => l.startsWith("sluice: telemetry")) }));
      process.exit(0);
    `;
    try {
      const proc = Bun.spawn([process.execPath, "-e", script], { cwd: repoRoot, stdout: "pipe", stderr: "inherit" });
      const output = await new Response(proc.stdout).text();
      expect(await proc.exited).toBe(0);
      const result = JSON.parse(output.trim().split("\n").pop()!) as { status: number; reported: string[] };
      expect(result.status).toBe(200);
      expect(result.reported).toHaveLength(1);
      expect(result.reported[0]).toContain("400");
      // Reported once the transport gave up on the batch: after the one attempt, none retried.
      expect(refusing.requests).toBe(1);
      expect(refusing.spans).toHaveLength(0);
    } finally {
      await refusing.stop();
    }
  }, 15_000);
});

describe("on Deno", () => {
  test("the SDK loads and exports, and the upstream sees the client span as its parent", async () => {
    const up = startUpstream("d");
    const gw = await startEngineGateway("deno", {
      pools: { app: { servers: [{ url: up.url }] } },
      routes: [{ name: "deno", pool: "app" }],
      telemetry: telemetry({ serviceName: "sluice-deno" }),
    });
    try {
      const response = await fetch(`${gw.url}/on-deno`);
      expect(await response.text()).toBe("d");
      const sent = parseTraceparent(up.seen[0]!.headers.get("traceparent"))!;
      const spans = await spansOf(sent.traceId, 2);
      const server = serverSpanOf(spans);
      expect(server.resource["service.name"]).toBe("sluice-deno");
      expect(server.attributes["http.route"]).toBe("deno");
      expect(sent.parentId).toBe(clientSpansOf(spans)[0]!.spanId);
    } finally {
      await gw.stop();
      await up.stop();
    }
  }, 30_000);
});
