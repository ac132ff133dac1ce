// What the tracing code costs per request, in process and without sockets: the gateway's Tracing driven as an
// Exchange drives it (a server span from a parsed head, one attempt with its traceparent lines, the answer, the
// end), for telemetry at sampleRatio 1.0 (exported as JSON, then as protobuf) and 0, exporting to the bench's
// OTLP sink in a child process. The CPU
// time of this process per request includes the batch processor's export (protobuf encoding and the HTTP
// request); it does not include the request itself, which plugins-run.ts measures end to end.
//   bun bench/tracing-cost.ts [--requests 200000] [--rounds 5]
import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { setImmediate as yieldTurn } from "node:timers/promises";
import { parseRequestHead } from "../gateway/http/request-parser.ts";
import type { RequestHead } from "../gateway/http/head.ts";
import { startTracing, type TelemetryConfig } from "../gateway/observability/tracing.ts";
import { startOtlpSink } from "./otlp-sink.ts";
import { freePort } from "./procs.ts";
import { median } from "./tables.ts";

const { values } = parseArgs({ options: { requests: { type: "string" }, rounds: { type: "string" }, sink: { type: "string" } } });

if (values.sink !== undefined) {
  // The child: the sink alone, so that its work is not counted in the measuring process.
  await startOtlpSink(Number(values.sink));
  console.log("ready");
} else {
  await measure(Number(values.requests ?? 200_000), Number(values.rounds ?? 5));
}

async function measure(requests: number, rounds: number): Promise<void> {
  const port = await freePort();
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--sink", String(port)], { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve) => child.stdout!.once("data", () => resolve()));
  const sinkUrl = `http://127.0.0.1:${port}`;
  const text =
    "GET /api/items?page=2 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: wrk\r\nAccept: */*\r\nAuthorization: Bearer abc\r\nOrigin: https://app.example.com\r\n\r\n";
  const head = parseRequestHead(new TextEncoder().encode(text), { maxUriLength: 8192, maxHeaderSize: 65536, maxHeaderCount: 100 }) as RequestHead;
  // started: the exchange reads the clock as it takes the head; so does each request here.
  const request = {
    head,
    clientIp: "127.0.0.1",
    proto: "http" as const,
    get started() {
      return performance.now();
    },
  };
  const server = { hostname: "127.0.0.1", port: 9000, hostPort: "127.0.0.1:9000" };
  // A queue long enough not to drop: the loop outpaces the exporter between its turns, and a dropped span is
  // work not measured (the line on the sink's count says whether any were).
  const variants: [string, TelemetryConfig, string][] = [
    ["1.0, JSON", { otlp: sinkUrl, sampleRatio: 1, maxQueueSize: 20_000 }, "http/json"],
    ["1.0, protobuf", { otlp: sinkUrl, sampleRatio: 1, maxQueueSize: 20_000 }, "http/protobuf"],
    ["0", { otlp: sinkUrl, sampleRatio: 0 }, "http/protobuf"],
  ];
  const results = new Map<string, number[]>(variants.map(([name]) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, config, protocol] of variants) {
      process.env.OTEL_EXPORTER_OTLP_TRACES_PROTOCOL = protocol;
      const tracing = (await startTracing(config))!;
      const before = process.cpuUsage();
      for (let i = 0; i < requests; i++) {
        const trace = tracing.serverSpan(request);
        trace.routed("site");
        trace.attempt("GET", server, head.pathAndQuery);
        trace.attemptLines();
        trace.attemptAnswered(200);
        trace.end(200);
        // Let the batch processor export between bursts, as it does between a gateway's reads.
        if ((i & 63) === 63) await yieldTurn();
      }
      await tracing.shutdown();
      const used = process.cpuUsage(before);
      results.get(name)!.push((used.user + used.system) / requests);
    }
  }
  const counts = (await (await fetch(sinkUrl)).json()) as { spans: number; requests: number };
  child.kill();
  for (const [name, us] of results)
    console.log(`sampleRatio ${name.padEnd(14)} ${median(us).toFixed(2)} µs/request (rounds ${us.map((u) => u.toFixed(2)).join(", ")})`);
  console.log(`spans at the sink: ${counts.spans} of ${2 * 2 * requests * rounds} recorded, in ${counts.requests} export requests`);
}
