// Trace and span ids for the spans the gateway records: random, in the lower-case hex of the W3C traceparent and
// of the exporter's input. Made from Math.random, as the SDK's own id generator does (ids must not collide; they
// need not be secret), written into a buffer and read out as hex in one native call: an id made of concatenated
// pieces is a string the exporter must flatten again when it reads it byte by byte, which costs more than
// making it. An id of all zeros is invalid (W3C Trace Context), so the last byte of one becomes 1.
import { Buffer } from "node:buffer";

const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;
/** One buffer for every id: each is read out as a string before the next is made. */
const scratch = Buffer.allocUnsafe(TRACE_ID_BYTES);

function randomHex(bytes: number): string {
  let any = 0;
  for (let at = 0; at < bytes; at += 4) {
    const word = (Math.random() * 4294967296) >>> 0;
    scratch.writeUInt32BE(word, at);
    any |= word;
  }
  if (any === 0) scratch[bytes - 1] = 1;
  return scratch.toString("hex", 0, bytes);
}

/** A span id: 8 random bytes, 16 hex digits. */
export function newSpanId(): string {
  return randomHex(SPAN_ID_BYTES);
}

/** A trace id: 16 random bytes, 32 hex digits. */
export function newTraceId(): string {
  return randomHex(TRACE_ID_BYTES);
}
