// Protocol Buffers' wire format written into one growing buffer, for the OTLP span encoder (otlp-trace-protobuf.ts).
// Written for one pass: a length-delimited field reserves room for its length, the content is written after it,
// and the length is filled in at the end (the content moved when its length takes another number of bytes than
// was reserved), so nothing is measured twice. Every number comes out as protobuf's canonical encoding: the
// shortest varint, little-endian fixed-width values.
//
// The buffer is reused from one message to the next; `written()` shows what was written, for the caller to copy.

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
  /** The buffer's length, kept as a number: ensure() runs for nearly every field. */
  private capacity: number;
  /** Where the next byte goes. */
  pos = 0;

  constructor(initialSize = 64 * 1024) {
    this.buffer = new Uint8Array(initialSize);
    this.capacity = initialSize;
    this.view = new DataView(this.buffer.buffer);
  }

  /** The buffer itself, for a caller that writes bytes in place after ensure() (pos is then its to move). */
  get array(): Uint8Array {
    return this.buffer;
  }

  /** Start a new message (the buffer is kept). */
  reset(): void {
    this.pos = 0;
  }

  /** Everything written since reset(), in place: valid until the next write. */
  written(): Uint8Array {
    return this.buffer.subarray(0, this.pos);
  }

  /** Room for `n` more bytes. */
  ensure(n: number): void {
    if (this.pos + n > this.capacity) this.grow(this.pos + n);
  }

  private grow(needed: number): void {
    let size = this.capacity * 2;
    while (size < needed) size *= 2;
    const grown = new Uint8Array(size);
    grown.set(this.buffer.subarray(0, this.pos));
    this.buffer = grown;
    this.view = new DataView(grown.buffer);
    this.capacity = size;
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

  /** One byte: a field key of a field number under 16, a fixed value. */
  byte(b: number): void {
    this.ensure(1);
    this.buffer[this.pos++] = b;
  }

  /** A string's length and its UTF-8 bytes (a lone surrogate becomes U+FFFD, as TextEncoder has it). */
  string(s: string): void {
    this.stringRange(s, 0, s.length);
  }

  /** The same for the part of `s` from `start` to `end`, without cutting it out first. */
  stringRange(s: string, start: number, end: number): void {
    const length = end - start;
    // Room for the longest outcome: three bytes per UTF-16 unit, and its length's varint.
    this.ensure(length * 3 + 5);
    const b = this.buffer;
    const lengthAt = this.pos;
    const reserved = varintSize(length);
    const at = lengthAt + reserved;
    let i = 0;
    for (; i < length; i++) {
      const c = s.charCodeAt(start + i);
      if (c > 0x7f) break;
      b[at + i] = c;
    }
    if (i === length) {
      this.pos = lengthAt;
      this.varint(length);
      this.pos = at + length;
      return;
    }
    // Not ASCII: the bytes go after the longest length prefix they can need, and are moved up when the length
    // turns out shorter.
    const widest = varintSize(length * 3);
    const from = lengthAt + widest;
    const written = this.encodeInto(s, start, end, from);
    const needed = varintSize(written);
    if (needed < widest) b.copyWithin(lengthAt + needed, from, from + written);
    this.pos = lengthAt;
    this.varint(written);
    this.pos = lengthAt + needed + written;
  }

  /**
   * The UTF-8 bytes of the part of `s` from `start` to `end`, with no length: one piece of a string whose length
   * a begin()/end() pair around its pieces writes.
   */
  utf8(s: string, start = 0, end = s.length): void {
    const length = end - start;
    this.ensure(length * 3);
    const b = this.buffer;
    const at = this.pos;
    for (let i = 0; i < length; i++) {
      const c = s.charCodeAt(start + i);
      if (c > 0x7f) {
        this.pos = at + i + this.encodeInto(s, start + i, end, at + i);
        return;
      }
      b[at + i] = c;
    }
    this.pos = at + length;
  }

  /** TextEncoder's UTF-8 of s[start, end) written at `at` (room was made for three bytes a unit): how many bytes. */
  private encodeInto(s: string, start: number, end: number, at: number): number {
    const part = start === 0 && end === s.length ? s : s.slice(start, end);
    return this.encoder.encodeInto(part, this.buffer.subarray(at, at + (end - start) * 3)).written;
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
