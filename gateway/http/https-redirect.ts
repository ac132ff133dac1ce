// The one answer of a listener that only redirects to HTTPS (Caddy's automatic HTTP→HTTPS redirects, Traefik's
// entryPoints redirections): every request gets a redirect to the same host, path and query over HTTPS. No
// route, plugin or upstream is involved. What is the same in every answer is made once; a request adds its
// host, path and request id. Only a plain host name, an IPv4 address or a bracketed IPv6 literal can become
// the host of the Location: anything else the Host grammar allows (percent-encoding, sub-delims) is refused.
import type { RequestHead } from "./head.ts";
import { latin1, reasonFor } from "./response-writer.ts";

export type RedirectStatus = 301 | 302 | 307 | 308;

export class HttpsRedirect {
  /** The status line and the Location field's name. */
  private readonly start: string;
  /** ":PORT" after the host, or "" for 443. */
  private readonly portSuffix: string;

  constructor(
    readonly status: RedirectStatus,
    readonly port: number,
  ) {
    this.start = `HTTP/1.1 ${status} ${reasonFor(status)}\r\nlocation: `;
    this.portSuffix = port === 443 ? "" : `:${port}`;
  }

  /** https://HOST[:PORT]/path?query for this request, or undefined when its Host or target cannot make one. */
  location(head: RequestHead): string | undefined {
    const host = hostOf(head.host);
    const target = head.pathAndQuery;
    // Origin-form (or the path of an absolute-form target); not "*" of OPTIONS, nor CONNECT's authority.
    if (host === undefined || target.charCodeAt(0) !== SLASH) return undefined;
    return `https://${host}${this.portSuffix}${target}`;
  }

  /**
   * The whole answer (no body: Content-Length 0), or undefined when the request names no host to redirect to.
   * `close`: the connection ends after it; an HTTP/1.0 client that asked to keep it is told it stays.
   */
  answer(head: RequestHead, requestId: string, close: boolean): Uint8Array | undefined {
    const location = this.location(head);
    if (location === undefined) return undefined;
    const connection = close ? "connection: close\r\n" : head.minor === 0 ? "connection: keep-alive\r\n" : "";
    return latin1(`${this.start}${location}\r\nx-request-id: ${requestId}\r\ncontent-length: 0\r\n${connection}\r\n`);
  }
}

const SLASH = 0x2f;
const COLON = 0x3a;

/**
 * The host of an authority (`host[:port]`, already valid by the Host grammar) without its port, when it is a
 * name of letters, digits, `-`, `.` and `_`, or a bracketed IPv6 literal; undefined for anything else, the empty
 * Host of an HTTP/1.0 request among them.
 */
export function hostOf(authority: string): string | undefined {
  if (authority.charCodeAt(0) === 0x5b) {
    const close = authority.indexOf("]");
    if (close < 3) return undefined;
    for (let i = 1; i < close; i++) if (!IPV6_BYTES[authority.charCodeAt(i)]) return undefined;
    return authority.slice(0, close + 1);
  }
  let end = 0;
  while (end < authority.length && authority.charCodeAt(end) !== COLON) {
    if (!NAME_BYTES[authority.charCodeAt(end)]) return undefined;
    end++;
  }
  return end === 0 ? undefined : authority.slice(0, end);
}

const NAME_BYTES = byteSet("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._");
const IPV6_BYTES = byteSet("0123456789abcdefABCDEF:.");

function byteSet(chars: string): Uint8Array {
  const set = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) set[chars.charCodeAt(i)] = 1;
  return set;
}
