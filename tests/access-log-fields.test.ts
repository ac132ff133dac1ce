// The access log's fields as an operator reads them: the gateway started from the command line, its JSON lines
// appended to a file, requests of every kind sent through it on the engine's byte path and through hono. Each
// line's query, protocol, bytes in and out, upstream connect and response times, retries and termination.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { deadPort, until } from "./helpers/common.ts";
import { startCli, type RunningProcess } from "./helpers/process.ts";
import { rawRequest, startRawUpstream, startUpstream, type RawUpstream, type Upstream } from "./helpers/upstream.ts";
import type { LogEntry } from "../gateway/mod.ts";

const TAGGER = resolve(import.meta.dir, "fixtures/plugins/tagger.ts");
const BIG = 100_000;

/** One line of the access log, as the gateway writes it. */
type Line = LogEntry;

let dir: string;
let logPath: string;
let app: Upstream;
let switcher: RawUpstream;
let gw: RunningProcess;
let port: number;
let base: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-access-log-fields-"));
  logPath = join(dir, "access.log");
  app = startUpstream("app", async (request) => {
    const url = new URL(request.url);
    if (url.pathname.endsWith("/big")) return new Response("x".repeat(BIG));
    if (url.pathname.endsWith("/slow")) {
      await Bun.sleep(Number(url.searchParams.get("wait") ?? 50));
      return new Response("slow");
    }
    if (request.body) return new Response(`got ${(await request.arrayBuffer()).byteLength}`);
    return undefined;
  });
  switcher = await startRawUpstream((socket) => socket.write("HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"));
  port = await deadPort();
  base = `http://127.0.0.1:${port}`;
  const config = {
    listen: `127.0.0.1:${port}`,
    admin: false,
    accessLog: { path: "access.log" }, // relative to the config file
    limits: { maxBodySize: "1kb", bodyTimeout: "300ms" },
    pools: {
      app: { servers: [{ url: app.url, id: "app-1", maxFails: 0 }], timeouts: { response: "400ms" } },
      retry: {
        balance: "first",
        retries: 1,
        servers: [
          { url: `http://127.0.0.1:${await deadPort()}`, id: "dead", maxFails: 0 },
          { url: app.url, id: "live" },
        ],
      },
      gone: { retries: 0, servers: [{ url: `http://127.0.0.1:${await deadPort()}`, id: "gone-1", maxFails: 0 }] },
      off: { servers: [{ url: app.url, id: "off-1", down: true }] },
      ws: { servers: [{ url: switcher.url, id: "ws-1" }] },
    },
    routes: [
      { name: "api", match: { path: "/api/*" }, pool: "app" },
      { name: "hono", match: { path: "/hono/*" }, pool: "app", plugins: [{ use: TAGGER, options: { tag: "t" } }] },
      { name: "retry", match: { path: "/retry/*" }, pool: "retry" },
      { name: "gone", match: { path: "/gone/*" }, pool: "gone" },
      { name: "off", match: { path: "/off/*" }, pool: "off" },
      { name: "ws", match: { path: "/ws/*" }, pool: "ws" },
    ],
  };
  const path = join(dir, "sluice.config.json");
  await writeFile(path, JSON.stringify(config));
  gw = await startCli(["--config", path]);
});

afterAll(async () => {
  await gw?.stop();
  await app.stop();
  await switcher.close();
  await rm(dir, { recursive: true, force: true });
});

async function lines(): Promise<Line[]> {
  let text = "";
  try {
    text = await readFile(logPath, "utf8");
  } catch {
    return [];
  }
  return text
    .slice(0, text.lastIndexOf("\n") + 1)
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Line);
}

/** The log line of the request with this ID, once written (lines go out in batches). */
async function lineOf(requestId: string): Promise<Line> {
  let found: Line | undefined;
  await until(async () => (found = (await lines()).find((l) => l.requestId === requestId)) !== undefined, `the log line of ${requestId}`, 5_000, 20);
  return found!;
}

async function send(path: string, id: string, init: RequestInit = {}): Promise<Response> {
  const response = await fetch(base + path, { ...init, headers: { ...(init.headers as Record<string, string>), "x-request-id": id } });
  await response.arrayBuffer();
  return response;
}

const raw = (request: string) => rawRequest(port, request, { timeoutMs: 5_000 });

describe("the byte path", () => {
  test("query, protocol, referer; the first request connects, the next reuses the connection (0 ms)", async () => {
    const first = await send("/api/items?page=2&q=a%20b", "f-first", { headers: { referer: "https://example.com/from", "user-agent": "fields/1" } });
    expect(first.status).toBe(200);
    const line = await lineOf("f-first");
    expect(line).toMatchObject({
      method: "GET",
      path: "/api/items",
      query: "page=2&q=a%20b",
      protocol: "HTTP/1.1",
      status: 200,
      bytesIn: 0,
      bytesOut: 3,
      route: "api",
      pool: "app",
      server: "app-1",
      retries: 0,
      termination: "ok",
      referer: "https://example.com/from",
      userAgent: "fields/1",
    });
    expect(line.upstreamConnectMs).toBeGreaterThanOrEqual(0);
    expect(line.upstreamResponseMs).toBeGreaterThanOrEqual(0);
    await send("/api/items", "f-reuse");
    const reused = await lineOf("f-reuse");
    expect(reused.upstreamConnectMs).toBe(0);
    expect(reused.query).toBeUndefined();
  });

  test("bytes in and out: a body with a length, a chunked body (its data), a large answer", async () => {
    expect((await send("/api/post", "f-post", { method: "POST", body: "hello world" })).status).toBe(200);
    expect(await lineOf("f-post")).toMatchObject({ method: "POST", bytesIn: 11, bytesOut: "got 11".length, termination: "ok" });
    const chunked = await raw(
      "POST /api/chunked HTTP/1.1\r\nHost: x\r\nx-request-id: f-chunked\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    );
    expect(chunked.status).toBe(200);
    expect(await lineOf("f-chunked")).toMatchObject({ bytesIn: 11, termination: "ok" });
    expect((await send("/api/big", "f-big")).status).toBe(200);
    expect(await lineOf("f-big")).toMatchObject({ bytesOut: BIG, status: 200 });
  });

  test("an HTTP/1.0 request is logged as such", async () => {
    expect((await raw("GET /api/old HTTP/1.0\r\nHost: x\r\nx-request-id: f-http10\r\n\r\n")).status).toBe(200);
    expect(await lineOf("f-http10")).toMatchObject({ protocol: "HTTP/1.0", status: 200, bytesOut: 3 });
  });

  test("the upstream's response time is its time to answer", async () => {
    expect((await send("/api/slow?wait=60", "f-slow")).status).toBe(200);
    const line = await lineOf("f-slow");
    expect(line.upstreamResponseMs).toBeGreaterThanOrEqual(55);
    // The upstream's time is read in whole milliseconds (a difference of two readings may be 1 ms over).
    expect(line.durationMs + 1).toBeGreaterThanOrEqual(line.upstreamResponseMs!);
  });

  test("a connect failure retried on another server: retries 1, ok", async () => {
    expect((await send("/retry/x", "f-retry")).status).toBe(200);
    expect(await lineOf("f-retry")).toMatchObject({ status: 200, server: "live", retries: 1, termination: "ok" });
  });
});

describe("termination", () => {
  test("refused: no route (404), a body over the limit (413)", async () => {
    expect((await send("/nowhere", "t-404")).status).toBe(404);
    expect(await lineOf("t-404")).toMatchObject({ status: 404, termination: "refused" });
    expect((await send("/api/x", "t-413", { method: "POST", body: "x".repeat(2048) })).status).toBe(413);
    expect(await lineOf("t-413")).toMatchObject({ status: 413, termination: "refused" });
  });

  test("no-server (503), upstream-failed (502), timeout (504)", async () => {
    expect((await send("/off/x", "t-503")).status).toBe(503);
    expect(await lineOf("t-503")).toMatchObject({ status: 503, termination: "no-server" });
    expect((await send("/gone/x", "t-502")).status).toBe(502);
    expect(await lineOf("t-502")).toMatchObject({ status: 502, termination: "upstream-failed", retries: 0 });
    expect((await send("/api/slow?wait=1500", "t-504")).status).toBe(504);
    expect(await lineOf("t-504")).toMatchObject({ status: 504, termination: "timeout" });
  });

  test("client-gone: the client leaves before the answer (499)", async () => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.on("error", () => {});
    await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
    socket.write("GET /api/slow?wait=300 HTTP/1.1\r\nHost: x\r\nx-request-id: t-499\r\n\r\n");
    // Gone once the upstream has the request.
    await until(() => app.seen.some((s) => s.headers.get("x-request-id") === "t-499"), "the upstream has the request");
    socket.destroy();
    expect(await lineOf("t-499")).toMatchObject({ status: 499, termination: "client-gone" });
  });

  test("client-timeout: a body that stalls (408)", async () => {
    const answer = await raw("POST /api/x HTTP/1.1\r\nHost: x\r\nx-request-id: t-408\r\nContent-Length: 100\r\n\r\nonly ten b");
    expect(answer.status).toBe(408);
    expect(await lineOf("t-408")).toMatchObject({ status: 408, termination: "client-timeout", bytesIn: 10 });
  });

  test("upgraded: a 101 turns the connection into a tunnel", async () => {
    const answer = await raw(
      "GET /ws/x HTTP/1.1\r\nHost: x\r\nx-request-id: t-101\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    expect(answer.status).toBe(101);
    expect(await lineOf("t-101")).toMatchObject({ status: 101, termination: "upgraded", server: "ws-1" });
  });
});

describe("the hono path (a route with middleware)", () => {
  test("the same fields, written once the answer is out: bytes, upstream times, the client's own target", async () => {
    expect((await send("/hono/items?x=1", "h-get", { headers: { referer: "r" } })).status).toBe(200);
    const line = await lineOf("h-get");
    expect(line).toMatchObject({
      path: "/hono/items",
      query: "x=1",
      protocol: "HTTP/1.1",
      status: 200,
      bytesIn: 0,
      bytesOut: 3,
      route: "hono",
      pool: "app",
      server: "app-1",
      retries: 0,
      termination: "ok",
      referer: "r",
    });
    expect(line.upstreamConnectMs).toBeGreaterThanOrEqual(0);
    expect(line.upstreamResponseMs).toBeGreaterThanOrEqual(0);
    expect((await send("/hono/big", "h-big")).status).toBe(200);
    expect(await lineOf("h-big")).toMatchObject({ bytesOut: BIG, termination: "ok" });
    expect((await send("/hono/post", "h-post", { method: "POST", body: "twelve bytes" })).status).toBe(200);
    expect(await lineOf("h-post")).toMatchObject({ bytesIn: 12, bytesOut: "got 12".length });
  });

  test("a middleware's refusal is refused, with no upstream fields", async () => {
    expect((await send("/hono/x", "h-403", { headers: { "x-block": "yes" } })).status).toBe(403);
    const refused = await lineOf("h-403");
    expect(refused).toMatchObject({ status: 403, termination: "refused", route: "hono" });
    expect(refused.server).toBeUndefined();
    expect(refused.upstreamResponseMs).toBeUndefined();
  });
});

describe("requests refused before they have a head", () => {
  test("a malformed request is logged too: its status, the refusal, and the id it sent", async () => {
    const res = await raw("GET /a b HTTP/1.1\r\nHost: t\r\nX-Request-Id: refused-head-1\r\n\r\n");
    expect(res.status).toBe(400);
    const line = await lineOf("refused-head-1");
    expect([line.status, line.termination, line.method, line.bytesIn, line.bytesOut]).toEqual([400, "refused", "-", 0, 0]);
    expect(line.error).toBeString();
  });
});
