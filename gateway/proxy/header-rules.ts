// The header rules of the byte path, on flat field lists: what goes upstream is exactly what the client sent,
// minus hop-by-hop fields (RFC 9110 §7.6.1) and the ones the gateway owns, plus X-Forwarded-*, X-Request-Id,
// the Host policy and the framing of the body as it will be sent; what goes back is the server's answer with
// the same hop-by-hop rules, the request id, and the framing the client connection needs.
import type { HeaderFields, RequestHead, ResponseHead } from "../http/head.ts";
import { extraHopFields, Role, roleOf } from "./field-roles.ts";

export interface ForwardFacts {
  /** The Host to send. */
  host: string;
  clientIp: string;
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
 * The upstream request head: request line, the client's end-to-end fields in their order and case, then the
 * gateway's own and `framing` (a Content-Length or Transfer-Encoding line, or "").
 */
export function upstreamRequestHead(method: string, pathAndQuery: string, head: RequestHead, facts: ForwardFacts, framing: string): string {
  const fields = head.fields;
  const listed = extraHopFields(head.connectionTokens);
  let text = `${method} ${pathAndQuery} HTTP/1.1\r\nhost: ${facts.host}\r\n`;
  let forwardedFor = "";
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    let value = fields[i + 1]!;
    switch (roleOf(name)) {
      case Role.Ordinary:
      case Role.CacheControl:
        if (listed !== undefined && listed.includes(name.toLowerCase())) continue;
        break;
      case Role.Cookie:
        if (facts.stripCookie) {
          const kept = facts.stripCookie(value);
          if (kept === null) continue;
          value = kept;
        }
        break;
      case Role.XForwardedFor:
        forwardedFor += `${value}, `;
        continue;
      default:
        // Hop-by-hop, or written by the gateway below.
        continue;
    }
    text += `${name}: ${value}\r\n`;
  }
  text += `x-forwarded-for: ${forwardedFor}${facts.clientIp}\r\nx-forwarded-proto: ${facts.proto}\r\n`;
  if (facts.forwardedHost) text += `x-forwarded-host: ${facts.forwardedHost}\r\n`;
  text += `x-request-id: ${facts.requestId}\r\n`;
  if (facts.upgrade) text += `connection: upgrade\r\nupgrade: ${head.upgrade}\r\n`;
  return `${text}${framing}\r\n`;
}

/** Extra fields the gateway adds to an answer (sticky binding). */
export interface AnswerExtras {
  setCookie?: string;
  /** Replace Cache-Control with this value (an answer that binds a client must stay out of shared caches). */
  cacheControl?: (current: string | null) => string;
}

/**
 * The head relayed to the client: the server's status and reason, its end-to-end fields, X-Request-Id and the
 * gateway's extras, then `framing` and `connection` lines (each "" or a complete line).
 */
export function clientResponseHead(head: ResponseHead, requestId: string, extras: AnswerExtras | undefined, framing: string, connection: string): string {
  const fields = head.fields;
  const listed = extraHopFields(head.connectionTokens);
  const switching = head.status === 101;
  let text = `HTTP/1.1 ${head.status} ${head.reason}\r\n`;
  let cacheControl: string | null = null;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    switch (roleOf(name)) {
      case Role.ContentLength:
      case Role.XRequestId:
      case Role.HopByHop:
        continue;
      case Role.Connection:
      case Role.Upgrade:
        // A protocol switch is the one answer these belong to.
        if (!switching) continue;
        break;
      case Role.CacheControl:
        if (extras?.cacheControl) {
          cacheControl = cacheControl === null ? fields[i + 1]! : `${cacheControl}, ${fields[i + 1]}`;
          continue;
        }
        break;
      default:
        if (listed !== undefined && listed.includes(name.toLowerCase())) continue;
    }
    text += `${name}: ${fields[i + 1]}\r\n`;
  }
  text += `x-request-id: ${requestId}\r\n`;
  if (extras?.setCookie) text += `set-cookie: ${extras.setCookie}\r\n`;
  if (extras?.cacheControl) text += `cache-control: ${extras.cacheControl(cacheControl)}\r\n`;
  return `${text}${framing}${connection}\r\n`;
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
