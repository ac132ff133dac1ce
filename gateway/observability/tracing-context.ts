// W3C trace context (traceparent, tracestate) read from a request head as the engine parsed it, and written as
// header lines for the byte path or onto a Headers object for the hono path. The parsing and serialising is the
// SDK's W3C propagator's; this file only lets it read and write the gateway's own head shapes.
import type { TextMapGetter, TextMapSetter } from "@opentelemetry/api";
import { sameName, sameNameAt, type RequestHead } from "../http/head.ts";

const TRACEPARENT = "traceparent";

/** Every value of the fields named `lower` (lower-case), in order, read in place from the parsed text when there is one. */
function valuesOf(head: RequestHead, lower: string): string[] {
  const values: string[] = [];
  const source = head.source;
  if (source !== undefined) {
    const { text, spans } = source;
    for (let o = 0; o < spans.length; o += 4) {
      if (sameNameAt(text, spans[o]!, spans[o + 1]!, lower)) values.push(text.substring(spans[o + 2]!, spans[o + 3]!));
    }
    return values;
  }
  const fields = head.fields;
  for (let i = 0; i < fields.length; i += 2) if (sameName(fields[i]!, lower)) values.push(fields[i + 1]!);
  return values;
}

/**
 * The propagator's view of a request head. A request with more than one traceparent field has none that can be
 * trusted (W3C Trace Context §3.2: such a header is invalid), so it starts a trace of its own; several tracestate
 * fields are one list, as HTTP combines repeated fields.
 */
export const headGetter: TextMapGetter<RequestHead> = {
  keys(head) {
    const names: string[] = [];
    const source = head.source;
    if (source === undefined) for (let i = 0; i < head.fields.length; i += 2) names.push(head.fields[i]!.toLowerCase());
    else for (let o = 0; o < source.spans.length; o += 4) names.push(source.text.substring(source.spans[o]!, source.spans[o + 1]!).toLowerCase());
    return names;
  },
  get(head, key) {
    const values = valuesOf(head, key);
    if (values.length === 0) return undefined;
    if (values.length === 1) return values[0];
    return key === TRACEPARENT ? undefined : values;
  },
};

/** Collects what the propagator injects: the trace context of one upstream attempt, by field name. */
export type TraceFields = Record<string, string>;

export const fieldSetter: TextMapSetter<TraceFields> = {
  set(carrier, key, value) {
    carrier[key] = value;
  },
};

/** The fields as header lines for the byte path's upstream head. */
export function traceLines(fields: TraceFields): string {
  let lines = "";
  for (const name in fields) lines += `${name}: ${fields[name]}\r\n`;
  return lines;
}

/** The fields on a Headers object (the hono path): the attempt's context replaces whatever the client sent. */
export function setTraceHeaders(fields: TraceFields, names: readonly string[], headers: Headers): void {
  for (const name of names) {
    const value = fields[name];
    if (value === undefined) headers.delete(name);
    else headers.set(name, value);
  }
}
