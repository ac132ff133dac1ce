// The rate-limit plugin end to end: the local store (limits per client address, header, verified claim and
// route; 429 with Retry-After and the IETF RateLimit headers; the window that slides; the token bucket's
// burst; requests without the key; attempts to get around the limit; clients behind a trusted proxy; the byte
// path, with no Request object made), the Redis store shared by two Sluice
// processes, a Deno gateway and --workers through one real redis-server (also while it hangs, dies and comes
// back), and option errors as `sluice check` reports them. The counting arithmetic is checked on its own first.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { SignJWT } from "jose";
import { startGateway } from "../gateway/gateway.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";
import { clientAddressKey } from "../plugins/rate-limit/client-address.ts";
import { openRedisConnections } from "../plugins/rate-limit/redis-connection.ts";
import { fits, slidingWindowDecision } from "../plugins/rate-limit/sliding-window.ts";
import { refilled, tokenBucketDecision } from "../plugins/rate-limit/token-bucket.ts";
import { deadPort, eventually, until } from "./helpers/common.ts";
import { startEngineGateway, type EngineGateway } from "./helpers/engine-gateway.ts";
import { listensOn, runCli, startCli, type RunningProcess } from "./helpers/process.ts";
import { requestObjectsMade } from "./helpers/request-objects.ts";
import { parseRaw, startUpstream, type Gateway, type RawResponse, type Upstream } from "./helpers/upstream.ts";

const fixtures = resolve(import.meta.dir, "fixtures/plugins");
const JWT_SECRET = "a-test-secret-of-at-least-thirty-two-bytes";

type Options = Record<string, unknown>;
const rateLimit = (options: Options) => ({ use: "rate-limit", options });

/** One request on a connection of its own from `from` (a loopback address), read until the gateway closes it. */
function rawExchange(port: number, request: string, from = "127.0.0.1"): Promise<RawResponse> {
  return new Promise((resolvePromise, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host: "127.0.0.1", port, localAddress: from });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no complete answer from the gateway within 5s: ${Buffer.concat(chunks).toString("latin1")}`));
    }, 5_000);
    socket.on("connect", () => socket.write(request));
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    socket.on("error", () => {});
    socket.on("close", () => {
      clearTimeout(timer);
      resolvePromise(parseRaw(Buffer.concat(chunks)));
    });
  });
}

function get(port: number, path: string, options: { from?: string; headers?: Record<string, string>; method?: string } = {}): Promise<RawResponse> {
  const fields = Object.entries(options.headers ?? {})
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join("");
  return rawExchange(port, `${options.method ?? "GET"} ${path} HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\n${fields}\r\n`, options.from);
}

/** The r and t parameters of a RateLimit field for `policy`. */
function rateLimitOf(field: string | null | undefined, policy = "default"): { r: number; t: number } | undefined {
  const m = new RegExp(`"${policy}";r=(\\d+);t=(\\d+)`).exec(field ?? "");
  return m ? { r: Number(m[1]), t: Number(m[2]) } : undefined;
}

/** The body of a raw answer, its chunked framing removed. */
function bodyOf(answer: RawResponse): string {
  if (answer.headers.get("transfer-encoding") !== "chunked") return answer.body;
  let rest = answer.body;
  let body = "";
  for (;;) {
    const eol = rest.indexOf("\r\n");
    const size = parseInt(rest.slice(0, eol), 16);
    if (!(size > 0)) return body;
    body += rest.slice(eol + 2, eol + 2 + size);
    rest = rest.slice(eol + 2 + size + 2);
  }
}

/** The status of the first answer on a new connection, read as soon as its status line is in. */
function firstStatus(port: number, request: string): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    let text = "";
    const socket = connect({ host: "127.0.0.1", port }, () => socket.write(request));
    socket.on("data", (chunk: Buffer) => {
      text += chunk.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3})/.exec(text);
      if (m) {
        socket.destroy();
        resolvePromise(Number(m[1]));
      }
    });
    socket.on("error", reject);
  });
}

function statuses(text: string): number[] {
  return [...text.matchAll(/HTTP\/1\.1 (\d{3})/g)].map((m) => Number(m[1]));
}

describe("the counting", () => {
  test("sliding window: the previous window counts for the part of it the sliding window still covers", () => {
    // limit 10 per 1000 ms; 8 requests last window, 25% into this one: 8 × 0.75 = 6 still count.
    expect(fits(10, 1000, 8, 3, 250)).toBe(true); // 6 + 3 + 1 = 10
    expect(fits(10, 1000, 8, 4, 250)).toBe(false); // 6 + 4 + 1 = 11
    const allowed = slidingWindowDecision(10, 1000, 8, 3, 250, true);
    expect(allowed).toEqual({ allowed: true, remaining: 0, resetMs: 750 });
    // Refused with room in this window: wait until 8 × overlap ≤ 10 − 1 − 4 = 5, i.e. overlap 0.625: 125 ms more.
    expect(slidingWindowDecision(10, 1000, 8, 4, 250, false)).toEqual({ allowed: false, remaining: 0, resetMs: 125 });
    // This window alone is full (10 of 10): into the next one until 10 × overlap ≤ 9: 750 + 100 ms.
    expect(slidingWindowDecision(10, 1000, 0, 10, 250, false).resetMs).toBe(850);
    // A limit of 1 must let the one request age out completely: the rest of this window and the whole next.
    expect(slidingWindowDecision(1, 1000, 0, 1, 400, false).resetMs).toBe(1600);
  });

  test("token bucket: refills at limit per window up to burst, one token per request", () => {
    const perMs = 2 / 1000; // limit 2 per second
    expect(refilled(0, 0, 250, perMs, 5)).toBe(0.5);
    expect(refilled(4, 0, 10_000, perMs, 5)).toBe(5);
    expect(tokenBucketDecision(5, perMs, 5)).toEqual({ allowed: true, remaining: 4, resetMs: 500 });
    expect(tokenBucketDecision(0.5, perMs, 5)).toEqual({ allowed: false, remaining: 0, resetMs: 250 });
  });

  test("client addresses: IPv4 as it is, IPv4-mapped IPv6 as IPv4, IPv6 by its prefix", () => {
    expect(clientAddressKey("192.0.2.7", 64)).toBe("192.0.2.7");
    expect(clientAddressKey("::ffff:192.0.2.7", 64)).toBe("192.0.2.7");
    expect(clientAddressKey("0:0:0:0:0:ffff:c000:207", 64)).toBe("192.0.2.7");
    // Every address of one /64 is one client.
    expect(clientAddressKey("2001:db8:1:2:aaaa::1", 64)).toBe("2001:db8:1:2:0:0:0:0/64");
    expect(clientAddressKey("2001:DB8:1:2:ffff:ffff:ffff:ffff", 64)).toBe("2001:db8:1:2:0:0:0:0/64");
    expect(clientAddressKey("2001:db8:1:3::1", 64)).not.toBe(clientAddressKey("2001:db8:1:2::1", 64));
    expect(clientAddressKey("2001:db8:1:2:aaaa::1", 128)).toBe("2001:db8:1:2:aaaa:0:0:1/128");
    expect(clientAddressKey("2001:db8:1:ff77::1", 56)).toBe("2001:db8:1:ff00:0:0:0:0/56");
    expect(clientAddressKey("fe80::1%eth0", 64)).toBe("fe80:0:0:0:0:0:0:0/64");
  });
});

describe("the local store", () => {
  let app: Upstream;
  let ws: ReturnType<typeof Bun.serve>;
  let gw: Gateway;
  let port: number;
  let dead: number;
  const config = (ipLimit: number): ConfigInput => ({
    listen: "127.0.0.1:0",
    admin: false,
    accessLog: false,
    pools: {
      app: { servers: [{ url: app.url }] },
      ws: { servers: [{ url: `http://127.0.0.1:${ws.port}` }] },
      dead: { servers: [{ url: `http://127.0.0.1:${dead}` }], retries: 0 },
    },
    routes: [
      { name: "ip", match: { path: "/ip/*" }, pool: "app", plugins: [rateLimit({ limit: ipLimit, window: "1h" })] },
      { name: "header", match: { path: "/header/*" }, pool: "app", plugins: [rateLimit({ limit: 2, window: "1h", key: "header:x-api-key" })] },
      { name: "route-a", match: { path: "/route-a/*" }, pool: "app", plugins: [rateLimit({ limit: 2, window: "1h", key: "route" })] },
      { name: "route-b", match: { path: "/route-b/*" }, pool: "app", plugins: [rateLimit({ limit: 2, window: "1h", key: "route" })] },
      { name: "slide", match: { path: "/slide/*" }, pool: "app", plugins: [rateLimit({ limit: 2, window: "1s" })] },
      { name: "bucket", match: { path: "/bucket/*" }, pool: "app", plugins: [rateLimit({ limit: 1, window: "1s", algorithm: "token-bucket", burst: 3 })] },
      { name: "quiet", match: { path: "/quiet/*" }, pool: "app", plugins: [rateLimit({ limit: 1, window: "1h", headers: false })] },
      {
        name: "claim",
        match: { path: "/claim/*" },
        pool: "app",
        plugins: [{ use: "./verified-claims.ts" }, rateLimit({ limit: 1, window: "1h", key: "claim:sub" })],
      },
      {
        name: "jwt",
        match: { path: "/jwt/*" },
        pool: "app",
        plugins: [{ use: "jwt", options: { secret: JWT_SECRET } }, rateLimit({ limit: 1, window: "1h", key: "claim:sub" })],
      },
      {
        name: "stacked",
        match: { path: "/stacked/*" },
        pool: "app",
        plugins: [rateLimit({ limit: 3, window: "1h", policy: "hourly" }), rateLimit({ limit: 1, window: "1m", policy: "minute" })],
      },
      { name: "strict", match: { path: "/strict/*" }, pool: "app", plugins: [rateLimit({ limit: 4, window: "1h" })] },
      { name: "ws", match: { path: "/ws/*" }, pool: "ws", plugins: [rateLimit({ limit: 1, window: "1h" })] },
      { name: "behind", match: { path: "/behind/*" }, pool: "app", plugins: [rateLimit({ limit: 1, window: "1h" })] },
      { name: "down", match: { path: "/down/*" }, pool: "dead", plugins: [rateLimit({ limit: 5, window: "1h" })] },
      {
        name: "fast",
        match: { path: "/fast/*" },
        pool: "app",
        plugins: [
          { use: "cors", options: { origins: ["https://app.example.com"] } },
          { use: "jwt", options: { secret: JWT_SECRET } },
          rateLimit({ limit: 1000, window: "1h", key: "claim:sub" }),
        ],
      },
      { name: "open", pool: "app" },
    ],
  });

  beforeAll(async () => {
    app = startUpstream("app");
    ws = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      fetch: (request, server) => (server.upgrade(request, { data: undefined }) ? undefined : new Response("no upgrade", { status: 400 })),
      websocket: { message() {} },
    });
    dead = await deadPort();
    gw = await startGateway({ configDir: fixtures, config: config(3) });
    port = Number(new URL(gw.url).port);
  });

  afterAll(async () => {
    await gw.stop(0);
    await app.stop();
    ws.stop(true);
  });

  const seen = (prefix: string) => app.seen.filter((s) => s.url.startsWith(prefix)).length;

  test("over the limit: 429 with a JSON error, Retry-After and the RateLimit headers; the upstream never sees it", async () => {
    for (const left of [2, 1, 0]) {
      const ok = await get(port, "/ip/x", { from: "127.0.0.2" });
      expect(ok.status).toBe(200);
      expect(ok.headers.get("ratelimit-policy")).toBe('"default";q=3;w=3600');
      const field = rateLimitOf(ok.headers.get("ratelimit"));
      expect(field?.r).toBe(left);
      expect(field!.t).toBeGreaterThanOrEqual(1);
      expect(field!.t).toBeLessThanOrEqual(3600);
    }
    const refused = await get(port, "/ip/x", { from: "127.0.0.2" });
    expect(refused.status).toBe(429);
    expect(refused.headers.get("content-type")).toStartWith("application/json");
    const body = JSON.parse(bodyOf(refused)) as { error: string; requestId: string };
    expect(body.error).toBe("rate limit exceeded");
    expect(body.requestId).toBe(refused.headers.get("x-request-id")!);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(7200);
    expect(refused.headers.get("ratelimit-policy")).toBe('"default";q=3;w=3600');
    expect(rateLimitOf(refused.headers.get("ratelimit"))).toEqual({ r: 0, t: retryAfter });
    expect(seen("/ip/")).toBe(3);
  });

  test("key ip: each client address has its own count, and X-Forwarded-For and friends are not believed", async () => {
    expect((await get(port, "/ip/x", { from: "127.0.0.3" })).status).toBe(200);
    const spoofs: Record<string, string>[] = [
      { "x-forwarded-for": "203.0.113.9" },
      { "x-real-ip": "203.0.113.10" },
      { forwarded: "for=203.0.113.11" },
      { "x-forwarded-for": "127.0.0.3", "x-client-ip": "127.0.0.4" },
    ];
    for (const headers of spoofs) {
      expect((await get(port, "/ip/x", { from: "127.0.0.2", headers })).status).toBe(429);
    }
  });

  test("key header:NAME: one count per value; no header (or an empty one) shares one bucket, never exempt", async () => {
    const key = (value?: string): Record<string, string> => (value === undefined ? {} : { "x-api-key": value });
    expect((await get(port, "/header/x", { headers: key("k1") })).status).toBe(200);
    expect((await get(port, "/header/x", { headers: { "X-API-KEY": "k1" } })).status).toBe(200);
    expect((await get(port, "/header/x", { headers: key("k1") })).status).toBe(429);
    expect((await get(port, "/header/x", { headers: key("k2") })).status).toBe(200);
    expect((await get(port, "/header/x", {})).status).toBe(200);
    expect((await get(port, "/header/x", {})).status).toBe(200);
    expect((await get(port, "/header/x", {})).status).toBe(429);
    expect((await get(port, "/header/x", { headers: key("") })).status).toBe(429);
    // Long values are kept as hashes: still one count per value.
    const long = (c: string) => c.repeat(300);
    expect((await get(port, "/header/x", { headers: key(long("a")) })).status).toBe(200);
    expect((await get(port, "/header/x", { headers: key(long("a")) })).status).toBe(200);
    expect((await get(port, "/header/x", { headers: key(long("a")) })).status).toBe(429);
    expect((await get(port, "/header/x", { headers: key(long("b")) })).status).toBe(200);
  });

  test("key route: one count for the whole route, whoever asks; another route counts on its own", async () => {
    expect((await get(port, "/route-a/1", { from: "127.0.0.5" })).status).toBe(200);
    expect((await get(port, "/route-a/2", { from: "127.0.0.6" })).status).toBe(200);
    expect((await get(port, "/route-a/3", { from: "127.0.0.7" })).status).toBe(429);
    expect((await get(port, "/route-b/1", { from: "127.0.0.5" })).status).toBe(200);
    expect((await get(port, "/route-b/1", { from: "127.0.0.8" })).status).toBe(200);
    expect((await get(port, "/route-b/1", { from: "127.0.0.9" })).status).toBe(429);
  });

  test("key claim:NAME: counted by the verified claim; a token nobody verified is not read", async () => {
    const sub = (value: string) => ({ "x-test-verified-sub": value });
    expect((await get(port, "/claim/x", { headers: sub("alice") })).status).toBe(200);
    expect((await get(port, "/claim/x", { headers: sub("alice") })).status).toBe(429);
    expect((await get(port, "/claim/x", { headers: sub("bob") })).status).toBe(200);
    // Unsigned tokens naming other subjects: not verified, so not read — one shared bucket for all of them.
    const forged = (s: string) => `Bearer ${btoa(JSON.stringify({ alg: "none" }))}.${btoa(JSON.stringify({ sub: s }))}.`;
    expect((await get(port, "/claim/x", { headers: { authorization: forged("mallory") } })).status).toBe(200);
    expect((await get(port, "/claim/x", { headers: { authorization: forged("mallory2") } })).status).toBe(429);
  });

  test("key claim:NAME behind the jwt plugin: one count per verified subject", async () => {
    const secret = new TextEncoder().encode(JWT_SECRET);
    const token = (sub: string) => new SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(secret);
    const bearer = async (sub: string) => ({ authorization: `Bearer ${await token(sub)}` });
    expect((await get(port, "/jwt/x", { headers: await bearer("carol") })).status).toBe(200);
    expect((await get(port, "/jwt/x", { headers: await bearer("carol") })).status).toBe(429);
    expect((await get(port, "/jwt/x", { headers: await bearer("dave") })).status).toBe(200);
    // The jwt plugin refuses a bad token before rate-limit runs.
    expect((await get(port, "/jwt/x", { headers: { authorization: "Bearer not.a.token" } })).status).toBe(401);
  });

  test("the window slides: refused until the estimate has room again, then allowed", async () => {
    expect((await get(port, "/slide/x")).status).toBe(200);
    expect((await get(port, "/slide/x")).status).toBe(200);
    const refused = await get(port, "/slide/x");
    expect(refused.status).toBe(429);
    expect(["1", "2"]).toContain(refused.headers.get("retry-after")!);
    expect(await eventually(async () => (await get(port, "/slide/x")).status === 200, 3_000, 50)).toBe(true);
  });

  test("token bucket: a burst of `burst` requests at once, then one per refill", async () => {
    for (const left of [2, 1, 0]) {
      const ok = await get(port, "/bucket/x");
      expect(ok.status).toBe(200);
      expect(ok.headers.get("ratelimit-policy")).toBe('"default";q=1;w=1');
      expect(rateLimitOf(ok.headers.get("ratelimit"))?.r).toBe(left);
    }
    const refused = await get(port, "/bucket/x");
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBe("1");
    expect(await eventually(async () => (await get(port, "/bucket/x")).status === 200, 3_000, 50)).toBe(true);
    // One token came back, not the burst.
    expect((await get(port, "/bucket/x")).status).toBe(429);
  });

  test("headers: false leaves the RateLimit headers out; a 429 still says Retry-After", async () => {
    const ok = await get(port, "/quiet/x");
    expect(ok.status).toBe(200);
    expect(ok.headers.has("ratelimit")).toBe(false);
    expect(ok.headers.has("ratelimit-policy")).toBe(false);
    const refused = await get(port, "/quiet/x");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect(refused.headers.has("ratelimit")).toBe(false);
  });

  test("two limits on one route: both policies are announced, the stricter refuses", async () => {
    const ok = await fetch(`${gw.url}/stacked/x`);
    expect(ok.status).toBe(200);
    // One list member per policy (each plugin adds its own as the answer passes it: the inner one first).
    expect(ok.headers.get("ratelimit-policy")!.split(", ").sort()).toEqual(['"hourly";q=3;w=3600', '"minute";q=1;w=60']);
    expect(rateLimitOf(ok.headers.get("ratelimit"), "hourly")?.r).toBe(2);
    expect(rateLimitOf(ok.headers.get("ratelimit"), "minute")?.r).toBe(0);
    const refused = await fetch(`${gw.url}/stacked/x`);
    expect(refused.status).toBe(429);
    expect(rateLimitOf(refused.headers.get("ratelimit"), "minute")?.r).toBe(0);
    expect(rateLimitOf(refused.headers.get("ratelimit"), "hourly")?.r).toBe(1);
  });

  test("no way around it: pipelined requests, other methods, bodies, path spellings and spoofed headers all count", async () => {
    // A client that is not one of trustedProxies: what it writes in X-Forwarded-For is not believed.
    const from = "127.0.0.20";
    const request = (path: string) => `GET ${path} HTTP/1.1\r\nHost: gw.test\r\n\r\n`;
    const pipelined = await rawExchange(
      port,
      [1, 2, 3, 4, 5].map(() => request("/strict/x")).join("") + request("/strict/x").replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"),
      from,
    );
    expect(statuses(pipelined.text)).toEqual([200, 200, 200, 200, 429, 429]);
    const attempts: Array<[string, Parameters<typeof get>[2]]> = [
      ["/strict/x", { method: "HEAD" }],
      ["/strict/x", { method: "OPTIONS" }],
      ["/strict/./x", {}],
      ["/strict/a/../x", {}],
      ["/strict/%78", {}],
      ["/strict/x", { headers: { "x-forwarded-for": "198.51.100.1", "x-request-id": "fresh-id" } }],
    ];
    for (const [path, options] of attempts) expect([path, (await get(port, path, { ...options, from })).status]).toEqual([path, 429]);
    const post = await rawExchange(port, "POST /strict/x HTTP/1.1\r\nHost: gw.test\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello", from);
    expect(post.status).toBe(429);
    expect(seen("/strict/")).toBe(4);
  });

  test("key ip behind a trusted proxy: clients are told apart by the address it forwards", async () => {
    // 127.0.0.1 is one of the default trustedProxies: the right-most address of X-Forwarded-For it is not is the client.
    const via = (forwarded: string, from = "127.0.0.1") => get(port, "/behind/x", { from, headers: { "x-forwarded-for": forwarded } });
    expect((await via("203.0.113.1")).status).toBe(200);
    expect((await via("203.0.113.1")).status).toBe(429);
    expect((await via("203.0.113.2")).status).toBe(200);
    // What a client wrote before the address the proxy appended changes nothing; trusted hops are skipped.
    expect((await via("198.51.100.7, 203.0.113.2")).status).toBe(429);
    expect((await via("203.0.113.1, 127.0.0.1")).status).toBe(429);
    // A peer that is not trusted is the client, whatever it forwards.
    expect((await via("203.0.113.3", "127.0.0.21")).status).toBe(200);
    expect((await via("203.0.113.4", "127.0.0.21")).status).toBe(429);
  });

  test("the gateway's own answers carry the RateLimit fields too (a 502 of a server that is down)", async () => {
    const res = await get(port, "/down/x", { from: "127.0.0.22" });
    expect(res.status).toBe(502);
    expect(res.headers.get("ratelimit-policy")).toBe('"default";q=5;w=3600');
    expect(rateLimitOf(res.headers.get("ratelimit"))?.r).toBe(4);
  });

  test("the byte path: a rate-limit route (with cors and jwt before it) makes no Request object", async () => {
    const secret = new TextEncoder().encode(JWT_SECRET);
    const token = await new SignJWT({ sub: "erin" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime("10m").sign(secret);
    const made = await requestObjectsMade(async () => {
      const answers = [
        await get(port, "/ip/x", { from: "127.0.0.23" }),
        await get(port, "/header/x", { headers: { "x-api-key": "byte-path" } }),
        await get(port, "/fast/x", { headers: { authorization: `Bearer ${token}`, origin: "https://app.example.com" } }),
        await get(port, "/fast/x", { headers: { origin: "https://app.example.com" } }),
      ];
      expect(answers.map((res) => res.status)).toEqual([200, 200, 200, 401]);
      expect(answers[2]!.headers.get("access-control-allow-origin")).toBe("https://app.example.com");
      expect(rateLimitOf(answers[2]!.headers.get("ratelimit"))?.r).toBe(999);
    });
    expect(made).toBe(0);
  });

  test("a WebSocket upgrade over the limit is refused before it reaches the upstream", async () => {
    const upgrade =
      "GET /ws/chat HTTP/1.1\r\nHost: gw.test\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";
    expect(await firstStatus(port, upgrade)).toBe(101);
    expect(await firstStatus(port, upgrade)).toBe(429);
  });

  test("a reload that keeps the limit keeps the counts; one that changes it starts afresh", async () => {
    expect((await get(port, "/ip/x", { from: "127.0.0.2" })).status).toBe(429);
    await gw.reload(config(3));
    expect((await get(port, "/ip/x", { from: "127.0.0.2" })).status).toBe(429);
    await gw.reload(config(5));
    const ok = await get(port, "/ip/x", { from: "127.0.0.2" });
    expect(ok.status).toBe(200);
    expect(ok.headers.get("ratelimit-policy")).toBe('"default";q=5;w=3600');
  });
});

describe("a global rate limit", () => {
  test("counts every request of a client, whatever the route (and requests no route matches)", async () => {
    const app = startUpstream("app");
    const gw = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        plugins: [rateLimit({ limit: 3, window: "1h" })],
        pools: { app: { servers: [{ url: app.url }] } },
        routes: [
          { match: { path: "/a/*" }, pool: "app" },
          { match: { path: "/b/*" }, pool: "app" },
        ],
      },
    });
    try {
      expect((await fetch(`${gw.url}/a/1`)).status).toBe(200);
      expect((await fetch(`${gw.url}/b/1`)).status).toBe(200);
      expect((await fetch(`${gw.url}/nowhere`)).status).toBe(404);
      expect((await fetch(`${gw.url}/a/1`)).status).toBe(429);
      expect((await fetch(`${gw.url}/b/1`)).status).toBe(429);
    } finally {
      await gw.stop(0);
      await app.stop();
    }
  });

  test("key route: a limit for each route, and one for the requests no route matches", async () => {
    const app = startUpstream("app");
    const gw = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        plugins: [rateLimit({ limit: 2, window: "1h", key: "route" })],
        pools: { app: { servers: [{ url: app.url }] } },
        routes: [
          { name: "a", match: { path: "/a/*" }, pool: "app" },
          { name: "b", match: { path: "/b/*" }, pool: "app" },
        ],
      },
    });
    try {
      const statusOf = async (path: string) => (await fetch(`${gw.url}${path}`)).status;
      expect([await statusOf("/a/1"), await statusOf("/a/2"), await statusOf("/a/3")]).toEqual([200, 200, 429]);
      expect([await statusOf("/b/1"), await statusOf("/b/2"), await statusOf("/b/3")]).toEqual([200, 200, 429]);
      expect([await statusOf("/x"), await statusOf("/y"), await statusOf("/z")]).toEqual([404, 404, 429]);
    } finally {
      await gw.stop(0);
      await app.stop();
    }
  });
});

// ── the Redis store ─────────────────────────────────────────────────────────────────────────────────────

const INSTALL = "apt-get update && apt-get install -y redis-server";

function need(tool: string): string {
  const path = Bun.which(tool);
  if (!path) throw new Error(`${tool} is not installed: run \`${INSTALL}\``);
  return path;
}

/** A redis-server of the test's own on `port`, without persistence. */
async function startRedis(port: number): Promise<Subprocess> {
  const server = Bun.spawn([need("redis-server"), "--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"], {
    stdout: "ignore",
    stderr: "inherit",
  });
  await until(async () => (await redisCli(port, "PING")) === "PONG", "redis-server comes up", 5_000, 25);
  return server;
}

async function redisCli(port: number, ...command: string[]): Promise<string> {
  const proc = Bun.spawn([need("redis-cli"), "-p", String(port), ...command], { stdout: "pipe", stderr: "pipe" });
  const [out, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
  if (code !== 0) throw new Error(`redis-cli ${command.join(" ")} exited ${code}`);
  return out.trim();
}

/** Connections the gateways hold to the redis-server (they name themselves). */
async function gatewayConnections(port: number): Promise<number> {
  return (await redisCli(port, "CLIENT", "LIST")).split("\n").filter((line) => line.includes("name=sluice-rate-limit")).length;
}

describe("the Redis store", () => {
  let redisPort: number;
  let redis: Subprocess;
  let app: Upstream;
  let dir: string;
  let a: RunningProcess; // fails open
  let b: RunningProcess; // fails closed
  let portA: number;
  let portB: number;

  const routes = (redisUrl: string, onStoreError: "allow" | "deny"): ConfigInput["routes"] => [
    {
      name: "shared",
      match: { path: "/shared/*" },
      pool: "app",
      plugins: [rateLimit({ limit: 10, window: "1h", key: "header:x-client", store: { redis: redisUrl, timeout: "50ms" }, onStoreError })],
    },
    {
      name: "bucket",
      match: { path: "/bucket/*" },
      pool: "app",
      plugins: [rateLimit({ limit: 1, window: "1h", algorithm: "token-bucket", burst: 4, key: "header:x-client", store: { redis: redisUrl }, onStoreError })],
    },
    { name: "local", match: { path: "/local/*" }, pool: "app", plugins: [rateLimit({ limit: 10, window: "1h", key: "route" })] },
  ];

  async function startSluice(name: string, listen: number, onStoreError: "allow" | "deny", extra: string[] = []): Promise<RunningProcess> {
    const path = join(dir, `${name}.json`);
    const config = {
      listen: `127.0.0.1:${listen}`,
      admin: false,
      accessLog: false,
      pools: { app: { servers: [{ url: app.url }] } },
      routes: routes(`redis://127.0.0.1:${redisPort}`, onStoreError),
    };
    await writeFile(path, JSON.stringify(config, null, 2));
    return await startCli(["--config", path, ...extra]);
  }

  const ask = (port: number, client: string, path = "/shared/x") => get(port, path, { headers: { "x-client": client } });

  /** Until the process counts in Redis again (its answers carry the RateLimit header), asking as `client`. */
  const counting = (port: number, client: string) =>
    until(async () => (await ask(port, client)).headers.has("ratelimit"), `port ${port} counts in redis`, 10_000, 50);

  /** Ten requests for `client` alternating between the ports are allowed, counting down across them; the next ones are refused. */
  async function sharesExactly(ports: number[], client: string): Promise<void> {
    const remaining: number[] = [];
    for (let i = 0; i < 10; i++) {
      const answer = await ask(ports[i % ports.length]!, client);
      expect(answer.status).toBe(200);
      remaining.push(rateLimitOf(answer.headers.get("ratelimit"))!.r);
    }
    expect(remaining).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
    for (const port of ports) expect((await ask(port, client)).status).toBe(429);
  }

  beforeAll(async () => {
    need("redis-cli");
    redisPort = await deadPort();
    redis = await startRedis(redisPort);
    app = startUpstream("app");
    dir = await mkdtemp(join(tmpdir(), "sluice-rate-limit-"));
    [portA, portB] = [await deadPort(), await deadPort()];
    [a, b] = await Promise.all([startSluice("a", portA, "allow"), startSluice("b", portB, "deny")]);
    await Promise.all([counting(portA, "warm-up"), counting(portB, "warm-up")]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    redis?.kill("SIGCONT");
    redis?.kill();
    await redis?.exited;
    await app?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("two Sluice processes share one limit exactly: the 11th request to either is refused", async () => {
    await sharesExactly([portA, portB], "c1");
    // Another client is not affected.
    expect((await ask(portB, "c1-other")).status).toBe(200);
  });

  test("the token bucket is shared too: a burst of 4 across both processes, then 429", async () => {
    const answers = [];
    for (let i = 0; i < 5; i++) answers.push((await ask(i % 2 ? portB : portA, "c2", "/bucket/x")).status);
    expect(answers).toEqual([200, 200, 200, 200, 429]);
    expect((await ask(portB, "c2", "/bucket/x")).status).toBe(429);
  });

  test("a reload hands the Redis connection over: one connection per process, however often it reloads", async () => {
    expect(await gatewayConnections(redisPort)).toBe(2);
    for (let i = 1; i <= 2; i++) {
      a.proc.kill("SIGHUP");
      await until(() => (a.output().match(/sluice: reloaded/g) ?? []).length >= i, "process a reloaded", 10_000, 25);
    }
    expect(await gatewayConnections(redisPort)).toBe(2);
    // The counts are Redis's: still refused after the reload.
    expect((await ask(portA, "c1")).status).toBe(429);
  });

  test("redis-server hanging (SIGSTOP): answers come at once, open or closed as configured; then sharing resumes", async () => {
    redis.kill("SIGSTOP");
    try {
      // Many at once, none hung: fail-open answers go through uncounted, fail-closed ones are refused with 503.
      const open = await Promise.all(
        Array.from({ length: 20 }, () =>
          fetch(`http://127.0.0.1:${portA}/shared/x`, {
            headers: { "x-client": "c3" },
            signal: AbortSignal.timeout(2_000),
          }),
        ),
      );
      for (const answer of open) {
        expect(answer.status).toBe(200);
        expect(answer.headers.has("ratelimit")).toBe(false);
        await answer.text();
      }
      const closed = await fetch(`http://127.0.0.1:${portB}/shared/x`, { headers: { "x-client": "c3" }, signal: AbortSignal.timeout(2_000) });
      expect(closed.status).toBe(503);
      expect(closed.headers.get("retry-after")).toBe("1");
      expect(((await closed.json()) as { error: string }).error).toBe("rate limit store unavailable");
      // Still answering after the connection to the hung server was given up on.
      await until(
        async () => {
          const later = await fetch(`http://127.0.0.1:${portA}/shared/x`, { headers: { "x-client": "c3" }, signal: AbortSignal.timeout(2_000) });
          return later.status === 200 && !later.headers.has("ratelimit");
        },
        "fail-open while redis hangs",
        3_000,
        100,
      );
    } finally {
      redis.kill("SIGCONT");
    }
    await Promise.all([counting(portA, "c4"), counting(portB, "c4")]);
    await sharesExactly([portA, portB], "c5");
  }, 30_000);

  test("redis-server killed (SIGKILL): open or closed at once; restarted: sharing resumes", async () => {
    redis.kill("SIGKILL");
    await redis.exited;
    const open = await fetch(`http://127.0.0.1:${portA}/shared/x`, { headers: { "x-client": "c6" }, signal: AbortSignal.timeout(2_000) });
    expect(open.status).toBe(200);
    expect(open.headers.has("ratelimit")).toBe(false);
    const closed = await fetch(`http://127.0.0.1:${portB}/shared/x`, { headers: { "x-client": "c6" }, signal: AbortSignal.timeout(2_000) });
    expect(closed.status).toBe(503);
    await closed.text();
    redis = await startRedis(redisPort);
    await Promise.all([counting(portA, "c7"), counting(portB, "c7")]);
    await sharesExactly([portA, portB], "c8");
  }, 30_000);

  test("a gateway on Deno shares the same limit with one on Bun", async () => {
    let deno: EngineGateway | undefined;
    try {
      deno = await startEngineGateway("deno", { pools: { app: { servers: [{ url: app.url }] } }, routes: routes(`redis://127.0.0.1:${redisPort}`, "allow") });
      await counting(deno.port, "deno-warm-up");
      await sharesExactly([deno.port, portA], "c9");
    } finally {
      await deno?.stop();
    }
  }, 30_000);

  test("--workers 2 share the limit through Redis (each worker alone would count its own)", async () => {
    const port = await deadPort();
    const workers = await startSluice("workers", port, "allow", ["--workers", "2"]);
    try {
      const pgrep = Bun.spawn(["pgrep", "-P", String(workers.proc.pid)], { stdout: "pipe" });
      const [worker] = (await new Response(pgrep.stdout).text()).trim().split("\n").filter(Boolean).map(Number);
      expect(worker).toBeGreaterThan(0);
      await until(() => listensOn(worker!, port), "the worker listens on the port", 10_000, 25);
      await counting(port, "workers-warm-up");
      // A connection of its own for each request: the kernel spreads them over both workers.
      const shared = [];
      const local = [];
      for (let i = 0; i < 30; i++) {
        shared.push((await ask(port, "c10")).status);
        local.push((await get(port, "/local/x")).status);
      }
      expect(shared.filter((s) => s === 200).length).toBe(10);
      // The local store's limit of 10 held per worker: more than 10 got through, so both workers served.
      const locallyAllowed = local.filter((s) => s === 200).length;
      expect(locallyAllowed).toBeGreaterThan(10);
      expect(locallyAllowed).toBeLessThanOrEqual(20);
    } finally {
      await workers.stop();
    }
  }, 30_000);

  test("in one process, reloads and stop leave no connection behind", async () => {
    const config: ConfigInput = {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      pools: { app: { servers: [{ url: app.url }] } },
      routes: routes(`redis://127.0.0.1:${redisPort}`, "allow"),
    };
    const gw = await startGateway({ config });
    try {
      expect(openRedisConnections()).toBe(1);
      for (let i = 0; i < 3; i++) await gw.reload(config);
      await until(() => openRedisConnections() === 1, "old configs torn down", 5_000);
      expect((await fetch(`${gw.url}/shared/x`, { headers: { "x-client": "c11" } })).headers.has("ratelimit")).toBe(true);
    } finally {
      await gw.stop(0);
    }
    expect(openRedisConnections()).toBe(0);
  });

  test("stopped gateways close their connections", async () => {
    await Promise.all([a.stop(), b.stop()]);
    await until(async () => (await gatewayConnections(redisPort)) === 0, "no gateway connection left", 5_000, 50);
  });
});

// ── option errors ───────────────────────────────────────────────────────────────────────────────────────

describe("sluice check", () => {
  test("reports every option problem with its path", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-rate-limit-check-"));
    try {
      const path = join(dir, "sluice.config.json");
      const plugins = [
        rateLimit({ window: "500ms", key: "cookie:session" }),
        rateLimit({ limit: 0, burst: 5, onStoreError: "maybe" }),
        rateLimit({ limit: 5, store: { redis: "http://127.0.0.1:6379", maxKeys: 10 } }),
        rateLimit({ limit: 5, store: { timeout: "50ms" }, policy: "has space", limits: 3 }),
        rateLimit({ limit: 5, store: "memcached" }),
      ];
      await writeFile(path, JSON.stringify({ pools: { app: { servers: [{ url: "http://127.0.0.1:9" }] } }, routes: [{ pool: "app", plugins }] }));
      const { code, out } = await runCli(["check", "--config", path]);
      expect(code).toBe(1);
      const where = (i: number) => `routes[0].plugins[${i}].options`;
      for (const line of [
        `${where(0)}.limit: `,
        `${where(0)}.window: must be a whole number of seconds, at least "1s" (got "500ms")`,
        `${where(0)}.key: not a key: use "ip", "route", "header:NAME" or "claim:NAME" (got "cookie:session")`,
        `${where(1)}.limit: `,
        `${where(1)}.onStoreError: `,
        `${where(2)}.store.redis: not a Redis URL`,
        `${where(2)}.store.maxKeys: only for the local store`,
        `${where(3)}.store.timeout: only with "redis" (got "50ms")`,
        `${where(3)}.policy: not a policy name`,
        `${where(3)}: `,
        `${where(4)}.store: not a store`,
      ]) {
        expect(out).toContain(line);
      }
      // A burst without the token bucket is reported once the rest is right.
      await writeFile(
        path,
        JSON.stringify({
          pools: { app: { servers: [{ url: "http://127.0.0.1:9" }] } },
          routes: [{ pool: "app", plugins: [rateLimit({ limit: 5, burst: 9 })] }],
        }),
      );
      const burst = await runCli(["check", "--config", path]);
      expect(burst.code).toBe(1);
      expect(burst.out).toContain(`${where(0)}.burst: only with "algorithm": "token-bucket" (got 9)`);

      await writeFile(
        path,
        JSON.stringify({
          pools: { app: { servers: [{ url: "http://127.0.0.1:9" }] } },
          routes: [
            {
              pool: "app",
              plugins: [rateLimit({ limit: 100, window: "1m", key: "header:x-api-key", algorithm: "token-bucket", burst: 20, store: { maxKeys: 1000 } })],
            },
          ],
        }),
      );
      expect(await runCli(["check", "--config", path])).toEqual({ code: 0, out: "ok\n" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
