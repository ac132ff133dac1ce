// Request heads from clients (RFC 9112 §2–§3, §5–§6; RFC 9110). One pass over the bytes classifies every byte
// through lookup tables, refusing the head at the first byte that makes it certainly invalid or over a limit;
// only an accepted head is decoded (once, as latin1) and cut into strings. When in doubt the head is refused:
// every ambiguity a proxy tolerates is one a server behind it may read differently.
import { fieldsOf, headError, type HeadError, type HeaderFields, type HeadSource, type RequestHead, type RequestLimits } from "./head.ts";
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
  equalsLower,
  EXPECT,
  fieldKind,
  HOST,
  isAuthority,
  isFramingLookalike,
  OTHER_FIELD,
  LF,
  latin1,
  LOWER,
  NEED_MORE,
  scanFieldLine,
  scanMessage,
  SP,
  TARGET,
  TCHAR,
  TOO_LONG,
  TRANSFER_ENCODING,
  UPGRADE,
  type Framing,
  type ConnectionOptions,
  fieldSpans,
  recordField,
} from "./syntax.ts";
import { fitsHttpVersion } from "./http-version.ts";

/**
 * Longest method accepted (501 above, as for any method not implemented). RFC 9110 sets no bound, but the
 * request line needs one besides the target's; the longest registered method is 17 bytes.
 */
export const MAX_METHOD_LENGTH = 32;

/** Empty lines a client may send before the request line (RFC 9112 §2.2 asks servers to skip at least one). */
const MAX_LEADING_EMPTY_LINES = 2;

// The offsets of the field line being scanned, reused across calls (parsing is synchronous); the strings are cut
// from the decoded head only once it is known to be complete and valid.
const line = new Int32Array(4);

const BAD_LINE = "invalid request line";

/** Methods most requests use, as constants: no string is cut for them and later comparisons are on one atom. */
function knownMethod(bytes: Uint8Array, start: number, end: number): string | undefined {
  const b0 = bytes[start];
  switch (end - start) {
    case 3:
      if (b0 === 0x47 && bytes[start + 1] === 0x45 && bytes[start + 2] === 0x54) return "GET";
      if (b0 === 0x50 && bytes[start + 1] === 0x55 && bytes[start + 2] === 0x54) return "PUT";
      return undefined;
    case 4:
      if (b0 === 0x50 && bytes[start + 1] === 0x4f && bytes[start + 2] === 0x53 && bytes[start + 3] === 0x54) return "POST";
      if (b0 === 0x48 && bytes[start + 1] === 0x45 && bytes[start + 2] === 0x41 && bytes[start + 3] === 0x44) return "HEAD";
      return undefined;
    default:
      return undefined;
  }
}

function isMethod(bytes: Uint8Array, start: number, end: number, method: string): boolean {
  if (end - start !== method.length) return false;
  for (let i = 0; i < method.length; i++) if (bytes[start + i] !== method.charCodeAt(i)) return false;
  return true;
}

/** Where an absolute-form target's authority starts: after `http://` or `https://` (scheme in any case); -1 if neither. */
function absoluteAuthorityStart(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  if (end - i < 7) return -1;
  if (LOWER[bytes[i]!] !== 0x68 || LOWER[bytes[i + 1]!] !== 0x74 || LOWER[bytes[i + 2]!] !== 0x74 || LOWER[bytes[i + 3]!] !== 0x70) return -1;
  i += 4;
  if (LOWER[bytes[i]!] === 0x73) i++;
  if (end - i < 3 || bytes[i] !== 0x3a || bytes[i + 1] !== 0x2f || bytes[i + 2] !== 0x2f) return -1;
  return i + 3;
}

/**
 * Parses the request head at the start of `bytes`. Returns the head once its blank line has arrived, a HeadError
 * as soon as the bytes seen are certainly invalid or past a limit, and undefined while the head is incomplete and
 * still within every limit.
 */
export function parseRequestHead(bytes: Uint8Array, limits: RequestLimits): RequestHead | HeadError | undefined {
  const end = bytes.length;
  let i = 0;

  // Empty lines before the request line.
  for (let skipped = 0; i < end && (bytes[i] === CR || bytes[i] === LF); skipped++) {
    if (bytes[i] === LF) return headError(400, scanMessage(BARE_LF));
    if (skipped === MAX_LEADING_EMPTY_LINES) return headError(400, "too many empty lines before the request line");
    const next = blankLineEnd(bytes, i, end);
    if (next === NEED_MORE) return undefined;
    if (next < 0) return headError(400, scanMessage(next));
    i = next;
  }
  const lineStart = i;

  // method SP
  const methodStop = Math.min(end, lineStart + MAX_METHOD_LENGTH + 1);
  while (i < methodStop && TCHAR[bytes[i]!] === 1) i++;
  if (i - lineStart > MAX_METHOD_LENGTH) return headError(501, "method not supported");
  if (i === end) return undefined;
  if (bytes[i] !== SP || i === lineStart) return headError(400, i === lineStart ? BAD_LINE : "invalid method");
  const methodEnd = i;
  // Tunnels are not proxied: refused before anything else about the request is read.
  if (isMethod(bytes, lineStart, methodEnd, "CONNECT")) return headError(501, "CONNECT is not supported");
  i++;

  // request-target SP
  const targetStart = i;
  const targetStop = Math.min(end, targetStart + limits.maxUriLength + 1);
  while (i < targetStop && TARGET[bytes[i]!] === 1) i++;
  if (i - targetStart > limits.maxUriLength) return headError(414, "URI too long");
  if (i === end) return undefined;
  if (bytes[i] !== SP || i === targetStart) return headError(400, i === targetStart ? BAD_LINE : "invalid request-target");
  const targetEnd = i;
  i++;

  // Target form (RFC 9112 §3.2). The path of an absolute-form target starts at `pathStart`.
  let pathStart = targetStart;
  let authorityStart = -1;
  const first = bytes[targetStart];
  if (first !== 0x2f) {
    if (first === 0x2a && targetEnd - targetStart === 1) {
      if (!isMethod(bytes, lineStart, methodEnd, "OPTIONS")) return headError(400, "asterisk-form is only for OPTIONS");
    } else {
      authorityStart = absoluteAuthorityStart(bytes, targetStart, targetEnd);
      if (authorityStart < 0) return headError(400, "invalid request-target");
      pathStart = authorityStart;
      while (pathStart < targetEnd && bytes[pathStart] !== 0x2f && bytes[pathStart] !== 0x3f) pathStart++;
      // An http(s) URI with an empty host is invalid (RFC 9110 §4.2.1); userinfo is refused by the grammar.
      if (pathStart === authorityStart || !isAuthority(bytes, authorityStart, pathStart)) return headError(400, "invalid authority in request-target");
    }
  }

  // HTTP-version CRLF: "HTTP/" DIGIT "." DIGIT, checked byte by byte so garbage is refused before the line ends.
  const versionStart = i;
  for (let k = 0; k < 10; k++, i++) {
    if (i === end) return undefined;
    const byte = bytes[i]!;
    const ok = k < 8 ? fitsHttpVersion(byte, k) : byte === (k === 8 ? CR : LF);
    if (!ok) {
      if (byte === LF) return headError(400, scanMessage(BARE_LF));
      return headError(400, k === 9 ? scanMessage(BARE_CR) : "invalid HTTP version");
    }
  }
  if (bytes[versionStart + 5] !== 0x31) return headError(505, "HTTP version not supported");
  const minor: 0 | 1 = bytes[versionStart + 7] === 0x30 ? 0 : 1;

  // Header section.
  const headerStart = i;
  const headerLimit = headerStart + limits.maxHeaderSize;
  const maxCount = limits.maxHeaderCount;
  let count = 0;
  let hostCount = 0;
  let hostStart = 0;
  let hostEnd = 0;
  const framing: Framing = { contentLength: -1, codings: undefined };
  let connection: ConnectionOptions | undefined;
  let upgradeCount = 0;
  let upgradeField = -1;
  let expectContinue = false;
  let headEnd: number;
  for (;;) {
    if (i === end) return undefined;
    if (bytes[i] === CR) {
      headEnd = blankLineEnd(bytes, i, end);
      if (headEnd === NEED_MORE) return undefined;
      if (headEnd < 0) return headError(400, scanMessage(headEnd));
      break;
    }
    if (count === maxCount && TCHAR[bytes[i]!] === 1) return headError(431, "too many header fields");
    const next = scanFieldLine(bytes, i, end, headerLimit, line);
    if (next < 0) {
      if (next === NEED_MORE) return undefined;
      if (next === TOO_LONG) return headError(431, "request header section too large");
      return headError(400, scanMessage(next));
    }
    const nameStart = line[0]!;
    const nameEnd = line[1]!;
    const valueStart = line[2]!;
    const valueEnd = line[3]!;
    recordField(count, line);
    switch (fieldKind(bytes, nameStart, nameEnd)) {
      case HOST:
        if (++hostCount > 1) return headError(400, "more than one Host field");
        if (!isAuthority(bytes, valueStart, valueEnd)) return headError(400, "invalid Host");
        hostStart = valueStart;
        hostEnd = valueEnd;
        break;
      case CONTENT_LENGTH: {
        const broken = addContentLengthField(framing, bytes, valueStart, valueEnd);
        if (broken) return headError(400, broken);
        break;
      }
      case TRANSFER_ENCODING: {
        const broken = addTransferEncodingField(framing, bytes, valueStart, valueEnd, minor, "request", true);
        if (broken) return headError(400, broken);
        break;
      }
      case CONNECTION:
        connection ??= { close: false, keepAlive: false, upgrade: false, tokens: [] };
        if (!addConnectionOptions(bytes, valueStart, valueEnd, connection)) return headError(400, "invalid Connection");
        break;
      case UPGRADE:
        if (upgradeCount++ === 0) upgradeField = count;
        break;
      case EXPECT:
        // `100-continue` is the only expectation defined (RFC 9110 §10.1.1); it is ignored from HTTP/1.0 clients.
        if (!equalsLower(bytes, valueStart, valueEnd, "100-continue")) return headError(417, "expectation not supported");
        expectContinue = true;
        break;
      case OTHER_FIELD:
        // `Transfer_Encoding` or `Content_Length`: framing to some servers behind us, an ordinary field to us.
        if (isFramingLookalike(bytes, nameStart, nameEnd)) return headError(400, "Content-Length or Transfer-Encoding spelled with _");
        break;
    }
    count++;
    i = next;
  }

  const { contentLength, codings } = framing;
  if (codings !== undefined) {
    if (!codings.chunkedLast) return headError(400, "Transfer-Encoding does not end in chunked");
    if (codings.other) return headError(501, "transfer coding not supported");
  }
  if (hostCount === 0 && minor === 1) return headError(400, "missing Host");

  // Accepted: decode once and cut the strings.
  const text = latin1(bytes, 0, headEnd);
  const source: HeadSource = { text, spans: fieldSpans.slice(0, 4 * count) };
  const method = knownMethod(bytes, lineStart, methodEnd) ?? text.substring(lineStart, methodEnd);
  const target = text.substring(targetStart, targetEnd);
  let pathAndQuery = target;
  let host: string;
  if (authorityStart >= 0) {
    host = text.substring(authorityStart, pathStart);
    pathAndQuery =
      pathStart === targetEnd ? "/" : bytes[pathStart] === 0x3f ? "/" + text.substring(pathStart, targetEnd) : text.substring(pathStart, targetEnd);
  } else host = hostCount === 0 ? "" : text.substring(hostStart, hostEnd);
  let upgrade: string | undefined;
  if (connection?.upgrade && upgradeCount > 0) {
    const spans = source.spans;
    upgrade = text.substring(spans[4 * upgradeField + 2]!, spans[4 * upgradeField + 3]!);
    // Several Upgrade fields form one list (RFC 9110 §5.3).
    for (let k = upgradeField + 1; upgradeCount > 1 && k < count; k++) {
      if (fieldKind(bytes, spans[4 * k]!, spans[4 * k + 1]!) === UPGRADE) upgrade += ", " + text.substring(spans[4 * k + 2]!, spans[4 * k + 3]!);
    }
  }
  const close = connection === undefined ? minor === 0 : connection.close || (minor === 0 && !connection.keepAlive);
  return new ParsedRequest(
    method,
    target,
    pathAndQuery,
    minor,
    source,
    host,
    contentLength,
    codings !== undefined,
    close,
    expectContinue && minor === 1,
    upgrade,
    connection === undefined ? undefined : connectionTokens(text, connection.tokens),
    headEnd,
  );
}

/** A request head parsed from bytes: its field strings are cut from the source only when asked for. */
class ParsedRequest implements RequestHead {
  private cut: HeaderFields | undefined;
  constructor(
    readonly method: string,
    readonly target: string,
    readonly pathAndQuery: string,
    readonly minor: 0 | 1,
    readonly source: HeadSource,
    readonly host: string,
    readonly contentLength: number,
    readonly chunked: boolean,
    readonly close: boolean,
    readonly expectContinue: boolean,
    readonly upgrade: string | undefined,
    readonly connectionTokens: string[] | undefined,
    readonly headBytes: number,
  ) {}

  get fields(): HeaderFields {
    return (this.cut ??= fieldsOf(this.source));
  }
}
