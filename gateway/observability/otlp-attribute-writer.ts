// One attribute of a span as OTLP's protobuf has it (a KeyValue: key 1, value 2 as an AnyValue), for the
// gateway's spans, which write their own attributes from their fields (tracing-server-span.ts,
// tracing-client-span.ts): string and integer values, and strings written from a part of a longer one (the
// path of a request target) without cutting it out first.
//
// Every attribute of a request is written here, so this is where the encoder spends its time. An attribute key
// is encoded once, when the module loads (AttributeKey); a short ASCII value (nearly every value the gateway
// records) is written in one pass, its lengths known before its bytes; anything else takes the writer's
// general way (lengths filled in after the content).
import { varintSize, type ProtobufWriter } from "./protobuf-writer.ts";

/** A key ready to be written: KeyValue.key (tag, length, the key's bytes) and KeyValue.value's tag. */
export type AttributeKey = Uint8Array;

const KEY_TAG = 0x0a; // KeyValue.key, length-delimited
const VALUE_TAG = 0x12; // KeyValue.value, length-delimited
const STRING_VALUE_TAG = 0x0a; // AnyValue.string_value
const INT_VALUE_TAG = 0x18; // AnyValue.int_value, varint

/** `key` encoded once: it must be ASCII and shorter than 100 bytes (the conventions' names are). */
export function attributeKey(key: string): AttributeKey {
  if (!/^[\x20-\x7e]{1,99}$/.test(key)) throw new Error(`attribute key ${JSON.stringify(key)}: not short ASCII`);
  const bytes = new Uint8Array(key.length + 3);
  bytes[0] = KEY_TAG;
  bytes[1] = key.length;
  for (let i = 0; i < key.length; i++) bytes[2 + i] = key.charCodeAt(i);
  bytes[key.length + 2] = VALUE_TAG;
  return bytes;
}

/** The tag of a repeated KeyValue field of number `field` (below 16: one byte). */
function fieldTag(field: number): number {
  return (field << 3) | 2;
}

/** `key` = `value`, a string (AnyValue.string_value). */
export function writeStringAttribute(w: ProtobufWriter, field: number, key: AttributeKey, value: string): void {
  writeRangeAttribute(w, field, key, value, 0, value.length);
}

/** `key` = the part of `s` from `start` to `end`, a string. */
export function writeRangeAttribute(w: ProtobufWriter, field: number, key: AttributeKey, s: string, start: number, end: number): void {
  const n = end - start;
  const keyLength = key.length;
  // One byte for each length: the value's (n), the AnyValue's (n + 2) and the KeyValue's (key + 1 + n + 2).
  if (keyLength + n + 3 < 0x80) {
    w.ensure(keyLength + n + 6);
    const b = w.array;
    const from = w.pos;
    let at = from;
    b[at++] = fieldTag(field);
    b[at++] = keyLength + n + 3;
    for (let i = 0; i < keyLength; i++) b[at++] = key[i]!;
    b[at++] = n + 2;
    b[at++] = STRING_VALUE_TAG;
    b[at++] = n;
    let i = 0;
    for (; i < n; i++) {
      const c = s.charCodeAt(start + i);
      if (c > 0x7f) break;
      b[at + i] = c;
    }
    if (i === n) {
      w.pos = at + n;
      return;
    }
    // Not ASCII after all: written again the general way.
    w.pos = from;
  }
  const mark = beginAttribute(w, field, key);
  const any = w.begin();
  w.byte(STRING_VALUE_TAG);
  w.stringRange(s, start, end);
  w.end(any);
  w.end(mark);
}

/** `key` = the pieces of one string, in order, written one after the other under a single length. */
export function writePiecesAttribute(w: ProtobufWriter, field: number, key: AttributeKey, a: string, b: string, c: string): void {
  const mark = beginAttribute(w, field, key);
  const any = w.begin();
  w.byte(STRING_VALUE_TAG);
  const value = w.begin();
  w.utf8(a);
  w.utf8(b);
  w.utf8(c);
  w.end(value);
  w.end(any);
  w.end(mark);
}

/** `key` = an integer 0 ≤ value < 2^32 (AnyValue.int_value): a status code, a port, a count. */
export function writeIntAttribute(w: ProtobufWriter, field: number, key: AttributeKey, value: number): void {
  const keyLength = key.length;
  w.ensure(keyLength + 10);
  const b = w.array;
  let at = w.pos;
  b[at++] = fieldTag(field);
  const valueSize = varintSize(value);
  b[at++] = keyLength + 2 + valueSize;
  for (let i = 0; i < keyLength; i++) b[at++] = key[i]!;
  b[at++] = 1 + valueSize;
  b[at++] = INT_VALUE_TAG;
  w.pos = at;
  w.varint(value);
}

function beginAttribute(w: ProtobufWriter, field: number, key: AttributeKey): number {
  w.byte(fieldTag(field));
  const mark = w.begin();
  w.raw(key);
  return mark;
}
