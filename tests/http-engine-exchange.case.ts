// One request through the HTTP engine, byte for byte, from a raw client to a raw upstream and back: which
// header fields cross (the client's in order and case plus the gateway's own, hop-by-hop ones dropped),
// framing both ways (Content-Length kept, chunked kept with trailers, close-delimited answers rechunked for
// HTTP/1.1 clients), informational answers (100 swallowed, 103 relayed), bodiless answers, pipelining,
// keep-alive and Connection: close, HTTP/1.0 and higher 1.x minors, Expect: 100-continue, the response timeout
// while a head is incomplete, an upgrade to a byte pipe, and the client-side header-read and idle timeouts.
// One suite for both runtimes: http-engine-exchange.test.ts runs it on Bun, http-engine-deno.test.ts on Deno.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { until } from "./helpers/common.ts";
import { startEngineGateway, type EngineGateway, type EngineRuntime } from "./helpers/engine-gateway.ts";
import { answerWith, background, openWire, wireUpstream, type WireClient, type WireRequest, type WireResponse, type WireUpstream } from "./helpers/wire.ts";
import type { Socket } from "node:net";
import { resolve } from "node:path";

/** A plugin that works on Request and Response objects: its routes go through hono. */
const OBJECT_HEADERS = resolve(import.meta.dir, "./fixtures/plugins/object-headers.ts");

const MB = 1024 * 1024;

/** `n` bytes of a repeating, position-dependent pattern (so that a shifted or truncated copy differs). */
function pattern(n: number, seed = 0): Buffer {
  const bytes = Buffer.alloc(n);
  for (let i = 0; i < n; i++) bytes[i] = (i * 31 + seed + (i >> 12)) & 0xff;
  return bytes;
}
const sha = (bytes: Buffer) => createHash("sha256").update(bytes).digest("hex");
const BIG = pattern(5 * MB, 7);

function answer(request: WireRequest, socket: Socket): void {
  const path = request.target.split("?")[0];
  switch (path) {
    case "/echo":
      return void socket.write(answerWith(200, request.body, [`X-Got-Length: ${request.body.length}`]));
    case "/big":
      return void socket.write(answerWith(200, BIG, ["Content-Type: application/octet-stream"]));
    case "/chunked-trailers":
      return void socket.write(
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Digest\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\nX-Digest: abc123\r\nX-Other: 2\r\n\r\n",
      );
    case "/close-delimited":
      return void socket.end("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nuntil the server closes");
    case "/early-hints":
      socket.write("HTTP/1.1 100 Continue\r\n\r\n");
      socket.write("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n");
      return void setTimeout(() => socket.write(answerWith(200, "final", ["Link: </style.css>; rel=preload"])), 20);
    case "/no-content":
      return void socket.write("HTTP/1.1 204 No Content\r\nX-Done: yes\r\n\r\n");
    case "/not-modified":
      return void socket.write('HTTP/1.1 304 Not Modified\r\nETag: "v1"\r\nContent-Length: 10\r\n\r\n');
    case "/head":
      return void socket.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\n\r\n");
    case "/fields":
      return void socket.write(
        "HTTP/1.1 200 Fine Thanks\r\nX-Upper: A\r\nset-cookie: a=1\r\nConnection: keep-alive, X-Hop\r\nX-Hop: dropped\r\nKeep-Alive: timeout=30\r\n" +
          "Set-Cookie: b=2\r\nX-Request-Id: upstream-id\r\nContent-Length: 2\r\n\r\nok",
      );
    case "/slow": {
      const ms = Number(new URL(request.target, "http://x").searchParams.get("ms"));
      return void setTimeout(() => socket.write(answerWith(200, `slow ${ms} ${request.body.toString()}`)), ms);
    }
    case "/stall-after-100":
      return void socket.write("HTTP/1.1 100 Continue\r\n\r\n");
    case "/stall-mid-head":
      return void socket.write("HTTP/1.1 200 OK\r\nX-Partial: ");
    case "/upgrade":
      // After the 101 the connection is no longer HTTP: echo what comes, upper-cased.
      socket.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n");
      socket.removeAllListeners("data");
      return void socket.on("data", (d: Buffer) => socket.write(d.toString("latin1").toUpperCase()));
    default:
      socket.write(answerWith(200, `ok ${request.method} ${request.target}`));
  }
}

export function exchangeCases(runtime: EngineRuntime): void {
  let up: WireUpstream;
  let gw: EngineGateway;
  let port: number;
  const clients: WireClient[] = [];
  let slowloris: () => Promise<{ response: WireResponse; elapsed: number; sent: number; total: number }>;
  let idle: () => Promise<{ waited: number; unread: number }>;

  describe(`one exchange on ${runtime}`, () => {
    beforeAll(async () => {
      up = await wireUpstream(answer);
      gw = await startEngineGateway(runtime, {
        limits: { headerTimeout: "1s", idleTimeout: "1s", maxBodySize: "8mb" },
        pools: {
          wire: { servers: [{ url: up.url, maxFails: 0 }] },
          quick: { servers: [{ url: up.url, maxFails: 0 }], timeouts: { response: "300ms" } },
        },
        routes: [
          { match: { path: "/own-host/*" }, pool: "wire", preserveHost: false },
          { match: { path: "/quick/*" }, pool: "quick", stripPrefix: "/quick" },
          // A beforeUpstream hook needs the request as a Request: this route goes through hono.
          {
            match: { path: "/plugin/*" },
            pool: "wire",
            stripPrefix: "/plugin",
            plugins: [{ use: OBJECT_HEADERS, options: { request: { set: { "x-plugin": "1" } } } }],
          },
          { pool: "wire" },
        ],
      });
      port = gw.port;
      // The two client-side timeouts take a second or two of waiting each: they start now, so that the waiting
      // overlaps the other cases, and their tests check what happened (times measured from the start of each).
      slowloris = background(async () => {
        const c = await client();
        const started = Date.now();
        const head = "GET /slow-head HTTP/1.1\r\nHost: s.test\r\nX-Trickle: 0123456789abcdefghijklmnopqrstuvwxyz\r\n\r\n";
        let sent = 0;
        const trickle = setInterval(() => {
          if (c.ended || sent >= head.length) return clearInterval(trickle);
          c.write(head[sent++]!);
        }, 50);
        try {
          const response = await c.read({ timeoutMs: 4_000 });
          await c.closed(2_000);
          return { response, elapsed: Date.now() - started, sent, total: head.length };
        } finally {
          clearInterval(trickle);
        }
      });
      idle = background(async () => {
        const c = await client();
        c.write("GET /idle HTTP/1.1\r\nHost: s.test\r\n\r\n");
        if ((await c.read()).status !== 200) throw new Error("the request before the idle wait failed");
        const waited = await c.closed(4_000);
        return { waited, unread: c.buffered };
      });
    });

    afterAll(async () => {
      for (const c of clients) c.close();
      await gw?.stop();
      await up?.close();
    });

    async function client(): Promise<WireClient> {
      const c = await openWire(port);
      clients.push(c);
      return c;
    }

    /** The last request the upstream read. */
    const last = () => up.requests.at(-1)!;
    const names = (fields: Array<[string, string]>) => fields.map(([n]) => n);

    describe("header fields upstream: exactly the client's plus the gateway's own", () => {
      test("the client's fields arrive in order and case, repeated ones kept apart; nothing invented", async () => {
        const c = await client();
        c.write(
          "GET /fields-in?q=1 HTTP/1.1\r\nHost: shop.test\r\nX-Custom-One: a\r\naccept-LANGUAGE: fr\r\nX-Dup: 1\r\nCookie: a=b\r\nX-Dup: 2\r\nX-lower: MiXeD Value\r\n\r\n",
        );
        expect((await c.read()).status).toBe(200);
        const seen = last();
        expect(seen.head.split("\r\n")[0]).toBe("GET /fields-in?q=1 HTTP/1.1");
        const clientNames = new Set(["x-custom-one", "accept-language", "x-dup", "cookie", "x-lower"]);
        expect(seen.fields.filter(([n]) => clientNames.has(n.toLowerCase()))).toEqual([
          ["X-Custom-One", "a"],
          ["accept-LANGUAGE", "fr"],
          ["X-Dup", "1"],
          ["Cookie", "a=b"],
          ["X-Dup", "2"],
          ["X-lower", "MiXeD Value"],
        ]);
        const own = seen.fields.filter(([n]) => !clientNames.has(n.toLowerCase()));
        expect(own.map(([n, v]) => [n.toLowerCase(), n.toLowerCase() === "x-request-id" ? "(id)" : v])).toEqual([
          ["host", "shop.test"],
          ["x-forwarded-for", "127.0.0.1"],
          ["x-forwarded-proto", "http"],
          ["x-forwarded-host", "shop.test"],
          ["x-request-id", "(id)"],
        ]);
        expect(own.find(([n]) => n.toLowerCase() === "x-request-id")![1]).toMatch(/^[0-9a-f-]{36}$/);
      });

      test("hop-by-hop fields and the ones Connection names are dropped; X-Forwarded-For appended, a sane X-Request-Id kept", async () => {
        const c = await client();
        c.write(
          "GET /hops HTTP/1.1\r\nHost: shop.test\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n" +
            "Proxy-Authorization: Basic eA==\r\nProxy-Connection: keep-alive\r\nUpgrade: h2c\r\nTrailer: X-T\r\nX-Forwarded-For: 10.0.0.1\r\nX-Request-Id: trace-42\r\nX-Kept: yes\r\n\r\n",
        );
        const response = await c.read();
        expect(response.status).toBe(200);
        expect(response.headers.get("x-request-id")).toBe("trace-42");
        const seen = last();
        expect(names(seen.fields).map((n) => n.toLowerCase())).toEqual([
          "host",
          "x-kept",
          "x-forwarded-for",
          "x-forwarded-proto",
          "x-forwarded-host",
          "x-request-id",
        ]);
        expect(seen.fields.find(([n]) => n.toLowerCase() === "x-forwarded-for")![1]).toBe("10.0.0.1, 127.0.0.1");
        expect(seen.fields.find(([n]) => n.toLowerCase() === "x-request-id")![1]).toBe("trace-42");
      });

      test("Host: the client's by default; the server's own with preserveHost: false; an HTTP/1.0 request without Host gets the server's", async () => {
        const c = await client();
        c.write("GET /own-host/x HTTP/1.1\r\nHost: shop.test\r\n\r\n");
        await c.read();
        expect(last().fields.filter(([n]) => n.toLowerCase() === "host")).toEqual([["host", `127.0.0.1:${up.port}`]]);
        expect(last().fields.find(([n]) => n.toLowerCase() === "x-forwarded-host")![1]).toBe("shop.test");
        const old = await client();
        old.write("GET /no-host HTTP/1.0\r\n\r\n");
        expect((await old.read()).status).toBe(200);
        expect(last().head.split("\r\n")[0]).toBe("GET /no-host HTTP/1.1");
        expect(last().fields.filter(([n]) => n.toLowerCase() === "host")).toEqual([["host", `127.0.0.1:${up.port}`]]);
        expect(last().fields.some(([n]) => n.toLowerCase() === "x-forwarded-host")).toBe(false);
      });

      test("the answer's fields come back in order and case, hop-by-hop ones dropped, the gateway's X-Request-Id instead of the server's", async () => {
        const c = await client();
        c.write("GET /fields HTTP/1.1\r\nHost: shop.test\r\nX-Request-Id: mine-1\r\n\r\n");
        const response = await c.read();
        expect(response.head.split("\r\n")[0]).toBe("HTTP/1.1 200 Fine Thanks");
        expect(response.fields).toEqual([
          ["X-Upper", "A"],
          ["set-cookie", "a=1"],
          ["Set-Cookie", "b=2"],
          ["x-request-id", "mine-1"],
          ["content-length", "2"],
        ]);
        expect(response.body.toString()).toBe("ok");
      });
    });

    describe("behind a route with plugins (Request and Response objects)", () => {
      test("nothing invented upstream besides the gateway's own and the plugin's; Content-Length kept both ways; a chunked upload stays chunked", async () => {
        const c = await client();
        c.write("POST /plugin/echo HTTP/1.1\r\nHost: pl.test\r\nX-Custom: A\r\nContent-Length: 5\r\n\r\nabcde");
        const response = await c.read();
        expect(response.status).toBe(200);
        expect(response.headers.get("content-length")).toBe("5");
        expect(response.body.toString()).toBe("abcde");
        const seen = last();
        expect(
          names(seen.fields)
            .map((n) => n.toLowerCase())
            .sort(),
        ).toEqual(["content-length", "host", "x-custom", "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-plugin", "x-request-id"]);
        expect(seen.fields.find(([n]) => n.toLowerCase() === "content-length")![1]).toBe("5");

        c.write("POST /plugin/echo HTTP/1.1\r\nHost: pl.test\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
        expect((await c.read()).body.toString()).toBe("abcde");
        expect(
          last()
            .fields.filter(([n]) => /^(content-length|transfer-encoding)$/i.test(n))
            .map(([n, v]) => [n.toLowerCase(), v]),
        ).toEqual([["transfer-encoding", "chunked"]]);
        expect(last().body.toString()).toBe("abcde");
      });
    });

    describe("bodies keep their framing", () => {
      test("5 MB with Content-Length, both ways: the length kept, no chunking, every byte in place", async () => {
        const c = await client();
        const upload = pattern(5 * MB, 3);
        c.write(`POST /echo HTTP/1.1\r\nHost: b.test\r\nContent-Length: ${upload.length}\r\n\r\n`);
        c.write(upload);
        const echoed = await c.read({ timeoutMs: 10_000 });
        expect(echoed.status).toBe(200);
        expect(echoed.framing).toBe("length");
        expect(echoed.headers.get("content-length")).toBe(String(upload.length));
        expect(sha(echoed.body)).toBe(sha(upload));
        const seen = last();
        expect(seen.fields.filter(([n]) => /^(content-length|transfer-encoding)$/i.test(n)).map(([n, v]) => [n.toLowerCase(), v])).toEqual([
          ["content-length", String(upload.length)],
        ]);
        expect(sha(seen.body)).toBe(sha(upload));

        c.write("GET /big HTTP/1.1\r\nHost: b.test\r\n\r\n");
        const download = await c.read({ timeoutMs: 10_000 });
        expect(download.framing).toBe("length");
        expect(download.headers.get("content-length")).toBe(String(BIG.length));
        expect(download.headers.has("transfer-encoding")).toBe(false);
        expect(sha(download.body)).toBe(sha(BIG));
      });

      test("a chunked request body arrives chunked, its trailers kept", async () => {
        const c = await client();
        c.write("POST /echo HTTP/1.1\r\nHost: b.test\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n6\r\nhello \r\n");
        c.write("5;ext=1\r\nworld\r\n0\r\nX-Checksum: c0ffee\r\nX-Second: 2\r\n\r\n");
        const response = await c.read();
        expect(response.status).toBe(200);
        expect(response.body.toString()).toBe("hello world");
        const seen = last();
        expect(
          seen.fields.filter(([n]) => /^(content-length|transfer-encoding|trailer)$/i.test(n)).map(([n, v]) => [n.toLowerCase(), v.toLowerCase()]),
        ).toEqual([["transfer-encoding", "chunked"]]);
        expect(seen.body.toString()).toBe("hello world");
        expect(seen.trailers).toEqual(["X-Checksum: c0ffee", "X-Second: 2"]);
      });

      test("a chunked answer with trailers reaches an HTTP/1.1 client chunked, trailers included", async () => {
        const c = await client();
        c.write("GET /chunked-trailers HTTP/1.1\r\nHost: b.test\r\n\r\n");
        const response = await c.read();
        expect(response.framing).toBe("chunked");
        expect(response.body.toString()).toBe("hello, world");
        expect(response.trailers).toEqual(["X-Digest: abc123", "X-Other: 2"]);
        expect(response.headers.has("content-length")).toBe(false);
      });

      test("the same answer to an HTTP/1.0 client: the body ends with the connection (1.0 has no chunking)", async () => {
        const c = await client();
        c.write("GET /chunked-trailers HTTP/1.0\r\nHost: b.test\r\n\r\n");
        const response = await c.read();
        expect(response.framing).toBe("close");
        expect(response.body.toString()).toBe("hello, world");
        expect(response.headers.has("transfer-encoding")).toBe(false);
        await c.closed();
      });

      test("a close-delimited answer reaches an HTTP/1.1 client chunked (the connection stays usable) and an HTTP/1.0 client close-delimited", async () => {
        const c = await client();
        c.write("GET /close-delimited HTTP/1.1\r\nHost: b.test\r\n\r\n");
        const response = await c.read();
        expect(response.framing).toBe("chunked");
        expect(response.body.toString()).toBe("until the server closes");
        expect(response.headers.has("connection")).toBe(false);
        c.write("GET /after HTTP/1.1\r\nHost: b.test\r\n\r\n");
        expect((await c.read()).body.toString()).toBe("ok GET /after");

        const old = await client();
        old.write("GET /close-delimited HTTP/1.0\r\nHost: b.test\r\nConnection: keep-alive\r\n\r\n");
        const oldResponse = await old.read();
        expect(oldResponse.framing).toBe("close");
        expect(oldResponse.headers.get("connection")).toBe("close");
        expect(oldResponse.body.toString()).toBe("until the server closes");
      });
    });

    describe("informational and bodiless answers", () => {
      test("the server's 100 Continue is swallowed; its 103 Early Hints reaches the client before the final answer", async () => {
        const c = await client();
        c.write("GET /early-hints HTTP/1.1\r\nHost: i.test\r\n\r\n");
        const response = await c.read();
        expect(response.informational.map((r) => r.status)).toEqual([103]);
        expect(response.informational[0]!.headers.get("link")).toBe("</style.css>; rel=preload");
        expect(response.status).toBe(200);
        expect(response.body.toString()).toBe("final");
      });

      test("an HTTP/1.0 client gets no informational answer at all", async () => {
        const c = await client();
        c.write("GET /early-hints HTTP/1.0\r\nHost: i.test\r\n\r\n");
        const response = await c.read();
        expect(response.informational).toEqual([]);
        expect(response.status).toBe(200);
        expect(response.body.toString()).toBe("final");
      });

      test("204, 304 and HEAD carry no body; the connection goes on with the next answer intact", async () => {
        const c = await client();
        c.write("GET /no-content HTTP/1.1\r\nHost: i.test\r\n\r\n");
        const noContent = await c.read();
        expect(noContent.status).toBe(204);
        expect(noContent.headers.get("x-done")).toBe("yes");
        expect(noContent.headers.has("content-length")).toBe(false);
        expect(noContent.headers.has("transfer-encoding")).toBe(false);
        c.write('GET /not-modified HTTP/1.1\r\nHost: i.test\r\nIf-None-Match: "v1"\r\n\r\n');
        const notModified = await c.read();
        expect(notModified.status).toBe(304);
        expect(notModified.headers.get("etag")).toBe('"v1"');
        c.write("HEAD /head HTTP/1.1\r\nHost: i.test\r\n\r\n");
        const head = await c.read({ method: "HEAD" });
        expect(head.status).toBe(200);
        expect(head.headers.get("content-length")).toBe("1234");
        c.write("GET /last HTTP/1.1\r\nHost: i.test\r\n\r\n");
        const next = await c.read();
        expect(next.body.toString()).toBe("ok GET /last");
        // Nothing stray after it: no body bytes of the bodiless answers were waiting in between.
        expect(c.buffered).toBe(0);
      });
    });

    describe("the response timeout runs until the final head", () => {
      test("a server that sends 100 Continue and then nothing: 504 after timeouts.response", async () => {
        const c = await client();
        const started = Date.now();
        c.write("GET /quick/stall-after-100 HTTP/1.1\r\nHost: t.test\r\n\r\n");
        const response = await c.read({ timeoutMs: 3_000 });
        expect(response.status).toBe(504);
        expect(Date.now() - started).toBeLessThan(2_500);
      });

      test("a server that stops in the middle of its head: 504 after timeouts.response", async () => {
        const c = await client();
        c.write("GET /quick/stall-mid-head HTTP/1.1\r\nHost: t.test\r\n\r\n");
        const response = await c.read({ timeoutMs: 3_000 });
        expect(response.status).toBe(504);
      });
    });

    describe("the client connection", () => {
      test("three pipelined requests with bodies, in one write: answered in order on one connection, the slow first one first", async () => {
        const c = await client();
        const before = up.requests.length;
        c.write(
          "POST /slow?ms=150 HTTP/1.1\r\nHost: p.test\r\nContent-Length: 5\r\n\r\nfirst" +
            "POST /echo HTTP/1.1\r\nHost: p.test\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nsecond\r\n0\r\n\r\n" +
            "GET /third HTTP/1.1\r\nHost: p.test\r\n\r\n",
        );
        const answers = [await c.read(), await c.read(), await c.read()];
        expect(answers.map((a) => a.body.toString())).toEqual(["slow 150 first", "second", "ok GET /third"]);
        expect(up.requests.slice(before).map((r) => r.target)).toEqual(["/slow?ms=150", "/echo", "/third"]);
        expect(c.ended).toBe(false);
      });

      test("keep-alive by default; Connection: close gets its answer with `connection: close`, then the gateway closes", async () => {
        const c = await client();
        for (const path of ["/k1", "/k2"]) {
          c.write(`GET ${path} HTTP/1.1\r\nHost: k.test\r\n\r\n`);
          const response = await c.read();
          expect(response.body.toString()).toBe(`ok GET ${path}`);
          expect(response.headers.has("connection")).toBe(false);
        }
        c.write("GET /k3 HTTP/1.1\r\nHost: k.test\r\nConnection: close\r\n\r\n");
        const last = await c.read();
        expect(last.body.toString()).toBe("ok GET /k3");
        expect(last.headers.get("connection")).toBe("close");
        await c.closed(2_000);
      });

      test("HTTP/1.0 closes after its answer; with Connection: keep-alive it stays open and says so", async () => {
        const plain = await client();
        plain.write("GET /old HTTP/1.0\r\nHost: o.test\r\n\r\n");
        const response = await plain.read();
        expect(response.status).toBe(200);
        expect(response.body.toString()).toBe("ok GET /old");
        await plain.closed(2_000);

        const kept = await client();
        for (const path of ["/old1", "/old2"]) {
          kept.write(`GET ${path} HTTP/1.0\r\nHost: o.test\r\nConnection: keep-alive\r\n\r\n`);
          const r = await kept.read();
          expect(r.body.toString()).toBe(`ok GET ${path}`);
          expect(r.headers.get("connection")?.toLowerCase()).toBe("keep-alive");
          expect(r.framing).toBe("length");
        }
        expect(kept.ended).toBe(false);
      });

      test("HTTP/1.2 is served as HTTP/1.1 (upstream and answer both 1.1, keep-alive); HTTP/2.0 on the wire gets 505 and the connection closes", async () => {
        const c = await client();
        c.write("GET /minor HTTP/1.2\r\nHost: v.test\r\n\r\n");
        const response = await c.read();
        expect(response.version).toBe("HTTP/1.1");
        expect(response.body.toString()).toBe("ok GET /minor");
        expect(last().head.split("\r\n")[0]).toBe("GET /minor HTTP/1.1");
        c.write("GET /minor-again HTTP/1.2\r\nHost: v.test\r\n\r\n");
        expect((await c.read()).status).toBe(200);

        const before = up.requests.length;
        const two = await client();
        two.write("GET /two HTTP/2.0\r\nHost: v.test\r\n\r\n");
        const refused = await two.read();
        expect(refused.status).toBe(505);
        expect(refused.headers.get("content-type")).toStartWith("application/json");
        await two.closed(2_000);
        expect(up.requests.length).toBe(before);
      });

      test("Expect: 100-continue: 100 Continue first, the body after it, then the answer; the upstream never sees the Expect", async () => {
        const c = await client();
        c.write("POST /echo HTTP/1.1\r\nHost: e.test\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n");
        await until(() => c.pending.includes("\r\n\r\n"), "the interim answer");
        expect(c.pending.toString("latin1")).toBe("HTTP/1.1 100 Continue\r\n\r\n");
        c.write("hello there");
        const response = await c.read();
        expect(response.informational.map((r) => r.status)).toEqual([100]);
        expect(response.status).toBe(200);
        expect(response.body.toString()).toBe("hello there");
        expect(last().fields.some(([n]) => n.toLowerCase() === "expect")).toBe(false);
      });

      test("Expect: 100-continue with a body over maxBodySize: 413 straight away, no 100 Continue, nothing forwarded", async () => {
        const before = up.requests.length;
        const c = await client();
        c.write(`POST /echo HTTP/1.1\r\nHost: e.test\r\nContent-Length: ${9 * MB}\r\nExpect: 100-continue\r\n\r\n`);
        const response = await c.read();
        expect(response.informational).toEqual([]);
        expect(response.status).toBe(413);
        expect(response.headers.get("connection")).toBe("close");
        expect(up.requests.length).toBe(before);
      });

      test("an upgrade: the upstream's 101 is relayed, then bytes cross both ways as a pipe until the client closes", async () => {
        const c = await client();
        c.write("GET /upgrade HTTP/1.1\r\nHost: u.test\r\nConnection: Upgrade\r\nUpgrade: shout\r\n\r\n");
        const switched = await c.read();
        expect(switched.status).toBe(101);
        expect(switched.headers.get("upgrade")).toBe("shout");
        const seen = last();
        expect(seen.fields.filter(([n]) => /^(connection|upgrade)$/i.test(n)).map(([n, v]) => [n.toLowerCase(), v.toLowerCase()])).toEqual([
          ["connection", "upgrade"],
          ["upgrade", "shout"],
        ]);
        // Whatever the bytes look like, HTTP included, they only cross.
        for (const word of ["hello pipe", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", "x".repeat(300_000)]) {
          c.write(word);
          expect((await c.bytes(word.length)).toString("latin1")).toBe(word.toUpperCase());
        }
        const tunnel = seen.connection;
        c.close();
        await until(() => tunnel.closed, "the upstream side of the pipe closed", 2_000);
      });

      test("slowloris: a head trickled slower than headerTimeout (1 s) gets 408 and the connection is closed", async () => {
        const { response, elapsed, sent, total } = await slowloris();
        expect(response.status).toBe(408);
        expect(response.headers.get("connection")).toBe("close");
        // Not before the timeout; the deadlines are swept once a second.
        expect(elapsed).toBeGreaterThanOrEqual(900);
        expect(elapsed).toBeLessThan(3_000);
        expect(sent).toBeLessThan(total);
        expect(up.requests.some((r) => r.target === "/slow-head")).toBe(false);
      });

      test("an idle keep-alive connection is closed after idleTimeout (1 s), without an answer", async () => {
        const { waited, unread } = await idle();
        expect(waited).toBeGreaterThanOrEqual(900);
        expect(waited).toBeLessThan(3_000);
        expect(unread).toBe(0);
      });
    });
  });
}
