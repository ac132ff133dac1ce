// The chunked transfer coding (RFC 9112 §7.1): a streaming decoder that de-frames a body arriving in any split,
// and the pieces an encoder writes. The decoder is strict: a size line, extension or CRLF that is not exactly
// the grammar ends the body with an error, because a proxy that guesses where a chunk ends and a server that
// guesses differently is how requests are smuggled.
import type { HeaderFields } from "./head.ts";
import {
  blankLineEnd,
  CR,
  DQUOTE,
  EQUALS,
  FIELD_VALUE,
  HEX_VALUE,
  HTAB,
  latin1,
  LF,
  NEED_MORE,
  QDTEXT,
  scanFieldLine,
  scanMessage,
  SEMICOLON,
  SP,
  TCHAR,
  TOO_LONG,
  BACKSLASH,
} from "./syntax.ts";

// Where the decoder is: on the chunk-size line (the size, then the parts of an extension), in chunk data, on
// the CRLF after the data, in the trailer section, or finished.
const SIZE = 0;
/** BWS after the size or an extension value: only `;` may follow. */
const SIZE_BWS = 1;
const EXT_NAME_START = 2;
const EXT_NAME = 3;
const EXT_NAME_BWS = 4;
const EXT_VALUE_START = 5;
const EXT_TOKEN = 6;
const EXT_QUOTED = 7;
const EXT_QUOTED_PAIR = 8;
const EXT_AFTER_QUOTED = 9;
const SIZE_LF = 10;
const DATA = 11;
const DATA_CR = 12;
const DATA_LF = 13;
const TRAILERS = 14;
const DONE = 15;
const FAILED = 16;

/** More hex digits than this are refused even when the extra ones are leading zeros, so a size line cannot grow digit by digit forever. */
const MAX_SIZE_DIGITS = 16;

export interface ChunkedLimits {
  /** Largest trailer section in bytes: the trailer lines, CRLFs included, without the final blank line (default 16 KiB). */
  maxTrailerSize?: number;
  /** Longest chunk-size line, extensions included, CRLF not (default 4 KiB). */
  maxLineLength?: number;
}

export class ChunkedDecoder {
  private state = SIZE;
  private size = 0;
  private digits = 0;
  private lineLength = 0;
  private remaining = 0;
  private readonly maxTrailerSize: number;
  private readonly maxLineLength: number;
  /** The trailer section as received so far; never allocated for the usual bare CRLF arriving in one piece. */
  private trailerBytes: Uint8Array | undefined;
  private trailerLength = 0;
  /** Start of the first trailer line not yet scanned. */
  private trailerScan = 0;
  private trailerOffsets: number[] = [];
  private failure: string | undefined;
  private decoded = 0;
  private fields: HeaderFields = [];

  constructor(limits?: ChunkedLimits) {
    this.maxTrailerSize = limits?.maxTrailerSize ?? 16 * 1024;
    this.maxLineLength = limits?.maxLineLength ?? 4 * 1024;
  }

  /** The last chunk and the trailer section have been read. */
  get done(): boolean {
    return this.state === DONE;
  }

  /** Why the body was refused; undefined while it is valid so far. */
  get error(): string | undefined {
    return this.failure;
  }

  /** Trailer fields after the last chunk, flat like HeaderFields. */
  get trailers(): HeaderFields {
    return this.fields;
  }

  /** Body bytes decoded so far (for body limits). */
  get bodyBytes(): number {
    return this.decoded;
  }

  /**
   * Decodes `bytes[start..end)`, calling `onData` with each run of body data (a subarray of `bytes`, valid only
   * during the call; never empty). Returns the index after the last byte consumed: all of them until `done`,
   * after which the rest belongs to the next message. On malformed input returns -1 and sets `error`. Any split
   * of the input into calls, down to one byte at a time, decodes the same.
   */
  push(bytes: Uint8Array, start: number, end: number, onData: (data: Uint8Array) => void): number {
    let state = this.state;
    if (state === DONE) return start;
    if (state === FAILED) return -1;
    let i = start;
    while (i < end) {
      if (state === DATA) {
        const take = Math.min(this.remaining, end - i);
        this.remaining -= take;
        this.decoded += take;
        if (this.remaining === 0) state = DATA_CR;
        this.state = state;
        onData(bytes.subarray(i, i + take));
        i += take;
        continue;
      }
      if (state === TRAILERS) return this.pushTrailers(bytes, i, end);
      const byte = bytes[i++]!;
      if (state < SIZE_LF && byte !== CR && ++this.lineLength > this.maxLineLength) return this.fail("chunk-size line too long");
      switch (state) {
        case SIZE: {
          const digit = HEX_VALUE[byte]!;
          if (digit !== 0xff) {
            if (++this.digits > MAX_SIZE_DIGITS) return this.fail("chunk size has too many digits");
            this.size = this.size * 16 + digit;
            if (this.size > Number.MAX_SAFE_INTEGER) return this.fail("chunk size too large");
          } else if (this.digits === 0) return this.fail("invalid chunk size");
          else if (byte === CR) state = SIZE_LF;
          else if (byte === SEMICOLON) state = EXT_NAME_START;
          else if (byte === SP || byte === HTAB) state = SIZE_BWS;
          else return this.fail("invalid chunk size");
          break;
        }
        case SIZE_BWS:
          if (byte === SEMICOLON) state = EXT_NAME_START;
          else if (byte !== SP && byte !== HTAB) return this.fail("invalid chunk extension");
          break;
        case EXT_NAME_START:
          if (TCHAR[byte] === 1) state = EXT_NAME;
          else if (byte !== SP && byte !== HTAB) return this.fail("invalid chunk extension");
          break;
        case EXT_NAME:
          if (TCHAR[byte] === 1) break;
          if (byte === CR) state = SIZE_LF;
          else if (byte === SEMICOLON) state = EXT_NAME_START;
          else if (byte === EQUALS) state = EXT_VALUE_START;
          else if (byte === SP || byte === HTAB) state = EXT_NAME_BWS;
          else return this.fail("invalid chunk extension");
          break;
        case EXT_NAME_BWS:
          if (byte === SEMICOLON) state = EXT_NAME_START;
          else if (byte === EQUALS) state = EXT_VALUE_START;
          else if (byte !== SP && byte !== HTAB) return this.fail("invalid chunk extension");
          break;
        case EXT_VALUE_START:
          if (TCHAR[byte] === 1) state = EXT_TOKEN;
          else if (byte === DQUOTE) state = EXT_QUOTED;
          else if (byte !== SP && byte !== HTAB) return this.fail("invalid chunk extension");
          break;
        case EXT_TOKEN:
          if (TCHAR[byte] === 1) break;
          if (byte === CR) state = SIZE_LF;
          else if (byte === SEMICOLON) state = EXT_NAME_START;
          else if (byte === SP || byte === HTAB) state = SIZE_BWS;
          else return this.fail("invalid chunk extension");
          break;
        case EXT_QUOTED:
          if (byte === DQUOTE) state = EXT_AFTER_QUOTED;
          else if (byte === BACKSLASH) state = EXT_QUOTED_PAIR;
          else if (QDTEXT[byte] !== 1) return this.fail("invalid chunk extension");
          break;
        case EXT_QUOTED_PAIR:
          if (FIELD_VALUE[byte] !== 1) return this.fail("invalid chunk extension");
          state = EXT_QUOTED;
          break;
        case EXT_AFTER_QUOTED:
          if (byte === CR) state = SIZE_LF;
          else if (byte === SEMICOLON) state = EXT_NAME_START;
          else if (byte === SP || byte === HTAB) state = SIZE_BWS;
          else return this.fail("invalid chunk extension");
          break;
        case SIZE_LF:
          if (byte !== LF) return this.fail("chunk-size line not ended by CRLF");
          this.remaining = this.size;
          state = this.size === 0 ? TRAILERS : DATA;
          this.size = 0;
          this.digits = 0;
          this.lineLength = 0;
          break;
        case DATA_CR:
          if (byte !== CR) return this.fail("chunk data not followed by CRLF");
          state = DATA_LF;
          break;
        case DATA_LF:
          if (byte !== LF) return this.fail("chunk data not followed by CRLF");
          state = SIZE;
          break;
      }
      this.state = state;
    }
    this.state = state;
    return i;
  }

  /** The trailer section: buffered (within its limit) until its blank line, then parsed with the header field grammar. */
  private pushTrailers(bytes: Uint8Array, start: number, end: number): number {
    // Most bodies end with no trailers: "\r\n" straight after the last chunk.
    if (this.trailerLength === 0 && end - start >= 2 && bytes[start] === CR && bytes[start + 1] === LF) {
      this.state = DONE;
      return start + 2;
    }
    const capacity = this.maxTrailerSize + 2;
    const take = Math.min(capacity - this.trailerLength, end - start);
    let buffer = this.trailerBytes;
    if (buffer === undefined || buffer.length < this.trailerLength + take) {
      const grown = new Uint8Array(Math.min(capacity, Math.max(256, 2 * (this.trailerLength + take))));
      if (buffer !== undefined) grown.set(buffer.subarray(0, this.trailerLength));
      buffer = this.trailerBytes = grown;
    }
    const before = this.trailerLength;
    buffer.set(bytes.subarray(start, start + take), before);
    const length = (this.trailerLength += take);
    const line = new Int32Array(4);
    let p = this.trailerScan;
    while (p < length) {
      if (buffer[p] === CR) {
        const after = blankLineEnd(buffer, p, length);
        if (after === NEED_MORE) break;
        if (after < 0) return this.fail(scanMessage(after));
        this.finishTrailers(buffer, after);
        return start + (after - before);
      }
      const next = scanFieldLine(buffer, p, length, this.maxTrailerSize, line);
      if (next === NEED_MORE) break;
      if (next < 0) return this.fail(next === TOO_LONG ? "trailer section too large" : scanMessage(next));
      this.trailerOffsets.push(line[0]!, line[1]!, line[2]!, line[3]!);
      p = next;
    }
    this.trailerScan = p;
    // Unreachable while the limits hold (a full buffer always holds an error or the blank line); kept so no byte is ever dropped.
    if (take < end - start) return this.fail("trailer section too large");
    return end;
  }

  private finishTrailers(buffer: Uint8Array, length: number): void {
    const text = latin1(buffer, 0, length);
    const offsets = this.trailerOffsets;
    const fields: HeaderFields = [];
    for (let k = 0; k < offsets.length; k += 2) fields.push(text.substring(offsets[k]!, offsets[k + 1]!));
    this.fields = fields;
    this.trailerBytes = undefined;
    this.state = DONE;
  }

  private fail(message: string): number {
    this.state = FAILED;
    this.failure = message;
    return -1;
  }
}

/** The line that opens a chunk of `size` bytes: `<hex>\r\n`. A size of 0 would end the body, so it is refused (use lastChunk). */
export function chunkHead(size: number): Uint8Array {
  if (!Number.isSafeInteger(size) || size <= 0) throw new RangeError(`invalid chunk size ${size}`);
  const hex = size.toString(16);
  const out = new Uint8Array(hex.length + 2);
  for (let k = 0; k < hex.length; k++) out[k] = hex.charCodeAt(k);
  out[hex.length] = CR;
  out[hex.length + 1] = LF;
  return out;
}

/** The CRLF after each chunk's data. */
export const CHUNK_END: Uint8Array = Uint8Array.of(CR, LF);

/**
 * The last chunk, its trailer fields and the final blank line: `0\r\n` + `name: value\r\n`… + `\r\n`. Throws on a
 * name that is not a token or a value with bytes a field value cannot hold, since either would let the trailer
 * forge framing for whoever reads it next.
 */
export function lastChunk(trailers?: HeaderFields): Uint8Array {
  if (trailers === undefined || trailers.length === 0) return Uint8Array.of(0x30, CR, LF, CR, LF);
  let length = 5;
  for (let k = 0; k < trailers.length; k += 2) {
    const name = trailers[k]!;
    const value: string = trailers[k + 1] ?? "";
    if (name.length === 0) throw new TypeError("empty trailer field name");
    for (let c = 0; c < name.length; c++) if (TCHAR[name.charCodeAt(c)] !== 1) throw new TypeError(`invalid trailer field name ${JSON.stringify(name)}`);
    for (let c = 0; c < value.length; c++) {
      const code = value.charCodeAt(c);
      if (code > 0xff || FIELD_VALUE[code] !== 1) throw new TypeError(`invalid trailer field value for ${name}`);
    }
    length += name.length + 2 + value.length + 2;
  }
  const out = new Uint8Array(length);
  out[0] = 0x30;
  out[1] = CR;
  out[2] = LF;
  let o = 3;
  for (let k = 0; k < trailers.length; k += 2) {
    const name = trailers[k]!;
    const value: string = trailers[k + 1] ?? "";
    for (let c = 0; c < name.length; c++) out[o++] = name.charCodeAt(c);
    out[o++] = 0x3a;
    out[o++] = SP;
    for (let c = 0; c < value.length; c++) out[o++] = value.charCodeAt(c);
    out[o++] = CR;
    out[o++] = LF;
  }
  out[o++] = CR;
  out[o] = LF;
  return out;
}
