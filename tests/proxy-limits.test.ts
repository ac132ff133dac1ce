// Request limits and malformed requests, sent over the network: JSON 431/414/413 from the gateway, chunked
// bodies cut at the limit, and raw-TCP garbage answered with 400 while the gateway keeps serving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { errorBody, gateway, generatedStream, portOf, rawRequest, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

let up: Upstream;
let gw: Gateway;
/** Bytes the upstream read of each upload, by request id (-1: the body failed while it read it). */
const received = new Map<string, number>();

const MAX_BODY = 64 * 1024;
const TAGGER = resolve(import.meta.dir, "fixtures/plugins/tagger.ts");

beforeAll(async () => {
  up = startUpstream("up", async (request) => {
    if (new URL(request.url).pathname !== "/upload") return undefined;
    const id = request.headers.get("x-request-id")!;
    let bytes = 0;
    try {
      for await (const chunk of request.body!) {
        bytes += chunk.byteLength;
        received.set(id, bytes);
      }
    } catch {
      received.set(id, bytes);
      return new Response("broken body", { status: 400 });
    }
    received.set(id, bytes);
    return new Response(`got ${bytes}`);
  });
  gw = await gateway({
    limits: { maxHeaderSize: "1kb", maxUriLength: 200, maxBodySize: MAX_BODY },
    pools: { app: [up.url] },
    routes: [{ pool: "app" }],
  });
});

afterAll(async () => {
  await gw.stop(0);
  await up.stop();
});

const server = () => gw.current.pools.get("app")!.servers[0]!;

/** The gateway still proxies an ordinary request. */
async function stillServes(): Promise<void> {
  const response = await fetch(gw.url + "/alive");
  expect(response.status).toBe(200);
  expect(await response.text()).toBe("up");
}

describe("limits", () => {
  test("headers over maxHeaderSize: 431 JSON, upstream not called", async () => {
    const before = up.seen.length;
    const response = await fetch(gw.url + "/h", { headers: { "x-big": "a".repeat(4096), "x-request-id": "big-headers" } });
    expect(response.status).toBe(431);
    expect((await errorBody(response)).requestId).toBe("big-headers");
    expect(up.seen.length).toBe(before);
    await stillServes();
  });

  // Bun's parser has its own header cap (16 KB, only settable by its --max-http-header-size flag): above it
  // Bun answers a bare 431 before the gateway sees the request. Within it, the gateway's JSON 431 applies.
  test("headers over Bun's own 16 KB cap: 431 (Bun's bare answer), the gateway keeps serving", async () => {
    const g = await gateway({ limits: { maxHeaderSize: "64kb" }, pools: { app: [up.url] }, routes: [{ pool: "app" }] });
    try {
      const before = up.seen.length;
      const response = await fetch(g.url + "/h", { headers: { "x-big": "a".repeat(20 * 1024) } });
      expect(response.status).toBe(431);
      expect(up.seen.length).toBe(before);
      expect((await fetch(g.url + "/h", { headers: { "x-fits": "a".repeat(12 * 1024) } })).status).toBe(200);
    } finally {
      await g.stop(0);
    }
  });

  test("many small headers adding up over maxHeaderSize: 431", async () => {
    const headers: Record<string, string> = {};
    for (let i = 0; i < 40; i++) headers[`x-h${i}`] = "v".repeat(30);
    expect((await fetch(gw.url + "/h", { headers })).status).toBe(431);
  });

  test("headers just under the limit pass", async () => {
    const response = await fetch(gw.url + "/h", { headers: { "x-fits": "a".repeat(600) } });
    expect(response.status).toBe(200);
  });

  test("URI over maxUriLength: 414 JSON", async () => {
    const response = await fetch(gw.url + "/" + "p".repeat(300));
    expect(response.status).toBe(414);
    await errorBody(response);
    const query = await fetch(gw.url + "/q?" + "k=v&".repeat(60));
    expect(query.status).toBe(414);
    await stillServes();
  });

  test("maxUriLength at its boundary: a target of exactly the limit passes, one byte more is 414 (path and query, with and without route plugins)", async () => {
    const own = startUpstream("own");
    const g = await gateway({
      limits: { maxUriLength: 100 },
      pools: { app: [own.url] },
      routes: [{ match: { path: "/plugged/*" }, pool: "app", plugins: [{ use: TAGGER, options: { tag: "t" } }] }, { pool: "app" }],
    });
    try {
      /** `start` padded with "p" to `length` bytes. */
      const target = (start: string, length: number) => start + "p".repeat(length - start.length);
      for (const start of ["/plain/", "/plain/x?q=", "/plugged/", "/plugged/x?q="]) {
        const fits = target(start, 100);
        const response = await fetch(g.url + fits);
        expect(response.status).toBe(200);
        expect(await response.text()).toBe("own");
        expect(own.seen.at(-1)!.url).toBe(fits);
        const before = own.seen.length;
        const over = await fetch(g.url + target(start, 101));
        expect(over.status).toBe(414);
        await errorBody(over);
        expect(own.seen.length).toBe(before);
      }
    } finally {
      await g.stop(0);
      await own.stop();
    }
  });

  test("Content-Length over maxBodySize: 413 JSON, upstream not called", async () => {
    const before = up.seen.length;
    const response = await fetch(gw.url + "/upload", { method: "POST", body: new Uint8Array(MAX_BODY + 1) });
    expect(response.status).toBe(413);
    await errorBody(response);
    expect(up.seen.length).toBe(before);
    await stillServes();
  });

  // Bun.serve checks an announced length against its own cap (gateway.ts sets it to maxBodySize + 1) before the
  // gateway sees the request, and answers a bare 413 (no JSON, Connection: close) when it is over; with
  // Expect: 100-continue it first says "100 Continue" by itself. Either way: 413, and nothing is forwarded.
  test("Content-Length far over the limit, with Expect: 100-continue: 413, nothing forwarded", async () => {
    const before = up.seen.length;
    const response = await rawRequest(portOf(gw), `POST /upload HTTP/1.1\r\nHost: e.test\r\nContent-Length: ${MAX_BODY * 10}\r\nExpect: 100-continue\r\n\r\n`);
    const final = response.text.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, "");
    expect(final.startsWith("HTTP/1.1 413 ")).toBe(true);
    expect(up.seen.length).toBe(before);
    await stillServes();
  });

  test("Content-Length far over the limit: 413, nothing forwarded", async () => {
    const before = up.seen.length;
    const response = await fetch(gw.url + "/upload", { method: "POST", body: new Uint8Array(MAX_BODY * 10) });
    expect(response.status).toBe(413);
    expect(up.seen.length).toBe(before);
    await stillServes();
  });

  test("a body of exactly maxBodySize passes", async () => {
    const response = await fetch(gw.url + "/upload", { method: "POST", body: new Uint8Array(MAX_BODY), headers: { "x-request-id": "exact" } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(`got ${MAX_BODY}`);
  });

  // A chunked body over the limit is cut by Bun's own backstop (maxRequestBodySize, set just above the limit
  // by gateway.ts), which answers a bare 413 and closes before the gateway's JSON 413 can: the status is
  // right, the body is not JSON. What matters: the upstream never gets more than the limit, and the cut
  // upload is not blamed on the server (it stays in rotation).
  test("a chunked body over maxBodySize: 413, the upstream never gets more than the limit, the server stays up", async () => {
    const response = await fetch(gw.url + "/upload", {
      method: "POST",
      body: generatedStream(10 * MAX_BODY, 16 * 1024),
      duplex: "half",
      headers: { "x-request-id": "chunked-over" },
    } as RequestInit);
    expect(response.status).toBe(413);
    await response.text();
    expect(received.get("chunked-over") ?? 0).toBeLessThanOrEqual(MAX_BODY);
    await stillServes();
    expect(server().failures).toBe(0);
  });

  test("a chunked body over maxBodySize over raw TCP: 413, gateway keeps serving", async () => {
    const chunk = "x".repeat(8192);
    const chunks = Array.from({ length: 12 }, () => `${(8192).toString(16)}\r\n${chunk}\r\n`).join("");
    const response = await rawRequest(
      portOf(gw),
      `POST /upload HTTP/1.1\r\nHost: c.test\r\nX-Request-Id: raw-chunked\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`,
    );
    expect(response.status).toBe(413);
    expect(received.get("raw-chunked") ?? 0).toBeLessThanOrEqual(MAX_BODY);
    await stillServes();
    expect(server().failures).toBe(0);
  });

  test("a client that goes away mid-upload is not blamed on the server (nor sent to it: a body this small is read whole first)", async () => {
    const response = await rawRequest(
      portOf(gw),
      `POST /upload HTTP/1.1\r\nHost: c.test\r\nX-Request-Id: cut-upload\r\nContent-Length: 50000\r\n\r\n${"y".repeat(1000)}`,
      { timeoutMs: 300 },
    );
    expect(response.status).toBe(0); // the client left before any answer
    await stillServes();
    expect(received.has("cut-upload")).toBe(false);
    expect(server().failures).toBe(0);
    expect(server().active).toBe(0);
  });

  test("a chunked body under maxBodySize passes whole", async () => {
    const response = await fetch(gw.url + "/upload", {
      method: "POST",
      body: generatedStream(MAX_BODY - 100, 8 * 1024),
      duplex: "half",
      headers: { "x-request-id": "chunked-ok" },
    } as RequestInit);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(`got ${MAX_BODY - 100}`);
  });
});

describe("malformed requests over raw TCP: 400, and the gateway keeps serving", () => {
  const cases: Array<[string, string]> = [
    ["a garbage request line", "THIS IS NOT HTTP\r\n\r\n"],
    ["a header line without a colon", "GET / HTTP/1.1\r\nHost: x\r\nthis line has no colon\r\n\r\n"],
    ["a header name with a space", "GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n"],
    ["a non-numeric Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n"],
    ["a negative Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n"],
    ["two different Content-Lengths", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 5\r\n\r\nabcde"],
    ["Content-Length with Transfer-Encoding: chunked", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"],
    ["a bad chunk size", "POST /upload HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"],
    ["a control character in a header value", "GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x01b\r\n\r\n"],
  ];
  for (const [name, request] of cases) {
    test(name, async () => {
      const response = await rawRequest(portOf(gw), request);
      expect(response.status).toBe(400);
      await stillServes();
    });
  }

  test("an HTTP/0.9-style request line (no version): refused with 505 by Bun's parser", async () => {
    const response = await rawRequest(portOf(gw), "GET /\r\nHost: x\r\n\r\n");
    expect([400, 505]).toContain(response.status);
    await stillServes();
  });

  test("none of them reached the upstream, and the server was never blamed", () => {
    expect(server().failures).toBe(0);
    for (const seen of up.seen) expect(["/alive", "/h", "/upload"]).toContain(seen.url.split("?")[0]!);
  });
});
