// Protocol Buffers' wire format written into one growing buffer, for the OTLP span encoder (otlp-trace-protobuf.ts).
// Written for one pass: a length-delimited field reserves room for its length, the content is written after it,
// and the length is filled in at the end (the content moved when its length takes another number of bytes than
// was reserved), so nothing is measured twice. Every number comes out as protobuf's canonical encoding: the
// shortest varint, little-endian fixed-width values.
//
// The buffer is reused from one message to the next; `take()` hands out a copy of what was written.

const TWO_32 = 4294967296;

/**
 * A hex digit's value by its character code, upper and lower case (ids are the gateway's or the SDK's, so always
 * hex). A table rather than comparisons: random digits and letters alternate unpredictably, and the branches
 * of a comparison chain made turning an id into bytes five times slower.
 */
const HEX_VALUE = new Uint8Array(256);
for (let d = 0; d < 10; d++) HEX_VALUE[48 + d] = d;
for (let d = 0; d < 6; d++) {
  HEX_VALUE[97 + d] = 10 + d;
  HEX_VALUE[65 + d] = 10 + d;
}

/** How many bytes a varint of `v` (0 ≤ v < 2^32) takes. */
export function varintSize(v: number): number {
  return v < 0x80 ? 1 : v < 0x4000 ? 2 : v < 0x200000 ? 3 : v < 0x10000000 ? 4 : 5;
}

export class ProtobufWriter {
  private buffer: Uint8Array;
  private view: DataView;
  private readonly encoder = new TextEncoder();
  /** Where the next byte goes. */
  pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.buffer = new Uint8Array(initialSize);
    this.view = new DataView(this.buffer.buffer);
  }

  /** Start a new message (the buffer is kept). */
  reset(): void {
    this.pos = 0;
  }

  /** A copy of everything written since reset(). */
  take(): Uint8Array {
    return this.buffer.slice(0, this.pos);
  }

  /** Room for `n` more bytes. */
  ensure(n: number): void {
    const needed = this.pos + n;
    if (needed <= this.buffer.length) return;
    let size = this.buffer.length * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.pos));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
  }

  /** A field's key: its number and wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32). */
  tag(field: number, wireType: number): void {
    this.varint((field << 3) | wireType);
  }

  /** Bytes already encoded (a field key, a constant message). */
  raw(bytes: Uint8Array): void {
    this.ensure(bytes.length);
    this.buffer.set(bytes, this.pos);
    this.pos += bytes.length;
  }

  /** An unsigned varint of 0 ≤ v < 2^32. */
  varint(v: number): void {
    this.ensure(5);
    const b = this.buffer;
    let at = this.pos;
    while (v > 0x7f) {
      b[at++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    b[at++] = v;
    this.pos = at;
  }

  /**
   * An int64 varint of an integer number: negative ones in two's complement (ten bytes), ones past 2^32 from
   * their low and high words, as the OpenTelemetry SDK's writer takes them.
   */
  int64(value: number): void {
    if (value >= 0 && value < TWO_32) return this.varint(value);
    let low: number;
    let high: number;
    if (value >= 0) {
      low = value >>> 0;
      high = (value / TWO_32) >>> 0;
    } else {
      const abs = Math.abs(value);
      low = ~(abs >>> 0) >>> 0;
      high = ~((abs / TWO_32) >>> 0) >>> 0;
      low = (low + 1) >>> 0;
      if (low === 0) high = (high + 1) >>> 0;
    }
    this.ensure(10);
    const b = this.buffer;
    let at = this.pos;
    while (high > 0 || low > 0x7f) {
      b[at++] = (low & 0x7f) | 0x80;
      low = ((low >>> 7) | (high << 25)) >>> 0;
      high >>>= 7;
    }
    b[at++] = low & 0x7f;
    this.pos = at;
  }

  fixed32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.pos, v >>> 0, true);
    this.pos += 4;
  }

  /** A fixed64 from its low and high 32-bit words. */
  fixed64(low: number, high: number): void {
    this.ensure(8);
    this.view.setUint32(this.pos, low >>> 0, true);
    this.view.setUint32(this.pos + 4, high >>> 0, true);
    this.pos += 8;
  }

  double(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.pos, v, true);
    this.pos += 8;
  }

  /** A string's length and its UTF-8 bytes (a lone surrogate becomes U+FFFD, as TextEncoder has it). */
  string(s: string): void {
    const length = s.length;
    // Room for the longest outcome: three bytes per UTF-16 unit, and its length's varint.
    this.ensure(length * 3 + 5);
    const b = this.buffer;
    const lengthAt = this.pos;
    const reserved = varintSize(length);
    let at = lengthAt + reserved;
    let i = 0;
    for (; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c > 0x7f) break;
      b[at + i] = c;
    }
    if (i === length) {
      this.pos = lengthAt;
      this.varint(length);
      this.pos = lengthAt + reserved + length;
      return;
    }
    // Not ASCII: the encoder writes it after the longest length prefix it can need, and the bytes are moved up
    // when the length turns out shorter.
    const widest = varintSize(length * 3);
    at = lengthAt + widest;
    const written = this.encoder.encodeInto(s, b.subarray(at, at + length * 3)).written;
    const needed = varintSize(written);
    if (needed < widest) b.copyWithin(lengthAt + needed, at, at + written);
    this.pos = lengthAt;
    this.varint(written);
    this.pos = lengthAt + needed + written;
  }

  /** Bytes with their length. */
  bytes(value: Uint8Array): void {
    this.varint(value.length);
    this.raw(value);
  }

  /** Hex digits (trace and span ids) as the bytes they spell, with their length. */
  hexBytes(hex: string): void {
    const n = hex.length >>> 1;
    this.varint(n);
    this.ensure(n);
    const b = this.buffer;
    let at = this.pos;
    for (let i = 0; i < 2 * n; i += 2) b[at++] = (HEX_VALUE[hex.charCodeAt(i) & 0xff]! << 4) | HEX_VALUE[hex.charCodeAt(i + 1) & 0xff]!;
    this.pos = at;
  }

  /**
   * Start a length-delimited field's content: returns where its length goes. `expected`: how many bytes the
   * length will likely take (1 for small messages, 2 for a span), so that it rarely needs moving.
   */
  begin(expected = 1): number {
    this.ensure(expected);
    const at = this.pos;
    this.pos += expected;
    return at * 8 + expected;
  }

  /** End the field begun at `mark` (begin's answer): its length is written, the content moved if need be. */
  end(mark: number): void {
    const at = mark >>> 3;
    const reserved = mark & 7;
    const contentAt = at + reserved;
    const length = this.pos - contentAt;
    const needed = varintSize(length);
    if (needed !== reserved) {
      this.ensure(needed - reserved);
      this.buffer.copyWithin(at + needed, contentAt, this.pos);
      this.pos += needed - reserved;
    }
    const end = this.pos;
    this.pos = at;
    this.varint(length);
    this.pos = end;
  }
}
