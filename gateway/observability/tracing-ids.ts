// Trace and span ids for the spans the gateway records: random, in the lower-case hex of the W3C traceparent and
// of the exporter's input. Made from Math.random, as the SDK's own id generator does: ids must not collide, they
// need not be secret. An id of all zeros is invalid (W3C Trace Context), so the last word of one is never zero
// when the others are.

/** Every byte as two hex digits: an id is written a byte at a time, without number formatting. */
const HEX = Array.from({ length: 256 }, (_, byte) => byte.toString(16).padStart(2, "0"));

/** 32 random bits. */
const word = () => (Math.random() * 4294967296) >>> 0;
const hex = (n: number) => HEX[n >>> 24]! + HEX[(n >>> 16) & 255]! + HEX[(n >>> 8) & 255]! + HEX[n & 255]!;

/** A span id: 8 random bytes, 16 hex digits. */
export function newSpanId(): string {
  const high = word();
  const low = word() || (high === 0 ? 1 : 0);
  return hex(high) + hex(low);
}

/** A trace id: 16 random bytes, 32 hex digits. */
export function newTraceId(): string {
  const a = word();
  const b = word();
  const c = word();
  const d = word() || (a === 0 && b === 0 && c === 0 ? 1 : 0);
  return hex(a) + hex(b) + hex(c) + hex(d);
}
