// The header rules of the byte path, on flat field lists: what goes upstream is exactly what the client sent,
// minus hop-by-hop fields (RFC 9110 §7.6.1) and the ones the gateway owns, plus X-Forwarded-*, X-Request-Id,
// the Host policy and the framing of the body as it will be sent; what goes back is the server's answer with
// the same hop-by-hop rules, the request id, and the framing the client connection needs. X-Forwarded-For is
// appended to, and Forwarded, X-Real-Ip and other X-Forwarded-* fields are kept, only for a client that is one
// of `trustedProxies`; X-Forwarded-Proto and -Host are always ours.
import { sameNameAt, type HeaderFields, type HeadSource, type RequestHead, type ResponseHead } from "../http/head.ts";
import { extraHopFields, Role, roleAt, roleOf } from "./field-roles.ts";
import type { HeaderEdits } from "./request-phase.ts";
import type { AnswerFields } from "../http/answer-fields.ts";

export interface ForwardFacts {
  /** The Host to send. */
  host: string;
  clientIp: string;
  /** The client's address is one of `trustedProxies`: its X-Forwarded-For is kept and appended to (else replaced). */
  trusted: boolean;
  proto: "http" | "https";
  /** The client's Host (X-Forwarded-Host); "" for none. */
  forwardedHost: string;
  requestId: string;
  /** Keep Upgrade and `Connection: upgrade` (a protocol switch the server must see). */
  upgrade: boolean;
  /** Removes the sticky cookie from a Cookie value (null: nothing left). */
  stripCookie?: (value: string) => string | null;
}

/**
 * The upstream request head: request line, the client's end-to-end fields in their order, case and spelling
 * (runs of kept field lines are copied from the parsed head whole), then the gateway's own fields and
 * `framing` (a Content-Length or Transfer-Encoding line, or ""). With `traceContext` (tracing is on: the
 * traceparent and tracestate lines of the attempt's span), the client's own trace context fields are replaced.
 */
export function upstreamRequestHead(
  method: string,
  pathAndQuery: string,
  head: RequestHead,
  facts: ForwardFacts,
  framing: string,
  edits?: HeaderEdits,
  traceContext?: string,
): string {
  const { text: src, spans } = sourceOf(head);
  const listed = extraHopFields(head.connectionTokens);
  let text = `${method} ${pathAndQuery} HTTP/1.1\r\nhost: ${facts.host}\r\n`;
  let forwardedFor = "";
  let run = -1; // where the current run of kept lines starts in src
  for (let o = 0; o < spans.length; o += 4) {
    const nameStart = spans[o]!;
    const nameEnd = spans[o + 1]!;
    let keep = false;
    let instead: string | undefined;
    switch (roleAt(src, nameStart, nameEnd)) {
      case Role.ClientClaim:
        if (!facts.trusted) break;
      // falls through: from a trusted proxy it is an ordinary field
      case Role.Ordinary:
      case Role.CacheControl:
        keep = listed === undefined || !listed.includes(src.substring(nameStart, nameEnd).toLowerCase());
        break;
      case Role.Cookie: {
        if (!facts.stripCookie) {
          keep = true;
          break;
        }
        const value = src.substring(spans[o + 2]!, spans[o + 3]!);
        const kept = facts.stripCookie(value);
        keep = kept === value;
        if (!keep && kept !== null) instead = `${src.substring(nameStart, nameEnd)}: ${kept}\r\n`;
        break;
      }
      case Role.XForwardedFor:
        if (facts.trusted) forwardedFor += `${src.substring(spans[o + 2]!, spans[o + 3]!)}, `;
        break;
      // Hop-by-hop, written by the gateway below, or a look-alike of what it writes: dropped.
    }
    // A field the onRequest phase removed or set anew.
    if (edits !== undefined && (keep || instead !== undefined) && edits.drops(src, nameStart, nameEnd)) {
      keep = false;
      instead = undefined;
    }
    // The gateway's span is the upstream's parent now: one traceparent, never the client's beside it.
    if (traceContext !== undefined && keep && isTraceContextField(src, nameStart, nameEnd)) keep = false;
    if (keep) {
      if (run < 0) run = nameStart;
      continue;
    }
    if (run >= 0) {
      text += src.substring(run, nameStart);
      run = -1;
    }
    if (instead !== undefined) text += instead;
  }
  // The last field line ends where the blank line begins.
  if (run >= 0) text += src.substring(run, src.length - 2);
  if (edits !== undefined) text += edits.lines();
  if (traceContext !== undefined) text += traceContext;
  text += `x-forwarded-for: ${forwardedFor}${facts.clientIp}\r\nx-forwarded-proto: ${facts.proto}\r\n`;
  if (facts.forwardedHost) text += `x-forwarded-host: ${facts.forwardedHost}\r\n`;
  text += `x-request-id: ${facts.requestId}\r\n`;
  if (facts.upgrade) text += `connection: upgrade\r\nupgrade: ${head.upgrade}\r\n`;
  return `${text}${framing}\r\n`;
}

function isTraceContextField(src: string, start: number, end: number): boolean {
  return sameNameAt(src, start, end, "traceparent") || sameNameAt(src, start, end, "tracestate");
}

/** Extra fields the gateway adds to an answer (sticky binding). */
export interface AnswerExtras {
  setCookie?: string;
  /** Replace Cache-Control with this value (an answer that binds a client must stay out of shared caches). */
  cacheControl?: (current: string | null) => string;
}

/**
 * The head relayed to the client: the server's status and reason, its end-to-end fields as it wrote them (runs
 * of kept lines copied whole), X-Request-Id and the gateway's extras, then `framing` and `connection` lines
 * (each "" or a complete line).
 */
export function clientResponseHead(
  head: ResponseHead,
  requestId: string,
  extras: AnswerExtras | undefined,
  framing: string,
  connection: string,
  edits?: HeaderEdits,
  own?: AnswerFields,
): string {
  const { text: src, spans } = sourceOf(head);
  const listed = extraHopFields(head.connectionTokens);
  const switching = head.status === 101;
  const rewriteCache = extras?.cacheControl !== undefined;
  let text = `HTTP/1.1 ${head.status} ${head.reason}\r\n`;
  let cacheControl: string | null = null;
  let run = -1;
  for (let o = 0; o < spans.length; o += 4) {
    const nameStart = spans[o]!;
    const nameEnd = spans[o + 1]!;
    let keep: boolean;
    switch (roleAt(src, nameStart, nameEnd)) {
      case Role.ContentLength:
      case Role.XRequestId:
      case Role.HopByHop:
        keep = false;
        break;
      case Role.Connection:
      case Role.Upgrade:
        // A protocol switch is the one answer these belong to.
        keep = switching;
        break;
      case Role.CacheControl:
        keep = !rewriteCache;
        if (rewriteCache) {
          const value = src.substring(spans[o + 2]!, spans[o + 3]!);
          cacheControl = cacheControl === null ? value : `${cacheControl}, ${value}`;
        }
        break;
      default:
        keep = listed === undefined || !listed.includes(src.substring(nameStart, nameEnd).toLowerCase());
    }
    // A field the onRequest phase removed or set anew.
    if (keep && edits !== undefined && edits.drops(src, nameStart, nameEnd)) keep = false;
    // The listener's own field (HSTS) stands in for the server's.
    if (keep && own !== undefined && own.replaces !== "" && sameNameAt(src, nameStart, nameEnd, own.replaces)) keep = false;
    if (keep) {
      if (run < 0) run = nameStart;
    } else if (run >= 0) {
      text += src.substring(run, nameStart);
      run = -1;
    }
  }
  if (run >= 0) text += src.substring(run, src.length - 2);
  if (edits !== undefined) text += edits.lines();
  if (own !== undefined) text += own.lines;
  text += `x-request-id: ${requestId}\r\n`;
  if (extras?.setCookie) text += `set-cookie: ${extras.setCookie}\r\n`;
  if (rewriteCache) text += `cache-control: ${extras!.cacheControl!(cacheControl)}\r\n`;
  return `${text}${framing}${connection}\r\n`;
}

/**
 * A head's fields as text and offsets: the parsed source, or one written from the field list (a head whose
 * fields a plugin set) in the same shape, ending with the blank line.
 */
function sourceOf(head: { readonly fields: HeaderFields; readonly source?: HeadSource }): HeadSource {
  if (head.source !== undefined) return head.source;
  const fields = head.fields;
  const spans: number[] = [];
  let text = "";
  for (let i = 0; i < fields.length; i += 2) {
    const o = 2 * i;
    spans[o] = text.length;
    spans[o + 1] = text.length + fields[i]!.length;
    spans[o + 2] = spans[o + 1]! + 2;
    spans[o + 3] = spans[o + 2]! + fields[i + 1]!.length;
    text += `${fields[i]}: ${fields[i + 1]}\r\n`;
  }
  return { text: `${text}\r\n`, spans };
}

/**
 * The trailer fields that may be passed on: a trailer can never frame the message, route it or change the
 * connection (RFC 9110 §6.5.1), so fields with any such role are dropped rather than forwarded.
 */
export function endToEndTrailers(trailers: HeaderFields): HeaderFields {
  let kept: HeaderFields | undefined;
  for (let i = 0; i < trailers.length; i += 2) {
    const role = roleOf(trailers[i]!);
    if (role === Role.Ordinary || role === Role.CacheControl) {
      if (kept) kept.push(trailers[i]!, trailers[i + 1]!);
    } else kept ??= trailers.slice(0, i);
  }
  return kept ?? trailers;
}
