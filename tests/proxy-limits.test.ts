// Request limits and malformed requests, sent over the network: JSON 431/414/413 from the gateway, chunked
// bodies cut at the limit, and raw-TCP garbage answered with 400 while the gateway keeps serving.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { errorBody, gateway, generatedStream, portOf, rawRequest, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

let up: Upstream;
let gw: Gateway;
/** Bytes the upstream read of each upload, by request id (-1: the body failed while it read it). */
const received = new Map<string, number>();

const MAX_BODY = 64 * 1024;

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

  test("Content-Length over maxBodySize: 413 JSON, upstream not called", async () => {
    const before = up.seen.length;
    const response = await fetch(gw.url + "/upload", { method: "POST", body: new Uint8Array(MAX_BODY + 1) });
    expect(response.status).toBe(413);
    await errorBody(response);
    expect(up.seen.length).toBe(before);
    await stillServes();
  });

  test("a body of exactly maxBodySize passes", async () => {
    const response = await fetch(gw.url + "/upload", { method: "POST", body: new Uint8Array(MAX_BODY), headers: { "x-request-id": "exact" } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(`got ${MAX_BODY}`);
  });

  test("a chunked body over maxBodySize: 413 JSON, and the upstream never gets more than the limit", async () => {
    const response = await fetch(gw.url + "/upload", {
      method: "POST",
      body: generatedStream(10 * MAX_BODY, 16 * 1024),
      duplex: "half",
      headers: { "x-request-id": "chunked-over" },
    } as RequestInit);
    expect(response.status).toBe(413);
    expect((await errorBody(response)).requestId).toBe("chunked-over");
    expect(received.get("chunked-over") ?? 0).toBeLessThanOrEqual(MAX_BODY);
    await stillServes();
  });

  test("a chunked body over maxBodySize over raw TCP: 413, gateway keeps serving", async () => {
    const chunk = "x".repeat(8192);
    const chunks = Array.from({ length: 12 }, () => `${(8192).toString(16)}\r\n${chunk}\r\n`).join("");
    const response = await rawRequest(portOf(gw), `POST /upload HTTP/1.1\r\nHost: c.test\r\nX-Request-Id: raw-chunked\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}0\r\n\r\n`);
    expect(response.status).toBe(413);
    expect(received.get("raw-chunked") ?? 0).toBeLessThanOrEqual(MAX_BODY);
    await stillServes();
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
    ["a request line without a version", "GET /\r\nHost: x\r\n\r\n"],
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

  test("none of them reached the upstream", () => {
    for (const seen of up.seen) expect(["/alive", "/h", "/upload"]).toContain(seen.url.split("?")[0]!);
  });
});
