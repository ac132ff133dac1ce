// Response heads from upstream servers (RFC 9112 §4, §6). The same field grammar and framing rules as requests,
// with one answer to every refusal: 502, since the client must not see what the server got wrong.
import { fieldsOf, headError, type HeadError, type HeaderFields, type HeadSource, type ResponseHead } from "./head.ts";
import {
  addContentLengthField,
  addTransferEncodingField,
  addConnectionOptions,
  BARE_CR,
  BARE_LF,
  blankLineEnd,
  CONNECTION,
  CONTENT_LENGTH,
  connectionTokens,
  CR,
  fieldKind,
  FIELD_VALUE,
  LF,
  latin1,
  NEED_MORE,
  NUL,
  scanFieldLine,
  scanMessage,
  SP,
  TOO_LONG,
  TRANSFER_ENCODING,
  type Framing,
  type ConnectionOptions,
  fieldSpans,
  recordField,
} from "./syntax.ts";
import { fitsHttpVersion } from "./http-version.ts";

const line = new Int32Array(4);

function refuse(message: string): HeadError {
  return headError(502, message);
}

const TOO_LARGE = "response head too large";

/**
 * Parses the response head at the start of `bytes`. Returns the head once its blank line has arrived, a HeadError
 * (status 502) as soon as the bytes seen are certainly invalid or the head is certainly larger than `maxHeadSize`
 * bytes, and undefined while it is incomplete and within that size.
 */
export function parseResponseHead(bytes: Uint8Array, maxHeadSize: number): ResponseHead | HeadError | undefined {
  const end = bytes.length;
  // Every line but the blank one must end by here, leaving room for the blank line within maxHeadSize.
  const lineLimit = maxHeadSize - 2;

  // "HTTP/1." DIGIT SP 3DIGIT, byte by byte so garbage is refused at once.
  let i = 0;
  for (; i < 12; i++) {
    if (i === end) return undefined;
    if (i >= lineLimit) return refuse(TOO_LARGE);
    const byte = bytes[i]!;
    // The major version is 1: a response is the answer to the HTTP/1.1 request sent.
    const ok = i < 8 ? fitsHttpVersion(byte, i) && (i !== 5 || byte === 0x31) : i === 8 ? byte === SP : byte >= 0x30 && byte <= 0x39;
    if (!ok) return refuse(byte === LF ? scanMessage(BARE_LF) : i < 8 ? "invalid HTTP version" : "invalid status line");
  }
  const minor: 0 | 1 = bytes[7] === 0x30 ? 0 : 1;
  const status = (bytes[9]! - 0x30) * 100 + (bytes[10]! - 0x30) * 10 + (bytes[11]! - 0x30);
  if (status < 100 || status > 599) return refuse("invalid status code");

  // [ SP reason-phrase ] CRLF; a server that omits the reason often omits its SP too.
  let reasonStart = 12;
  let reasonEnd = 12;
  const stop = Math.min(end, lineLimit);
  if (i < stop && bytes[i] === SP) {
    i++;
    reasonStart = i;
    while (i < stop && FIELD_VALUE[bytes[i]!] === 1) i++;
    reasonEnd = i;
  }
  if (i >= stop) return i >= lineLimit ? refuse(TOO_LARGE) : undefined;
  const byte = bytes[i]!;
  if (byte !== CR) return refuse(byte === LF ? scanMessage(BARE_LF) : byte === 0 ? scanMessage(NUL) : "invalid status line");
  if (i + 1 >= stop) return i + 1 >= lineLimit ? refuse(TOO_LARGE) : undefined;
  if (bytes[i + 1] !== LF) return refuse(scanMessage(BARE_CR));
  i += 2;

  let count = 0;
  const framing: Framing = { contentLength: -1, codings: undefined };
  let connection: ConnectionOptions | undefined;
  let headEnd: number;
  for (;;) {
    if (i === end) return undefined;
    if (bytes[i] === CR) {
      headEnd = blankLineEnd(bytes, i, end);
      if (headEnd === NEED_MORE) return undefined;
      if (headEnd < 0) return refuse(scanMessage(headEnd));
      break;
    }
    const next = scanFieldLine(bytes, i, end, lineLimit, line);
    if (next < 0) {
      if (next === NEED_MORE) return undefined;
      return refuse(next === TOO_LONG ? TOO_LARGE : scanMessage(next));
    }
    const nameStart = line[0]!;
    const nameEnd = line[1]!;
    const valueStart = line[2]!;
    const valueEnd = line[3]!;
    recordField(count, line);
    switch (fieldKind(bytes, nameStart, nameEnd)) {
      case CONTENT_LENGTH: {
        const broken = addContentLengthField(framing, bytes, valueStart, valueEnd);
        if (broken) return refuse(broken);
        break;
      }
      case TRANSFER_ENCODING: {
        const broken = addTransferEncodingField(framing, bytes, valueStart, valueEnd, minor, "response", false);
        if (broken) return refuse(broken);
        break;
      }
      case CONNECTION:
        connection ??= { close: false, keepAlive: false, upgrade: false, tokens: [] };
        if (!addConnectionOptions(bytes, valueStart, valueEnd, connection)) return refuse("invalid Connection");
        break;
    }
    count++;
    i = next;
  }

  const text = latin1(bytes, 0, headEnd);
  const { contentLength, codings } = framing;
  const chunked = codings !== undefined && codings.chunkedLast;
  return new ParsedResponse(
    status,
    reasonEnd - reasonStart === 2 && bytes[reasonStart] === 0x4f && bytes[reasonStart + 1] === 0x4b ? "OK" : text.substring(reasonStart, reasonEnd),
    minor,
    { text, spans: fieldSpans.slice(0, 4 * count) },
    contentLength,
    chunked,
    // A final coding other than chunked leaves the length unknown: the body ends when the server closes (RFC 9112 §6.3).
    codings !== undefined && !chunked,
    connection === undefined ? minor === 0 : connection.close || (minor === 0 && !connection.keepAlive),
    connection === undefined ? undefined : connectionTokens(text, connection.tokens),
    headEnd,
  );
}

/** A response head parsed from bytes: its field strings are cut from the source only when asked for. */
class ParsedResponse implements ResponseHead {
  private cut: HeaderFields | undefined;
  constructor(
    readonly status: number,
    readonly reason: string,
    readonly minor: 0 | 1,
    readonly source: HeadSource,
    readonly contentLength: number,
    readonly chunked: boolean,
    readonly closeDelimited: boolean,
    readonly close: boolean,
    readonly connectionTokens: string[] | undefined,
    readonly headBytes: number,
  ) {}

  get fields(): HeaderFields {
    return (this.cut ??= fieldsOf(this.source));
  }
}
