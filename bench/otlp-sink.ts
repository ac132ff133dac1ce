// A stand-in OTLP/HTTP collector for the plugins benchmark: it takes POST /v1/traces, counts the spans in each
// export request and throws the rest away, so that the run can show the spans were really exported (and how
// many were dropped) without a collector's own cost on the machine. It reads OTLP's JSON encoding and its
// protobuf encoding, whichever the exporter sends.
import { createServer, type Server } from "node:http";

export interface OtlpSink {
  readonly url: string;
  /** Spans received so far. */
  spans(): number;
  /** Export requests received so far. */
  requests(): number;
  stop(): Promise<void>;
}

export function startOtlpSink(port: number): Promise<OtlpSink> {
  let spans = 0;
  let requests = 0;
  const server: Server = createServer((req, res) => {
    // GET: the counts so far, for a harness in another process.
    if (req.method === "GET") return void res.end(JSON.stringify({ spans, requests }));
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => {
      requests++;
      const body = Buffer.concat(chunks);
      const json = (req.headers["content-type"] ?? "").includes("json");
      spans += json ? jsonSpans(body.toString("utf8")) : protobufSpans(body);
      res.writeHead(200, { "content-type": json ? "application/json" : "application/x-protobuf" });
      res.end(json ? "{}" : "");
    });
  });
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, "127.0.0.1", () =>
      resolve({
        url: `http://127.0.0.1:${port}`,
        spans: () => spans,
        requests: () => requests,
        stop: () => new Promise((done) => server.close(() => done())),
      }),
    );
  });
}

/** Spans in OTLP/JSON: every span has one "spanId" key (a parent's is "parentSpanId"). */
function jsonSpans(text: string): number {
  let count = 0;
  for (let at = text.indexOf('"spanId"'); at >= 0; at = text.indexOf('"spanId"', at + 8)) count++;
  return count;
}

/**
 * Spans in OTLP/protobuf: ExportTraceServiceRequest { 1: ResourceSpans } → ResourceSpans { 2: ScopeSpans } →
 * ScopeSpans { 2: Span }, each a length-delimited field; everything else is skipped by its wire type.
 */
function protobufSpans(bytes: Uint8Array): number {
  let count = 0;
  for (const resourceSpans of fields(bytes, 1)) for (const scopeSpans of fields(resourceSpans, 2)) count += fields(scopeSpans, 2).length;
  return count;
}

/** The length-delimited fields numbered `wanted` of one protobuf message. */
function fields(bytes: Uint8Array, wanted: number): Uint8Array[] {
  const found: Uint8Array[] = [];
  let at = 0;
  const varint = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const b = bytes[at++]!;
      value += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return value;
      shift += 7;
    }
  };
  while (at < bytes.length) {
    const key = varint();
    const type = key & 7;
    const field = Math.floor(key / 8);
    if (type === 0) varint();
    else if (type === 1) at += 8;
    else if (type === 5) at += 4;
    else if (type === 2) {
      const length = varint();
      if (field === wanted) found.push(bytes.subarray(at, at + length));
      at += length;
    } else throw new Error(`OTLP sink: protobuf wire type ${type} is not one OTLP uses`);
  }
  return found;
}
