// Trace and span ids for the spans the gateway records: random, in the lower-case hex of the W3C traceparent and
// of the exporter's input. Made from Math.random, as the SDK's own id generator does (ids must not collide; they
// need not be secret), written into a buffer and read out as hex in one native call: an id made of concatenated
// pieces is a string the exporter must flatten again when it reads it byte by byte, which costs more than
// making it. A request's first three ids (its trace, its server span, its first attempt) come out of one such
// call, each then a slice of the one string. An id of all zeros is invalid (W3C Trace Context), so the last
// byte of one becomes 1.
import { Buffer } from "node:buffer";

const TRACE_ID_BYTES = 16;
const SPAN_ID_BYTES = 8;
/** Where a request's ids end in its block of hex digits (newRequestIds): trace id, server span id, first attempt's span id. */
export const TRACE_ID_END = 2 * TRACE_ID_BYTES;
export const SERVER_SPAN_ID_END = TRACE_ID_END + 2 * SPAN_ID_BYTES;
export const ATTEMPT_SPAN_ID_END = SERVER_SPAN_ID_END + 2 * SPAN_ID_BYTES;
/** One buffer for every id: each is read out as a string before the next is made. */
const scratch = Buffer.allocUnsafe(ATTEMPT_SPAN_ID_END / 2);

/** Random bytes for one id at scratch[from..to), never all zeros. */
function randomId(from: number, to: number): void {
  let any = 0;
  for (let at = from; at < to; at += 4) {
    const word = (Math.random() * 4294967296) >>> 0;
    scratch.writeUInt32BE(word, at);
    any |= word;
  }
  if (any === 0) scratch[to - 1] = 1;
}

/** A span id: 8 random bytes, 16 hex digits. */
export function newSpanId(): string {
  randomId(0, SPAN_ID_BYTES);
  return scratch.toString("hex", 0, SPAN_ID_BYTES);
}

/** A trace id: 16 random bytes, 32 hex digits. */
export function newTraceId(): string {
  randomId(0, TRACE_ID_BYTES);
  return scratch.toString("hex", 0, TRACE_ID_BYTES);
}

/**
 * The ids a request starts with, as one string of hex digits: a trace id (up to TRACE_ID_END; the request uses
 * it when it does not continue a client's trace), its server span's id (to SERVER_SPAN_ID_END) and its first
 * upstream attempt's span id (to ATTEMPT_SPAN_ID_END).
 */
export function newRequestIds(): string {
  randomId(0, TRACE_ID_BYTES);
  randomId(TRACE_ID_BYTES, TRACE_ID_BYTES + SPAN_ID_BYTES);
  randomId(TRACE_ID_BYTES + SPAN_ID_BYTES, ATTEMPT_SPAN_ID_END / 2);
  return scratch.toString("hex", 0, ATTEMPT_SPAN_ID_END / 2);
}
