// Static files: served through a real Bun.serve and real fetch / raw-socket requests, from a root built in a
// temp directory (symlinks, precompressed siblings and a 5 MB file included).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, mkdir, readdir, readFile, rename, rm, symlink, utimes, writeFile } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { brotliCompressSync, gzipSync } from "node:zlib";
import { createStaticHandler, serveStatic, type StaticHandler } from "../gateway/static/serve.ts";
import { decodeRequestPath } from "../gateway/static/resolve.ts";
import { parseRange } from "../gateway/static/range.ts";
import { acceptedPrecompressed } from "../gateway/static/encoding.ts";
import { contentTypeFor } from "../gateway/static/mime.ts";

const SECRET = "TOP SECRET outside the root";
const APP_JS = "console.log('sluice');\n".repeat(200);
const DIGITS = "0123456789".repeat(10); // 100 bytes
const MTIME = new Date("2026-01-02T03:04:05Z");

let dir: string;
let root: string;
let big: Buffer;
let handler: StaticHandler;
let server: ReturnType<typeof Bun.serve>;
let base: string;

async function put(rel: string, content: string | Uint8Array): Promise<void> {
  const path = join(root, rel);
  await mkdir(join(path, ".."), { recursive: true });
  await writeFile(path, content);
  await utimes(path, MTIME, MTIME);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-static-"));
  root = join(dir, "public");
  await mkdir(root);
  await writeFile(join(dir, "secret.txt"), SECRET);
  await mkdir(join(dir, "outside"));
  await writeFile(join(dir, "outside", "secret.txt"), SECRET);

  await put("index.html", "<h1>home</h1>");
  await put("style.css", "body{}");
  await put("app.js", APP_JS);
  await put("app.js.br", brotliCompressSync(APP_JS));
  await put("app.js.gz", gzipSync(APP_JS));
  await put("only-gz.css", "p{}".repeat(100));
  await put("only-gz.css.gz", gzipSync("p{}".repeat(100)));
  await put("data.json", "{}");
  await put("mod.mjs", "export {}");
  await put("logo.svg", "<svg/>");
  await put("img.png", new Uint8Array([137, 80, 78, 71]));
  await put("font.woff2", new Uint8Array([1]));
  await put("blob.xyz", new Uint8Array([1]));
  await put("digits.txt", DIGITS);
  await put("empty.txt", "");
  await put("a b.txt", "space");
  await put("sub/index.html", "<h1>sub</h1>");
  await put("sub/page.txt", "page");
  await put("noindex/file.txt", "x");
  await put(".env", "PASSWORD=1");
  await put(".well-known/security.txt", "Contact: x");
  big = randomBytes(5 * 1024 * 1024 + 123);
  await put("big.bin", big);
  await symlink(join(dir, "secret.txt"), join(root, "escape.txt"));
  await symlink(join(dir, "outside"), join(root, "escape-dir"));
  await symlink(join(root, "index.html"), join(root, "inside-link.html"));

  handler = createStaticHandler({ root: "public", index: "index.html", maxAge: 3_600_000, configDir: dir });
  server = Bun.serve({ port: 0, fetch: (req) => handler(req, new URL(req.url).pathname) });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  server?.stop(true);
  await rm(dir, { recursive: true, force: true });
});

const get = (path: string, headers: Record<string, string> = {}, method = "GET") =>
  fetch(base + path, { method, headers, redirect: "manual", decompress: false } as RequestInit);

/** A request as bytes on a socket, so the path reaches the server exactly as written (no client normalising). */
function raw(
  path: string,
  headers: Record<string, string> = {},
  abortAfter?: number,
): Promise<{ status: number; headers: Record<string, string>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const socket = connect(server.port!, "127.0.0.1", () => {
      const extra = Object.entries(headers)
        .map(([k, v]) => `${k}: ${v}\r\n`)
        .join("");
      socket.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${extra}\r\n`);
    });
    const chunks: Buffer[] = [];
    let received = 0;
    socket.on("data", (d: Buffer) => {
      chunks.push(d);
      received += d.length;
      if (abortAfter !== undefined && received >= abortAfter) socket.destroy();
    });
    socket.on("error", reject);
    socket.on("close", () => {
      const all = Buffer.concat(chunks);
      const end = all.indexOf("\r\n\r\n");
      const head = all
        .subarray(0, end < 0 ? all.length : end)
        .toString("latin1")
        .split("\r\n");
      const hs: Record<string, string> = {};
      for (const line of head.slice(1)) {
        const c = line.indexOf(":");
        hs[line.slice(0, c).toLowerCase()] = line.slice(c + 1).trim();
      }
      resolve({ status: Number(head[0]?.split(" ")[1]), headers: hs, body: end < 0 ? Buffer.alloc(0) : all.subarray(end + 4) });
    });
  });
}

/** A direct call with a raw path, as Deno (which does not normalise dot segments) hands it over. */
const direct = (path: string, headers: Record<string, string> = {}) => handler(new Request("http://x" + path, { headers }), path);

describe("content types", () => {
  test.each([
    ["/index.html", "text/html; charset=utf-8"],
    ["/style.css", "text/css; charset=utf-8"],
    ["/app.js", "text/javascript; charset=utf-8"],
    ["/mod.mjs", "text/javascript; charset=utf-8"],
    ["/data.json", "application/json; charset=utf-8"],
    ["/logo.svg", "image/svg+xml; charset=utf-8"],
    ["/digits.txt", "text/plain; charset=utf-8"],
    ["/img.png", "image/png"],
    ["/font.woff2", "font/woff2"],
    ["/blob.xyz", "application/octet-stream"],
  ])("%s → %s", async (path, type) => {
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe(type);
    await res.arrayBuffer();
  });

  test("the table covers the common extensions", () => {
    for (const [name, type] of [
      ["a.jpg", "image/jpeg"],
      ["a.JPEG", "image/jpeg"],
      ["a.gif", "image/gif"],
      ["a.webp", "image/webp"],
      ["a.avif", "image/avif"],
      ["a.ico", "image/x-icon"],
      ["a.woff", "font/woff"],
      ["a.xml", "application/xml; charset=utf-8"],
      ["a.pdf", "application/pdf"],
      ["a.wasm", "application/wasm"],
      ["a.js.map", "application/json; charset=utf-8"],
      ["a.mp4", "video/mp4"],
      ["a.webm", "video/webm"],
      ["a.mp3", "audio/mpeg"],
      ["noext", "application/octet-stream"],
    ]) {
      expect(contentTypeFor(name!)).toBe(type!);
    }
  });

  test("a percent-encoded name is decoded", async () => {
    const res = await get("/a%20b.txt");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("space");
  });
});

describe("directories", () => {
  test("/ serves the index file", async () => {
    const res = await get("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/html; charset=utf-8");
    expect(await res.text()).toBe("<h1>home</h1>");
  });

  test("a directory with a trailing slash serves its index", async () => {
    expect(await (await get("/sub/")).text()).toBe("<h1>sub</h1>");
  });

  test("a directory without the slash is redirected 301 to the slash form, keeping the query", async () => {
    let res = await get("/sub");
    expect(res.status).toBe(301);
    expect(res.headers.get("location")).toBe("/sub/");
    res = await get("/sub?a=1&b=two");
    expect(res.status).toBe(301);
    expect(res.headers.get("location")).toBe("/sub/?a=1&b=two");
  });

  test("no directory listing: a directory without index is 404", async () => {
    const res = await get("/noindex/");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/json");
  });

  test("a file with a trailing slash is 404", async () => {
    expect((await get("/index.html/")).status).toBe(404);
  });

  test("a leading double slash never yields a protocol-relative Location", async () => {
    const res = await raw("//sub");
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe("/sub/");
  });
});

describe("errors", () => {
  test("a missing file is 404 with a JSON body carrying the request's X-Request-Id", async () => {
    const res = await get("/nope.txt", { "x-request-id": "req-123" });
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.json()).toEqual({ error: "not found", requestId: "req-123" });
  });

  test("a request ID passed by the caller wins", async () => {
    const res = await handler(new Request("http://x/nope"), "/nope", "gw-1");
    expect(((await res.json()) as { requestId: string }).requestId).toBe("gw-1");
  });

  test.each(["POST", "PUT", "DELETE", "OPTIONS", "PATCH"])("%s is 405 with Allow: GET, HEAD", async (method) => {
    const res = await get("/index.html", { "x-request-id": "r-405" }, method);
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    expect(await res.json()).toEqual({ error: "method not allowed", requestId: "r-405" });
  });
});

describe("never a file outside the root", () => {
  const outside = (body: Buffer | string) => expect(body.toString()).not.toContain("TOP SECRET");

  test.each([
    ["/../secret.txt", [400, 404]],
    ["/sub/../../secret.txt", [400, 404]],
    ["/%2e%2e/secret.txt", [404]],
    ["/%2E%2E/%2e%2e/secret.txt", [404]],
    ["/sub/%2e%2e%2f%2e%2e%2fsecret.txt", [404]],
    ["/sub/..%2F..%2Fsecret.txt", [404]],
    ["/%2F..%2Fsecret.txt", [404]],
    ["/..%5csecret.txt", [404]],
    ["/sub\\..\\..\\secret.txt", [400, 404]],
    ["/escape.txt", [404]],
    ["/escape-dir/secret.txt", [404]],
    ["/escape-dir/", [404]],
    ["/index.html%00.txt", [400]],
    ["/%00", [400]],
    ["/%zz", [400]],
    ["/%ff", [400]],
    ["/.env", [404]],
  ] as [string, number[]][])("raw request %s → %p", async (path, statuses) => {
    const res = await raw(path);
    expect(statuses).toContain(res.status);
    outside(res.body);
  });

  // Deno hands the path over without dot-normalising it: the handler must resolve it itself.
  test.each([
    ["/../secret.txt", 404],
    ["/sub/../../secret.txt", 404],
    ["/%2e%2e/secret.txt", 404],
    ["/sub/%2e%2e/%2E%2E/secret.txt", 404],
    ["/sub/..%2f..%2fsecret.txt", 404],
    ["/..%5Csecret.txt", 404],
    ["/..\\secret.txt", 404],
    ["/escape.txt", 404],
    ["/index.html%00", 400],
    ["/bad%", 400],
    ["/bad%4", 400],
    ["relative", 400],
  ] as [string, number][])("direct %s → %d", async (path, status) => {
    const res = await direct(path);
    expect(res.status).toBe(status);
    outside(await res.text());
  });

  test("dot segments inside the root are resolved", async () => {
    expect(await (await direct("/sub/../index.html")).text()).toBe("<h1>home</h1>");
    expect(await (await direct("/./sub/./page.txt")).text()).toBe("page");
    expect(await (await direct("/sub/%2e%2e/index.html")).text()).toBe("<h1>home</h1>");
    expect(await (await direct("//sub///page.txt")).text()).toBe("page");
  });

  test("a symlink pointing inside the root is served", async () => {
    const res = await get("/inside-link.html");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("<h1>home</h1>");
  });

  test(".well-known is not hidden", async () => {
    expect(await (await get("/.well-known/security.txt")).text()).toBe("Contact: x");
  });

  test("the decoder normalises and refuses", () => {
    expect(decodeRequestPath("/a/./b/../c/")).toEqual({ ok: true, segments: ["a", "c"], trailingSlash: true });
    expect(decodeRequestPath("/a/b/..")).toEqual({ ok: true, segments: ["a"], trailingSlash: true });
    expect(decodeRequestPath("/%61%20b")).toEqual({ ok: true, segments: ["a b"], trailingSlash: false });
    expect(decodeRequestPath("/a/../..")).toMatchObject({ ok: false, status: 404 });
    expect(decodeRequestPath("/a%2fb")).toMatchObject({ ok: false, status: 404 });
    expect(decodeRequestPath("/a%00")).toMatchObject({ ok: false, status: 400 });
  });
});

describe("validators and conditional requests", () => {
  test("ETag, Last-Modified, Cache-Control and Accept-Ranges are sent", async () => {
    const res = await get("/digits.txt");
    expect(res.headers.get("etag")).toMatch(/^"[0-9a-z]+-[0-9a-z]+"$/);
    expect(res.headers.get("last-modified")).toBe(MTIME.toUTCString());
    expect(res.headers.get("cache-control")).toBe("public, max-age=3600");
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("content-length")).toBe("100");
    await res.text();
  });

  test("no maxAge, no Cache-Control", async () => {
    const h = createStaticHandler({ root: join(dir, "public"), index: "index.html", configDir: "/nowhere" });
    const res = await h(new Request("http://x/digits.txt"), "/digits.txt");
    expect(res.status).toBe(200);
    expect(res.headers.get("cache-control")).toBeNull();
    expect(await res.text()).toBe(DIGITS);
  });

  test("If-None-Match with the ETag → 304 without a body; weak form and * too; another tag → 200", async () => {
    const etag = (await get("/digits.txt")).headers.get("etag")!;
    for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
      const res = await get("/digits.txt", { "if-none-match": inm });
      expect(res.status).toBe(304);
      expect(res.headers.get("etag")).toBe(etag);
      expect(res.headers.get("cache-control")).toBe("public, max-age=3600");
      expect(await res.text()).toBe("");
    }
    const res = await get("/digits.txt", { "if-none-match": '"other"' });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(DIGITS);
  });

  test("If-Modified-Since at or after Last-Modified → 304; before → 200; ignored beside a failing If-None-Match", async () => {
    expect((await get("/digits.txt", { "if-modified-since": MTIME.toUTCString() })).status).toBe(304);
    expect((await get("/digits.txt", { "if-modified-since": new Date(MTIME.getTime() + 60_000).toUTCString() })).status).toBe(304);
    const older = await get("/digits.txt", { "if-modified-since": new Date(MTIME.getTime() - 60_000).toUTCString() });
    expect(older.status).toBe(200);
    await older.text();
    const both = await get("/digits.txt", { "if-modified-since": MTIME.toUTCString(), "if-none-match": '"stale"' });
    expect(both.status).toBe(200);
    await both.text();
    const garbage = await get("/digits.txt", { "if-modified-since": "yesterday-ish" });
    expect(garbage.status).toBe(200);
    await garbage.text();
  });

  test("If-Match that fails → 412; If-Unmodified-Since before the change → 412", async () => {
    expect((await get("/digits.txt", { "if-match": '"nope"' })).status).toBe(412);
    expect((await get("/digits.txt", { "if-unmodified-since": new Date(MTIME.getTime() - 60_000).toUTCString() })).status).toBe(412);
    const etag = (await get("/digits.txt")).headers.get("etag")!;
    const ok = await get("/digits.txt", { "if-match": etag });
    expect(ok.status).toBe(200);
    await ok.text();
  });
});

describe("HEAD", () => {
  test("headers only, with the full Content-Length", async () => {
    const res = await get("/digits.txt", {}, "HEAD");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("100");
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("etag")).not.toBeNull();
    expect(await res.text()).toBe("");
  });

  test("HEAD of the big file has no body and reports the full size", async () => {
    const head = await handler(new Request(base + "/big.bin", { method: "HEAD" }), "/big.bin");
    expect(head.body).toBeNull();
    expect(head.headers.get("content-length")).toBe(String(big.length));
  });

  test("HEAD ignores Range", async () => {
    const res = await get("/digits.txt", { range: "bytes=0-9" }, "HEAD");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBe("100");
  });
});

describe("ranges", () => {
  test.each([
    ["bytes=0-9", 0, 9],
    ["bytes=10-19", 10, 19],
    ["bytes=95-", 95, 99],
    ["bytes=-5", 95, 99],
    ["bytes=90-1000", 90, 99],
    ["bytes=-1000", 0, 99],
    ["bytes = 3 - 4".replace(/ - /, "-"), 3, 4],
  ])("%s → 206 %d-%d", async (range, start, end) => {
    const res = await get("/digits.txt", { range });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe(`bytes ${start}-${end}/100`);
    expect(res.headers.get("content-length")).toBe(String(end - start + 1));
    expect(await res.text()).toBe(DIGITS.slice(start, end + 1));
  });

  test.each(["bytes=100-", "bytes=200-300", "bytes=-0"])("%s → 416 with Content-Range: bytes */100", async (range) => {
    const res = await get("/digits.txt", { range, "x-request-id": "r-416" });
    expect(res.status).toBe(416);
    expect(res.headers.get("content-range")).toBe("bytes */100");
    expect(await res.json()).toEqual({ error: "range not satisfiable", requestId: "r-416" });
  });

  test("any range of an empty file is 416", async () => {
    const res = await get("/empty.txt", { range: "bytes=0-" });
    expect(res.status).toBe(416);
    expect(res.headers.get("content-range")).toBe("bytes */0");
  });

  test.each(["bytes=0-1,5-6", "bytes=5-1", "items=0-1", "bytes=abc", "bytes=-"])("%s is answered with the whole file (200)", async (range) => {
    const res = await get("/digits.txt", { range });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-range")).toBeNull();
    expect(await res.text()).toBe(DIGITS);
  });

  test("If-Range with the current ETag or Last-Modified honours the range; a stale one gets the whole file", async () => {
    const etag = (await get("/digits.txt")).headers.get("etag")!;
    const byTag = await get("/digits.txt", { range: "bytes=0-1", "if-range": etag });
    expect(byTag.status).toBe(206);
    expect(await byTag.text()).toBe("01");
    const byDate = await get("/digits.txt", { range: "bytes=0-1", "if-range": MTIME.toUTCString() });
    expect(byDate.status).toBe(206);
    await byDate.text();
    for (const stale of ['"stale"', `W/${etag}`, new Date(MTIME.getTime() - 1000).toUTCString()]) {
      const res = await get("/digits.txt", { range: "bytes=0-1", "if-range": stale });
      expect(res.status).toBe(200);
      expect(await res.text()).toBe(DIGITS);
    }
  });

  test("a stale If-Range on an unsatisfiable range gets the whole file, not 416", async () => {
    const res = await get("/digits.txt", { range: "bytes=500-", "if-range": '"stale"' });
    expect(res.status).toBe(200);
    await res.text();
  });

  test("parseRange edge cases", () => {
    expect(parseRange(null, 10)).toEqual({ kind: "none" });
    expect(parseRange("bytes=0-0", 10)).toEqual({ kind: "range", start: 0, end: 0 });
    expect(parseRange("BYTES=9-", 10)).toEqual({ kind: "range", start: 9, end: 9 });
    expect(parseRange("bytes=99999999999999999999-", 10)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=-99999999999999999999", 10)).toEqual({ kind: "range", start: 0, end: 9 });
  });
});

describe("precompressed siblings", () => {
  const brBytes = () => brotliCompressSync(APP_JS);

  test("br is preferred when accepted, with Content-Encoding, Vary and the original Content-Type", async () => {
    const res = await get("/app.js", { "accept-encoding": "gzip, deflate, br" });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-encoding")).toBe("br");
    expect(res.headers.get("vary")).toBe("Accept-Encoding");
    expect(res.headers.get("content-type")).toBe("text/javascript; charset=utf-8");
    expect(Buffer.from(await res.arrayBuffer()).equals(brBytes())).toBe(true);
  });

  test("gzip when br is not accepted, with the sibling's bytes", async () => {
    const expected = await readFile(join(root, "app.js.gz"));
    for (const ae of ["gzip", "br;q=0, gzip", "gzip;q=1, br;q=0.5, identity", "x-gzip"]) {
      const res = await get("/app.js", { "accept-encoding": ae });
      expect(res.headers.get("content-encoding")).toBe("gzip");
      expect(res.headers.get("content-length")).toBe(String(expected.length));
      expect(Buffer.from(await res.arrayBuffer()).equals(expected)).toBe(true);
    }
  });

  test("identity when nothing compressed is accepted", async () => {
    for (const headers of [
      {} as Record<string, string>,
      { "accept-encoding": "identity" },
      { "accept-encoding": "br;q=0, gzip;q=0" },
      { "accept-encoding": "deflate" },
    ]) {
      const res = await get("/app.js", headers);
      expect(res.headers.get("content-encoding")).toBeNull();
      expect(await res.text()).toBe(APP_JS);
    }
  });

  test("* accepts br; a file with only a .gz gets gzip", async () => {
    const star = await get("/app.js", { "accept-encoding": "*" });
    expect(star.headers.get("content-encoding")).toBe("br");
    await star.arrayBuffer();
    const css = await get("/only-gz.css", { "accept-encoding": "br, gzip" });
    expect(css.headers.get("content-encoding")).toBe("gzip");
    expect(css.headers.get("content-type")).toBe("text/css; charset=utf-8");
    await css.arrayBuffer();
    const plain = await get("/style.css", { "accept-encoding": "br, gzip" });
    expect(plain.headers.get("content-encoding")).toBeNull();
    expect(plain.headers.get("vary")).toBe("Accept-Encoding");
    expect(await plain.text()).toBe("body{}");
  });

  test("each encoding has its own ETag, and a 304 is per representation", async () => {
    const id = await get("/app.js");
    const br = await get("/app.js", { "accept-encoding": "br" });
    const gz = await get("/app.js", { "accept-encoding": "gzip" });
    const tags = [id, br, gz].map((r) => r.headers.get("etag"));
    await Promise.all([id, br, gz].map((r) => r.arrayBuffer()));
    expect(new Set(tags).size).toBe(3);
    const hit = await get("/app.js", { "accept-encoding": "br", "if-none-match": tags[1]! });
    expect(hit.status).toBe(304);
    expect(hit.headers.get("vary")).toBe("Accept-Encoding");
    const miss = await get("/app.js", { "accept-encoding": "gzip", "if-none-match": tags[1]! });
    expect(miss.status).toBe(200);
    await miss.arrayBuffer();
  });

  test("a range request is served from the identity file", async () => {
    const res = await get("/app.js", { "accept-encoding": "br, gzip", range: "bytes=0-6" });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-encoding")).toBeNull();
    expect(await res.text()).toBe("console");
  });

  test("Accept-Encoding parsing", () => {
    expect(acceptedPrecompressed("gzip, br").map((p) => p.encoding)).toEqual(["br", "gzip"]);
    expect(acceptedPrecompressed("gzip;q=1, br;q=0.8").map((p) => p.encoding)).toEqual(["gzip", "br"]);
    expect(acceptedPrecompressed("*;q=0.5, gzip;q=0").map((p) => p.encoding)).toEqual(["br"]);
    expect(acceptedPrecompressed("")).toEqual([]);
    expect(acceptedPrecompressed(null)).toEqual([]);
  });
});

describe("large files stream", () => {
  test("a 5 MB file arrives byte-exact", async () => {
    const res = await get("/big.bin");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/octet-stream");
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.length).toBe(big.length);
    expect(body.equals(big)).toBe(true);
  });

  test("a range across many chunks arrives byte-exact", async () => {
    const res = await get("/big.bin", { range: "bytes=100000-3000000" });
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe(`bytes 100000-3000000/${big.length}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(big.subarray(100000, 3000001))).toBe(true);
  });

  test("the body is a stream, not a buffer", async () => {
    const res = await direct("/big.bin");
    expect(res.body).toBeInstanceOf(ReadableStream);
    const reader = res.body!.getReader();
    const first = await reader.read();
    expect(first.value!.byteLength).toBeLessThanOrEqual(64 * 1024);
    await reader.cancel();
  });

  const openFds = async () => (await readdir("/proc/self/fd")).length;

  test("file handles are closed after full reads, aborted downloads and unread bodies (counted in /proc: Linux)", async () => {
    await Bun.sleep(50);
    const before = await openFds();
    for (let i = 0; i < 5; i++) expect((await raw("/big.bin", {}, 200_000)).status).toBe(200); // client goes away mid-body
    for (let i = 0; i < 5; i++) await (await get("/big.bin")).arrayBuffer();
    for (let i = 0; i < 5; i++) await direct("/big.bin"); // built, never read
    for (let i = 0; i < 5; i++) await (await direct("/big.bin")).body!.cancel();
    let after = await openFds();
    for (let i = 0; i < 40 && after > before; i++) {
      await Bun.sleep(50);
      after = await openFds();
    }
    expect(after).toBeLessThanOrEqual(before);
  });
});

describe("roots", () => {
  test("a relative root resolves against configDir, wherever the process runs", async () => {
    const res = await serveStatic(new Request("http://x/digits.txt"), "/digits.txt", { root: "./public", index: "index.html", configDir: dir });
    expect(await res.text()).toBe(DIGITS);
  });

  test("serveStatic builds the handler once per options object", async () => {
    const options = { root: "public", index: "index.html", configDir: dir };
    expect((await serveStatic(new Request("http://x/"), "/", options)).status).toBe(200);
    expect((await serveStatic(new Request("http://x/sub/"), "/sub/", options)).status).toBe(200);
  });

  test("a root that does not exist yet serves 404, then its files once created", async () => {
    const h = createStaticHandler({ root: "later", index: "index.html", configDir: dir });
    expect((await h(new Request("http://x/a.txt"), "/a.txt")).status).toBe(404);
    await mkdir(join(dir, "later"));
    await writeFile(join(dir, "later", "a.txt"), "late");
    expect(await (await h(new Request("http://x/a.txt"), "/a.txt")).text()).toBe("late");
  });

  test("a root that is a symlink switched to a new release serves the new files", async () => {
    await mkdir(join(dir, "releases", "1"), { recursive: true });
    await mkdir(join(dir, "releases", "2"), { recursive: true });
    await writeFile(join(dir, "releases", "1", "v.txt"), "one");
    await writeFile(join(dir, "releases", "2", "v.txt"), "two");
    await symlink(join(dir, "releases", "1"), join(dir, "current"));
    const h = createStaticHandler({ root: "current", index: "index.html", configDir: dir });
    expect(await (await h(new Request("http://x/v.txt"), "/v.txt")).text()).toBe("one");
    await symlink(join(dir, "releases", "2"), join(dir, "current.new"));
    await rename(join(dir, "current.new"), join(dir, "current"));
    expect(await (await h(new Request("http://x/v.txt"), "/v.txt")).text()).toBe("two");
    await symlink(join(dir, "secret.txt"), join(dir, "releases", "2", "out.txt"));
    expect((await h(new Request("http://x/out.txt"), "/out.txt")).status).toBe(404);
  });

  test("a custom index name, and an index escaping the directory is refused at build time", async () => {
    const h = createStaticHandler({ root: "public", index: "page.txt", configDir: join(dir) });
    expect(await (await h(new Request("http://x/sub/"), "/sub/")).text()).toBe("page");
    expect(() => createStaticHandler({ root: "public", index: "../secret.txt", configDir: dir })).toThrow();
  });
});
