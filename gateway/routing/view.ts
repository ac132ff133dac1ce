// The per-request view every matcher reads. Built once per request; the cheap parts (method, host, path) are
// sliced from the URL eagerly, the costly parts (query, cookies, User-Agent) are parsed on first use and only
// when some route actually reaches a matcher that asks for them.
//
// The path is the request's path already normalised by the HTTP layer (http/path-normalization.ts: dot segments
// resolved, slashes merged, unreserved escapes decoded, dangerous ones refused), so that a route sees what the
// upstream will act on; nothing is decoded or rejected here. The client's own target is kept beside it for
// `pathNormalization.forward: "original"`.
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
  // One pass, one slice at most, and toLowerCase only when there is an upper-case letter: this runs per request.
  let start = 0;
  let end = raw.length;
  let upper = false;
  if (raw.charCodeAt(0) === 91 /* [ */) {
    start = 1;
    const close = raw.indexOf("]");
    if (close > 0) end = close;
    for (let i = start; i < end; i++) {
      const c = raw.charCodeAt(i);
      if (c >= 65 && c <= 90) upper = true;
    }
  } else {
    let colon = -1;
    let colons = 0;
    for (let i = 0; i < end; i++) {
      const c = raw.charCodeAt(i);
      if (c === 58 /* : */) {
        if (colons++ === 0) colon = i;
      } else if (c >= 65 && c <= 90) upper = true;
    }
    // One colon is host:port; several without brackets is a bare IPv6 literal, kept whole.
    if (colons === 1) end = colon;
  }
  if (end > start && raw.charCodeAt(end - 1) === 46 /* . */) end--;
  const host = start === 0 && end === raw.length ? raw : raw.slice(start, end);
  return upper ? host.toLowerCase() : host;
}

// Most requests name the host the one before them named: the last answer is kept (a string compare instead of a
// scan and, with a port, a slice).
let lastRawHost = "";
let lastHost = "";

function normaliseHostOnce(raw: string): string {
  lastHost = normaliseHost(raw);
  lastRawHost = raw;
  return lastHost;
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
  private _headerName: string | undefined = undefined;
  private _headerValue: string | null = null;

  constructor(
    /** As received; methods are case-sensitive (RFC 9110), standard ones arrive upper-case. */
    readonly method: string,
    /** "http" or "https", for redirect targets. */
    readonly scheme: string,
    rawHost: string,
    /** The (normalised) pathname, always starting with "/" for origin-form targets. */
    readonly path: string,
    /** The raw query string with its "?", or "" — passed upstream untouched. */
    readonly search: string,
    readonly headers: HeaderLookup,
    /** The request target (path and query) as the client sent it, when known. */
    private readonly clientTarget?: string,
  ) {
    this.host = rawHost === lastRawHost ? lastHost : normaliseHostOnce(rawHost);
  }

  /** The request target (path and query) as the client sent it: the path and query of the view when not told. */
  get target(): string {
    return this.clientTarget ?? this.path + this.search;
  }

  /**
   * The view of a fetch-style Request (the hono path): its URL holds the normalised path. `clientTarget`, the
   * target as the client sent it, is kept for `forward: "original"`, and its query is the one routing reads,
   * byte for byte (the URL parser escapes some of its bytes).
   */
  static fromRequest(req: { readonly method: string; readonly url: string; readonly headers: HeaderLookup }, clientTarget?: string): RequestView {
    return RequestView.fromUrl(req.method, req.url, req.headers, clientTarget);
  }

  /**
   * The view of a method, an absolute URL (or an origin-form "/path?query") and headers. The URL is sliced by
   * hand, not parsed with `new URL`: the runtime already validated it, and this runs for every request.
   * `clientTarget`: as for fromRequest.
   */
  static fromUrl(method: string, url: string, headers: HeaderLookup, clientTarget?: string): RequestView {
    let scheme = "http";
    let authStart = 0;
    let i = 0; // where the path (or "?" / "#") starts
    if (url.charCodeAt(0) !== 47 /* / */) {
      const colon = url.indexOf(":");
      // The two schemes a gateway sees, without allocating; anything else as written, lower-cased.
      if (colon === 5 && url.startsWith("https")) scheme = "https";
      else if (colon !== 4 || !url.startsWith("http")) scheme = url.slice(0, colon).toLowerCase();
      authStart = i = colon + 3; // skip "://"
      for (; i < url.length; i++) {
        const c = url.charCodeAt(i);
        if (c === 47 || c === 63 || c === 35) break; // / ? #
      }
    }
    // A "#fragment" never takes part in routing (clients do not send one; a hand-built Request may have one).
    let end = url.indexOf("#", i);
    if (end < 0) end = url.length;
    let q = url.indexOf("?", i);
    if (q < 0 || q > end) q = end;
    const path = q > i ? url.slice(i, q) : "/"; // "http://host?x" has an empty path, which means "/"
    let search = q < end ? url.slice(q, end) : ""; // kept byte for byte, even a lone "?"
    if (clientTarget !== undefined) {
      const cq = clientTarget.indexOf("?");
      search = cq < 0 ? "" : clientTarget.slice(cq);
    }
    // The Host header names the host; the URL's authority stands in when there is none (HTTP/1.0, hand-built).
    const host = headers.get("host") ?? url.slice(authStart, i);
    return new RequestView(method, scheme, host, path, search, headers, clientTarget);
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
   * A header's value (lower-case name), remembering the last one read: routes told apart by one header's value
   * all read the same name, and Headers.get costs more than a string compare.
   */
  header(name: string): string | null {
    if (name !== this._headerName) {
      this._headerValue = this.headers.get(name);
      this._headerName = name;
    }
    return this._headerValue;
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
