// A `static` route as users configure it: in a config file whose `root` is relative to the file's directory,
// beside a proxy route, with a route plugin around it; requested through the gateway over the network.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import { errorBody, portOf, rawRequest, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

const TAGGER = resolve(import.meta.dir, "fixtures/plugins/tagger.ts");
const APP_JS = "console.log('served by the gateway');\n".repeat(50);
const CSS = "body { color: teal }\n";
const INDEX = "<!doctype html><title>docs</title>\n";
const SECRET = "outside the root";

let dir: string;
let up: Upstream;
let gw: Gateway;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-static-route-"));
  await mkdir(join(dir, "public/assets"), { recursive: true });
  await mkdir(join(dir, "docs"));
  await writeFile(join(dir, "public/assets/app.js"), APP_JS);
  await writeFile(join(dir, "public/assets/.env"), "HIDDEN=1");
  await writeFile(join(dir, "public/site.css"), CSS);
  await writeFile(join(dir, "docs/index.html"), INDEX);
  await writeFile(join(dir, "secret.txt"), SECRET);
  up = startUpstream("app");
  const config = {
    listen: "127.0.0.1:0",
    admin: false,
    accessLog: false,
    pools: { app: { servers: [{ url: up.url }] } },
    routes: [
      {
        name: "assets",
        match: { path: ["/assets/*", "*.css"] },
        static: { root: "./public", maxAge: "1h" },
        plugins: [{ use: TAGGER, options: { tag: "static-files" } }],
      },
      { name: "docs", match: { path: "/docs/*" }, static: { root: "." } },
      { pool: "app" },
    ],
  };
  await writeFile(join(dir, "sluice.config.json"), JSON.stringify(config));
  // Started from the repository, not from the config's directory: `root` must resolve against the file.
  gw = await startGateway({ configPath: join(dir, "sluice.config.json") });
});

afterAll(async () => {
  await gw.stop(0);
  await up.stop();
  await rm(dir, { recursive: true, force: true });
});

describe("a static route in a gateway config", () => {
  test("serves files under its root, relative to the config file, with type, validators and caching headers", async () => {
    const response = await fetch(`${gw.url}/assets/app.js`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(APP_JS);
    expect(response.headers.get("content-type")).toStartWith("text/javascript");
    expect(response.headers.get("cache-control")).toBe("public, max-age=3600");
    expect(response.headers.get("etag")).toBeTruthy();
    expect(response.headers.get("last-modified")).toBeTruthy();
    expect(response.headers.get("x-request-id")).toBeTruthy();

    const css = await fetch(`${gw.url}/site.css`);
    expect(css.status).toBe(200);
    expect(css.headers.get("content-type")).toStartWith("text/css");
    expect(await css.text()).toBe(CSS);
    expect(up.seen).toEqual([]);
  });

  test("its route plugin runs around it: headers added, a request refused before any file is read", async () => {
    const served = await fetch(`${gw.url}/assets/app.js`);
    expect(served.headers.get("x-tagged-by")).toBe("static-files");
    await served.arrayBuffer();

    const blocked = await fetch(`${gw.url}/assets/app.js`, { headers: { "x-block": "yes" } });
    expect(blocked.status).toBe(403);
    expect(await blocked.json()).toEqual({ blocked: "static-files" });

    // Only that route's: the proxy route and the other static route are untouched by it.
    const proxied = await fetch(`${gw.url}/api/x`, { headers: { "x-block": "yes" } });
    expect(proxied.status).toBe(200);
    expect(await proxied.text()).toBe("app");
    expect(proxied.headers.get("x-tagged-by")).toBeNull();
    const docs = await fetch(`${gw.url}/docs/`, { headers: { "x-block": "yes" } });
    expect(docs.status).toBe(200);
    expect(docs.headers.get("x-tagged-by")).toBeNull();
    await docs.arrayBuffer();
  });

  test("conditional and range requests, HEAD", async () => {
    const first = await fetch(`${gw.url}/assets/app.js`);
    const etag = first.headers.get("etag")!;
    await first.arrayBuffer();
    const again = await fetch(`${gw.url}/assets/app.js`, { headers: { "if-none-match": etag } });
    expect(again.status).toBe(304);
    expect(await again.text()).toBe("");
    expect(again.headers.get("x-tagged-by")).toBe("static-files");

    const part = await fetch(`${gw.url}/assets/app.js`, { headers: { range: "bytes=0-6" } });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 0-6/${APP_JS.length}`);
    expect(await part.text()).toBe("console");

    const head = await fetch(`${gw.url}/assets/app.js`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(APP_JS.length));
    expect(await head.text()).toBe("");
  });

  test("index files, and the slash added to a directory", async () => {
    const index = await fetch(`${gw.url}/docs/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toStartWith("text/html");
    expect(await index.text()).toBe(INDEX);
    const bare = await fetch(`${gw.url}/docs`, { redirect: "manual" });
    expect(bare.status).toBe(301);
    expect(bare.headers.get("location")).toBe("/docs/");
  });

  test("a missing file, a dotfile and an encoded way out of the root are 404 JSON, never the upstream", async () => {
    const missing = await fetch(`${gw.url}/assets/nope.js`);
    expect(missing.status).toBe(404);
    await errorBody(missing);
    expect((await fetch(`${gw.url}/assets/.env`)).status).toBe(404);
    // An encoded slash is refused before routing (pathNormalization.encodedSlashes: "refuse", the default).
    const raw = await rawRequest(portOf(gw), "GET /assets/..%2f..%2fsecret.txt HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    expect(raw.status).toBe(400);
    expect(raw.text).not.toContain(SECRET);
    // Dot segments are resolved before routing: /assets/../../secret.txt is /secret.txt, the proxy route's.
    for (const target of ["/assets/../../secret.txt", "/assets/%2e%2e/%2e%2e/secret.txt"]) {
      const left = await rawRequest(portOf(gw), `GET ${target} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
      expect(left.text).not.toContain(SECRET);
    }
    expect(up.seen.filter((s) => s.url.startsWith("/assets") || s.url.startsWith("/docs") || s.url.endsWith(".css"))).toEqual([]);
  });

  test("a method other than GET or HEAD is 405 with Allow", async () => {
    const response = await fetch(`${gw.url}/assets/app.js`, { method: "POST", body: "x" });
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toContain("GET");
  });
});
