// W3C trace context (traceparent, tracestate) read from a request head as the engine parsed it, and written as
// header lines for the byte path or onto a Headers object for the hono path. The parsing and serialising is the
// SDK's W3C propagator's; this file only lets it read and write the gateway's own head shapes.
import type { TextMapGetter, TextMapSetter } from "@opentelemetry/api";
import { sameName, sameNameAt, type RequestHead } from "../http/head.ts";

const TRACEPARENT = "traceparent";

/**
 * The value of the one field named `lower` (lower-case), read in place from the parsed text when there is one;
 * every value, in order, when there are several; undefined when there is none. Nothing is allocated for the
 * common case of no such field.
 */
function valuesOf(head: RequestHead, lower: string): string | string[] | undefined {
  let found: string | string[] | undefined;
  const source = head.source;
  const fields = source === undefined ? head.fields : undefined;
  const count = source !== undefined ? source.spans.length / 4 : fields!.length / 2;
  for (let i = 0; i < count; i++) {
    let value: string;
    if (source !== undefined) {
      const o = 4 * i;
      if (!sameNameAt(source.text, source.spans[o]!, source.spans[o + 1]!, lower)) continue;
      value = source.text.substring(source.spans[o + 2]!, source.spans[o + 3]!);
    } else {
      if (!sameName(fields![2 * i]!, lower)) continue;
      value = fields![2 * i + 1]!;
    }
    if (found === undefined) found = value;
    else if (typeof found === "string") found = [found, value];
    else found.push(value);
  }
  return found;
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
    return key === TRACEPARENT && typeof values !== "string" ? undefined : values;
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
