// Bodies stream through both ways, untouched: 100 MB up and down with bounded memory, gzip bytes identical,
// several Set-Cookie kept apart; HEAD, 204, 304 and Expect: 100-continue behave as HTTP says.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { eventually } from "./helpers/common.ts";
import {
  digest,
  gateway,
  generatedStream,
  portOf,
  rawRequest,
  spawnGateway,
  startRawUpstream,
  startUpstream,
  type Gateway,
  type GatewayProcess,
  type RawUpstream,
  type Upstream,
} from "./helpers/upstream.ts";
import { connect } from "node:net";

const MB = 1024 * 1024;
const BIG = 100 * MB;

let up: Upstream;
let rawHead: RawUpstream;
let gw: Gateway;
/** What the upstream counted of the last upload. */
let lastUpload: { bytes: number; sha256: string } | undefined;

const GZIPPED = Bun.gzipSync(new TextEncoder().encode("compress me ".repeat(1000)));
const ETAG = '"v1"';

beforeAll(async () => {
  up = startUpstream("up", async (request) => {
    const path = new URL(request.url).pathname;
    switch (path) {
      case "/upload":
        lastUpload = await digest(request.body!);
        return Response.json(lastUpload);
      case "/download":
        return new Response(generatedStream(BIG), { headers: { "content-type": "application/octet-stream" } });
      case "/gzip":
        return new Response(GZIPPED, { headers: { "content-encoding": "gzip", "content-type": "text/plain", vary: "Accept-Encoding" } });
      case "/cookies": {
        const headers = new Headers();
        headers.append("set-cookie", "a=1; Path=/; HttpOnly");
        headers.append("set-cookie", "b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT");
        headers.append("set-cookie", "c=3, with comma; Path=/x");
        return new Response("cookies", { headers });
      }
      case "/no-content":
        return new Response(null, { status: 204, headers: { "x-done": "yes" } });
      case "/cond":
        if (request.headers.get("if-none-match") === ETAG) return new Response(null, { status: 304, headers: { etag: ETAG, "cache-control": "max-age=60" } });
        return new Response("fresh body", { headers: { etag: ETAG, "cache-control": "max-age=60" } });
      case "/echo":
        return new Response(await request.arrayBuffer(), { headers: { "x-method": request.method } });
    }
    return undefined;
  });
  // HEAD needs exact control of the answer's Content-Length: a raw upstream.
  rawHead = await startRawUpstream((socket, head) => {
    const [method, path] = head.split(" ");
    if (path === "/head-big") return void socket.write("HTTP/1.1 200 OK\r\nContent-Length: 10000000\r\n\r\n");
    const body = "x".repeat(1234);
    socket.write(`HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\nETag: "h"\r\n\r\n${method === "HEAD" ? "" : body}`);
  });
  gw = await gateway({
    pools: { app: [up.url], head: [rawHead.url] },
    routes: [{ match: { path: ["/head", "/head-big"] }, pool: "head" }, { pool: "app" }],
  });
});

afterAll(async () => {
  await gw.stop(0);
  await up.stop();
  await rawHead.close();
});

describe("large bodies stream", () => {
  // The gateway runs in a process of its own here, so its RSS is measured apart from the test's client and
  // upstream (which allocate 100 MB of chunks each). Buffering a whole body would add >= 100 MB.
  let child: GatewayProcess;
  beforeAll(async () => {
    child = await spawnGateway({ pools: { app: { servers: [{ url: up.url }] } }, routes: [{ pool: "app" }] });
  });
  afterAll(() => child.stop());

  test("a 100 MB chunked upload arrives whole and is never buffered", async () => {
    const expected = await digest(generatedStream(BIG));
    const before = (await child.peak()).nowMB;
    const response = await fetch(child.url + "/upload", { method: "POST", body: generatedStream(BIG), duplex: "half" } as RequestInit);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(expected);
    expect(lastUpload).toEqual(expected);
    const { peakMB } = await child.peak();
    expect(peakMB - before).toBeLessThan(60);
  });

  test("a 100 MB download arrives whole and is never buffered", async () => {
    const expected = await digest(generatedStream(BIG));
    const before = (await child.peak()).nowMB;
    const response = await fetch(child.url + "/download");
    expect(response.status).toBe(200);
    expect(await digest(response.body!)).toEqual(expected);
    const { peakMB } = await child.peak();
    expect(peakMB - before).toBeLessThan(60);
  });

  test("a 100 MB download to a slow reader stays bounded too (backpressure reaches the upstream)", async () => {
    const before = (await child.peak()).nowMB;
    const response = await fetch(child.url + "/download");
    const reader = response.body!.getReader();
    let bytes = 0;
    // Read the first 20 MB slowly: an unbounded relay would pull the rest of the 100 MB in meanwhile.
    while (bytes < 20 * MB) {
      const { value, done } = await reader.read();
      if (done) break;
      bytes += value.byteLength;
      await Bun.sleep(20);
    }
    const { peakMB } = await child.peak();
    await reader.cancel();
    expect(peakMB - before).toBeLessThan(60);
  });

  test("a body with Content-Length is forwarded byte for byte", async () => {
    const payload = new Uint8Array(3 * MB).map((_, i) => (i * 7) & 0xff);
    const response = await fetch(gw.url + "/echo", { method: "PUT", body: payload });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-method")).toBe("PUT");
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(payload);
    expect(up.seen.at(-1)!.headers.get("content-length")).toBe(String(3 * MB));
  });
});

describe("bodies are never decoded", () => {
  test("Content-Encoding: gzip passes untouched", async () => {
    const response = await fetch(gw.url + "/gzip", { headers: { "accept-encoding": "gzip" }, decompress: false } as RequestInit);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-encoding")).toBe("gzip");
    expect(response.headers.get("content-length")).toBe(String(GZIPPED.byteLength));
    expect(new Uint8Array(await response.arrayBuffer())).toEqual(GZIPPED);
    expect(up.seen.at(-1)!.headers.get("accept-encoding")).toBe("gzip");
  });

  test("the gateway adds no Accept-Encoding of its own", async () => {
    await rawRequest(portOf(gw), "GET /gzip HTTP/1.1\r\nHost: g.test\r\nConnection: close\r\n\r\n");
    expect(up.seen.at(-1)!.headers.get("accept-encoding")).toBeNull();
  });
});

test("several Set-Cookie stay several", async () => {
  const response = await fetch(gw.url + "/cookies");
  expect(response.headers.getSetCookie()).toEqual(["a=1; Path=/; HttpOnly", "b=2; Expires=Wed, 21 Oct 2037 07:28:00 GMT", "c=3, with comma; Path=/x"]);
});

describe("bodiless answers", () => {
  test("HEAD: no body, headers (Content-Length included) kept", async () => {
    const response = await rawRequest(portOf(gw), "HEAD /head HTTP/1.1\r\nHost: h.test\r\n\r\n");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe("1234");
    expect(response.headers.get("etag")).toBe('"h"');
    expect(response.body).toBe("");
    expect(rawHead.heads.at(-1)!.startsWith("HEAD /head HTTP/1.1")).toBe(true);
    // The same connection still serves a GET after the HEAD (no phantom body left on it).
    const two = await rawRequest(
      portOf(gw),
      ["HEAD /head HTTP/1.1\r\nHost: h.test\r\n\r\n", "GET /head HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n"],
      { gapMs: 100 },
    );
    expect(two.text.match(/HTTP\/1\.1 200/g)?.length).toBe(2);
    expect(two.text.endsWith("x".repeat(1234))).toBe(true);
  });

  test("HEAD of a large resource: Content-Length kept, no body, the server released", async () => {
    const response = await rawRequest(portOf(gw), "HEAD /head-big HTTP/1.1\r\nHost: h.test\r\n\r\n");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe("10000000");
    expect(response.body).toBe("");
    expect(await eventually(() => gw.current.pools.get("head")!.servers[0]!.active === 0)).toBe(true);
  });

  test("HEAD through fetch", async () => {
    const response = await fetch(gw.url + "/head", { method: "HEAD" });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-length")).toBe("1234");
    expect(await response.text()).toBe("");
  });

  test("204 passes with its headers and no body", async () => {
    const response = await rawRequest(portOf(gw), "GET /no-content HTTP/1.1\r\nHost: n.test\r\nConnection: close\r\n\r\n");
    expect(response.status).toBe(204);
    expect(response.headers.get("x-done")).toBe("yes");
    expect(response.body).toBe("");
  });

  test("a conditional GET gets the upstream's 304", async () => {
    const first = await fetch(gw.url + "/cond");
    expect(first.status).toBe(200);
    expect(first.headers.get("etag")).toBe(ETAG);
    expect(await first.text()).toBe("fresh body");

    const second = await fetch(gw.url + "/cond", { headers: { "if-none-match": ETAG } });
    expect(second.status).toBe(304);
    expect(second.headers.get("etag")).toBe(ETAG);
    expect(second.headers.get("cache-control")).toBe("max-age=60");
    expect(await second.text()).toBe("");
    expect(up.seen.at(-1)!.headers.get("if-none-match")).toBe(ETAG);
  });
});

describe("Expect: 100-continue", () => {
  test("raw client: the gateway says 100 Continue, then the body is forwarded", async () => {
    const port = portOf(gw);
    const body = "y".repeat(5000);
    const { interim, final } = await new Promise<{ interim: string; final: string }>((resolve, reject) => {
      const socket = connect({ host: "127.0.0.1", port });
      let text = "";
      let interim = "";
      let sentBody = false;
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`no answer; got ${JSON.stringify(text)}`));
      }, 5_000);
      socket.on("connect", () =>
        socket.write(`POST /echo HTTP/1.1\r\nHost: e.test\r\nContent-Length: ${body.length}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`),
      );
      socket.on("data", (chunk) => {
        text += chunk.toString("latin1");
        if (!sentBody && text.includes("\r\n\r\n")) {
          sentBody = true;
          interim = text;
          text = "";
          socket.write(body);
        }
      });
      socket.on("close", () => {
        clearTimeout(timer);
        resolve({ interim, final: text });
      });
    });
    expect(interim.startsWith("HTTP/1.1 100 Continue")).toBe(true);
    expect(final.startsWith("HTTP/1.1 200")).toBe(true);
    expect(final.endsWith(body)).toBe(true);
  });

  test("curl with Expect: 100-continue uploads", async () => {
    const file = `/tmp/sluice-expect-${process.pid}.bin`;
    await Bun.write(file, "z".repeat(200_000));
    const proc = Bun.spawn(["curl", "-sS", "-v", "-H", "Expect: 100-continue", "--expect100-timeout", "10", "--data-binary", `@${file}`, gw.url + "/echo"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    const [out, err, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
    await Bun.file(file).delete();
    expect(code).toBe(0);
    expect(err).toContain("HTTP/1.1 100 Continue");
    expect(out.length).toBe(200_000);
    // The expectation is forwarded (RFC 9110 §10.1.1 allows it); Bun's fetch sends the body without waiting.
    expect(up.seen.at(-1)!.headers.get("content-length")).toBe("200000");
  });
});
