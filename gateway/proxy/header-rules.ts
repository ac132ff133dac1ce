// The header rules of the byte path, on flat field lists: what goes upstream is exactly what the client sent,
// minus hop-by-hop fields (RFC 9110 §7.6.1) and the ones the gateway owns, plus X-Forwarded-*, X-Request-Id,
// the Host policy and the framing of the body as it will be sent; what goes back is the server's answer with
// the same hop-by-hop rules, the request id, and the framing the client connection needs.
import type { HeaderFields, RequestHead, ResponseHead } from "../http/head.ts";

/** Fields never forwarded either way (besides those the Connection field lists). */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "proxy-connection", "proxy-authenticate", "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade"]);
/** Request fields the gateway writes itself. */
const OWNED_UPSTREAM = new Set(["host", "content-length", "expect", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-request-id"]);
/** Response fields the gateway writes itself. */
const OWNED_DOWNSTREAM = new Set(["content-length", "x-request-id"]);

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
  const listed = head.connectionTokens;
  let text = `${method} ${pathAndQuery} HTTP/1.1\r\nhost: ${facts.host}\r\n`;
  let forwardedFor = "";
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    const lower = name.toLowerCase();
    if (OWNED_UPSTREAM.has(lower)) {
      if (lower === "x-forwarded-for") forwardedFor += `${fields[i + 1]}, `;
      continue;
    }
    if (HOP_BY_HOP.has(lower) || (listed !== undefined && listed.includes(lower))) continue;
    let value = fields[i + 1]!;
    if (lower === "cookie" && facts.stripCookie) {
      const kept = facts.stripCookie(value);
      if (kept === null) continue;
      value = kept;
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
  const listed = head.connectionTokens;
  const switching = head.status === 101;
  let text = `HTTP/1.1 ${head.status} ${head.reason}\r\n`;
  let cacheControl: string | null = null;
  for (let i = 0; i < fields.length; i += 2) {
    const name = fields[i]!;
    const lower = name.toLowerCase();
    if (OWNED_DOWNSTREAM.has(lower)) continue;
    if (switching && (lower === "upgrade" || lower === "connection")) {
      text += `${name}: ${fields[i + 1]}\r\n`;
      continue;
    }
    if (HOP_BY_HOP.has(lower) || (listed !== undefined && listed.includes(lower))) continue;
    if (extras?.cacheControl && lower === "cache-control") {
      cacheControl = cacheControl === null ? fields[i + 1]! : `${cacheControl}, ${fields[i + 1]}`;
      continue;
    }
    text += `${name}: ${fields[i + 1]}\r\n`;
  }
  text += `x-request-id: ${requestId}\r\n`;
  if (extras?.setCookie) text += `set-cookie: ${extras.setCookie}\r\n`;
  if (extras?.cacheControl) text += `cache-control: ${extras.cacheControl(cacheControl)}\r\n`;
  return `${text}${framing}${connection}\r\n`;
}

/** The lines of a trailer section (after a last chunk), without the final CRLF. */
export function trailerLines(trailers: HeaderFields): string {
  let text = "";
  for (let i = 0; i < trailers.length; i += 2) text += `${trailers[i]}: ${trailers[i + 1]}\r\n`;
  return text;
}
