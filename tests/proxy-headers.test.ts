// What the proxy adds and removes on the way, seen from both ends: the upstream's received request head and
// the client's received response head (raw TCP where fetch would hide or add headers itself).
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gateway, portOf, rawRequest, startRawUpstream, startUpstream, type Gateway, type RawUpstream, type Upstream } from "./helpers/upstream.ts";

let up: Upstream;
let raw: RawUpstream;
let hopResponder: RawUpstream;
let gw: Gateway;

/** Header lines of a raw request head, lower-cased names, repeated names kept apart. */
function headerLines(head: string): Array<[string, string]> {
  return head
    .split("\r\n")
    .slice(1)
    .map((line) => {
      const colon = line.indexOf(":");
      return [line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim()] as [string, string];
    });
}

const HOP_RESPONSE = [
  "HTTP/1.1 200 OK",
  "Content-Type: text/plain",
  "Content-Length: 5",
  "Connection: keep-alive, X-Secret",
  "X-Secret: do-not-forward",
  "Keep-Alive: timeout=5, max=100",
  "Trailer: X-Checksum",
  "Upgrade: h2c",
  "Proxy-Authenticate: Basic realm=up",
  "Proxy-Connection: keep-alive",
  "TE: trailers",
  "X-Kept: yes",
  "",
  "hello",
].join("\r\n");

beforeAll(async () => {
  up = startUpstream("up");
  raw = await startRawUpstream((socket) => socket.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"));
  hopResponder = await startRawUpstream((socket) => socket.write(HOP_RESPONSE));
  gw = await gateway({
    pools: {
      app: [up.url],
      raw: [raw.url],
      hop: [hopResponder.url],
      rewritten: { servers: [{ url: up.url }], preserveHost: false },
    },
    routes: [
      { match: { path: "/raw/*" }, pool: "raw" },
      { match: { path: "/hop" }, pool: "hop" },
      { match: { path: "/own-host" }, pool: "rewritten" },
      { match: { path: "/route-host" }, pool: "app", preserveHost: false },
      { pool: "app" },
    ],
  });
});

afterAll(async () => {
  await gw.stop(0);
  await up.stop();
  await raw.close();
  await hopResponder.close();
});

describe("X-Forwarded-*", () => {
  test("X-Forwarded-For appends the client address to an existing one", async () => {
    await fetch(gw.url + "/xff", { headers: { "x-forwarded-for": "203.0.113.9, 198.51.100.2" } });
    expect(up.seen.at(-1)!.headers.get("x-forwarded-for")).toBe("203.0.113.9, 198.51.100.2, 127.0.0.1");
  });

  test("X-Forwarded-For is the client address when the client sent none", async () => {
    await fetch(gw.url + "/xff2");
    expect(up.seen.at(-1)!.headers.get("x-forwarded-for")).toBe("127.0.0.1");
  });

  test("X-Forwarded-Proto and X-Forwarded-Host are the client's, not spoofable", async () => {
    await fetch(gw.url + "/xfp", { headers: { host: "Shop.Test:8443", "x-forwarded-proto": "https", "x-forwarded-host": "evil.test" } });
    const seen = up.seen.at(-1)!.headers;
    expect(seen.get("x-forwarded-proto")).toBe("http");
    expect(seen.get("x-forwarded-host")).toBe("Shop.Test:8443");
  });
});

describe("X-Request-Id", () => {
  test("generated when absent: the same id upstream and on the response", async () => {
    const response = await fetch(gw.url + "/rid");
    const id = response.headers.get("x-request-id");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(up.seen.at(-1)!.headers.get("x-request-id")).toBe(id!);
  });

  test("each request gets its own id", async () => {
    const a = (await fetch(gw.url + "/rid")).headers.get("x-request-id");
    const b = (await fetch(gw.url + "/rid")).headers.get("x-request-id");
    expect(a).not.toBe(b);
  });

  test("kept when the client sends one", async () => {
    const response = await fetch(gw.url + "/rid", { headers: { "x-request-id": "client-id-123" } });
    expect(response.headers.get("x-request-id")).toBe("client-id-123");
    expect(up.seen.at(-1)!.headers.get("x-request-id")).toBe("client-id-123");
  });

  test("an unsafe client id (spaces, too long) is replaced by a generated one", async () => {
    for (const bad of ["has spaces", "x".repeat(201), 'quote"d', "a,b"]) {
      const response = await fetch(gw.url + "/rid", { headers: { "x-request-id": bad } });
      const id = response.headers.get("x-request-id");
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(up.seen.at(-1)!.headers.get("x-request-id")).toBe(id!);
    }
  });

  test("an upstream's own X-Request-Id does not replace the gateway's", async () => {
    const sneaky = startUpstream("sneaky", () => new Response("x", { headers: { "x-request-id": "upstream-made-this" } }));
    const gw2 = await gateway({ pools: { s: [sneaky.url] }, routes: [{ pool: "s" }] });
    try {
      const response = await fetch(gw2.url + "/", { headers: { "x-request-id": "mine" } });
      expect(response.headers.get("x-request-id")).toBe("mine");
    } finally {
      await gw2.stop(0);
      await sneaky.stop();
    }
  });
});

describe("Host", () => {
  test("kept by default", async () => {
    await fetch(gw.url + "/host", { headers: { host: "app.test:1234" } });
    expect(up.seen.at(-1)!.headers.get("host")).toBe("app.test:1234");
  });

  test("replaced with the server's host with preserveHost: false on the pool", async () => {
    await fetch(gw.url + "/own-host", { headers: { host: "app.test" } });
    expect(up.seen.at(-1)!.headers.get("host")).toBe(`127.0.0.1:${up.port}`);
    // The client's host still travels as X-Forwarded-Host.
    expect(up.seen.at(-1)!.headers.get("x-forwarded-host")).toBe("app.test");
  });

  test("replaced with preserveHost: false on the route", async () => {
    await fetch(gw.url + "/route-host", { headers: { host: "app.test" } });
    expect(up.seen.at(-1)!.headers.get("host")).toBe(`127.0.0.1:${up.port}`);
  });
});

describe("hop-by-hop headers", () => {
  test("the client's are not forwarded upstream", async () => {
    const request = [
      "GET /raw/hop?x=1 HTTP/1.1",
      "Host: hop.test",
      "Connection: keep-alive, X-Secret",
      "X-Secret: do-not-forward",
      "Keep-Alive: timeout=5, max=100",
      "TE: trailers",
      "Trailer: X-Checksum",
      "Upgrade: h2c",
      "Proxy-Authorization: Basic dXNlcjpwYXNz",
      "Proxy-Connection: keep-alive",
      "X-Kept: yes",
      "",
      "",
    ].join("\r\n");
    const before = raw.heads.length;
    const response = await rawRequest(portOf(gw), request);
    expect(response.status).toBe(200);
    expect(response.body).toBe("ok");
    expect(raw.heads.length).toBe(before + 1);
    const head = raw.heads.at(-1)!;
    expect(head.split("\r\n")[0]).toBe("GET /raw/hop?x=1 HTTP/1.1");
    const lines = headerLines(head);
    const names = lines.map(([n]) => n);
    for (const name of ["x-secret", "keep-alive", "te", "trailer", "upgrade", "proxy-authorization", "proxy-connection"]) {
      expect(names).not.toContain(name);
    }
    // Bun's fetch adds its own `Connection: keep-alive` for the upstream hop; the client's value must not pass.
    for (const [name, value] of lines) if (name === "connection") expect(value.toLowerCase()).not.toContain("x-secret");
    expect(lines).toContainEqual(["x-kept", "yes"]);
    expect(lines).toContainEqual(["host", "hop.test"]);
  });

  test("the upstream's are not forwarded to the client", async () => {
    const response = await rawRequest(portOf(gw), "GET /hop HTTP/1.1\r\nHost: h.test\r\nConnection: close\r\n\r\n");
    expect(response.status).toBe(200);
    expect(response.body).toBe("hello");
    for (const name of ["x-secret", "keep-alive", "trailer", "upgrade", "proxy-authenticate", "proxy-connection", "te"]) {
      expect(response.headers.has(name)).toBe(false);
    }
    expect(response.headers.get("connection")?.toLowerCase() ?? "").not.toContain("x-secret");
    expect(response.headers.get("x-kept")).toBe("yes");
    expect(response.headers.get("x-request-id")).toBeTruthy();
  });
});

test("repeated request headers reach the upstream", async () => {
  const response = await rawRequest(portOf(gw), "GET /raw/dup HTTP/1.1\r\nHost: d.test\r\nX-Dup: one\r\nX-Dup: two\r\nConnection: close\r\n\r\n");
  expect(response.status).toBe(200);
  const values = headerLines(raw.heads.at(-1)!)
    .filter(([n]) => n === "x-dup")
    .map(([, v]) => v);
  // Bun merges repeats into one comma-joined line, which means the same in HTTP.
  expect(values.join(", ")).toBe("one, two");
});
