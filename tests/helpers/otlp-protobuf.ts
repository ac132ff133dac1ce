// OTLP's protobuf encoding of an ExportTraceServiceRequest read into the shape of its JSON encoding (ids in hex,
// times as decimal strings), so that the test collector keeps one path for both encodings the SDK's exporters
// send. Only the fields a trace export carries are read; the rest are skipped by their wire type, as any
// protobuf reader does with fields it does not know.

/** One field of a message as it came: a varint (as a bigint), a fixed 64/32-bit value's bytes, or a length-delimited payload. */
interface Field {
  varint?: bigint;
  bytes: Uint8Array;
}

/** The fields of one message, by number, in order. */
function readMessage(bytes: Uint8Array): Map<number, Field[]> {
  const fields = new Map<number, Field[]>();
  let at = 0;
  const varint = (): bigint => {
    let value = 0n;
    let shift = 0n;
    for (;;) {
      if (at >= bytes.length) throw new Error("protobuf: a varint runs past the end");
      const b = bytes[at++]!;
      value |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return value;
      shift += 7n;
    }
  };
  const take = (n: number): Uint8Array => {
    if (at + n > bytes.length) throw new Error("protobuf: a field runs past the end");
    const out = bytes.subarray(at, at + n);
    at += n;
    return out;
  };
  while (at < bytes.length) {
    const key = Number(varint());
    const number = key >>> 3;
    // Field number 0 does not exist: bytes past the end of the message (a body sent with more than was written) read as one.
    if (number === 0) throw new Error(`protobuf: field number 0 at byte ${at}`);
    let field: Field;
    switch (key & 7) {
      case 0:
        field = { varint: varint(), bytes: new Uint8Array(0) };
        break;
      case 1:
        field = { bytes: take(8) };
        break;
      case 2:
        field = { bytes: take(Number(varint())) };
        break;
      case 5:
        field = { bytes: take(4) };
        break;
      default:
        throw new Error(`protobuf: wire type ${key & 7} is not one OTLP uses`);
    }
    const list = fields.get(number);
    if (list) list.push(field);
    else fields.set(number, [field]);
  }
  return fields;
}

const all = (m: Map<number, Field[]>, n: number) => m.get(n) ?? [];
const one = (m: Map<number, Field[]>, n: number) => m.get(n)?.at(-1);
const text = (f: Field | undefined) => (f ? new TextDecoder().decode(f.bytes) : undefined);
const hex = (f: Field | undefined) => (f ? Buffer.from(f.bytes).toString("hex") : undefined);
const fixed64 = (f: Field | undefined) => (f ? new DataView(f.bytes.buffer, f.bytes.byteOffset, 8).getBigUint64(0, true).toString() : "0");

type AnyValue = { stringValue?: string; boolValue?: boolean; intValue?: string; doubleValue?: number; arrayValue?: { values: AnyValue[] } };

function anyValue(bytes: Uint8Array): AnyValue {
  const m = readMessage(bytes);
  if (m.has(1)) return { stringValue: text(one(m, 1)) };
  if (m.has(2)) return { boolValue: one(m, 2)!.varint !== 0n };
  if (m.has(3)) return { intValue: BigInt.asIntN(64, one(m, 3)!.varint!).toString() };
  if (m.has(4)) return { doubleValue: new DataView(one(m, 4)!.bytes.buffer, one(m, 4)!.bytes.byteOffset, 8).getFloat64(0, true) };
  if (m.has(5)) return { arrayValue: { values: all(readMessage(one(m, 5)!.bytes), 1).map((f) => anyValue(f.bytes)) } };
  return {};
}

function keyValues(fields: Field[]): { key: string; value: AnyValue }[] {
  return fields.map((f) => {
    const m = readMessage(f.bytes);
    const value = one(m, 2);
    return { key: text(one(m, 1)) ?? "", value: value ? anyValue(value.bytes) : {} };
  });
}

/** An ExportTraceServiceRequest in protobuf, as its JSON encoding would have it. */
export function decodeTraceExport(bytes: Uint8Array): unknown {
  return {
    resourceSpans: all(readMessage(bytes), 1).map((rsField) => {
      const rs = readMessage(rsField.bytes);
      const resource = one(rs, 1);
      return {
        resource: { attributes: resource ? keyValues(all(readMessage(resource.bytes), 1)) : [] },
        scopeSpans: all(rs, 2).map((ssField) => {
          const ss = readMessage(ssField.bytes);
          const scope = one(ss, 1);
          return {
            scope: { name: scope ? text(one(readMessage(scope.bytes), 1)) : undefined },
            spans: all(ss, 2).map((spanField) => {
              const s = readMessage(spanField.bytes);
              const status = one(s, 15);
              const st = status ? readMessage(status.bytes) : new Map<number, Field[]>();
              return {
                traceId: hex(one(s, 1)),
                spanId: hex(one(s, 2)),
                traceState: text(one(s, 3)),
                parentSpanId: hex(one(s, 4)) || undefined,
                name: text(one(s, 5)) ?? "",
                kind: Number(one(s, 6)?.varint ?? 0n),
                startTimeUnixNano: fixed64(one(s, 7)),
                endTimeUnixNano: fixed64(one(s, 8)),
                attributes: keyValues(all(s, 9)),
                status: { code: Number(one(st, 3)?.varint ?? 0n), message: text(one(st, 2)) },
              };
            }),
          };
        }),
      };
    }),
  };
}
