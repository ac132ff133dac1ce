// The per-request view every matcher reads. Built once per request; the cheap parts (method, host, path) are
// sliced from the URL eagerly, the costly parts (query, cookies, User-Agent) are parsed on first use and only
// when some route actually reaches a matcher that asks for them.
//
// The path is the URL pathname as received: percent-escapes are not decoded for matching, and nothing is
// rejected or normalised here. Resolving `.`/`..` segments and refusing malformed targets is the HTTP layer's
// job (runtimes already hand us a parsed URL), so a route sees exactly what the upstream would.
import { browserBits } from "./browser.ts";

/** The one thing the view needs from a headers object; `Headers` on Bun and Deno has this shape. */
export interface HeaderLookup {
  get(name: string): string | null;
}

/**
 * Lower-cases a Host header (or a config host) and drops what never takes part in matching: the port,
 * the brackets of an IPv6 literal (`[::1]:8080` → `::1`) and a trailing FQDN dot (`example.com.`).
 */
export function normaliseHost(raw: string): string {
  let host = raw;
  if (host.charCodeAt(0) === 91 /* [ */) {
    const end = host.indexOf("]");
    host = end > 0 ? host.slice(1, end) : host.slice(1);
  } else {
    const colon = host.indexOf(":");
    // One colon is host:port; several without brackets is a bare IPv6 literal, kept whole.
    if (colon >= 0 && host.indexOf(":", colon + 1) < 0) host = host.slice(0, colon);
  }
  if (host.charCodeAt(host.length - 1) === 46 /* . */) host = host.slice(0, -1);
  return host.toLowerCase();
}

const EMPTY_QUERY: ReadonlyMap<string, string[]> = new Map();
const EMPTY_COOKIES: ReadonlyMap<string, string> = new Map();

export class RequestView {
  /** Lower-case, port-less host (see normaliseHost); "" when the request named none. */
  readonly host: string;
  private _segment: string | null | undefined = undefined;
  private _query: ReadonlyMap<string, string[]> | undefined = undefined;
  private _cookies: ReadonlyMap<string, string> | undefined = undefined;
  private _browser = -1;

  constructor(
    /** As received; methods are case-sensitive (RFC 9110), standard ones arrive upper-case. */
    readonly method: string,
    /** "http" or "https", for redirect targets. */
    readonly scheme: string,
    rawHost: string,
    /** The raw pathname, always starting with "/" for origin-form targets. */
    readonly path: string,
    /** The raw query string with its "?", or "" — passed upstream untouched. */
    readonly search: string,
    readonly headers: HeaderLookup,
  ) {
    this.host = normaliseHost(rawHost);
  }

  /** The view of a fetch-style Request: what the runtime adapters hand to the gateway. */
  static fromRequest(req: { readonly method: string; readonly url: string; readonly headers: HeaderLookup }): RequestView {
    return RequestView.fromUrl(req.method, req.url, req.headers);
  }

  /**
   * The view of a method, an absolute URL (or an origin-form "/path?query") and headers. The URL is sliced by
   * hand, not parsed with `new URL`: the runtime already validated it, and this runs for every request.
   */
  static fromUrl(method: string, url: string, headers: HeaderLookup): RequestView {
    let scheme = "http";
    let authority = "";
    let i = 0; // where the path (or "?" / "#") starts
    if (url.charCodeAt(0) !== 47 /* / */) {
      const colon = url.indexOf(":");
      scheme = url.slice(0, colon).toLowerCase();
      const authStart = colon + 3; // skip "://"
      i = authStart;
      for (; i < url.length; i++) {
        const c = url.charCodeAt(i);
        if (c === 47 || c === 63 || c === 35) break; // / ? #
      }
      authority = url.slice(authStart, i);
    }
    // A "#fragment" never takes part in routing (clients do not send one; a hand-built Request may have one).
    let end = url.indexOf("#", i);
    if (end < 0) end = url.length;
    let q = url.indexOf("?", i);
    if (q < 0 || q > end) q = end;
    const path = q > i ? url.slice(i, q) : "/"; // "http://host?x" has an empty path, which means "/"
    const search = q < end ? url.slice(q, end) : ""; // kept byte for byte, even a lone "?"
    const host = headers.get("host") ?? authority;
    return new RequestView(method, scheme, host, path, search, headers);
  }

  /** The first path segment ("api" for "/api/x", "" for "/"), or null for a path not starting with "/". */
  get segment(): string | null {
    let seg = this._segment;
    if (seg === undefined) {
      const path = this.path;
      if (path.charCodeAt(0) !== 47) seg = null;
      else {
        const end = path.indexOf("/", 1);
        seg = end < 0 ? path.slice(1) : path.slice(1, end);
      }
      this._segment = seg;
    }
    return seg;
  }

  /**
   * Every value of a query parameter (decoded the way forms are: `+` is a space, `%xx` escapes), or undefined
   * when the parameter is absent. Parsed once, on first use.
   */
  queryValues(name: string): readonly string[] | undefined {
    return (this._query ??= parseQuery(this.search)).get(name);
  }

  /** A cookie's value as sent (cookie values are opaque: not percent-decoded), first one wins. Parsed once. */
  cookie(name: string): string | undefined {
    return (this._cookies ??= parseCookies(this.headers.get("cookie"))).get(name);
  }

  /** Browser class and family bits (see browser.ts); the User-Agent is parsed only if a browser matcher asks. */
  browser(): number {
    let bits = this._browser;
    if (bits < 0) bits = this._browser = browserBits(this.headers.get("user-agent"), this.headers.get("sec-ch-ua-mobile"));
    return bits;
  }
}

function parseQuery(search: string): ReadonlyMap<string, string[]> {
  if (search.length <= 1) return EMPTY_QUERY;
  const map = new Map<string, string[]>();
  new URLSearchParams(search).forEach((value, name) => {
    const list = map.get(name);
    if (list) list.push(value);
    else map.set(name, [value]);
  });
  return map;
}

function parseCookies(header: string | null): ReadonlyMap<string, string> {
  if (!header) return EMPTY_COOKIES;
  const map = new Map<string, string>();
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq < 0) continue;
    const name = part.slice(0, eq).trim();
    if (name === "" || map.has(name)) continue;
    let value = part.slice(eq + 1).trim();
    // RFC 6265 allows a DQUOTE-wrapped value; the quotes are not part of it.
    if (value.length >= 2 && value.charCodeAt(0) === 34 && value.charCodeAt(value.length - 1) === 34) value = value.slice(1, -1);
    map.set(name, value);
  }
  return map;
}
