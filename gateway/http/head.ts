// The shapes the HTTP/1.1 engine passes around: a message head parsed from bytes, and the refusal a parser
// answers with. Header fields stay a flat list in the order and case they arrived (a proxy edits a few names
// and copies the rest verbatim); the parser also pulls out, once, the fields that decide framing and routing.

/** Header fields as they arrived: `[name0, value0, name1, value1, …]`, names in their original case, values without surrounding whitespace. */
export type HeaderFields = string[];

/**
 * A parsed head as text and where each field lies in it: four offsets a field (name start and end, value start
 * and end). The proxy copies whole runs of field lines from it and compares names in place, so the field
 * strings of `fields` are cut only when something asks for them (plugins, hono, a lookup of an unusual name).
 */
export interface HeadSource {
  readonly text: string;
  readonly spans: readonly number[];
}

/** Limits a request head is held to; each refusal names the status it earns. */
export interface RequestLimits {
  /** Longest request-target (414 above). */
  maxUriLength: number;
  /** Largest header section in bytes: the header lines after the request line, CRLFs included (431 above). */
  maxHeaderSize: number;
  /** Most header fields (431 above). */
  maxHeaderCount: number;
}

/** Why a head was refused: the status to answer with (the connection is closed after it) and a message for the client. */
export interface HeadError {
  readonly error: true;
  readonly status: number;
  readonly message: string;
}

export interface RequestHead {
  /** The method token as sent (case-sensitive). */
  method: string;
  /** The request-target as sent. */
  target: string;
  /** Path and query to forward: the target itself in origin-form; in absolute-form its path and query ("/" when empty); "*" for asterisk-form; the authority for CONNECT. */
  pathAndQuery: string;
  /** The minor version: 0 for HTTP/1.0, 1 for HTTP/1.1 and any higher 1.x (served as 1.1). */
  minor: 0 | 1;
  fields: HeaderFields;
  /** The head's text and field offsets, for a head parsed from bytes (see HeadSource). */
  source?: HeadSource;
  /** The authority: an absolute-form target's (it wins over Host, RFC 9112 §3.2.2), else the Host field's; "" for HTTP/1.0 without Host. */
  host: string;
  /** Content-Length, or -1 when the request has none. */
  contentLength: number;
  /** Transfer-Encoding is exactly a final `chunked`. */
  chunked: boolean;
  /** The connection closes after this exchange: `Connection: close`, or HTTP/1.0 without `keep-alive`. */
  close: boolean;
  /** `Expect: 100-continue` was sent. */
  expectContinue: boolean;
  /** The Upgrade field's value when Connection lists `upgrade`; undefined otherwise. */
  upgrade: string | undefined;
  /** Lower-case tokens the Connection field lists (the names a proxy must drop besides the standard hop-by-hop ones). */
  connectionTokens: string[] | undefined;
  /** Bytes the head took, request line through the blank line. */
  headBytes: number;
}

export interface ResponseHead {
  status: number;
  /** The reason phrase as sent (may be empty). */
  reason: string;
  minor: 0 | 1;
  fields: HeaderFields;
  source?: HeadSource;
  /** Content-Length, or -1 when the response has none. */
  contentLength: number;
  /** Transfer-Encoding ends in `chunked`. */
  chunked: boolean;
  /** Transfer-Encoding is present but does not end in `chunked`: the body runs until the server closes. */
  closeDelimited: boolean;
  /** The server will close after this response: `Connection: close`, or HTTP/1.0 without `keep-alive`. */
  close: boolean;
  connectionTokens: string[] | undefined;
  headBytes: number;
}

export function headError(status: number, message: string): HeadError {
  return { error: true, status, message };
}

/** The first field of a head named `lowerName` (lower-case), found in its source text when it has one; null when absent. */
export function headerValue(head: { readonly fields: HeaderFields; readonly source?: HeadSource }, lowerName: string): string | null {
  const source = head.source;
  if (source === undefined) return fieldValue(head.fields, lowerName);
  const { text, spans } = source;
  for (let o = 0; o < spans.length; o += 4) {
    if (sameNameAt(text, spans[o]!, spans[o + 1]!, lowerName)) return text.substring(spans[o + 2]!, spans[o + 3]!);
  }
  return null;
}

/** The fields of a source as `[name, value, …]` strings. */
export function fieldsOf(source: HeadSource): HeaderFields {
  const { text, spans } = source;
  // Filled by push, not preallocated: a packed array is faster for everything that reads it later.
  const fields: HeaderFields = [];
  for (let o = 0; o < spans.length; o += 4) fields.push(text.substring(spans[o]!, spans[o + 1]!), text.substring(spans[o + 2]!, spans[o + 3]!));
  return fields;
}

/** Case-insensitive lookup of the first field named `lowerName` (which must be lower-case); null when absent. */
export function fieldValue(fields: HeaderFields, lowerName: string): string | null {
  for (let i = 0; i < fields.length; i += 2) {
    if (sameName(fields[i]!, lowerName)) return fields[i + 1]!;
  }
  return null;
}

/** `sameName` for the name at `text[start..end)`, without cutting it out. */
export function sameNameAt(text: string, start: number, end: number, lower: string): boolean {
  const length = lower.length;
  if (end - start !== length) return false;
  for (let i = 0; i < length; i++) {
    if ((text.charCodeAt(start + i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/**
 * Whether a field name as sent equals `lower` (lower-case) ignoring ASCII case, without allocating: setting bit
 * 0x20 lower-cases a letter and leaves `-` and digits alone, and no lower-case name holds the two other token
 * characters (`~`, DEL) that bit could be confused with.
 */
export function sameName(name: string, lower: string): boolean {
  const length = lower.length;
  if (name.length !== length) return false;
  if (name === lower) return true;
  for (let i = 0; i < length; i++) {
    if ((name.charCodeAt(i) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}
