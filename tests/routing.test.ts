// Routing: every matcher on its own (table-driven, positive and negative cases), browser detection on real
// User-Agents, the request view, the compiled table (first match wins, the pre-index keeps written order,
// checked against an index-free reference on random tables), params, and the path changes a route makes.
import { describe, expect, spyOn, test } from "bun:test";
import Bowser from "bowser";
import type { RouteConfig } from "../gateway/config/schema.ts";
import { RequestView, type HeaderLookup } from "../gateway/routing/view.ts";
import { compileHostMatcher } from "../gateway/routing/host.ts";
import { compilePathMatcher, regexFirstSegment } from "../gateway/routing/path.ts";
import { compileMethodsMatcher } from "../gateway/routing/methods.ts";
import { compileCookiesMatcher, compileHeadersMatcher, compileQueryMatcher } from "../gateway/routing/values.ts";
import { compileBrowserMatcher, describeBrowser } from "../gateway/routing/browser.ts";
import { allMatchers, type Matcher } from "../gateway/routing/matcher.ts";
import { compileRewrite, compileStripPrefix, compilePathRewrite } from "../gateway/routing/rewrite.ts";
import { compileRedirect } from "../gateway/routing/redirect.ts";
import { RouteTableError, checkRoutes, compileRouteTable } from "../gateway/routing/table.ts";
import { mulberry32 } from "./helpers/common.ts";

/** A view of `url` ("http://host/path?q" or "/path?q") with headers. */
function view(url: string, headers: Record<string, string> = {}, method = "GET"): RequestView {
  return RequestView.fromUrl(method, url.startsWith("/") ? `http://localhost${url}` : url, new Headers(headers));
}

/** Routes given as match objects, named r0, r1…; the table's value is the name. */
function table(matches: Array<RouteConfig["match"] | Partial<RouteConfig>>) {
  const routes = matches.map((m, i) => route(m && ("pool" in m || "redirect" in m || "match" in m) ? m : { match: m as RouteConfig["match"] }, i));
  return compileRouteTable(routes.map((r) => ({ route: r, value: r.name! })));
}

function route(partial: Partial<RouteConfig>, i: number): RouteConfig {
  return { name: `r${i}`, plugins: [], ...(partial.redirect ? {} : { pool: "app" }), ...partial } as RouteConfig;
}

const winner = (t: ReturnType<typeof table>, v: RequestView) => t.match(v)?.value ?? null;

// ── the request view ───────────────────────────────────────────────────────────────────────────────

describe("RequestView", () => {
  test.each([
    // url, Host header, method, host, path, search
    ["http://example.com/a/b?x=1", "Example.COM:8080", "GET", "example.com", "/a/b", "?x=1"],
    ["http://[::1]:8080/x", "[::1]:8080", "GET", "::1", "/x", ""],
    ["http://[::1]/x", null, "GET", "::1", "/x", ""],
    ["http://example.com./", "example.com.", "GET", "example.com", "/", ""],
    ["https://h.test", null, "POST", "h.test", "/", ""],
    ["https://h.test?q", null, "GET", "h.test", "/", "?q"],
    ["http://h.test/p?", null, "GET", "h.test", "/p", "?"],
    ["http://h.test/p#frag", null, "GET", "h.test", "/p", ""],
    ["http://h.test/p?a=1#frag", null, "GET", "h.test", "/p", "?a=1"],
    ["http://h.test/a%2Fb/../c?x=%20", null, "GET", "h.test", "/a%2Fb/../c", "?x=%20"],
    ["http://user@h.test:81/p", null, "GET", "user@h.test", "/p", ""],
    ["/origin/form?y=2", "o.test", "DELETE", "o.test", "/origin/form", "?y=2"],
    ["http://10.0.0.1:9000/", null, "GET", "10.0.0.1", "/", ""],
  ] as const)("%s (Host %p)", (url, host, method, wantHost, wantPath, wantSearch) => {
    const v = RequestView.fromUrl(method, url, new Headers(host === null ? {} : { host }));
    expect([v.method, v.host, v.path, v.search]).toEqual([method, wantHost, wantPath, wantSearch]);
  });

  test("scheme comes from the URL", () => {
    expect(view("https://a.test/").scheme).toBe("https");
    expect(view("http://a.test/").scheme).toBe("http");
  });

  test("fromRequest reads method, URL and headers of a fetch Request", () => {
    const v = RequestView.fromRequest(new Request("http://a.test:8080/p/q?z=9", { method: "PUT", headers: { host: "B.test:1" } }));
    expect([v.method, v.host, v.path, v.search]).toEqual(["PUT", "b.test", "/p/q", "?z=9"]);
  });

  test.each([
    ["/", ""],
    ["/api", "api"],
    ["/api/", "api"],
    ["/api/x/y", "api"],
    ["//x", ""],
  ])("first segment of %s is %p", (path, seg) => {
    expect(view(path).segment).toBe(seg);
  });

  test("header() reads through to the headers, remembering the last name", () => {
    const h = countingHeaders({ "x-a": "1", "x-b": "2" });
    const v = RequestView.fromUrl("GET", "http://h/", h);
    expect([v.header("x-a"), v.header("x-a"), v.header("x-b"), v.header("x-a"), v.header("x-none")]).toEqual(["1", "1", "2", "1", null]);
    expect([h.reads["x-a"], h.reads["x-b"], h.reads["x-none"]]).toEqual([2, 1, 1]);
  });

  test("query values are form-decoded and repeated names keep every value", () => {
    const v = view("/s?q=a+b&q=c%20d&e=&f");
    expect(v.queryValues("q")).toEqual(["a b", "c d"]);
    expect(v.queryValues("e")).toEqual([""]);
    expect(v.queryValues("f")).toEqual([""]);
    expect(v.queryValues("missing")).toBeUndefined();
  });

  test("cookies: first of a name wins, quotes dropped, values not decoded", () => {
    const v = view("/", { cookie: 'a=1; b="two"; a=3; c=x%20y; =bad; flag' });
    expect([v.cookie("a"), v.cookie("b"), v.cookie("c"), v.cookie("flag"), v.cookie("z")]).toEqual(["1", "two", "x%20y", undefined, undefined]);
  });
});

// ── one matcher per field ──────────────────────────────────────────────────────────────────────────

describe("host matcher", () => {
  test.each([
    ["example.com", "example.com", true],
    ["example.com", "EXAMPLE.com", true],
    ["example.com", "example.com:8080", true],
    ["Example.COM", "example.com", true],
    ["example.com.", "example.com", true],
    ["example.com", "example.com.", true],
    ["example.com", "www.example.com", false],
    ["example.com", "example.org", false],
    ["example.com", "notexample.com", false],
    ["*.example.com", "a.example.com", true],
    ["*.example.com", "A.B.Example.com:443", true],
    ["*.example.com", "example.com", false], // not the apex, as nginx
    ["*.example.com", "badexample.com", false],
    ["*.example.com", ".example.com", false],
    ["*.example.com", "example.com.evil.org", false],
    [".example.com", "example.com", true],
    [".example.com", "a.example.com", true],
    [".example.com", "xexample.com", false],
    [["a.test", "*.b.test"], "x.b.test", true],
    [["a.test", "*.b.test"], "a.test", true],
    [["a.test", "*.b.test"], "b.test", false],
    ["*", "anything.at.all", true],
    ["*", "", true],
    ["~^api[0-9]+\\.", "api12.example.com", true],
    ["~^api[0-9]+\\.", "API7.example.com", true], // host regexes are case-insensitive
    ["~^api[0-9]+\\.", "www.api1.example.com", false],
    ["[::1]", "[::1]:8080", true],
    ["::1", "[::1]", true],
    ["127.0.0.1", "127.0.0.1:8080", true],
    ["127.0.0.1", "127.0.0.10", false],
    ["example.com", "", false],
  ] as Array<[string | string[], string, boolean]>)("%p vs Host %p → %p", (spec, host, want) => {
    expect(compileHostMatcher(spec).test(view("/", host ? { host } : { host: "" }))).toBe(want);
  });

  test("index keys: exact hosts and wildcard domains, none for * or a regex", () => {
    expect(compileHostMatcher(["A.test", "b.test", "a.test"]).keys).toEqual({ exact: ["a.test", "b.test"], domains: [] });
    expect(compileHostMatcher(["a.test", "*.b.test", "*.B.test"]).keys).toEqual({ exact: ["a.test"], domains: ["b.test"] });
    expect(compileHostMatcher(".c.test").keys).toEqual({ exact: ["c.test"], domains: ["c.test"] });
    expect(compileHostMatcher(["a.test", "~a"]).keys).toBeNull();
    expect(compileHostMatcher(["a.test", "*"]).keys).toBeNull();
  });

  test.each(["example.com:8080", "[::1]:80", "www.*.com", "exa*mple.com", "a/b", "~(", "~", "."])("refuses %p", (spec) => {
    expect(() => compileHostMatcher(spec)).toThrow();
  });
});

describe("path matcher", () => {
  test.each([
    ["/exact", "/exact", true],
    ["/exact", "/exact/", false],
    ["/exact", "/Exact", false],
    ["/exact", "/exactly", false],
    ["/", "/", true],
    ["/", "/x", false],
    ["/api/*", "/api", true],
    ["/api/*", "/api/", true],
    ["/api/*", "/api/x", true],
    ["/api/*", "/api/x/y/z", true],
    ["/api/*", "/apix", false],
    ["/api/*", "/ap", false],
    ["/api/*", "/v1/api/x", false],
    ["/api/v1/*", "/api/v1", true],
    ["/api/v1/*", "/api/v2", false],
    ["/*", "/", true],
    ["/*", "/anything/here", true],
    ["/api*", "/apix", true],
    ["/api*", "/api/x", true],
    ["/api*", "/ap", false],
    ["*.css", "/a/b/site.css", true],
    ["*.css", "/site.css.map", false],
    ["*.css", "/css", false],
    ["*", "/whatever", true],
    ["/users/:id", "/users/42", true],
    ["/users/:id", "/users/", false], // a param is one non-empty segment
    ["/users/:id", "/users", false],
    ["/users/:id", "/users/42/posts", false],
    ["/users/:id/posts/:post", "/users/1/posts/2", true],
    ["/users/:id/posts/:post", "/users/1/comments/2", false],
    ["/users/:id/*", "/users/1", true],
    ["/users/:id/*", "/users/1/anything/else", true],
    ["/users/:id/*", "/users", false],
    ["/:tenant/home", "/acme/home", true],
    ["/:tenant/home", "/acme/away", false],
    ["/a.b/:x", "/a.b/1", true],
    ["/a.b/:x", "/aXb/1", false], // literal segments are escaped, "." is not "any"
    ["~^/v[0-9]+/", "/v2/items", true],
    ["~^/v[0-9]+/", "/v/items", false],
    ["~^/v[0-9]+/", "/api/v2/items", false],
    ["~\\.(png|jpe?g)$", "/img/a.jpeg", true],
    [["/a", "/b/*", "*.js"], "/b/c", true],
    [["/a", "/b/*", "*.js"], "/x/y.js", true],
    [["/a", "/b/*", "*.js"], "/c", false],
    [["/a", "/b", "/c"], "/b", true],
    ["/caf%C3%A9", "/caf%C3%A9", true], // escapes are matched as received, never decoded
    ["/café", "/caf%C3%A9", false],
    ["/a%2Fb", "/a%2Fb", true],
  ] as Array<[string | string[], string, boolean]>)("%p vs %p → %p", (spec, path, want) => {
    expect(compilePathMatcher(spec).test(view(path))).toBe(want);
  });

  test.each([
    ["/users/:id", "/users/42", { id: "42" }],
    ["/users/:id/posts/:post", "/users/a%20b/posts/7", { id: "a%20b", post: "7" }],
    ["/users/:id/*", "/users/9/x/y", { id: "9" }],
    ["~^/v(?<version>[0-9]+)/(?<rest>.*)$", "/v3/items/1", { version: "3", rest: "items/1" }],
    ["~^/(?<a>x)|(?<b>y)$", "/x", { a: "x" }],
    ["/static/*", "/static/x", {}],
    [["/exact", "/p/:name"], "/p/joe", { name: "joe" }],
    [["/u/:first", "/u/:second/*"], "/u/x", { first: "x" }], // the first pattern that matches gives the params
  ] as Array<[string | string[], string, Record<string, string>]>)("params of %p on %p", (spec, path, params) => {
    const m = compilePathMatcher(spec);
    expect(m.test(view(path))).toBe(true);
    expect(m.params(path)).toEqual(params);
  });

  test("segment keys for the index", () => {
    expect(compilePathMatcher(["/api/*", "/api/x", "/web"]).segments).toEqual(["api", "web"]);
    expect(compilePathMatcher("/").segments).toEqual([""]);
    expect(compilePathMatcher("/users/:id").segments).toEqual(["users"]);
    expect(compilePathMatcher("/api/v*").segments).toEqual(["api"]);
    for (const spec of ["/api*", "/:id", "/*", "*.css", "~^/api", ["/api", "*.js"]]) expect(compilePathMatcher(spec).segments).toBeNull();
  });

  test.each([
    ["^/v1/", "v1"],
    ["^/v1/items/(?<id>[0-9]+)$", "v1"],
    ["^/health$", "health"],
    ["^\\/api\\/x", "api"],
    ["^/a\\.b/", "a.b"],
    ["^/", null],
    ["^/health", null], // "/healthz" matches too
    ["^/v[0-9]+/", null],
    ["^/v1?/", null], // the "1" may be absent
    ["^/ab+/", null],
    ["^/a/|^/b/", null], // top-level alternation escapes the anchor
    ["^/(a|b)/", null],
    ["^/x\\d/", null],
    ["/x/", null], // not anchored
    ["^x/", null],
    ["^/health$|^/x", null],
  ] as Array<[string, string | null]>)("regex %p is indexed under segment %p", (source, segment) => {
    expect(regexFirstSegment(source)).toBe(segment);
    expect(compilePathMatcher("~" + source).segments).toEqual(segment === null ? null : [segment]);
  });

  test.each(["api", "/a/*/b", "/a*b", "*.c*", "/u/:id*", "/u/:id.json", "/u/:", "/u/:id/:id", "~(", "~"])("refuses %p", (spec) => {
    expect(() => compilePathMatcher(spec)).toThrow();
  });
});

describe("methods matcher", () => {
  test.each([
    ["GET", "GET", true],
    ["get", "GET", true],
    [["GET", "POST"], "POST", true],
    [["get", "post"], "PUT", false],
    ["GET", "HEAD", false], // GET does not imply HEAD
    ["PATCH", "PATCH", true],
    ["PATCH", "patch", false], // request methods are case-sensitive on the wire
    ["PURGE", "PURGE", true],
  ] as Array<[string | string[], string, boolean]>)("%p vs %p → %p", (spec, method, want) => {
    expect(compileMethodsMatcher(spec)(view("/", {}, method))).toBe(want);
  });
});

describe("headers, query and cookies matchers", () => {
  const cases: Array<[string, Matcher, Record<string, string>, string, boolean]> = [];
  const h = (spec: Record<string, string | string[]>) => compileHeadersMatcher(spec);
  const q = (spec: Record<string, string | string[]>) => compileQueryMatcher(spec);
  const c = (spec: Record<string, string | string[]>) => compileCookiesMatcher(spec);
  cases.push(
    ["header exact", h({ "x-version": "2" }), { "x-version": "2" }, "/", true],
    ["header name is case-insensitive", h({ "X-Version": "2" }), { "x-VERSION": "2" }, "/", true],
    ["header value is case-sensitive", h({ "x-env": "prod" }), { "x-env": "PROD" }, "/", false],
    ["header absent", h({ "x-version": "2" }), {}, "/", false],
    ["header absent never matches a regex", h({ "x-version": "~.*" }), {}, "/", false],
    ["header present and empty", h({ "x-flag": "" }), { "x-flag": "" }, "/", true],
    ["header regex", h({ accept: "~json" }), { accept: "application/json" }, "/", true],
    ["header regex miss", h({ accept: "~^text/" }), { accept: "application/json" }, "/", false],
    ["header any-of", h({ "x-version": ["1", "2", "~^3\\."] }), { "x-version": "3.1" }, "/", true],
    ["header any-of miss", h({ "x-version": ["1", "2"] }), { "x-version": "4" }, "/", false],
    ["headers all must hold", h({ a: "1", b: "2" }), { a: "1", b: "3" }, "/", false],
    ["headers all hold", h({ a: "1", b: "2" }), { a: "1", b: "2" }, "/", true],
    ["empty object holds", h({}), {}, "/", true],
    ["query exact", q({ v: "2" }), {}, "/?v=2", true],
    ["query decoded", q({ q: "a b" }), {}, "/?q=a+b", true],
    ["query repeated, any value", q({ tag: "x" }), {}, "/?tag=w&tag=x", true],
    ["query name case-sensitive", q({ V: "2" }), {}, "/?v=2", false],
    ["query absent", q({ v: "~.*" }), {}, "/?w=1", false],
    ["query no query string", q({ v: "2" }), {}, "/", false],
    ["query regex", q({ page: "~^[0-9]+$" }), {}, "/?page=12", true],
    ["query regex miss", q({ page: "~^[0-9]+$" }), {}, "/?page=12a", false],
    ["query empty value", q({ debug: "" }), {}, "/?debug", true],
    ["cookie exact", c({ beta: "1" }), { cookie: "a=0; beta=1" }, "/", true],
    ["cookie miss", c({ beta: "1" }), { cookie: "beta=0" }, "/", false],
    ["cookie absent", c({ beta: "~" + "." }), { cookie: "alpha=1" }, "/", false],
    ["cookie no header", c({ beta: "1" }), {}, "/", false],
    ["cookie regex", c({ session: "~^s_" }), { cookie: "session=s_123" }, "/", true],
    ["cookie any-of", c({ group: ["a", "b"] }), { cookie: "group=b" }, "/", true],
  );
  test.each(cases)("%s", (_label, matcher, headers, url, want) => {
    expect(matcher(view(url, headers))).toBe(want);
  });

  test("bad names and regexes are refused with their key", () => {
    expect(() => compileHeadersMatcher({ "bad name": "x" })).toThrow("not a header name");
    try {
      compileQueryMatcher({ v: ["1", "~("] });
      throw new Error("expected a PatternError");
    } catch (e) {
      expect((e as { at: unknown }).at).toEqual(["v", 1]);
    }
  });
});

// ── browser ────────────────────────────────────────────────────────────────────────────────────────

const UA = {
  chromeAndroid: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
  chromeAndroidReduced: "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
  chromeAndroidTablet: "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  androidWebView:
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/UD1A.230803.041; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36",
  ipadSafari: "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  iphoneSafari: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1",
  iphoneChrome:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/124.0.6367.88 Mobile/15E148 Safari/604.1",
  iphoneFirefox: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/125.0 Mobile/15E148 Safari/605.1.15",
  iphoneEdge:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 EdgiOS/124.2478.71 Mobile/15E148 Safari/604.1",
  macSafari: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Safari/605.1.15",
  macChrome: "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  winChrome: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  winEdge: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80",
  edgeLegacy: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19045",
  androidEdge: "Mozilla/5.0 (Linux; Android 10; HD1913) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 EdgA/124.0.2478.64",
  winFirefox: "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
  linuxFirefox: "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0",
  androidFirefox: "Mozilla/5.0 (Android 14; Mobile; rv:125.0) Gecko/125.0 Firefox/125.0",
  winOpera: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/123.0.0.0 Safari/537.36 OPR/109.0.0.0",
  operaAndroid: "Mozilla/5.0 (Linux; Android 10; VOG-L29) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36 OPR/81.1.4292.78446",
  operaMini: "Opera/9.80 (J2ME/MIDP; Opera Mini/9.80 (S60; SymbOS; Opera Mobi/23.348; U; en) Presto/2.5.25 Version/10.54",
  samsung: "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Mobile Safari/537.36",
  samsungTablet: "Mozilla/5.0 (Linux; Android 13; SAMSUNG SM-X700) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/24.0 Chrome/117.0.0.0 Safari/537.36",
  ie11: "Mozilla/5.0 (Windows NT 10.0; WOW64; Trident/7.0; rv:11.0) like Gecko",
  ie10: "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.2; Trident/6.0)",
  chromeOS: "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36",
  vivaldi: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Vivaldi/6.7",
  kindle: "Mozilla/5.0 (Linux; Android 9; KFTRWI) AppleWebKit/537.36 (KHTML, like Gecko) Silk/124.1.1 like Chrome/124.0.6367.118 Safari/537.36",
  googlebot: "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  googlebotSmartphone:
    "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.6367.118 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  bingbot: "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
  gptbot: "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
  ahrefs: "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
  baidu: "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
  facebook: "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
  slack: "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
  headless: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/124.0.0.0 Safari/537.36",
  cubotPhone: "Mozilla/5.0 (Linux; Android 10; CUBOT_X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Mobile Safari/537.36",
  curl: "curl/8.5.0",
  wget: "Wget/1.21.4",
  python: "python-requests/2.31.0",
  postman: "PostmanRuntime/7.37.3",
  gibberish: "foo bar baz",
  smartTv: "Mozilla/5.0 (SMART-TV; Linux; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/4.0 Chrome/76.0.3809.146 TV Safari/537.36",
};

describe("browser detection", () => {
  test.each([
    ["chromeAndroid", "mobile", "chrome"],
    ["chromeAndroidReduced", "mobile", "chrome"],
    ["chromeAndroidTablet", "tablet", "chrome"],
    ["androidWebView", "mobile", "chrome"],
    ["ipadSafari", "tablet", "safari"],
    ["iphoneSafari", "mobile", "safari"],
    ["iphoneChrome", "mobile", "chrome"],
    ["iphoneFirefox", "mobile", "firefox"],
    ["iphoneEdge", "mobile", "edge"],
    ["macSafari", "desktop", "safari"],
    ["macChrome", "desktop", "chrome"],
    ["winChrome", "desktop", "chrome"],
    ["winEdge", "desktop", "edge"],
    ["edgeLegacy", "desktop", "edge"],
    ["androidEdge", "mobile", "edge"],
    ["winFirefox", "desktop", "firefox"],
    ["linuxFirefox", "desktop", "firefox"],
    ["androidFirefox", "mobile", "firefox"],
    ["winOpera", "desktop", "opera"],
    ["operaAndroid", "mobile", "opera"],
    ["operaMini", "mobile", "opera"],
    ["samsung", "mobile", "samsung"],
    ["samsungTablet", "tablet", "samsung"],
    ["ie11", "desktop", "ie"],
    ["ie10", "desktop", "ie"],
    ["chromeOS", "desktop", "chrome"], // no device info, desktop OS
    ["vivaldi", "desktop", null],
    ["kindle", "tablet", null],
    ["googlebot", "bot", null],
    ["googlebotSmartphone", "bot", null], // a bot first; its "Chrome" is no family
    ["bingbot", "bot", null],
    ["gptbot", "bot", null],
    ["ahrefs", "bot", null],
    ["baidu", "bot", null],
    ["facebook", "bot", null],
    ["slack", "bot", null],
    ["headless", "bot", null],
    ["cubotPhone", "mobile", "chrome"], // a "…BOT" phone brand is not a bot
    ["curl", null, null], // tools are in no class, not "desktop"
    ["wget", null, null],
    ["python", null, null],
    ["postman", null, null],
    ["gibberish", null, null],
    ["smartTv", null, "samsung"], // a TV is none of the four classes
  ] as Array<[keyof typeof UA, string | null, string | null]>)("%s → %p + %p", (name, cls, family) => {
    expect(describeBrowser(UA[name])).toEqual({ class: cls, family } as ReturnType<typeof describeBrowser>);
  });

  test("no or empty User-Agent is in nothing", () => {
    expect(describeBrowser(null)).toEqual({ class: null, family: null });
    expect(describeBrowser("")).toEqual({ class: null, family: null });
  });

  test.each([
    ["chromeAndroid", "?1", "mobile"],
    ["winChrome", "?1", "mobile"], // the hint wins over the UA (devtools device mode, UA reduction)
    ["chromeAndroid", "?0", "desktop"], // "request desktop site"
    ["chromeAndroidTablet", "?0", "tablet"], // Android tablets send ?0: the UA's tablet stands
    ["winChrome", "?0", "desktop"],
    ["googlebotSmartphone", "?1", "bot"], // a hint never turns a bot into a person
    ["googlebot", "?0", "bot"],
    ["curl", "?0", "desktop"],
    ["curl", " ?1 ", "mobile"],
    ["winChrome", "1", "desktop"], // not a structured boolean: ignored
  ] as Array<[keyof typeof UA, string, string]>)("%s with Sec-CH-UA-Mobile %p → %p", (name, hint, cls) => {
    expect(describeBrowser(UA[name], hint).class).toBe(cls as "mobile");
  });

  test("hint without a User-Agent", () => {
    expect(describeBrowser(null, "?1")).toEqual({ class: "mobile", family: null });
    expect(describeBrowser(null, "?0")).toEqual({ class: "desktop", family: null });
  });

  test.each([
    ["mobile", "chromeAndroid", {}, true],
    ["mobile", "winChrome", {}, false],
    ["mobile", "winChrome", { "sec-ch-ua-mobile": "?1" }, true],
    ["desktop", "chromeAndroid", { "sec-ch-ua-mobile": "?0" }, true],
    [["tablet", "bot"], "ipadSafari", {}, true],
    [["tablet", "bot"], "googlebot", {}, true],
    [["tablet", "bot"], "iphoneSafari", {}, false],
    ["chrome", "winEdge", {}, false],
    ["edge", "winEdge", {}, true],
    ["chrome", "googlebotSmartphone", {}, false],
    [["mobile", "firefox"], "linuxFirefox", {}, true], // any of: a mobile OR a Firefox
    ["desktop", "curl", {}, false],
  ] as Array<[string | string[], keyof typeof UA, Record<string, string>, boolean]>)("browser %p vs %s %p → %p", (spec, name, extra, want) => {
    expect(compileBrowserMatcher(spec)(view("/", { "user-agent": UA[name], ...extra }))).toBe(want);
  });

  test("a repeat User-Agent is parsed once (LRU)", () => {
    const spy = spyOn(Bowser, "getParser");
    try {
      const ua = `${UA.winChrome} LRUProbe/${Math.random()}`;
      for (let i = 0; i < 5; i++) describeBrowser(ua);
      expect(spy).toHaveBeenCalledTimes(1);
    } finally {
      spy.mockRestore();
    }
  });
});

// ── the table ──────────────────────────────────────────────────────────────────────────────────────

/** Headers that count how often each name is read. */
function countingHeaders(init: Record<string, string>): HeaderLookup & { reads: Record<string, number>; uaReads: number } {
  const headers = new Headers(init);
  return {
    reads: {},
    get uaReads() {
      return this.reads["user-agent"] ?? 0;
    },
    get(name: string) {
      this.reads[name] = (this.reads[name] ?? 0) + 1;
      return headers.get(name);
    },
  };
}

describe("route table", () => {
  test("first match in written order wins", () => {
    const t = table([{ path: "/api/*" }, { path: "/api/users" }, undefined]);
    expect(winner(t, view("/api/users"))).toBe("r0");
    expect(winner(t, view("/other"))).toBe("r2");
  });

  test("every field of a match must hold", () => {
    const t = table([{ host: "a.test", path: "/x", methods: "POST", headers: { "x-k": "1" } }, {}]);
    expect(winner(t, view("http://a.test/x", { "x-k": "1" }, "POST"))).toBe("r0");
    expect(winner(t, view("http://a.test/x", { "x-k": "1" }, "GET"))).toBe("r1");
    expect(winner(t, view("http://b.test/x", { "x-k": "1" }, "POST"))).toBe("r1");
    expect(winner(t, view("http://a.test/y", { "x-k": "1" }, "POST"))).toBe("r1");
    expect(winner(t, view("http://a.test/x", {}, "POST"))).toBe("r1");
  });

  test("no route matched gives undefined; a route without match matches everything", () => {
    expect(table([{ path: "/a" }]).match(view("/b"))).toBeUndefined();
    expect(winner(table([undefined]), view("http://any.host/any/path?q=1", {}, "DELETE"))).toBe("r0");
    expect(winner(table([{}]), view("/"))).toBe("r0");
    expect(table([]).match(view("/"))).toBeUndefined();
  });

  test("exact, wildcard and host-less routes interleaved keep their written order", () => {
    const t = table([
      { host: "a.test", path: "/only-a" }, // r0
      { path: "/shared/*" }, // r1: any host
      { host: "*.a.test" }, // r2: wildcard
      { host: "a.test" }, // r3
      { host: ["b.test", "a.test"], path: "/both" }, // r4
      { host: "~^c" }, // r5
      { host: "b.test" }, // r6
      {}, // r7
    ]);
    const cases: Array<[string, string]> = [
      ["http://a.test/only-a", "r0"],
      ["http://a.test/shared/x", "r1"],
      ["http://b.test/shared/x", "r1"],
      ["http://x.a.test/shared", "r1"],
      ["http://x.a.test/both", "r2"],
      ["http://a.test/both", "r3"], // r3 (written before r4) takes every a.test path
      ["http://b.test/both", "r4"],
      ["http://c.test/both", "r5"],
      ["http://b.test/", "r6"],
      ["http://d.test/", "r7"],
      ["http://A.TEST:8443/only-a", "r0"],
    ];
    for (const [url, want] of cases) expect([url, winner(t, view(url))]).toEqual([url, want]);
  });

  test("wildcard hosts are found through their parent domains, in written order", () => {
    const t = table([
      { host: "*.example.com", path: "/w" }, // r0
      { host: "a.example.com" }, // r1
      { host: ["a.example.com", "*.example.com"], methods: "POST" }, // r2: reachable through two keys
      { host: "*.a.example.com" }, // r3
      { host: ".example.com", path: "/apex" }, // r4
      { host: "*.com" }, // r5
    ]);
    const cases: Array<[string, string, string | null]> = [
      ["GET", "http://a.example.com/w", "r0"],
      ["GET", "http://a.example.com/x", "r1"],
      ["POST", "http://b.example.com/x", "r2"],
      ["GET", "http://b.example.com/x", "r5"],
      ["GET", "http://x.a.example.com/x", "r3"],
      ["POST", "http://x.a.example.com/x", "r2"],
      ["GET", "http://example.com/apex", "r4"],
      ["GET", "http://example.com/w", "r5"], // *.example.com is not the apex; *.com is
      ["GET", "http://com/x", null],
      ["GET", "http://Deep.A.Example.COM:8443/w", "r0"],
    ];
    for (const [method, url, want] of cases) expect([method, url, winner(t, view(url, {}, method))]).toEqual([method, url, want]);
  });

  test("a route reached through two host keys is tested once", () => {
    // Two header names, so the view's one-entry header memo cannot hide a second test.
    const t = table([{ host: ["a.example.com", "*.example.com"], headers: { "x-a": "1", "x-b": "1" } }, {}]);
    const h = countingHeaders({ host: "a.example.com", "x-a": "1" });
    expect(t.match(RequestView.fromUrl("GET", "http://a.example.com/", h))!.value).toBe("r1");
    expect([h.reads["x-a"], h.reads["x-b"]]).toEqual([1, 1]);
  });

  test("segment-indexed and unindexed paths keep their written order", () => {
    const t = table([
      { path: "*.css" }, // r0 unindexed
      { path: "/api/*", methods: "POST" }, // r1 "api"
      { path: "~^/api/v[0-9]" }, // r2 unindexed
      { path: ["/api/users", "/web/*"] }, // r3 "api", "web"
      { path: "/:any/users" }, // r4 unindexed
      { path: "/" }, // r5 ""
      { path: "/api/*" }, // r6 "api"
    ]);
    const cases: Array<[string, string, string | null]> = [
      ["GET", "/api/x.css", "r0"],
      ["POST", "/api/v1", "r1"],
      ["GET", "/api/v1", "r2"],
      ["GET", "/api/users", "r3"],
      ["GET", "/web", "r3"],
      ["GET", "/web/users", "r3"],
      ["GET", "/x/users", "r4"],
      ["GET", "/", "r5"],
      ["GET", "/api", "r6"],
      ["GET", "/nothing", null],
    ];
    for (const [method, path, want] of cases) expect([path, winner(t, view(path, {}, method))]).toEqual([path, want]);
  });

  test("a route listed under several hosts and segments is still tried once, in order", () => {
    const t = table([{ host: ["a.test", "a.test", "b.test"], path: ["/x", "/x/*", "/y"] }, { path: "/x" }]);
    expect(winner(t, view("http://a.test/x"))).toBe("r0");
    expect(winner(t, view("http://c.test/x"))).toBe("r1");
  });

  test("params are exposed on the match", () => {
    const t = table([{ path: "/users/:id/posts/:post" }, { path: "~^/v(?<v>[0-9]+)/" }, { path: "/plain" }]);
    expect(t.match(view("/users/7/posts/9"))!.params).toEqual({ id: "7", post: "9" });
    expect(t.match(view("/v2/x"))!.params).toEqual({ v: "2" });
    expect(t.match(view("/plain"))!.params).toEqual({});
  });

  test("the User-Agent is read only when a browser matcher is reached, and once per request", () => {
    const t = table([{ path: "/first" }, { browser: "mobile", path: "/m" }, { browser: ["bot", "chrome"] }, {}]);
    const h1 = countingHeaders({ "user-agent": UA.chromeAndroid });
    expect(t.match(RequestView.fromUrl("GET", "http://h/first", h1))!.value).toBe("r0");
    expect(h1.uaReads).toBe(0);
    const h2 = countingHeaders({ "user-agent": UA.winChrome });
    expect(t.match(RequestView.fromUrl("GET", "http://h/m", h2))!.value).toBe("r2"); // r1 and r2 both read it
    expect(h2.uaReads).toBe(1);
    const noBrowserTable = table([{ path: "/a" }, { headers: { "x-a": "1" } }, {}]);
    const h3 = countingHeaders({ "user-agent": UA.winChrome });
    expect(noBrowserTable.match(RequestView.fromUrl("GET", "http://h/zzz", h3))!.value).toBe("r2");
    expect(h3.uaReads).toBe(0);
  });

  test("the table keeps the compiled routes in written order", () => {
    const t = table([{ path: "/a" }, { host: "b.test" }, {}]);
    expect(t.routes.map((r) => [r.index, r.name])).toEqual([
      [0, "r0"],
      [1, "r1"],
      [2, "r2"],
    ]);
  });

  test("matches the index-free reference on random tables", () => {
    const rand = mulberry32(0x5111ce);
    const pick = <X>(list: readonly X[]): X => list[Math.floor(rand() * list.length)]!;
    const maybe = <X>(p: number, make: () => X): X | undefined => (rand() < p ? make() : undefined);
    const HOSTS = ["a.test", "b.test", "*.a.test", ".b.test", "~^c", "*", "A.Test", "*.test", "s.a.test", "*.s.a.test", ".a.test"];
    const PATHS = ["/x", "/x/*", "/y/*", "/x/:id", "*.css", "~^/y", "/", "/*", "/xy*", "/x/:id/*", "/y/z.css", "~^/x/", "~^/x$", "~^/(x|y)/", "~^/y/z\\."];
    const REQ_HOSTS = ["a.test", "b.test", "s.a.test", "c.org", "x.b.test", "d.test", "t.s.a.test", "test", "", ".a.test", "a..test"];
    const REQ_PATHS = ["/x", "/x/1", "/y", "/y/z.css", "/xy", "/", "/x/1/2", "/z.css", "/x/", "/q"];
    let checked = 0;
    for (let round = 0; round < 300; round++) {
      const matches: Array<RouteConfig["match"]> = Array.from({ length: 1 + Math.floor(rand() * 12) }, () => {
        const m: NonNullable<RouteConfig["match"]> = {};
        const host = maybe(0.6, () => (rand() < 0.3 ? [pick(HOSTS), pick(HOSTS)] : pick(HOSTS)));
        const path = maybe(0.6, () => (rand() < 0.3 ? [pick(PATHS), pick(PATHS)] : pick(PATHS)));
        const methods = maybe(0.2, () => pick(["GET", ["POST", "PUT"]]));
        if (host) m.host = host;
        if (path) m.path = path;
        if (methods) m.methods = methods;
        return rand() < 0.1 ? undefined : m;
      });
      const t = table(matches);
      const reference = matches.map(referenceMatcher);
      for (const host of REQ_HOSTS) {
        for (const path of REQ_PATHS) {
          for (const method of ["GET", "POST"]) {
            const v = view(`http://${host}${path}`, {}, method);
            const want = reference.findIndex((test) => test(view(`http://${host}${path}`, {}, method)));
            expect(winner(t, v)).toBe(want < 0 ? null : `r${want}`);
            checked++;
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(10_000);
  });

  test("problems are reported per route with their config path", () => {
    const routes = [
      { match: { path: "~(" } },
      { match: { host: ["ok.test", "bad.test:80"] } },
      { match: { headers: { "x-v": ["1", "~["] } } },
      { match: { path: "/a/*/b" }, rewrite: { path: "~^/a/(.*) -> /b/$2" } },
      { redirect: { to: "https://$host$nope", status: 301 } },
      { match: { path: "/fine" } },
    ].map((r, i) => route(r as Partial<RouteConfig>, i));
    const problems = checkRoutes(routes);
    expect(problems.map((p) => p.path)).toEqual([
      [0, "match", "path"],
      [1, "match", "host", 1],
      [2, "match", "headers", "x-v", 1],
      [3, "match", "path"],
      [3, "rewrite", "path"], // every broken field of a route, not just the first
      [4, "redirect", "to"],
    ]);
    expect(problems[0]!.message).toStartWith("not a valid regular expression");
    expect(problems[1]!.value).toBe("bad.test:80");
    expect(problems[4]!.message).toBe("$2 refers to a group the regex does not have");
    expect(() => compileRouteTable(routes.map((r) => ({ route: r, value: 0 })))).toThrow(RouteTableError);
    expect(checkRoutes([routes[5]!])).toEqual([]);
  });

  test("a rewrite whose replacement would split the upstream's request line is refused at load", () => {
    for (const replacement of ["/a b/$1", "/x\r\nHost: evil/$1", "/x\ty", "/nul\u0000"]) {
      const problems = checkRoutes([route({ match: { path: "/old/*" }, rewrite: { path: `~^/old/(.*) -> ${replacement}` } }, 0)]);
      expect(problems.map((p) => [p.path, p.message])).toEqual([[[0, "rewrite", "path"], "a replacement may not hold spaces or control characters"]]);
    }
    expect(checkRoutes([route({ match: { path: "/old/*" }, rewrite: { path: "~^/old/(.*) -> /new/$1" } }, 0)])).toEqual([]);
  });
});

/** Every field compiled straight from config and anded: no index, no host skipping. */
function referenceMatcher(match: RouteConfig["match"]): Matcher {
  const m = match ?? {};
  const parts: Matcher[] = [];
  if (m.host !== undefined) parts.push(compileHostMatcher(m.host).test);
  if (m.path !== undefined) parts.push(compilePathMatcher(m.path).test);
  if (m.methods !== undefined) parts.push(compileMethodsMatcher(m.methods));
  return allMatchers(parts);
}

// ── path changes and redirects ─────────────────────────────────────────────────────────────────────

describe("stripPrefix", () => {
  test.each([
    ["/api", "/api", "/"],
    ["/api", "/api/", "/"],
    ["/api", "/api/x", "/x"],
    ["/api", "/api/x/y", "/x/y"],
    ["/api", "/apix", "/apix"],
    ["/api", "/other/api/x", "/other/api/x"],
    ["/api/", "/api/x", "/x"],
    ["/api/", "/api", "/"],
    ["/api/v1", "/api/v1/items", "/items"],
    ["/api/v1", "/api/v2/items", "/api/v2/items"],
    ["/", "/x", "/x"],
  ])("%p from %p → %p", (prefix, path, want) => {
    expect(compileStripPrefix(prefix)(path)).toBe(want);
  });
});

describe("rewrite", () => {
  test.each([
    ["~^/old/(.*) -> /new/$1", "/old/a/b", "/new/a/b"],
    ["~^/old/(.*) -> /new/$1", "/other", "/other"], // no match: unchanged
    ["~^/old/ -> /new/", "/old/x", "/new/x"], // the rest of the path is kept
    ["~^/u/(?<id>[0-9]+)$ -> /users/${id}", "/u/42", "/users/42"],
    ["~^/u/(?<id>[0-9]+)$ -> /users/$<id>/profile", "/u/42", "/users/42/profile"],
    ["~^/(a)/(b)/(c) -> /$3/$2/$1", "/a/b/c", "/c/b/a"],
    ["~^/price -> /cost$$", "/price", "/cost$"],
    ["~^/x -> /y$&", "/x", "/y$&"], // only $1-$9, names and $$ are special
    ["~^/strip(.*) -> $1", "/strip", "/"], // an empty result is "/"
    ["~^/strip/(.*) -> $1", "/strip/rel", "/rel"], // a relative result gets its "/"
    ["~^/a\\s?b -> /c", "/ab", "/c"],
  ])("%p on %p → %p", (spec, path, want) => {
    expect(compileRewrite(spec)(path)).toBe(want);
  });

  test.each([
    "^/old -> /new", // no ~
    "~^/old /new", // no arrow
    "~( -> /x",
    "~^/(a) -> /$2",
    "~^/(a) -> /${name}",
  ])("refuses %p", (spec) => {
    expect(() => compileRewrite(spec)).toThrow();
  });

  test("stripPrefix runs before rewrite", () => {
    const rw = compilePathRewrite({ stripPrefix: "/api", rewrite: { path: "~^/v1/(.*) -> /v2/$1" } })!;
    expect(rw("/api/v1/items")).toBe("/v2/items");
    expect(compilePathRewrite({})).toBeNull();
  });

  test("the upstream target keeps the query string untouched", () => {
    const t = compileRouteTable([
      { route: route({ match: { path: "/api/*" }, stripPrefix: "/api" }, 0), value: "strip" },
      { route: route({ match: { path: "/old/*" }, rewrite: { path: "~^/old/(.*) -> /new/$1" } }, 1), value: "rewrite" },
      { route: route({}, 2), value: "plain" },
    ]);
    const target = (url: string) => t.match(view(url))!.upstreamTarget;
    expect(target("/api/x?a=1&b=%20+c")).toBe("/x?a=1&b=%20+c");
    expect(target("/api?q")).toBe("/?q");
    expect(target("/old/p?x=/old/")).toBe("/new/p?x=/old/");
    expect(target("/other/p?z")).toBe("/other/p?z");
    expect(t.match(view("/api/y"))!.upstreamPath).toBe("/y");
  });
});

describe("redirect", () => {
  const location = (to: string, url: string, headers: Record<string, string> = {}, params: Record<string, string> = {}, names: string[] = []) => {
    const v = view(url, headers);
    return compileRedirect({ to, status: 301 }, names).location(v, v.path, params);
  };

  test.each([
    ["https://example.com/", "http://a.test/x?y=1", "https://example.com/"], // as written: query dropped
    ["/new", "http://a.test/x?y=1", "/new"],
    ["https://$host$path$query", "http://Shop.Test:8080/cart?id=3", "https://shop.test/cart?id=3"],
    ["https://$host$path$query", "http://shop.test/cart", "https://shop.test/cart"], // no dangling "?"
    ["https://${host}:8443${path}", "http://s.test/p", "https://s.test:8443/p"],
    ["$scheme://www.example.com$path", "https://example.com/a", "https://www.example.com/a"],
    ["/archive$path", "http://a.test/2020/x", "/archive/2020/x"],
    ["https://$host/", "http://[::1]:8080/", "https://[::1]/"],
    ["/cost/$$5", "http://a.test/", "/cost/$5"],
  ])("%p for %p → %p", (to, url, want) => {
    expect(location(to, url)).toBe(want);
  });

  test("path params and the status", () => {
    expect(location("/profiles/${id}", "http://a.test/users/7", {}, { id: "7" }, ["id"])).toBe("/profiles/7");
    expect(location("/profiles/$id/", "http://a.test/users/7", {}, {}, ["id"])).toBe("/profiles//");
    expect(compileRedirect({ to: "/x", status: 308 }).status).toBe(308);
  });

  test.each(["https://$host$nope", "/x/${id}", "$host/path", "example.com/x", "relative"])("refuses %p", (to) => {
    expect(() => compileRedirect({ to, status: 302 }, [])).toThrow();
  });

  test("a redirect route's $path is the rewritten path; params come from the match", () => {
    const t = compileRouteTable([
      {
        route: route(
          { match: { path: "/docs/*" }, rewrite: { path: "~^/docs/(.*) -> /manual/$1" }, redirect: { to: "https://$host$path$query", status: 301 } },
          0,
        ),
        value: 0,
      },
      { route: route({ match: { path: "/u/:name" }, redirect: { to: "/people/${name}", status: 302 } }, 1), value: 1 },
      { route: route({ match: { path: "/plain" } }, 2), value: 2 },
    ]);
    expect(t.match(view("http://d.test/docs/intro?v=2"))!.redirectLocation).toBe("https://d.test/manual/intro?v=2");
    expect(t.match(view("/u/ann"))!.redirectLocation).toBe("/people/ann");
    expect(t.match(view("/plain"))!.redirectLocation).toBeUndefined();
  });
});
