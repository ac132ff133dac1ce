// The one writer of answers to clients: the gateway's own JSON errors, the heads of relayed upstream answers,
// and whole fetch-style Responses (hono plugins, static files, redirects) written to a connection with
// backpressure. Framing is decided here, once: Content-Length when the length is known, chunked for HTTP/1.1
// clients otherwise, and for HTTP/1.0 clients a body that ends when the connection closes. Nothing is written
// that a client could read as more than one field or more than one answer: a Response whose status text or
// header values hold control characters is answered with the gateway's own 500 instead, and a body is never
// let run past the Content-Length its head announced.
import { Buffer } from "node:buffer";
import { contentLengthValue, NOT_FIELD_VALUE } from "./syntax.ts";
import { requestIdFor } from "../proxy/headers.ts";
import type { AnswerFields } from "./answer-fields.ts";

const REASONS: Record<number, string> = {
  100: "Continue",
  101: "Switching Protocols",
  102: "Processing",
  103: "Early Hints",
  200: "OK",
  201: "Created",
  202: "Accepted",
  203: "Non-Authoritative Information",
  204: "No Content",
  205: "Reset Content",
  206: "Partial Content",
  207: "Multi-Status",
  300: "Multiple Choices",
  301: "Moved Permanently",
  302: "Found",
  303: "See Other",
  304: "Not Modified",
  307: "Temporary Redirect",
  308: "Permanent Redirect",
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  408: "Request Timeout",
  409: "Conflict",
  410: "Gone",
  411: "Length Required",
  412: "Precondition Failed",
  413: "Content Too Large",
  414: "URI Too Long",
  415: "Unsupported Media Type",
  416: "Range Not Satisfiable",
  417: "Expectation Failed",
  421: "Misdirected Request",
  422: "Unprocessable Content",
  426: "Upgrade Required",
  428: "Precondition Required",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  499: "Client Closed Request",
  500: "Internal Server Error",
  501: "Not Implemented",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
  505: "HTTP Version Not Supported",
};

export function reasonFor(status: number): string {
  return REASONS[status] ?? "";
}

/** Bytes of a head (or any latin1 text): header values may carry obs-text bytes, which must round-trip. */
export function latin1(text: string): Uint8Array {
  return Buffer.from(text, "latin1");
}

/**
 * One reusable buffer for composing what a single write sends (a head and the body bytes that came with it):
 * no allocation per request. The view it hands out is valid until the next call, so it must go straight to a
 * socket's write (which copies whatever it cannot send at once).
 */
// Larger than one read of a socket (64 KiB) plus the framing around it: a rechunked read never allocates.
const SCRATCH = Buffer.allocUnsafe(256 * 1024);
// What callers get is a plain Uint8Array over the same memory. A socket keeps what it cannot send at once with
// `slice`, which copies a Uint8Array but only views a Buffer: a kept view of the scratch would be overwritten by
// the next composed write, and the client would get another answer's bytes in the middle of its own.
const SCRATCH_BYTES = new Uint8Array(SCRATCH.buffer, SCRATCH.byteOffset, SCRATCH.length);

/**
 * `parts` as one run of `total` bytes at the start of the returned buffer (the scratch buffer when they fit):
 * write its first `total` bytes. Parts come in threes — latin1 text with 0, 0, or bytes with a start and end —
 * so that no view is made of a runtime chunk (a typed-array view costs more than copying a short range).
 */
export function joinForWrite(parts: ReadonlyArray<string | Uint8Array | number>, total: number): Uint8Array {
  const scratch = total <= SCRATCH.length;
  const target = scratch ? SCRATCH : Buffer.allocUnsafe(total);
  let at = 0;
  for (let k = 0; k < parts.length; k += 3) {
    const part = parts[k]!;
    if (typeof part === "string") at += target.write(part, at, "latin1");
    else {
      const start = parts[k + 1] as number;
      const end = parts[k + 2] as number;
      at += COPY.call(part as Uint8Array, target, at, start, end);
    }
  }
  return scratch ? SCRATCH_BYTES : target;
}

/** Buffer's native copy, applied to any Uint8Array (no view of the source made). */
const COPY = Buffer.prototype.copy as (this: Uint8Array, target: Uint8Array, targetStart: number, sourceStart: number, sourceEnd: number) => number;

/** A complete JSON error answer: `{ "error", "requestId" }`, with `Connection: close` when the connection ends after it. */
export function errorAnswer(status: number, error: string, requestId: string, close: boolean, headOnly = false, extra = ""): Uint8Array {
  const body = JSON.stringify({ error, requestId });
  const head =
    `HTTP/1.1 ${status} ${reasonFor(status)}\r\ncontent-type: application/json\r\nx-request-id: ${requestId}\r\n${extra}` +
    `content-length: ${Buffer.byteLength(body)}\r\n${close ? "connection: close\r\n" : ""}\r\n`;
  return latin1(headOnly ? head : head + body);
}

/** Statuses whose answers never have a body (RFC 9110 §6.4.1). */
export function bodylessStatus(status: number): boolean {
  return status < 200 || status === 204 || status === 304;
}

/** Where a Response is written: the client connection, as the exchange drives it. */
export interface ResponseTarget {
  write(bytes: Uint8Array): boolean;
  /** Resolves when the client has taken what was written (drain); rejects when it went away. */
  waitDrain(): Promise<void>;
}

const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade", "te", "trailer"]);

/**
 * Write a fetch-style Response: the head (its headers minus hop-by-hop ones, plus the framing the connection
 * needs), then its body with backpressure. `minor` is the client's HTTP minor version; `headRequest`: answer
 * without the body. Resolves when everything has been handed to the socket, with whether the connection must
 * close now (asked for, or an HTTP/1.0 body whose end only the close can mark).
 */
export async function writeResponse(
  target: ResponseTarget,
  response: Response,
  minor: 0 | 1,
  close: boolean,
  headRequest: boolean,
  own?: AnswerFields,
): Promise<boolean> {
  const status = response.status;
  const noBody = headRequest || bodylessStatus(status);
  // Headers refuse CR, LF and NUL in values, but not other controls, and Bun's Response keeps any status text.
  let unwritable = NOT_FIELD_VALUE.test(response.statusText) ? "status text" : undefined;
  let head = `HTTP/1.1 ${status} ${response.statusText || reasonFor(status)}\r\n`;
  let length: string | null = null;
  // The listener's own fields (HSTS) stand in for the Response's of that name.
  const replaced = own?.replaces;
  response.headers.forEach((value, name) => {
    if (NOT_FIELD_VALUE.test(value)) unwritable ??= name;
    if (name === "content-length") length = value;
    else if (!HOP_BY_HOP.has(name) && name !== "set-cookie" && name !== replaced) head += `${name}: ${value}\r\n`;
  });
  if (own !== undefined) head += own.lines;
  for (const cookie of response.headers.getSetCookie()) head += `set-cookie: ${cookie}\r\n`;
  // A list of equal values ("5, 5", as an upstream may send) is that value; a plugin's "abc" is not a length.
  const announced = length === null ? -1 : contentLengthValue(length);
  if (length !== null && announced < 0) unwritable ??= "content-length";
  if (unwritable !== undefined) return refuseUnwritable(target, response, unwritable, headRequest, own);
  const body = noBody ? null : response.body;
  let chunked = false;
  let closeAfter = close;
  if (length !== null && (body !== null || noBody)) head += `content-length: ${announced}\r\n`;
  else if (body === null) {
    if (!bodylessStatus(status)) head += "content-length: 0\r\n";
  } else if (minor === 1) {
    head += "transfer-encoding: chunked\r\n";
    chunked = true;
  } else closeAfter = true; // HTTP/1.0 without a length: the body ends with the connection
  if (closeAfter) head += "connection: close\r\n";
  else if (minor === 0) head += "connection: keep-alive\r\n";
  head += "\r\n";
  if (!body) {
    if (headRequest) void response.body?.cancel().catch(() => {});
    target.write(latin1(head));
    return closeAfter;
  }
  target.write(latin1(head));
  // What the head announced: a body that runs past it is cut there, one that ends short leaves only a close to say so.
  let left = noBody ? -1 : announced;
  const reader = body.getReader();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (value.byteLength === 0) continue;
      let piece = value;
      if (left >= 0) {
        if (piece.byteLength > left) piece = piece.subarray(0, left);
        left -= piece.byteLength;
      }
      const ok = chunked ? writeChunk(target, piece) : target.write(piece);
      if (piece !== value) {
        console.error(`sluice: a response body ran past its content-length ${length}: cut there, connection closed`);
        void reader.cancel().catch(() => {});
        return true;
      }
      if (!ok) await target.waitDrain();
    }
    if (chunked) target.write(LAST_CHUNK);
  } catch (error) {
    void reader.cancel(error).catch(() => {});
    throw error;
  }
  return closeAfter || left > 0;
}

/** A Response that cannot be written as it is: the gateway's own 500 in its place, and the connection closed. */
function refuseUnwritable(target: ResponseTarget, response: Response, what: string, headRequest: boolean, own: AnswerFields | undefined): boolean {
  void response.body?.cancel().catch(() => {});
  const requestId = requestIdFor(response.headers.get("x-request-id"));
  console.error(`request ${requestId} failed: its answer could not be written: ${what} holds a character no HTTP field may hold`);
  target.write(errorAnswer(500, "internal gateway error", requestId, true, headRequest, own?.lines));
  return true;
}

const CRLF = new Uint8Array([13, 10]);
const LAST_CHUNK = latin1("0\r\n\r\n");

function writeChunk(target: ResponseTarget, data: Uint8Array): boolean {
  target.write(latin1(`${data.byteLength.toString(16)}\r\n`));
  target.write(data);
  return target.write(CRLF);
}
