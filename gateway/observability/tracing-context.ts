// W3C trace context (traceparent, tracestate) read from a request head as the engine parsed it, and written as
// header lines for the byte path or onto a Headers object for the hono path. Reading is the SDK's W3C
// propagator's (it validates the fields and parses tracestate); writing is one traceparent string of fixed form
// and the tracestate the propagator serialises.
import { ROOT_CONTEXT, type Context, type TextMapGetter, type TextMapPropagator } from "@opentelemetry/api";
import { sameName, sameNameAt, type RequestHead } from "../http/head.ts";

const TRACEPARENT = "traceparent";
const TRACESTATE = "tracestate";

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

/**
 * The client's trace context as the propagator reads it, for a request with a traceparent field; undefined for
 * one without, which is most requests: they are spared the propagator's work and the Context it makes.
 */
export function clientContext(propagator: TextMapPropagator, head: RequestHead): Context | undefined {
  if (valuesOf(head, TRACEPARENT) === undefined) return undefined;
  return propagator.extract(ROOT_CONTEXT, head, headGetter);
}

/** A traceparent value (W3C Trace Context, version 00) for a span of a trace. */
export function traceparentOf(traceId: string, spanId: string, sampled: boolean): string {
  return `00-${traceId}-${spanId}-${sampled ? "01" : "00"}`;
}

/** The trace context as header lines for the byte path's upstream head. */
export function traceLines(traceparent: string, tracestate: string | undefined): string {
  return tracestate === undefined ? `traceparent: ${traceparent}\r\n` : `traceparent: ${traceparent}\r\ntracestate: ${tracestate}\r\n`;
}

/** The trace context on a Headers object (the hono path): it replaces whatever the client sent; none removes it. */
export function setTraceHeaders(headers: Headers, traceparent: string | undefined, tracestate: string | undefined): void {
  if (traceparent === undefined) headers.delete(TRACEPARENT);
  else headers.set(TRACEPARENT, traceparent);
  if (tracestate === undefined) headers.delete(TRACESTATE);
  else headers.set(TRACESTATE, tracestate);
}
