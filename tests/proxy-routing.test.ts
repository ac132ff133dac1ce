// Routing end to end: a real gateway in front of real upstreams, each upstream named, so the answer says which
// pool a request reached. Covers every match field, stripPrefix/rewrite (seen by the upstream), redirects and 404.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { errorBody, gateway, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

const NAMES = [
  "exact",
  "wild",
  "pexact",
  "pprefix",
  "psuffix",
  "pparam",
  "pregex",
  "meth",
  "hdr",
  "qry",
  "cookie",
  "mobile",
  "desktop",
  "strip",
  "rewrite",
] as const;
type Name = (typeof NAMES)[number];

const ups = {} as Record<Name, Upstream>;
let gw: Gateway;

const IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1";
const DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36";

beforeAll(async () => {
  for (const name of NAMES) ups[name] = startUpstream(name);
  const pools: Record<string, string[]> = {};
  for (const name of NAMES) pools[name] = [ups[name].url];
  gw = await gateway({
    pools,
    routes: [
      { match: { host: "exact.test" }, pool: "exact" },
      { match: { host: "*.wild.test" }, pool: "wild" },
      { match: { host: "browser.test", browser: "mobile" }, pool: "mobile" },
      { match: { host: "browser.test", browser: "desktop" }, pool: "desktop" },
      { match: { path: "/exact" }, pool: "pexact" },
      { match: { path: "/prefix/*" }, pool: "pprefix" },
      { match: { path: "*.css" }, pool: "psuffix" },
      { match: { path: "/users/:id" }, pool: "pparam" },
      { match: { path: "~^/v[0-9]+/" }, pool: "pregex" },
      { match: { path: "/m", methods: ["PUT", "DELETE"] }, pool: "meth" },
      { match: { path: "/h", headers: { "x-version": "2" } }, pool: "hdr" },
      { match: { path: "/q", query: { flavour: "~^(mint|lime)$" } }, pool: "qry" },
      { match: { path: "/c", cookies: { team: "blue" } }, pool: "cookie" },
      { match: { path: "/api/*" }, pool: "strip", stripPrefix: "/api" },
      { match: { path: "/old/*" }, pool: "rewrite", rewrite: { path: "~^/old/(.*) -> /new/$1" } },
      { match: { path: "/go" }, redirect: { to: "https://$host/gone$query", status: 301 } },
      { match: { path: "/moved" }, redirect: { to: "/elsewhere" } },
    ],
  });
});

afterAll(async () => {
  await gw.stop(0);
  await Promise.all(NAMES.map((n) => ups[n].stop()));
});

/** Which upstream answered; "404" when the gateway found no route. */
async function reached(path: string, init: RequestInit & { host?: string } = {}): Promise<string> {
  const headers = new Headers(init.headers);
  if (init.host) headers.set("host", init.host);
  const response = await fetch(gw.url + path, { ...init, headers });
  const text = await response.text();
  if (response.status === 404) return "404";
  expect(response.status).toBe(200);
  return text;
}

describe("host", () => {
  test("exact, case-insensitive, with or without a port", async () => {
    expect(await reached("/", { host: "exact.test" })).toBe("exact");
    expect(await reached("/", { host: "EXACT.Test:8080" })).toBe("exact");
    expect(await reached("/", { host: "other.test" })).toBe("404");
  });

  test("wildcard matches subdomains, not the bare domain", async () => {
    expect(await reached("/", { host: "a.wild.test" })).toBe("wild");
    expect(await reached("/", { host: "deep.a.wild.test:9000" })).toBe("wild");
    expect(await reached("/", { host: "wild.test" })).toBe("404");
  });
});

describe("path", () => {
  test("exact", async () => {
    expect(await reached("/exact")).toBe("pexact");
    expect(await reached("/exact/more")).toBe("404");
  });

  test("prefix: the prefix itself and everything under it", async () => {
    expect(await reached("/prefix")).toBe("pprefix");
    expect(await reached("/prefix/")).toBe("pprefix");
    expect(await reached("/prefix/a/b?x=1")).toBe("pprefix");
    expect(await reached("/prefixed")).toBe("404");
  });

  test("suffix", async () => {
    expect(await reached("/deep/site.css")).toBe("psuffix");
    expect(await reached("/site.cssx")).toBe("404");
  });

  test("param matches one segment", async () => {
    expect(await reached("/users/42")).toBe("pparam");
    expect(await reached("/users/42/posts")).toBe("404");
  });

  test("regex", async () => {
    expect(await reached("/v2/things")).toBe("pregex");
    expect(await reached("/vx/things")).toBe("404");
  });
});

test("methods", async () => {
  expect(await reached("/m", { method: "PUT", body: "x" })).toBe("meth");
  expect(await reached("/m", { method: "DELETE" })).toBe("meth");
  expect(await reached("/m", { method: "GET" })).toBe("404");
});

test("headers", async () => {
  expect(await reached("/h", { headers: { "x-version": "2" } })).toBe("hdr");
  expect(await reached("/h", { headers: { "x-version": "3" } })).toBe("404");
  expect(await reached("/h")).toBe("404");
});

test("query", async () => {
  expect(await reached("/q?flavour=mint")).toBe("qry");
  expect(await reached("/q?a=1&flavour=lime")).toBe("qry");
  expect(await reached("/q?flavour=vanilla")).toBe("404");
});

test("cookies", async () => {
  expect(await reached("/c", { headers: { cookie: "a=1; team=blue" } })).toBe("cookie");
  expect(await reached("/c", { headers: { cookie: "team=red" } })).toBe("404");
});

test("browser: a mobile and a desktop User-Agent go to different pools", async () => {
  expect(await reached("/", { host: "browser.test", headers: { "user-agent": IPHONE } })).toBe("mobile");
  expect(await reached("/", { host: "browser.test", headers: { "user-agent": DESKTOP } })).toBe("desktop");
});

describe("path changes", () => {
  test("stripPrefix removes the prefix upstream and keeps the query", async () => {
    expect(await reached("/api/users/7?sort=name&x=%20y")).toBe("strip");
    expect(ups.strip.seen.at(-1)!.url).toBe("/users/7?sort=name&x=%20y");
    expect(await reached("/api")).toBe("strip");
    expect(ups.strip.seen.at(-1)!.url).toBe("/");
  });

  test("rewrite changes the upstream path and keeps the query", async () => {
    expect(await reached("/old/page/1?ref=home")).toBe("rewrite");
    expect(ups.rewrite.seen.at(-1)!.url).toBe("/new/page/1?ref=home");
  });
});

describe("redirect", () => {
  const upstreamCalls = () => NAMES.reduce((n, name) => n + ups[name].seen.length, 0);

  test("answers with Location built from placeholders, without calling any upstream", async () => {
    const before = upstreamCalls();
    const response = await fetch(gw.url + "/go?a=1", { redirect: "manual", headers: { host: "Site.Test:8080" } });
    expect(upstreamCalls()).toBe(before);
    expect(response.status).toBe(301);
    expect(response.headers.get("location")).toBe("https://site.test/gone?a=1");
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });

  test("a plain target with the default status 302", async () => {
    const response = await fetch(gw.url + "/moved?dropped=1", { redirect: "manual" });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("/elsewhere");
  });
});

test("no route matched: 404 JSON with the request id", async () => {
  const response = await fetch(gw.url + "/nothing/here", { headers: { "x-request-id": "req-404" } });
  expect(response.status).toBe(404);
  const body = await errorBody(response);
  expect(body.requestId).toBe("req-404");
  expect(response.headers.get("x-request-id")).toBe("req-404");
});
