// An upstream that keeps the exact bytes the gateway sent it and holds them to a strict reading of HTTP/1.1,
// for the attack suites: every request must be well formed (one Host, one framing field, nothing that a
// lenient server behind the gateway could read as something else), its body framed exactly, and nothing may
// follow on a connection but further whole requests. A request read whole is answered with an echo of what it
// was (`METHOD target bodyLength`, the request id in X-Seen-Id), so a client can tell whose answer it got.
// Anything else is recorded as a violation and the connection is closed. Independent of the gateway's parsers.
import { createServer, type Socket } from "node:net";
import { closeServer, listen } from "./upstream.ts";

export interface RecordedRequest {
  readonly method: string;
  readonly target: string;
  /** Header lines split at the first colon, names as sent, values without surrounding whitespace. */
  readonly fields: ReadonlyArray<readonly [string, string]>;
  /** The body, decoded from its framing. */
  readonly body: Buffer;
  readonly trailers: ReadonlyArray<readonly [string, string]>;
  /** The request exactly as it arrived, head, framing and all. */
  readonly raw: Buffer;
  /** Which connection it came on: 1, 2, … in accept order. */
  readonly connection: number;
  /** The first value of a field (name in lower case), or undefined. */
  field(name: string): string | undefined;
}

export interface Violation {
  readonly connection: number;
  readonly reason: string;
  /** The bytes not yet read as whole requests, when the violation was found. */
  readonly bytes: string;
}

export interface RecordedConnection {
  readonly id: number;
  /** Every byte received on it, in order. */
  readonly received: Buffer[];
  /** Bytes that are not (yet) a whole request. */
  readonly pending: number;
  readonly closed: boolean;
}

export interface RecordingUpstream {
  readonly port: number;
  readonly url: string;
  readonly requests: RecordedRequest[];
  readonly violations: Violation[];
  readonly connections: RecordedConnection[];
  close(): Promise<void>;
}

/** Answer a request yourself (write to the socket) and return true; false leaves it to the echo. */
export type CustomAnswer = (request: RecordedRequest, socket: Socket) => boolean;

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
const TARGET = /^[\x21-\x7e]+$/;
const AUTHORITY = /^(?:[A-Za-z0-9._~!$&'()*+;=%-]*|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/;
/** A field a lenient server might read as framing: the real names with `_` for `-` (CGI, WSGI and PHP map both to `_`). */
const FRAMING_LOOKALIKE = /^(content_length|transfer_encoding)$/i;
/** Fields that describe the gateway's connection to the client and must never be forwarded. */
const HOP_BY_HOP = new Set(["keep-alive", "proxy-connection", "te", "trailer", "expect"]);
/** Fields a trailer may never carry: they would frame, route or authenticate the message after the fact. */
const NOT_IN_TRAILERS = new Set(["content-length", "transfer-encoding", "host", "connection", "trailer", "te", "keep-alive", "upgrade", "expect"]);

class Refused extends Error {}

function fieldsOf(lines: string[], where: string): Array<[string, string]> {
  return lines.map((line) => {
    const colon = line.indexOf(":");
    if (colon <= 0) throw new Refused(`${where}: not a field line: ${JSON.stringify(line)}`);
    const name = line.slice(0, colon);
    const value = line.slice(colon + 1).replace(/^[ \t]+|[ \t]+$/g, "");
    if (!TOKEN.test(name)) throw new Refused(`${where}: invalid field name ${JSON.stringify(name)}`);
    if (!VALUE.test(value)) throw new Refused(`${where}: invalid bytes in the value of ${name}: ${JSON.stringify(value)}`);
    return [name, value];
  });
}

/** Lines of `text` split at CRLF; any other CR, LF or a NUL is refused. */
function linesOf(text: string, where: string): string[] {
  if (text.includes("\0")) throw new Refused(`${where}: NUL byte`);
  const lines = text.split("\r\n");
  for (const line of lines) if (/[\r\n]/.test(line)) throw new Refused(`${where}: bare CR or LF in ${JSON.stringify(line)}`);
  return lines;
}

type Parsed = { request: Omit<RecordedRequest, "connection" | "field">; consumed: number };

/** One whole request from the start of `bytes`, undefined while incomplete; throws Refused for anything not strictly valid. */
export function readStrictRequest(bytes: Buffer): Parsed | undefined {
  const end = bytes.indexOf("\r\n\r\n");
  if (end < 0) {
    // A head can only go wrong in ways that are visible before it ends when it holds something no head may.
    const seen = bytes.toString("latin1");
    if (seen.includes("\0") || /[^\r]\n|^\n|\r[^\n]/.test(seen)) linesOf(seen.replace(/\r$/, ""), "head");
    return undefined;
  }
  const head = bytes.subarray(0, end).toString("latin1");
  const [requestLine = "", ...lines] = linesOf(head, "head");
  const m = /^([!#$%&'*+.^_`|~0-9A-Za-z-]+) (\S+) HTTP\/1\.1$/.exec(requestLine);
  if (!m || !TARGET.test(m[2]!)) throw new Refused(`invalid request line ${JSON.stringify(requestLine)}`);
  const [, method, target] = m as unknown as [string, string, string];
  const fields = fieldsOf(lines, "head");
  const all = (name: string) => fields.filter(([n]) => n.toLowerCase() === name).map(([, v]) => v);
  for (const [name] of fields) {
    if (FRAMING_LOOKALIKE.test(name)) throw new Refused(`a framing look-alike field was forwarded: ${name}`);
    if (HOP_BY_HOP.has(name.toLowerCase())) throw new Refused(`a hop-by-hop field was forwarded: ${name}`);
  }
  const hosts = all("host");
  if (hosts.length !== 1) throw new Refused(`${hosts.length} Host fields`);
  if (!AUTHORITY.test(hosts[0]!)) throw new Refused(`invalid Host ${JSON.stringify(hosts[0])}`);
  const lengths = all("content-length");
  const codings = all("transfer-encoding");
  if (lengths.length > 1) throw new Refused("more than one Content-Length");
  if (codings.length > 1) throw new Refused("more than one Transfer-Encoding");
  if (lengths.length && codings.length) throw new Refused("both Content-Length and Transfer-Encoding");
  if (lengths.length && !/^\d{1,15}$/.test(lengths[0]!)) throw new Refused(`invalid Content-Length ${JSON.stringify(lengths[0])}`);
  if (codings.length && codings[0]!.toLowerCase() !== "chunked") throw new Refused(`Transfer-Encoding other than chunked: ${codings[0]}`);
  const start = end + 4;
  if (codings.length) {
    const decoded = decodeStrictChunked(bytes, start);
    if (!decoded) return undefined;
    return { request: { method, target, fields, body: decoded.body, trailers: decoded.trailers, raw: bytes.subarray(0, decoded.end) }, consumed: decoded.end };
  }
  const length = lengths.length ? Number(lengths[0]) : 0;
  if (bytes.length < start + length) return undefined;
  return {
    request: { method, target, fields, body: bytes.subarray(start, start + length), trailers: [], raw: bytes.subarray(0, start + length) },
    consumed: start + length,
  };
}

function decodeStrictChunked(bytes: Buffer, offset: number): { body: Buffer; trailers: Array<[string, string]>; end: number } | undefined {
  const parts: Buffer[] = [];
  let at = offset;
  for (;;) {
    const lineEnd = bytes.indexOf("\r\n", at);
    if (lineEnd < 0) {
      if (bytes.length - at > 20 || /[^0-9A-Fa-f\r]/.test(bytes.subarray(at).toString("latin1"))) throw new Refused("invalid chunk-size line");
      return undefined;
    }
    const line = bytes.subarray(at, lineEnd).toString("latin1");
    // The gateway writes its own chunks: a bare hexadecimal size, no extensions.
    if (!/^[0-9A-Fa-f]{1,15}$/.test(line)) throw new Refused(`invalid chunk-size line ${JSON.stringify(line)}`);
    const size = parseInt(line, 16);
    at = lineEnd + 2;
    if (size === 0) break;
    if (bytes.length < at + size + 2) return undefined;
    parts.push(bytes.subarray(at, at + size));
    at += size;
    if (bytes[at] !== 0x0d || bytes[at + 1] !== 0x0a) throw new Refused("chunk data not followed by CRLF");
    at += 2;
  }
  const end = bytes.indexOf("\r\n\r\n", at - 2);
  if (end < 0) return undefined;
  const section = bytes.subarray(at, end).toString("latin1");
  const trailers = section === "" ? [] : fieldsOf(linesOf(section, "trailers"), "trailers");
  for (const [name] of trailers) if (NOT_IN_TRAILERS.has(name.toLowerCase())) throw new Refused(`forbidden trailer field ${name}`);
  return { body: Buffer.concat(parts), trailers, end: end + 4 };
}

function echo(request: RecordedRequest, socket: Socket): void {
  const body = Buffer.from(`${request.method} ${request.target} ${request.body.length}`, "latin1");
  const head = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nX-Seen-Id: ${request.field("x-request-id") ?? ""}\r\nContent-Length: ${body.length}\r\n\r\n`;
  socket.write(request.method === "HEAD" ? head : Buffer.concat([Buffer.from(head, "latin1"), body]));
}

export async function recordingUpstream(custom?: CustomAnswer): Promise<RecordingUpstream> {
  const requests: RecordedRequest[] = [];
  const violations: Violation[] = [];
  const connections: RecordedConnection[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    const id = connections.length + 1;
    const received: Buffer[] = [];
    let buffered: Buffer = Buffer.alloc(0);
    const connection = {
      id,
      received,
      closed: false,
      get pending() {
        return buffered.length;
      },
    };
    connections.push(connection);
    socket.on("error", () => {});
    socket.on("close", () => {
      connection.closed = true;
      sockets.delete(socket);
    });
    socket.on("data", (chunk: Buffer) => {
      received.push(chunk);
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      for (;;) {
        let parsed: Parsed | undefined;
        try {
          parsed = readStrictRequest(buffered);
        } catch (error) {
          if (!(error instanceof Refused)) throw error;
          violations.push({ connection: id, reason: error.message, bytes: buffered.toString("latin1") });
          socket.destroy();
          return;
        }
        if (!parsed) return;
        buffered = buffered.subarray(parsed.consumed);
        const fields = parsed.request.fields;
        const request: RecordedRequest = {
          ...parsed.request,
          connection: id,
          field: (name) => fields.find(([n]) => n.toLowerCase() === name)?.[1],
        };
        requests.push(request);
        if (!custom?.(request, socket)) echo(request, socket);
        if (socket.destroyed) return;
      }
    });
  });
  const port = await listen(server, 1024);
  return { port, url: `http://127.0.0.1:${port}`, requests, violations, connections, close: () => closeServer(server, sockets) };
}
