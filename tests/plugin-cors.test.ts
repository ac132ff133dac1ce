// The cors plugin end to end: preflights answered by the gateway (the upstream never sees them), allowed and refused
// origins (exact, subdomain patterns, regular expressions), credentials and the wildcard as the Fetch standard
// wants them, Vary: Origin, the upstream's own CORS headers replaced, cors before jwt, the gateway's own errors, the
// byte path (no Request object made), and `sluice check` lines.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import { deadPort } from "./helpers/common.ts";
import { runCli } from "./helpers/process.ts";
import { requestObjectsMade } from "./helpers/request-objects.ts";
import { startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

const APP = "https://app.example.com";

let up: Upstream;
let gw: Gateway;
let sockets: ReturnType<typeof Bun.serve>;

beforeAll(async () => {
  up = startUpstream("app", (request) => {
    // An upstream with CORS headers of its own, which the gateway's policy replaces.
    if (new URL(request.url).pathname.endsWith("/own-cors")) {
      return new Response("own", { headers: { "access-control-allow-origin": "*", "access-control-expose-headers": "x-secret", vary: "Accept-Encoding" } });
    }
    return undefined;
  });
  sockets = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch: (request, server) => (server.upgrade(request, { data: undefined }) ? undefined : new Response("not an upgrade", { status: 400 })),
    websocket: { message: (ws, message) => void ws.send(`echo ${message}`) },
  });
  const route = (path: string, plugins: { use: string; options?: unknown }[], pool = "app") => ({ match: { path: `/${path}/*` }, pool, plugins });
  const dead = await deadPort();
  gw = await startGateway({
    config: {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      pools: {
        app: { servers: [{ url: up.url }] },
        sockets: { servers: [{ url: `http://127.0.0.1:${sockets.port}` }] },
        dead: { servers: [{ url: `http://127.0.0.1:${dead}` }], retries: 0 },
      },
      routes: [
        route("socket", [{ use: "cors", options: { origins: [APP] } }], "sockets"),
        route("api", [
          {
            use: "cors",
            options: {
              origins: [APP, "https://*.example.org", "~https://preview-[0-9]+\\.example\\.net"],
              credentials: true,
              maxAge: "10m",
              methods: ["GET", "POST", "PUT"],
              allowHeaders: ["Content-Type", "X-Api-Key"],
              exposeHeaders: ["x-upstream"],
            },
          },
        ]),
        route("open", [{ use: "cors", options: { origins: "*" } }]),
        route("wild-credentials", [{ use: "cors", options: { origins: ["*"], credentials: true } }]),
        route("reflect", [{ use: "cors", options: { origins: [APP] } }]),
        route("down", [{ use: "cors", options: { origins: [APP] } }], "dead"),
        route("guarded", [
          { use: "cors", options: { origins: [APP] } },
          { use: "jwt", options: { secret: "a-test-secret-of-at-least-32-bytes-long!" } },
        ]),
        { pool: "app" },
      ],
    },
  });
});

afterAll(async () => {
  await gw?.stop();
  await up?.stop();
  sockets?.stop(true);
});

function send(path: string, init: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  return fetch(`${gw.url}${path}`, init);
}

function preflight(path: string, origin: string, extra: Record<string, string> = {}): Promise<Response> {
  return send(path, { method: "OPTIONS", headers: { origin, "access-control-request-method": "PUT", ...extra } });
}

/** The Access-Control-* headers of an answer, by name. */
function corsHeaders(res: Response): Record<string, string> {
  const out: Record<string, string> = {};
  res.headers.forEach((value, name) => {
    if (name.startsWith("access-control-")) out[name] = value;
  });
  return out;
}

describe("preflights", () => {
  test("an allowed origin's preflight is answered at the edge with the route's policy", async () => {
    const before = up.seen.length;
    const res = await preflight("/api/items", APP, { "access-control-request-headers": "content-type" });
    expect(res.status).toBe(204);
    expect(corsHeaders(res)).toEqual({
      "access-control-allow-origin": APP,
      "access-control-allow-credentials": "true",
      "access-control-allow-methods": "GET, POST, PUT",
      "access-control-allow-headers": "content-type, x-api-key",
      "access-control-max-age": "600",
    });
    expect(res.headers.get("vary")).toContain("Origin");
    expect(res.headers.get("x-request-id")).toBeTruthy();
    // A 204 carries no Content-Length (RFC 9110 §8.6).
    expect(res.headers.get("content-length")).toBeNull();
    expect(await res.text()).toBe("");
    expect(up.seen.length).toBe(before);
  });

  test("a refused origin's preflight is answered too, without any CORS header", async () => {
    const before = up.seen.length;
    const res = await preflight("/api/items", "https://evil.example.com");
    expect(res.status).toBe(204);
    expect(corsHeaders(res)).toEqual({});
    expect(up.seen.length).toBe(before);
  });

  test("without allowHeaders, the headers the preflight asks for are allowed", async () => {
    const res = await preflight("/reflect/x", APP, { "access-control-request-headers": "x-custom, content-type" });
    expect(res.headers.get("access-control-allow-headers")).toBe("x-custom, content-type");
    expect(res.headers.get("access-control-allow-credentials")).toBeNull();
    expect(res.headers.get("vary")).toContain("Access-Control-Request-Headers");
  });

  test("an OPTIONS request that is not a preflight goes to the upstream", async () => {
    const res = await send("/api/x", { method: "OPTIONS", headers: { origin: APP } });
    expect(res.status).toBe(200);
    expect(up.seen.at(-1)!.method).toBe("OPTIONS");
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
  });
});

describe("requests", () => {
  test("an allowed origin gets the CORS headers on the upstream's answer", async () => {
    const res = await send("/api/x", { headers: { origin: APP } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("app");
    expect(corsHeaders(res)).toEqual({
      "access-control-allow-origin": APP,
      "access-control-allow-credentials": "true",
      "access-control-expose-headers": "x-upstream",
    });
    expect(res.headers.get("vary")).toBe("Origin");
  });

  test("a refused origin gets the answer without CORS headers (the browser keeps it from the page)", async () => {
    const res = await send("/api/x", { headers: { origin: "https://evil.example.com" } });
    expect(res.status).toBe(200);
    expect(corsHeaders(res)).toEqual({});
    expect(res.headers.get("vary")).toBe("Origin");
  });

  test("a request without Origin still says Vary: Origin, so a cache keeps answers apart", async () => {
    const res = await send("/api/x");
    expect(corsHeaders(res)).toEqual({});
    expect(res.headers.get("vary")).toBe("Origin");
  });

  test("the upstream's own CORS headers give way to the gateway's policy", async () => {
    let res = await send("/api/own-cors", { headers: { origin: APP } });
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("access-control-expose-headers")).toBe("x-upstream");
    expect(res.headers.get("vary")).toBe("Accept-Encoding, Origin");
    res = await send("/api/own-cors", { headers: { origin: "https://evil.example.com" } });
    expect(corsHeaders(res)).toEqual({});
  });

  test("subdomain patterns and regular expressions match whole origins only", async () => {
    const allowed = async (origin: string) => (await send("/api/x", { headers: { origin } })).headers.get("access-control-allow-origin") === origin;
    expect(await allowed("https://a.example.org")).toBe(true);
    expect(await allowed("https://a.b.example.org")).toBe(true);
    expect(await allowed("https://example.org")).toBe(false);
    expect(await allowed("http://a.example.org")).toBe(false);
    expect(await allowed("https://a.example.org.evil.com")).toBe(false);
    expect(await allowed("https://aexample.org")).toBe(false);
    expect(await allowed("https://preview-12.example.net")).toBe(true);
    expect(await allowed("https://preview-12.example.net.evil.com")).toBe(false);
    expect(await allowed("https://preview-x.example.net")).toBe(false);
    expect(await allowed("https://app.example.com:8443")).toBe(false);
  });
});

describe("WebSockets", () => {
  test("an upgrade on a cors route is relayed as it is (CORS does not apply to WebSockets)", async () => {
    const echo = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`${gw.url.replace("http", "ws")}/socket/chat`, { headers: { origin: APP } } as unknown as string[]);
      ws.onopen = () => ws.send("hi");
      ws.onmessage = (event) => {
        resolve(String(event.data));
        ws.close();
      };
      ws.onerror = () => reject(new Error("the upgrade failed"));
    });
    expect(echo).toBe("echo hi");
  });

  test("the 101 goes out without CORS headers or Vary", async () => {
    const head = await new Promise<string>((resolve, reject) => {
      let text = "";
      const socket = connect({ host: "127.0.0.1", port: Number(new URL(gw.url).port) }, () =>
        socket.write(
          "GET /socket/chat HTTP/1.1\r\nHost: t\r\nOrigin: https://app.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        ),
      );
      socket.on("data", (chunk: Buffer) => {
        text += chunk.toString("latin1");
        const end = text.indexOf("\r\n\r\n");
        if (end === -1) return;
        socket.destroy();
        resolve(text.slice(0, end));
      });
      socket.on("error", reject);
    });
    expect(head).toStartWith("HTTP/1.1 101");
    expect(head.toLowerCase()).not.toContain("access-control-");
    expect(head.toLowerCase()).not.toContain("vary:");
  });
});

describe("wildcards and credentials", () => {
  test('"*" without credentials answers "*" and needs no Vary', async () => {
    const res = await send("/open/x", { headers: { origin: "https://anyone.test" } });
    expect(corsHeaders(res)).toEqual({ "access-control-allow-origin": "*" });
    expect(res.headers.get("vary")).toBeNull();
    const pre = await preflight("/open/x", "https://anyone.test", { "access-control-request-headers": "x-a" });
    expect(pre.headers.get("access-control-allow-origin")).toBe("*");
  });

  test('"*" with credentials reflects the origin, never "*"', async () => {
    const res = await send("/wild-credentials/x", { headers: { origin: "https://anyone.test" } });
    expect(corsHeaders(res)).toEqual({ "access-control-allow-origin": "https://anyone.test", "access-control-allow-credentials": "true" });
    expect(res.headers.get("vary")).toBe("Origin");
    const pre = await preflight("/wild-credentials/x", "https://anyone.test", { "access-control-request-headers": "authorization" });
    expect(pre.headers.get("access-control-allow-origin")).toBe("https://anyone.test");
    expect(pre.headers.get("access-control-allow-credentials")).toBe("true");
    expect(pre.headers.get("access-control-allow-headers")).toBe("authorization");
  });
});

describe("with jwt after cors", () => {
  test("the preflight (which carries no token) is answered; the request without a token gets a 401 the page can read", async () => {
    const before = up.seen.length;
    const pre = await preflight("/guarded/x", APP, { "access-control-request-headers": "authorization" });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-origin")).toBe(APP);
    const res = await send("/guarded/x", { headers: { origin: APP } });
    expect(res.status).toBe(401);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(up.seen.length).toBe(before);
  });
});

describe("answers the gateway makes itself", () => {
  test("a 502 carries the CORS headers, so the page can read why its request failed", async () => {
    const res = await send("/down/x", { headers: { origin: APP } });
    expect(res.status).toBe(502);
    expect(res.headers.get("access-control-allow-origin")).toBe(APP);
    expect(res.headers.get("vary")).toBe("Origin");
    expect((await res.json()).requestId).toBe(res.headers.get("x-request-id"));
  });
});

describe("the byte path", () => {
  test("cors routes make no Request object: preflights, allowed and refused origins, and with jwt", async () => {
    const made = await requestObjectsMade(async () => {
      const answers = [
        await preflight("/api/x", APP),
        await send("/api/own-cors", { headers: { origin: APP } }),
        await send("/api/x", { headers: { origin: "https://evil.example.com" } }),
        await send("/open/x", { headers: { origin: "https://anyone.test" } }),
        await send("/guarded/x", { headers: { origin: APP } }),
      ];
      expect(answers.map((res) => res.status)).toEqual([204, 200, 200, 200, 401]);
      for (const res of answers) await res.text();
    });
    expect(made).toBe(0);
  });
});

describe("options", () => {
  test("sluice check prints one line per problem", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-cors-"));
    try {
      const path = join(dir, "bad-cors.json");
      await writeFile(
        path,
        JSON.stringify({
          pools: { app: { servers: [{ url: "http://127.0.0.1:9" }] } },
          routes: [
            { pool: "app", plugins: [{ use: "cors", options: { origins: ["https://app.example.com/", "null", "*.example.com", "~("], methods: ["G ET"] } }] },
            { pool: "app", plugins: [{ use: "cors", options: { origins: [APP], credentials: true, exposeHeaders: ["*"] } }] },
            { pool: "app", plugins: [{ use: "cors", options: { origins: [APP], maxAge: "soon", allowedOrigins: [] } }] },
          ],
        }),
      );
      const { code, out } = await runCli(["check", "--config", path]);
      expect(code).toBe(1);
      expect(out.trim().split("\n")).toEqual([
        expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.origins\[0\]: not an origin as browsers send it.*\(got "https:\/\/app\.example\.com\/"\)$/),
        expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.origins\[1\]: the "null" origin .* \(got "null"\)$/),
        expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.origins\[2\]: a "\*" may only stand for subdomains/),
        expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.origins\[3\]: not a regular expression/),
        'routes[0].plugins[0].options.methods[0]: not a method name (or "*") (got "G ET")',
        expect.stringMatching(/^routes\[1\]\.plugins\[0\]\.options\.exposeHeaders: with credentials, "\*" exposes nothing/),
        expect.stringMatching(/^routes\[2\]\.plugins\[0\]\.options\.maxAge: not a duration.*\(got "soon"\)$/),
        expect.stringMatching(/^routes\[2\]\.plugins\[0\]\.options: Unrecognized key: "allowedOrigins"/),
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
