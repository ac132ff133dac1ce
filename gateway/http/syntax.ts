// The HTTP/1.1 grammar the head parsers and the chunked decoder share (RFC 9110 §5, RFC 9112 §5): byte-class
// tables, the field-line scanner, and the few list-valued fields that decide framing. Everything here works on
// bytes and offsets, never on strings, so a parser can refuse a head before anything is decoded and decode the
// accepted head once at the end.
import { Buffer } from "node:buffer";

export const HTAB = 0x09;
export const LF = 0x0a;
export const CR = 0x0d;
export const SP = 0x20;
export const DQUOTE = 0x22;
export const COMMA = 0x2c;
export const COLON = 0x3a;
export const SEMICOLON = 0x3b;
export const EQUALS = 0x3d;
export const BACKSLASH = 0x5c;

function table(accepts: (byte: number) => boolean): Uint8Array {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) if (accepts(b)) t[b] = 1;
  return t;
}

const isAlpha = (b: number) => (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a);
const isDigit = (b: number) => b >= 0x30 && b <= 0x39;
const isVchar = (b: number) => b >= 0x21 && b <= 0x7e;

/** tchar (RFC 9110 §5.6.2): the bytes of a token — methods, field names, codings, Connection options. */
export const TCHAR = table((b) => isAlpha(b) || isDigit(b) || "!#$%&'*+-.^_`|~".includes(String.fromCharCode(b)));

/** Bytes of a field value between its first and last visible byte: SP, HTAB, VCHAR and obs-text (kept as latin1). */
export const FIELD_VALUE = table((b) => b === SP || b === HTAB || isVchar(b) || b >= 0x80);

/**
 * A character no field value (nor reason phrase) may hold: a control other than HTAB, or anything past latin1.
 * For text the gateway did not parse itself (what plugins set), checked before it is written.
 */
export const NOT_FIELD_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

/**
 * Bytes a request-target may hold: visible ASCII except `#` (a fragment is never sent). Stricter URI grammar is
 * left to routing; what matters here is that nothing which could end or split the line gets through.
 */
export const TARGET = table((b) => isVchar(b) && b !== 0x23);

/** Bytes of a reg-name (RFC 3986 §3.2.2: unreserved, sub-delims, `%` of pct-encoded) minus the comma, which would turn a Host value into a list. */
export const REG_NAME = table((b) => isAlpha(b) || isDigit(b) || "-._~!$&'()*+;=%".includes(String.fromCharCode(b)));

/** HEXDIG to its value; 0xff for anything else. */
export const HEX_VALUE = (() => {
  const t = new Uint8Array(256).fill(0xff);
  for (let d = 0; d < 10; d++) t[0x30 + d] = d;
  for (let d = 0; d < 6; d++) t[0x41 + d] = t[0x61 + d] = 10 + d;
  return t;
})();

/** qdtext of a quoted-string (RFC 9110 §5.6.4). */
export const QDTEXT = table((b) => b === HTAB || b === SP || b === 0x21 || (b >= 0x23 && b <= 0x5b) || (b >= 0x5d && b <= 0x7e) || b >= 0x80);

/** ASCII upper case to lower case; every other byte unchanged. */
export const LOWER = (() => {
  const t = new Uint8Array(256);
  for (let b = 0; b < 256; b++) t[b] = b >= 0x41 && b <= 0x5a ? b + 0x20 : b;
  return t;
})();

/** `bytes[start..end)` equals `lower` (a lower-case ASCII string) ignoring ASCII case. */
export function equalsLower(bytes: Uint8Array, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) if (LOWER[bytes[start + i]!] !== lower.charCodeAt(i)) return false;
  return true;
}

const latin1Slice = (Buffer.prototype as unknown as { latin1Slice(this: Uint8Array, start: number, end: number): string }).latin1Slice;

/** `bytes[start..end)` as a latin1 string: one native call, every byte one UTF-16 unit. */
export function latin1(bytes: Uint8Array, start: number, end: number): string {
  return latin1Slice.call(bytes, start, end);
}

// ---- Field lines ------------------------------------------------------------------------------------------

/** Outcomes of scanning one line; a line that ended well returns the index after its LF instead (≥ 0). */
export const NEED_MORE = -1;
export const BARE_LF = -2;
export const BARE_CR = -3;
export const NUL = -4;
export const CONTROL = -5;
export const OBS_FOLD = -6;
export const SPACE_BEFORE_COLON = -7;
export const BAD_NAME = -8;
export const TOO_LONG = -9;

const SCAN_MESSAGES: Record<number, string> = {
  [BARE_LF]: "bare LF in head",
  [BARE_CR]: "bare CR in head",
  [NUL]: "NUL byte in head",
  [CONTROL]: "control character in field value",
  [OBS_FOLD]: "obsolete line folding",
  [SPACE_BEFORE_COLON]: "whitespace between field name and colon",
  [BAD_NAME]: "invalid field name",
};

/** The message for a scan outcome other than NEED_MORE and TOO_LONG. */
export function scanMessage(code: number): string {
  return SCAN_MESSAGES[code] ?? "malformed head";
}

/** Why the byte that stopped a scan is wrong. */
function unexpected(byte: number, otherwise: number): number {
  if (byte === LF) return BARE_LF;
  if (byte === 0) return NUL;
  return otherwise;
}

/**
 * Scans the field line `name ":" OWS value OWS CRLF` starting at `start` (which must not be the blank line's CR).
 * Bytes are available up to `end`; the line must end (its LF included) at or before `maxEnd`, else TOO_LONG as
 * soon as that is certain. On success writes `[nameStart, nameEnd, valueStart, valueEnd]` (value without OWS) to
 * `out` and returns the index after the LF.
 */
export function scanFieldLine(bytes: Uint8Array, start: number, end: number, maxEnd: number, out: Int32Array): number {
  const stop = end < maxEnd ? end : maxEnd;
  let i = start;
  while (i < stop && TCHAR[bytes[i]!] === 1) i++;
  if (i >= stop) return i >= maxEnd ? TOO_LONG : NEED_MORE;
  let byte = bytes[i]!;
  if (byte !== COLON || i === start) {
    if (i === start) return byte === SP || byte === HTAB ? OBS_FOLD : unexpected(byte, BAD_NAME);
    return byte === SP || byte === HTAB ? SPACE_BEFORE_COLON : unexpected(byte, BAD_NAME);
  }
  out[0] = start;
  out[1] = i;
  i++;
  while (i < stop && ((byte = bytes[i]!) === SP || byte === HTAB)) i++;
  const valueStart = i;
  while (i < stop && FIELD_VALUE[bytes[i]!] === 1) i++;
  if (i >= stop) return i >= maxEnd ? TOO_LONG : NEED_MORE;
  byte = bytes[i]!;
  if (byte !== CR) return unexpected(byte, CONTROL);
  if (i + 1 >= stop) return i + 1 >= maxEnd ? TOO_LONG : NEED_MORE;
  if (bytes[i + 1] !== LF) return BARE_CR;
  let valueEnd = i;
  while (valueEnd > valueStart && ((byte = bytes[valueEnd - 1]!) === SP || byte === HTAB)) valueEnd--;
  out[2] = valueStart;
  out[3] = valueEnd;
  return i + 2;
}

/**
 * The blank line that ends a head, at `start` whose byte is CR: the index after it, NEED_MORE, or BARE_CR.
 */
export function blankLineEnd(bytes: Uint8Array, start: number, end: number): number {
  if (start + 1 >= end) return NEED_MORE;
  return bytes[start + 1] === LF ? start + 2 : BARE_CR;
}

// ---- Field values that decide framing -----------------------------------------------------------------------

function skipOws(bytes: Uint8Array, i: number, end: number): number {
  let byte: number;
  while (i < end && ((byte = bytes[i]!) === SP || byte === HTAB)) i++;
  return i;
}

/**
 * A Content-Length value: `1*DIGIT` or a comma list of identical values (RFC 9110 §8.6); -1 for anything else,
 * including empty elements, signs, inner spaces and values above Number.MAX_SAFE_INTEGER.
 */
export function parseContentLength(bytes: Uint8Array, start: number, end: number): number {
  let value = -1;
  let i = start;
  for (;;) {
    const digits = i;
    let n = 0;
    let byte: number;
    while (i < end && (byte = bytes[i]!) >= 0x30 && byte <= 0x39) {
      n = n * 10 + (byte - 0x30);
      i++;
    }
    // 16 digits hold every safe integer; more are refused even as leading zeros, so no length is unbounded.
    if (i === digits || i - digits > 16 || n > Number.MAX_SAFE_INTEGER) return -1;
    if (value >= 0 && n !== value) return -1;
    value = n;
    i = skipOws(bytes, i, end);
    if (i === end) return value;
    if (bytes[i] !== COMMA) return -1;
    i = skipOws(bytes, i + 1, end);
  }
}

const LENGTH_LIST = /^\d{1,16}(?:[ \t]*,[ \t]*\d{1,16})*$/;

/**
 * `parseContentLength` for a value held as a string (a Headers object's): one number, or a list of equal ones
 * ("5, 5", which several fields of one message combine into); -1 for anything else.
 */
export function contentLengthValue(text: string): number {
  if (!LENGTH_LIST.test(text)) return -1;
  const numbers = text.split(",").map((element) => Number(element.trim()));
  const first = numbers[0]!;
  return Number.isSafeInteger(first) && numbers.every((n) => n === first) ? first : -1;
}

/** The state of a Transfer-Encoding list across all of a message's Transfer-Encoding fields. */
export interface CodingList {
  /** How many times `chunked` was listed. */
  chunkedCount: number;
  /** The last coding listed so far is `chunked`. */
  chunkedLast: boolean;
  /** A coding other than `chunked` was listed. */
  other: boolean;
}

/**
 * Adds one Transfer-Encoding field value to `list`. False when the value is not a comma list of non-empty tokens
 * (a coding with parameters is refused too: none is defined for HTTP/1.1 framing, and a parameter on `chunked`
 * is a known desync shape).
 */
export function addCodings(bytes: Uint8Array, start: number, end: number, list: CodingList): boolean {
  let i = start;
  for (;;) {
    const token = i;
    while (i < end && TCHAR[bytes[i]!] === 1) i++;
    if (i === token) return false;
    if (equalsLower(bytes, token, i, "chunked")) {
      list.chunkedCount++;
      list.chunkedLast = true;
    } else {
      list.other = true;
      list.chunkedLast = false;
    }
    i = skipOws(bytes, i, end);
    if (i === end) return true;
    if (bytes[i] !== COMMA) return false;
    i = skipOws(bytes, i + 1, end);
  }
}

/** What a Connection list says; `tokens` holds `[start, end, known]` for every option listed (`known`: an index into KNOWN_OPTIONS, or -1). */
export interface ConnectionOptions {
  close: boolean;
  keepAlive: boolean;
  upgrade: boolean;
  tokens: number[];
}

/** The options nearly every Connection field lists, handed out as constants instead of cut and lower-cased. */
const KNOWN_OPTIONS = ["close", "keep-alive", "upgrade"];

/**
 * Adds one Connection field value to `options`. False when an element is not a token; empty elements are
 * skipped as RFC 9110 §5.6.1 asks of list recipients.
 */
export function addConnectionOptions(bytes: Uint8Array, start: number, end: number, options: ConnectionOptions): boolean {
  let i = start;
  for (;;) {
    const token = i;
    while (i < end && TCHAR[bytes[i]!] === 1) i++;
    if (i > token) {
      const length = i - token;
      let known = -1;
      if (length === 5 && equalsLower(bytes, token, i, "close")) {
        options.close = true;
        known = 0;
      } else if (length === 10 && equalsLower(bytes, token, i, "keep-alive")) {
        options.keepAlive = true;
        known = 1;
      } else if (length === 7 && equalsLower(bytes, token, i, "upgrade")) {
        options.upgrade = true;
        known = 2;
      }
      options.tokens.push(token, i, known);
    }
    i = skipOws(bytes, i, end);
    if (i === end) return true;
    if (bytes[i] !== COMMA) return false;
    i = skipOws(bytes, i + 1, end);
  }
}

/** The lower-case option names `options.tokens` points at, from the decoded head `text`. */
export function connectionTokens(text: string, tokens: number[]): string[] {
  const names: string[] = [];
  for (let k = 0; k < tokens.length; k += 3) {
    const known = tokens[k + 2]!;
    names.push(known >= 0 ? KNOWN_OPTIONS[known]! : text.substring(tokens[k]!, tokens[k + 1]!).toLowerCase());
  }
  return names;
}

/** Which of the fields that matter to framing and routing a field name is; 0 for all others. */
export const OTHER_FIELD = 0;
export const HOST = 1;
export const CONTENT_LENGTH = 2;
export const TRANSFER_ENCODING = 3;
export const CONNECTION = 4;
export const UPGRADE = 5;
export const EXPECT = 6;

/** Classifies the field name `bytes[start..end)`, comparing only names of a matching length. */
export function fieldKind(bytes: Uint8Array, start: number, end: number): number {
  // Every name that matters starts with one of c, e, h, t, u: most other names are rejected on their first byte.
  const first = LOWER[bytes[start]!]!;
  if (first !== 0x63 && first !== 0x65 && first !== 0x68 && first !== 0x74 && first !== 0x75) return OTHER_FIELD;
  switch (end - start) {
    case 4:
      return equalsLower(bytes, start, end, "host") ? HOST : OTHER_FIELD;
    case 6:
      return equalsLower(bytes, start, end, "expect") ? EXPECT : OTHER_FIELD;
    case 7:
      return equalsLower(bytes, start, end, "upgrade") ? UPGRADE : OTHER_FIELD;
    case 10:
      return equalsLower(bytes, start, end, "connection") ? CONNECTION : OTHER_FIELD;
    case 14:
      return equalsLower(bytes, start, end, "content-length") ? CONTENT_LENGTH : OTHER_FIELD;
    case 17:
      return equalsLower(bytes, start, end, "transfer-encoding") ? TRANSFER_ENCODING : OTHER_FIELD;
    default:
      return OTHER_FIELD;
  }
}

/**
 * Whether the field name `bytes[start..end)` spells Content-Length or Transfer-Encoding with `_` in place of a
 * `-` (in any case). Servers that map field names to CGI-style variables (HTTP_TRANSFER_ENCODING) read both
 * spellings as one name, so such a field could frame the body for them while the gateway frames it otherwise.
 */
export function isFramingLookalike(bytes: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length === 14) return equalsUnderscored(bytes, start, "content-length");
  if (length === 17) return equalsUnderscored(bytes, start, "transfer-encoding");
  return false;
}

/** `bytes` from `start` equals `lower` ignoring ASCII case, with `_` accepted for each `-`, and at least one `_`. */
function equalsUnderscored(bytes: Uint8Array, start: number, lower: string): boolean {
  let underscores = 0;
  for (let i = 0; i < lower.length; i++) {
    const byte = LOWER[bytes[start + i]!]!;
    const want = lower.charCodeAt(i);
    if (byte === want) continue;
    if (want !== 0x2d || byte !== 0x5f) return false;
    underscores++;
  }
  return underscores > 0;
}

// ---- Authority (Host and absolute-form targets) ---------------------------------------------------------------

function isIPv4(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  for (let octet = 0; octet < 4; octet++) {
    if (octet > 0) {
      if (i >= end || bytes[i] !== 0x2e) return false;
      i++;
    }
    const digits = i;
    let value = 0;
    let byte: number;
    while (i < end && i - digits < 4 && (byte = bytes[i]!) >= 0x30 && byte <= 0x39) {
      value = value * 10 + (byte - 0x30);
      i++;
    }
    const length = i - digits;
    // dec-octet (RFC 3986 §3.2.2) has no leading zeros: "010" reads as octal in some resolvers.
    if (length === 0 || length > 3 || value > 255 || (length > 1 && bytes[digits] === 0x30)) return false;
  }
  return i === end;
}

/** RFC 3986 IPv6address between the brackets: 8 groups, or fewer with one "::", the last two may be IPv4. No zone ID. */
function isIPv6(bytes: Uint8Array, start: number, end: number): boolean {
  let i = start;
  let groups = 0;
  let elided = false;
  if (i < end && bytes[i] === COLON) {
    if (i + 1 >= end || bytes[i + 1] !== COLON) return false;
    elided = true;
    i += 2;
  }
  while (i < end) {
    const group = i;
    while (i < end && i - group < 5 && HEX_VALUE[bytes[i]!] !== 0xff) i++;
    if (i < end && bytes[i] === 0x2e) {
      if (!isIPv4(bytes, group, end)) return false;
      groups += 2;
      i = end;
      break;
    }
    const length = i - group;
    if (length === 0 || length > 4) return false;
    groups++;
    if (i === end) break;
    if (bytes[i] !== COLON) return false;
    i++;
    if (i < end && bytes[i] === COLON) {
      if (elided) return false;
      elided = true;
      i++;
    } else if (i === end) return false;
  }
  return elided ? groups <= 7 : groups === 8;
}

/**
 * An authority without userinfo, `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986 §3.2): a reg-name without
 * commas, a dotted IPv4 address, or a bracketed IPv6 literal, and a port of 1 to 5 digits up to 65535. The empty
 * authority is valid (the Host grammar allows it). Refused although the grammar allows them: an empty port after
 * the colon and a port without a host, because two spellings of one authority (or none at all) let a request
 * slip past host-based routing rules.
 */
export function isAuthority(bytes: Uint8Array, start: number, end: number): boolean {
  if (start === end) return true;
  let i = start;
  if (bytes[i] === 0x5b) {
    const close = bytes.indexOf(0x5d, i + 1);
    if (close < 0 || close >= end || !isIPv6(bytes, i + 1, close)) return false;
    i = close + 1;
  } else {
    while (i < end && REG_NAME[bytes[i]!] === 1) {
      if (bytes[i] === 0x25) {
        if (i + 2 >= end || HEX_VALUE[bytes[i + 1]!] === 0xff || HEX_VALUE[bytes[i + 2]!] === 0xff) return false;
        i += 3;
      } else i++;
    }
    if (i === start) return false;
  }
  if (i === end) return true;
  if (bytes[i] !== COLON) return false;
  i++;
  const port = i;
  let value = 0;
  let byte: number;
  while (i < end && (byte = bytes[i]!) >= 0x30 && byte <= 0x39) {
    value = value * 10 + (byte - 0x30);
    i++;
  }
  return i === end && i > port && i - port <= 5 && value <= 65535;
}

/**
 * Where each field's name and value lie in the head being parsed: four offsets a field (name start and end,
 * value start and end). One array for every parse (parses never interleave); a plain array of small integers,
 * because a head keeps a slice of it and slicing one costs less than making a typed array.
 */
export const fieldSpans: number[] = [];

/** Keep the offsets `scanFieldLine` found (`line`) as field number `count`. */
export function recordField(count: number, line: Int32Array): void {
  const o = 4 * count;
  fieldSpans[o] = line[0]!;
  fieldSpans[o + 1] = line[1]!;
  fieldSpans[o + 2] = line[2]!;
  fieldSpans[o + 3] = line[3]!;
}

/** How a message's body is framed, gathered from its Content-Length and Transfer-Encoding fields as they come. */
export interface Framing {
  /** Content-Length, or -1 while none has been seen. */
  contentLength: number;
  codings: CodingList | undefined;
}

/** Add a Content-Length field; returns why the framing is now broken, or undefined. */
export function addContentLengthField(framing: Framing, bytes: Uint8Array, start: number, end: number): string | undefined {
  if (framing.codings !== undefined) return "both Transfer-Encoding and Content-Length";
  const value = parseContentLength(bytes, start, end);
  if (value < 0 || (framing.contentLength >= 0 && value !== framing.contentLength)) return "invalid Content-Length";
  framing.contentLength = value;
  return undefined;
}

/**
 * Add a Transfer-Encoding field of an HTTP/1.`minor` message (`what`: "request" or "response", for the message);
 * returns why the framing is now broken, or undefined. `chunkedLastOnly`: once anything follows `chunked`, no later
 * field can make the list valid again (requests, whose body must end in chunked).
 */
export function addTransferEncodingField(
  framing: Framing,
  bytes: Uint8Array,
  start: number,
  end: number,
  minor: number,
  what: string,
  chunkedLastOnly: boolean,
): string | undefined {
  // An HTTP/1.0 message with Transfer-Encoding has faulty framing (RFC 9112 §6.1).
  if (minor === 0) return `Transfer-Encoding in an HTTP/1.0 ${what}`;
  if (framing.contentLength >= 0) return "both Transfer-Encoding and Content-Length";
  const codings = (framing.codings ??= { chunkedCount: 0, chunkedLast: false, other: false });
  if (!addCodings(bytes, start, end, codings) || codings.chunkedCount > 1) return "invalid Transfer-Encoding";
  if (chunkedLastOnly && codings.chunkedCount === 1 && !codings.chunkedLast) return "invalid Transfer-Encoding";
  return undefined;
}
