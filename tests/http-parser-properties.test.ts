// Property-based tests of the HTTP/1.1 engine's byte parsers (fast-check):
// 1. random bytes and mutated real heads never throw; what is accepted re-serializes to the same head, holds
//    nothing that could split a line downstream, and every prefix is answered consistently with the whole;
// 2. pipelined requests and responses with length and chunked bodies, split at random points, parse to exactly
//    the messages they were built from;
// 3. the chunked decoder gives the same data, trailers and consumed count for any split, never turns mutated
//    framing into different data, and agrees with a plain reference decoder on any mutated body;
// 4. what the encoder pieces write, the decoder reads back.
import { describe, expect, test } from "bun:test";
import fc from "fast-check";
import { CHUNK_END, ChunkedDecoder, chunkHead, lastChunk } from "../gateway/http/chunked.ts";
import type { HeadError, HeaderFields, RequestHead, ResponseHead } from "../gateway/http/head.ts";
import { parseRequestHead } from "../gateway/http/request-parser.ts";
import { parseResponseHead } from "../gateway/http/response-parser.ts";
import { decodeChunked, isHeadError, latin1Bytes, LIMITS, MAX_RESPONSE_HEAD, prefixProblem } from "./helpers/http-cases.ts";

const RUNS = { numRuns: 200 };
const latin1 = (bytes: Uint8Array) => String.fromCharCode(...bytes);
const parseRequest = (bytes: Uint8Array) => parseRequestHead(bytes, LIMITS);
const parseResponse = (bytes: Uint8Array) => parseResponseHead(bytes, MAX_RESPONSE_HEAD);

// ---- 1. Random bytes and mutations ---------------------------------------------------------------------

const REAL_REQUESTS = [
  "GET /api/v1/items?id=42 HTTP/1.1\r\nHost: example.com\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
  'GET /static/app.js?v=1 HTTP/1.1\r\nHost: www.example.com\r\nConnection: keep-alive\r\nsec-ch-ua: "Chromium";v="124", "Not-A.Brand";v="99"\r\nUser-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\nAccept: */*\r\nReferer: https://www.example.com/\r\nAccept-Encoding: gzip, deflate, br, zstd\r\nAccept-Language: en-US,en;q=0.9\r\n\r\n',
  "POST /submit HTTP/1.1\r\nHost: api.example.com:8443\r\nContent-Type: application/json\r\nContent-Length: 13\r\nExpect: 100-continue\r\n\r\n",
  "PUT /upload HTTP/1.1\r\nHost: [::1]:8080\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
  "GET http://example.com/p?q HTTP/1.1\r\nHost: example.com\r\nX-Latin1: caf\xe9\r\n\r\n",
  "GET /chat HTTP/1.1\r\nHost: 10.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
  "\r\nOPTIONS * HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
];

const REAL_RESPONSES = [
  "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1234\r\nDate: Mon, 01 Jan 2024 00:00:00 GMT\r\nConnection: keep-alive\r\n\r\n",
  "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nVary: Accept-Encoding\r\n\r\n",
  "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\n\r\n",
  "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
  'HTTP/1.1 304\r\nETag: "x"\r\n\r\n',
];

/** Bytes that matter to the grammar, drawn more often than others. */
const INTERESTING = [0x0d, 0x0a, 0x20, 0x09, 0x00, 0x3a, 0x2c, 0x3b, 0x80, 0xff, 0x0b, 0x7f, 0x2f, 0x40, 0x23, 0x22];
const byteArb = fc.oneof(fc.constantFrom(...INTERESTING), fc.integer({ min: 0, max: 255 }));

interface Mutation {
  kind: "insert" | "delete" | "replace";
  at: number;
  byte: number;
}
const mutationArb: fc.Arbitrary<Mutation> = fc.record({ kind: fc.constantFrom("insert", "delete", "replace"), at: fc.nat(), byte: byteArb });

function mutate(bytes: Uint8Array, mutations: Mutation[]): Uint8Array {
  const out = Array.from(bytes);
  for (const m of mutations) {
    if (m.kind === "insert") out.splice(m.at % (out.length + 1), 0, m.byte);
    else if (out.length > 0 && m.kind === "delete") out.splice(m.at % out.length, 1);
    else if (out.length > 0) out[m.at % out.length] = m.byte;
  }
  return Uint8Array.from(out);
}

/** The head without headBytes (which depends on spelling, not meaning). */
/** A head as plain data: what it says (its fields included), not how it was read (its size, its source text). */
function plain<T extends { fields: HeaderFields }>(head: T): T {
  const { source: _source, cut: _cut, ...rest } = head as T & { source?: unknown; cut?: unknown };
  return { ...rest, fields: head.fields } as T;
}

function meaning<T extends { headBytes: number; fields: HeaderFields }>(head: T): Omit<T, "headBytes"> {
  const { headBytes: _, ...rest } = plain(head);
  return rest;
}

function serializeFields(fields: HeaderFields): string {
  let out = "";
  for (let k = 0; k < fields.length; k += 2) out += `${fields[k]}: ${fields[k + 1]}\r\n`;
  return out;
}

const serializeRequest = (h: RequestHead) => `${h.method} ${h.target} HTTP/1.${h.minor}\r\n${serializeFields(h.fields)}\r\n`;
const serializeResponse = (h: ResponseHead) => `HTTP/1.${h.minor} ${h.status} ${h.reason}\r\n${serializeFields(h.fields)}\r\n`;

/** Nothing an accepted head holds may end or split a line, or carry a NUL, when a proxy writes it out again. */
function assertForwardable(strings: string[]): void {
  for (const s of strings) expect(/[\r\n\0]/.test(s)).toBe(false);
}

function checkRequest(bytes: Uint8Array): void {
  const result = parseRequest(bytes);
  expect(prefixProblem(bytes, parseRequest)).toBeUndefined();
  if (result === undefined || isHeadError(result)) return;
  expect(result.headBytes).toBeLessThanOrEqual(bytes.length);
  for (let k = 0; k < result.fields.length; k += 2) expect(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/.test(result.fields[k]!)).toBe(true);
  assertForwardable([result.method, result.target, result.pathAndQuery, result.host, ...result.fields]);
  const again = parseRequest(latin1Bytes(serializeRequest(result)));
  expect(isHeadError(again) || again === undefined ? again : meaning(again)).toEqual(meaning(result));
}

function checkResponse(bytes: Uint8Array): void {
  const result = parseResponse(bytes);
  expect(prefixProblem(bytes, parseResponse)).toBeUndefined();
  if (result === undefined || isHeadError(result)) return;
  expect(result.headBytes).toBeLessThanOrEqual(bytes.length);
  assertForwardable([result.reason, ...result.fields]);
  const again = parseResponse(latin1Bytes(serializeResponse(result)));
  expect(isHeadError(again) || again === undefined ? again : meaning(again)).toEqual(meaning(result));
}

describe("1. random and mutated heads", () => {
  test("the real heads themselves parse", () => {
    for (const raw of REAL_REQUESTS) expect(isHeadError(parseRequest(latin1Bytes(raw)))).toBe(false);
    for (const raw of REAL_RESPONSES) expect(isHeadError(parseResponse(latin1Bytes(raw)))).toBe(false);
  });

  test("random bytes, alone or after a valid start line, never throw", () => {
    const starts = ["", "GET / HTTP/1.1\r\n", "GET / HTTP/1.1\r\nHost: a\r\n", "HTTP/1.1 200 OK\r\n"].map(latin1Bytes);
    fc.assert(
      fc.property(fc.constantFrom(...starts), fc.uint8Array({ maxLength: 300 }), (start, tail) => {
        const bytes = new Uint8Array(start.length + tail.length);
        bytes.set(start);
        bytes.set(tail, start.length);
        checkRequest(bytes);
        checkResponse(bytes);
      }),
      RUNS,
    );
  });

  test("mutated real request heads are refused or mean what they re-serialize to", () => {
    fc.assert(
      fc.property(fc.constantFrom(...REAL_REQUESTS), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (raw, mutations) => {
        checkRequest(mutate(latin1Bytes(raw), mutations));
      }),
      { numRuns: 400 },
    );
  });

  test("mutated real response heads are refused or mean what they re-serialize to", () => {
    fc.assert(
      fc.property(fc.constantFrom(...REAL_RESPONSES), fc.array(mutationArb, { minLength: 1, maxLength: 4 }), (raw, mutations) => {
        checkResponse(mutate(latin1Bytes(raw), mutations));
      }),
      RUNS,
    );
  });
});

// ---- 2. Pipelined messages split anywhere --------------------------------------------------------------

const nameArb = fc.array(fc.constantFrom(..."abcXYZ-_019!#"), { minLength: 1, maxLength: 8 }).map((chars) => "X-" + chars.join(""));
/** Field values: visible bytes, obs-text and inner SP/HTAB, never leading or trailing whitespace. */
const valueArb = fc
  .array(fc.constantFrom(..."az AZ09\t,;=\"'/()\xe9\xff\x80"), { maxLength: 12 })
  .map((chars) => chars.join("").replace(/^[ \t]+|[ \t]+$/g, ""));
const fieldsArb = fc.array(fc.tuple(nameArb, valueArb), { maxLength: 4 }).map((pairs) => pairs.flat());
const dataArb = fc.uint8Array({ minLength: 1, maxLength: 40 });

interface Body {
  kind: "none" | "length" | "chunked";
  chunks: Uint8Array[];
  trailers: HeaderFields;
}
const bodyArb: fc.Arbitrary<Body> = fc.oneof(
  fc.constant<Body>({ kind: "none", chunks: [], trailers: [] }),
  dataArb.map((data): Body => ({ kind: "length", chunks: [data], trailers: [] })),
  fc.record({ chunks: fc.array(dataArb, { maxLength: 4 }), trailers: fieldsArb }).map((b): Body => ({ kind: "chunked", ...b })),
);

interface Message {
  /** Request: method and target; response: status. */
  line: string;
  fields: HeaderFields;
  body: Body;
}

const requestArb: fc.Arbitrary<Message> = fc
  .record({
    method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "PATCH"),
    path: fc.array(fc.constantFrom(..."ab/?=&%-_.~"), { maxLength: 12 }),
    fields: fieldsArb,
    body: bodyArb,
  })
  .map(({ method, path, fields, body }) => ({ line: `${method} /${path.join("")}`, fields: ["Host", "example.com", ...fields], body }));

const responseArb: fc.Arbitrary<Message> = fc
  .record({ status: fc.constantFrom(200, 201, 204, 404, 500), fields: fieldsArb, body: bodyArb })
  .map(({ status, fields, body }) => ({ line: String(status), fields, body: status === 204 ? { kind: "none", chunks: [], trailers: [] } : body }));

function hex(size: number, style: number): string {
  const digits = size.toString(16);
  return style === 1 ? digits.toUpperCase() : style === 2 ? "00" + digits : digits;
}

/** The wire bytes of one message; chunked bodies vary their size spelling and add extensions. */
function encodeMessage(m: Message, isResponse: boolean): string {
  const framing =
    m.body.kind === "length"
      ? ["Content-Length", String(m.body.chunks[0]!.length)]
      : m.body.kind === "chunked"
        ? ["Transfer-Encoding", "chunked"]
        : isResponse
          ? ["Content-Length", "0"]
          : [];
  const start = isResponse ? `HTTP/1.1 ${m.line} Reason` : `${m.line} HTTP/1.1`;
  let out = `${start}\r\n${serializeFields([...m.fields, ...framing])}\r\n`;
  if (m.body.kind === "length") out += latin1(m.body.chunks[0]!);
  if (m.body.kind === "chunked") {
    m.body.chunks.forEach((chunk, k) => (out += `${hex(chunk.length, k % 3)}${k % 2 ? ';ext=1; q="a b"' : ""}\r\n${latin1(chunk)}\r\n`));
    out += `0\r\n${serializeFields(m.body.trailers)}\r\n`;
  }
  return out;
}

interface Received {
  head: RequestHead | ResponseHead;
  body: string;
  trailers: HeaderFields;
}

/**
 * Reads messages from pieces as a connection does: parse a head from the unconsumed bytes, skip its body by
 * Content-Length or the chunked decoder, repeat; bytes left over wait for the next piece.
 */
function drive(pieces: Uint8Array[], parse: (bytes: Uint8Array) => RequestHead | ResponseHead | HeadError | undefined): Received[] {
  const received: Received[] = [];
  let pending: Uint8Array = new Uint8Array(0);
  let current: Received | undefined;
  let remaining = 0;
  let decoder: ChunkedDecoder | undefined;
  for (const piece of pieces) {
    const joined = new Uint8Array(pending.length + piece.length);
    joined.set(pending);
    joined.set(piece, pending.length);
    let offset = 0;
    for (;;) {
      if (current === undefined) {
        if (offset === joined.length) break;
        const head = parse(joined.subarray(offset));
        if (head === undefined) break;
        if (isHeadError(head)) throw new Error(`refused: ${head.message}`);
        offset += head.headBytes;
        current = { head: plain(head), body: "", trailers: [] };
        if (head.chunked) decoder = new ChunkedDecoder();
        else remaining = head.contentLength > 0 ? head.contentLength : 0;
        continue;
      } else if (decoder !== undefined) {
        if (offset === joined.length) break;
        const message = current;
        const next = decoder.push(joined, offset, joined.length, (data) => (message.body += latin1(data)));
        if (next < 0) throw new Error(`chunked body refused: ${decoder.error}`);
        offset = next;
        if (!decoder.done) break;
        current.trailers = decoder.trailers;
      } else {
        const take = Math.min(remaining, joined.length - offset);
        current.body += latin1(joined.subarray(offset, offset + take));
        offset += take;
        remaining -= take;
        if (remaining > 0) break;
      }
      received.push(current);
      current = undefined;
      decoder = undefined;
    }
    pending = joined.slice(offset);
  }
  if (current !== undefined || pending.length > 0) throw new Error("the stream ended inside a message");
  return received;
}

function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
  const pieces: Uint8Array[] = [];
  let last = 0;
  for (const p of [...points, bytes.length]) {
    pieces.push(bytes.subarray(last, p));
    last = p;
  }
  return pieces;
}

function expectMessages(received: Received[], sent: Message[], isResponse: boolean): void {
  expect(received.length).toBe(sent.length);
  received.forEach((r, k) => {
    const m = sent[k]!;
    if (isResponse) expect(String((r.head as ResponseHead).status)).toBe(m.line);
    else expect(`${(r.head as RequestHead).method} ${(r.head as RequestHead).target}`).toBe(m.line);
    expect(r.head.fields.slice(0, m.fields.length)).toEqual(m.fields);
    expect(r.body).toBe(m.body.chunks.map(latin1).join(""));
    expect(r.trailers).toEqual(m.body.trailers);
  });
}

describe("2. pipelined messages split at random points", () => {
  for (const [label, arb, parse, isResponse] of [
    ["requests", requestArb, parseRequest, false],
    ["responses", responseArb, parseResponse, true],
  ] as const) {
    test(`${label} with length and chunked bodies parse to the messages sent, however the stream is cut`, () => {
      fc.assert(
        fc.property(fc.array(arb, { minLength: 1, maxLength: 5 }), fc.array(fc.nat(), { maxLength: 12 }), (messages, cuts) => {
          const bytes = latin1Bytes(messages.map((m) => encodeMessage(m, isResponse)).join(""));
          const whole = drive([bytes], parse);
          expectMessages(whole, messages, isResponse);
          expect(drive(split(bytes, cuts), parse)).toEqual(whole);
        }),
        RUNS,
      );
    });
  }

  test("a pipelined stream fed one byte at a time", () => {
    fc.assert(
      fc.property(fc.array(requestArb, { minLength: 2, maxLength: 3 }), (messages) => {
        const bytes = latin1Bytes(messages.map((m) => encodeMessage(m, false)).join(""));
        const pieces = Array.from(bytes, (_, k) => bytes.subarray(k, k + 1));
        expect(drive(pieces, parseRequest)).toEqual(drive([bytes], parseRequest));
      }),
      { numRuns: 30 },
    );
  });
});

// ---- 3. The chunked decoder ------------------------------------------------------------------------------

interface EncodedBody {
  bytes: Uint8Array;
  data: string;
  trailers: HeaderFields;
  /** Offsets of the CR and LF bytes that frame the body (not those inside chunk data). */
  framing: number[];
  /** Offsets where a chunk-size line starts, and where its digits end. */
  sizeEdges: number[];
}

const chunkedBodyArb: fc.Arbitrary<EncodedBody> = fc
  .record({ chunks: fc.array(dataArb, { maxLength: 5 }), trailers: fieldsArb, style: fc.nat({ max: 5 }) })
  .map(({ chunks, trailers, style }) => {
    let out = "";
    const framing: number[] = [];
    const sizeEdges: number[] = [];
    const crlf = () => {
      framing.push(out.length, out.length + 1);
      out += "\r\n";
    };
    const sizeLine = (size: number, k: number) => {
      sizeEdges.push(out.length);
      out += hex(size, (k + style) % 3);
      sizeEdges.push(out.length);
      if ((k + style) % 4 === 1) out += ";a=b";
      if ((k + style) % 4 === 2) out += ' ; q = "x\\"y"';
      crlf();
    };
    chunks.forEach((chunk, k) => {
      sizeLine(chunk.length, k);
      out += latin1(chunk);
      crlf();
    });
    sizeLine(0, chunks.length);
    for (let k = 0; k < trailers.length; k += 2) {
      out += `${trailers[k]}:${style % 2 ? " " : ""}${trailers[k + 1]}`;
      crlf();
    }
    crlf();
    return { bytes: latin1Bytes(out), data: chunks.map(latin1).join(""), trailers, framing, sizeEdges };
  });

/** Decodes `bytes` split at `cuts`, feeding each call from where the last one stopped. */
function decodeSplit(bytes: Uint8Array, cuts: number[]) {
  const decoder = new ChunkedDecoder();
  let data = "";
  let consumed = 0;
  for (const piece of split(bytes, cuts)) {
    const base = piece.byteOffset - bytes.byteOffset;
    if (decoder.done || base + piece.length <= consumed) continue;
    const next = decoder.push(bytes, Math.max(base, consumed), base + piece.length, (d) => (data += latin1(d)));
    if (next < 0) break;
    consumed = next;
  }
  return { data, trailers: decoder.trailers, done: decoder.done, consumed, error: decoder.error };
}

const TCHAR = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]";
const QUOTED = '"(?:[\\t \\x21\\x23-\\x5b\\x5d-\\x7e\\x80-\\xff]|\\\\[\\t \\x21-\\x7e\\x80-\\xff])*"';
const SIZE_LINE = new RegExp(`([0-9A-Fa-f]+)((?:[ \\t]*;[ \\t]*${TCHAR}+(?:[ \\t]*=[ \\t]*(?:${TCHAR}+|${QUOTED}))?)*)\\r\\n`, "y");
const TRAILER_LINE = new RegExp(`(${TCHAR}+):[ \\t]*([\\t \\x21-\\x7e\\x80-\\xff]*)\\r\\n`, "y");

/**
 * RFC 9112 §7.1 read as plainly as possible, with regular expressions over the whole body and the decoder's
 * documented limits (16 hex digits, safe integers, 4 KiB size lines, 16 KiB trailers). Only says whether the
 * body is complete and what it holds; an unfinished or invalid body is just "not done".
 */
function referenceDecode(text: string): { data: string; trailers: HeaderFields; consumed: number } | undefined {
  let p = 0;
  let data = "";
  for (;;) {
    SIZE_LINE.lastIndex = p;
    const line = SIZE_LINE.exec(text);
    if (line === null || line[1]!.length > 16 || line[0].length - 2 > 4096) return undefined;
    const size = parseInt(line[1]!, 16);
    if (size > Number.MAX_SAFE_INTEGER) return undefined;
    p += line[0].length;
    if (size === 0) break;
    if (text.length < p + size + 2 || text.slice(p + size, p + size + 2) !== "\r\n") return undefined;
    data += text.slice(p, p + size);
    p += size + 2;
  }
  const trailers: HeaderFields = [];
  const sectionStart = p;
  for (;;) {
    if (text.startsWith("\r\n", p)) return p - sectionStart > 16384 ? undefined : { data, trailers, consumed: p + 2 };
    TRAILER_LINE.lastIndex = p;
    const field = TRAILER_LINE.exec(text);
    if (field === null) return undefined;
    trailers.push(field[1]!, field[2]!.replace(/[ \t]+$/, ""));
    p += field[0].length;
  }
}

describe("3. the chunked decoder", () => {
  test("any split of a body gives the same data, trailers and consumed count; what follows is left alone", () => {
    fc.assert(
      fc.property(chunkedBodyArb, fc.array(fc.nat(), { maxLength: 10 }), fc.uint8Array({ maxLength: 8 }), (body, cuts, after) => {
        const bytes = new Uint8Array(body.bytes.length + after.length);
        bytes.set(body.bytes);
        bytes.set(after, body.bytes.length);
        const expected = { data: body.data, trailers: body.trailers, done: true, consumed: body.bytes.length, error: undefined };
        expect(decodeSplit(bytes, [])).toEqual(expected);
        expect(decodeSplit(bytes, cuts)).toEqual(expected);
      }),
      RUNS,
    );
  });

  test("the same body byte by byte", () => {
    fc.assert(
      fc.property(chunkedBodyArb, (body) => {
        const result = decodeChunked(body.bytes, 1);
        expect(result).toEqual({ data: body.data, trailers: body.trailers, done: true, consumed: body.bytes.length, error: undefined });
      }),
      { numRuns: 50 },
    );
  });

  test("mutated framing (CR/LF removed or replaced, junk around a size) is refused or left unfinished, never read as other data", () => {
    const junk = fc.constantFrom(0x20, 0x09, 0x78, 0x2b, 0x2d, 0x67, 0x0a, 0x0d, 0x00, 0x80, 0x22, 0x3d, 0x2c);
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("delete" as const), pick: fc.nat(), byte: fc.constant(0) }),
      fc.record({ kind: fc.constant("replace" as const), pick: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({ kind: fc.constant("insert" as const), pick: fc.nat(), byte: junk }),
    );
    fc.assert(
      fc.property(chunkedBodyArb, mutation, fc.array(fc.nat(), { maxLength: 6 }), (body, m, cuts) => {
        const out = Array.from(body.bytes);
        if (m.kind === "insert") out.splice(body.sizeEdges[m.pick % body.sizeEdges.length]!, 0, m.byte);
        else {
          const at = body.framing[m.pick % body.framing.length]!;
          if (m.kind === "replace" && out[at] === m.byte) return;
          if (m.kind === "delete") out.splice(at, 1);
          else out[at] = m.byte;
        }
        const result = decodeSplit(Uint8Array.from(out), cuts);
        if (result.done && result.error === undefined) {
          // Only a spelling the grammar allows with the same meaning may pass (BWS before an extension's ";").
          expect({ data: result.data, trailers: result.trailers }).toEqual({ data: body.data, trailers: body.trailers });
        }
      }),
      { numRuns: 400 },
    );
  });

  test("any mutation of a body: the decoder finishes exactly when the reference decoder does, with the same result", () => {
    fc.assert(
      fc.property(chunkedBodyArb, fc.array(mutationArb, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 6 }), (body, mutations, cuts) => {
        const bytes = mutate(body.bytes, mutations);
        const reference = referenceDecode(latin1(bytes));
        const result = decodeSplit(bytes, cuts);
        const finished = result.done && result.error === undefined ? { data: result.data, trailers: result.trailers, consumed: result.consumed } : undefined;
        expect(finished).toEqual(reference);
      }),
      { numRuns: 400 },
    );
  });

  test("random bytes never throw", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.array(fc.nat(), { maxLength: 6 }), (bytes, cuts) => {
        decodeSplit(bytes, cuts);
      }),
      RUNS,
    );
  });
});

// ---- 4. Encoder round trip -------------------------------------------------------------------------------

describe("4. encoder pieces round-trip through the decoder", () => {
  test("chunkHead + data + CHUNK_END per chunk, then lastChunk(trailers)", () => {
    const chunkArb = fc.oneof(dataArb, fc.uint8Array({ minLength: 1000, maxLength: 70000 }));
    fc.assert(
      fc.property(fc.array(chunkArb, { maxLength: 4 }), fieldsArb, fc.array(fc.nat(), { maxLength: 8 }), (chunks, trailers, cuts) => {
        const parts: Uint8Array[] = [];
        for (const chunk of chunks) parts.push(chunkHead(chunk.length), chunk, CHUNK_END);
        parts.push(lastChunk(trailers));
        const bytes = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
        let o = 0;
        for (const p of parts) {
          bytes.set(p, o);
          o += p.length;
        }
        const result = decodeSplit(bytes, cuts);
        expect(result.error).toBeUndefined();
        expect(result.done).toBe(true);
        expect(result.consumed).toBe(bytes.length);
        expect(result.data).toBe(chunks.map(latin1).join(""));
        expect(result.trailers).toEqual(trailers);
      }),
      { numRuns: 100 },
    );
  });

  test("lastChunk writes any valid trailer and refuses every value with a byte a field cannot hold", () => {
    fc.assert(
      fc.property(nameArb, fc.array(fc.integer({ min: 0, max: 255 }), { minLength: 1, maxLength: 10 }), (name, codes) => {
        const value = String.fromCharCode(...codes);
        const valid = codes.every((c) => c === 0x09 || c >= 0x20) && !codes.includes(0x7f);
        if (valid) expect(() => lastChunk([name, value])).not.toThrow();
        else expect(() => lastChunk([name, value])).toThrow(TypeError);
      }),
      RUNS,
    );
  });
});
