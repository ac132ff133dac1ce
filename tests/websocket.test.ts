// WebSocket proxying, end to end: a real upstream WebSocket server (Bun.serve) behind a real gateway,
// driven by Bun's WebSocket client as a user's client would be.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import type { ServerWebSocket } from "bun";
import { startGateway } from "../gateway/gateway.ts";
import { deadPort, until } from "./helpers/common.ts";

type Gateway = Awaited<ReturnType<typeof startGateway>>;

// ---- The upstream: echoes, and obeys a few text commands ---------------------------------------------

interface Conn {
  id: number;
  path: string;
  drained?: () => void;
}

const seenHeaders: Headers[] = [];
const upstreamPings: string[] = [];
/** Close code and reason each upstream connection saw, by connection id. */
const upstreamCloses = new Map<number, { code: number; reason: string }>();
const closeWaiters = new Map<number, () => void>();
let nextId = 0;

const MB = new Uint8Array(1024 * 1024);

async function blast(ws: ServerWebSocket<Conn>, count: number) {
  for (let i = 0; i < count; i++) {
    MB[0] = i;
    // Honour the upstream's own backpressure, as a well-behaved server does.
    if (ws.send(MB) === -1) await new Promise<void>((resolve) => (ws.data.drained = resolve));
  }
  ws.send("blast done");
}

const upstream = Bun.serve<Conn>({
  hostname: "127.0.0.1",
  port: 0,
  fetch(request, server) {
    const url = new URL(request.url);
    if (url.pathname === "/deny") return new Response("go away", { status: 403 });
    seenHeaders.push(request.headers);
    // Chooses chat.v2 when offered, never simply the first: the gateway must relay the upstream's choice.
    const offered = (request.headers.get("sec-websocket-protocol") ?? "").split(",").map((p) => p.trim());
    const headers = offered.includes("chat.v2") ? { "sec-websocket-protocol": "chat.v2" } : undefined;
    const id = ++nextId;
    if (server.upgrade(request, { data: { id, path: url.pathname + url.search }, headers })) return undefined;
    return new Response("upgrade failed", { status: 400 });
  },
  websocket: {
    open(ws) {
      ws.send(`welcome ${ws.data.path}`);
    },
    message(ws, message) {
      if (typeof message === "string") {
        const [command, a, b] = message.split(":");
        if (command === "close") return ws.close(Number(a), b);
        if (command === "ping") return void ws.ping(a);
        if (command === "blast") return void blast(ws, Number(a));
        if (command === "id") return void ws.send(`id:${ws.data.id}`);
        if (command === "terminate") return ws.terminate();
        if (command === "stall") {
          ws.pause();
          return void setTimeout(() => ws.resume(), Number(a));
        }
      } else if (message.length >= MB.length) {
        // Big uploads are acknowledged, not echoed.
        return void ws.send(`got:${message[0]}`);
      }
      ws.send(message);
    },
    drain(ws) {
      ws.data.drained?.();
    },
    ping(_ws, data) {
      upstreamPings.push(Buffer.from(data).toString());
    },
    close(ws, code, reason) {
      upstreamCloses.set(ws.data.id, { code, reason });
      closeWaiters.get(ws.data.id)?.();
    },
  },
});

function upstreamClosed(id: number): Promise<{ code: number; reason: string }> {
  const seen = upstreamCloses.get(id);
  if (seen) return Promise.resolve(seen);
  return new Promise((resolve) => closeWaiters.set(id, () => resolve(upstreamCloses.get(id)!)));
}

// ---- A client with an inbox --------------------------------------------------------------------------

type Data = string | Uint8Array;

class Client {
  readonly ws: WebSocket & { ping(data?: string): void; pause(): boolean; resume(): boolean };
  private inbox: Data[] = [];
  private waiting: ((data: Data) => void)[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<{ code: number; reason: string; wasOpen: boolean }>;
  readonly pings: string[] = [];
  private wasOpen = false;

  constructor(url: string, options: { protocols?: string[]; headers?: Record<string, string> } = {}) {
    this.ws = new WebSocket(url.replace(/^http/, "ws"), options as unknown as string[]) as Client["ws"];
    this.ws.binaryType = "arraybuffer";
    this.opened = new Promise((resolve, reject) => {
      this.ws.addEventListener("open", () => {
        this.wasOpen = true;
        resolve();
      });
      this.ws.addEventListener("close", () => reject(new Error("closed before open")));
    });
    this.opened.catch(() => {});
    this.closed = new Promise((resolve) => this.ws.addEventListener("close", (e) => resolve({ code: e.code, reason: e.reason, wasOpen: this.wasOpen })));
    this.ws.addEventListener("message", (e) => {
      const data: Data = typeof e.data === "string" ? e.data : new Uint8Array(e.data as ArrayBuffer);
      const waiter = this.waiting.shift();
      if (waiter) waiter(data);
      else this.inbox.push(data);
    });
    this.ws.addEventListener("ping" as "open", (e) => this.pings.push(Buffer.from((e as unknown as MessageEvent).data).toString()));
  }

  next(): Promise<Data> {
    const data = this.inbox.shift();
    if (data !== undefined) return Promise.resolve(data);
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  /** Open, skip the upstream's welcome, and learn which upstream connection this is. */
  async ready(): Promise<number> {
    await this.opened;
    expect(String(await this.next())).toStartWith("welcome");
    this.ws.send("id");
    return Number(String(await this.next()).slice(3));
  }
}

/** Send a raw HTTP/1.1 request and read the whole answer; the head must ask the server to close after it. */
function rawRequest(port: number, head: string): Promise<{ status: number; headers: string; body: string }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(head + "\r\n"));
    let text = "";
    socket.on("data", (chunk) => (text += chunk.toString()));
    socket.on("error", reject);
    socket.on("close", () => {
      const [headers = "", body = ""] = text.split("\r\n\r\n");
      resolve({ status: Number(headers.split(" ")[1]), headers: headers.toLowerCase(), body });
    });
  });
}

/** Send a raw upgrade and read only the answer's head (a 101 keeps the socket open). */
function rawUpgradeHead(port: number, head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(head + "\r\n"));
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
      const end = text.indexOf("\r\n\r\n");
      if (end === -1) return;
      socket.destroy();
      resolve(text.slice(0, end).toLowerCase());
    });
    socket.on("error", reject);
  });
}

// ---- The gateways --------------------------------------------------------------------------------------

let gw: Gateway;
let down: Gateway;
let gwPort: number;
let downPort: number;

const activeOf = (g: Gateway) => g.current.pools.get("ws")!.servers[0]!.active;

beforeAll(async () => {
  gw = await startGateway({
    config: {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      pools: { ws: { servers: [{ url: `http://127.0.0.1:${upstream.port}` }] } },
      routes: [{ pool: "ws" }],
    },
  });
  down = await startGateway({
    config: {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      pools: { ws: { servers: [{ url: `http://127.0.0.1:${await deadPort()}` }] } },
      routes: [{ pool: "ws" }],
    },
  });
  gwPort = Number(new URL(gw.url).port);
  downPort = Number(new URL(down.url).port);
});

afterAll(async () => {
  await gw.stop(100);
  await down.stop(100);
  upstream.stop(true);
});

const UPGRADE = (path: string, extra = "") =>
  `GET ${path} HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n${extra}`;

// ---- Tests -----------------------------------------------------------------------------------------

describe("frames", () => {
  test("text stays text, binary stays binary", async () => {
    const c = new Client(gw.url);
    await c.ready();
    c.ws.send("hello");
    expect(await c.next()).toBe("hello");
    c.ws.send(new Uint8Array([0, 1, 2, 255]));
    const back = await c.next();
    expect(back).toBeInstanceOf(Uint8Array);
    expect([...(back as Uint8Array)]).toEqual([0, 1, 2, 255]);
    c.ws.close();
    await c.closed;
  });

  test("1000 messages, mixed text and binary, arrive in order", async () => {
    const c = new Client(gw.url);
    await c.ready();
    for (let i = 0; i < 1000; i++) c.ws.send(i % 2 ? `m${i}` : new Uint32Array([i]));
    for (let i = 0; i < 1000; i++) {
      const data = await c.next();
      if (i % 2) expect(data).toBe(`m${i}`);
      else expect(new Uint32Array((data as Uint8Array).slice().buffer)[0]).toBe(i);
    }
    c.ws.close();
    await c.closed;
  });

  test("messages the upstream sends before the client's socket opens are delivered first", async () => {
    const c = new Client(gw.url);
    await c.opened;
    expect(String(await c.next())).toStartWith("welcome");
    c.ws.close();
    await c.closed;
  });
});

describe("handshake", () => {
  test("the client gets the subprotocol the upstream chose", async () => {
    const c = new Client(gw.url, { protocols: ["chat.v1", "chat.v2"] });
    await c.ready();
    expect(c.ws.protocol).toBe("chat.v2");
    expect(seenHeaders.at(-1)!.get("sec-websocket-protocol")).toBe("chat.v1, chat.v2");
    c.ws.close();
    await c.closed;
  });

  test("no subprotocol asked, none given", async () => {
    const c = new Client(gw.url);
    await c.ready();
    expect(c.ws.protocol).toBe("");
    expect(seenHeaders.at(-1)!.has("sec-websocket-protocol")).toBe(false);
    c.ws.close();
    await c.closed;
  });

  test("end-to-end headers and X-Forwarded-* reach the upstream", async () => {
    const c = new Client(`${gw.url}/chat?room=1`, {
      headers: { cookie: "session=abc", authorization: "Bearer t0k", origin: "http://app.test", "x-request-id": "req-ws-1" },
    });
    await c.ready();
    const h = seenHeaders.at(-1)!;
    expect(h.get("cookie")).toBe("session=abc");
    expect(h.get("authorization")).toBe("Bearer t0k");
    expect(h.get("origin")).toBe("http://app.test");
    expect(h.get("x-forwarded-for")).toBe("127.0.0.1");
    expect(h.get("x-forwarded-proto")).toBe("http");
    expect(h.get("x-forwarded-host")).toBe(`127.0.0.1:${gwPort}`);
    expect(h.get("x-request-id")).toBe("req-ws-1");
    // preserveHost is on by default: the upstream sees the Host the client used.
    expect(h.get("host")).toBe(`127.0.0.1:${gwPort}`);
    c.ws.close();
    await c.closed;
  });

  // After the 101 the connections are one byte pipe, so the handshake is end to end: the upstream answers the
  // client's own Sec-WebSocket-Key and sees the extensions it offered; connection-level fields stay behind.
  test("hop-by-hop headers stay on the client's side; the handshake itself is the client's, end to end", async () => {
    const before = seenHeaders.length;
    const head = await rawUpgradeHead(
      gwPort,
      "GET / HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade, X-Hop\r\nUpgrade: websocket\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Hop: secret\r\nKeep-Alive: timeout=5\r\n" +
        "Sec-WebSocket-Extensions: permessage-deflate\r\nX-End: kept\r\n",
    );
    expect(head).toStartWith("http/1.1 101");
    expect(head).toContain("x-request-id:");
    await until(() => seenHeaders.length > before, "the upstream sees the handshake");
    const h = seenHeaders.at(-1)!;
    expect(h.get("x-end")).toBe("kept");
    expect(h.get("host")).toBe("gw.test");
    expect(h.has("x-hop")).toBe(false);
    expect(h.has("keep-alive")).toBe(false);
    expect(h.get("sec-websocket-key")).toBe("dGhlIHNhbXBsZSBub25jZQ==");
    expect(h.get("sec-websocket-extensions")).toBe("permessage-deflate");
    expect(head).toContain("sec-websocket-accept: s3pplmbitxaq9kygzzhzrbk+xoo=");
    await until(() => activeOf(gw) === 0, "the tunnel is released");
  });

  test("the path and query reach the upstream", async () => {
    const c = new Client(`${gw.url}/chat?room=7`);
    await c.opened;
    expect(await c.next()).toBe("welcome /chat?room=7");
    c.ws.close();
    await c.closed;
  });

  test("an unreachable upstream answers the upgrade with 502 JSON", async () => {
    const answer = await rawRequest(downPort, UPGRADE("/", "Sec-WebSocket-Version: 13\r\n"));
    expect(answer.status).toBe(502);
    expect(answer.headers).toContain("content-type: application/json");
    const body = JSON.parse(answer.body);
    expect(body.error).toContain("bad gateway");
    expect(typeof body.requestId).toBe("string");
  });

  test("with its only server marked failed, the pool answers 503 with Retry-After; a client never opens", async () => {
    // The 502 above counted against the server (maxFails 1): for failTimeout it is out of rotation.
    const answer = await rawRequest(downPort, UPGRADE("/", "Sec-WebSocket-Version: 13\r\n"));
    expect(answer.status).toBe(503);
    expect(answer.headers).toContain("retry-after: 1");
    const c = new Client(down.url);
    let errored = false;
    c.ws.addEventListener("error", () => (errored = true));
    expect((await c.closed).wasOpen).toBe(false);
    expect(errored).toBe(true);
  });

  test("an upstream that refuses the upgrade is relayed as it answered (status and body)", async () => {
    const answer = await rawRequest(gwPort, UPGRADE("/deny", "Sec-WebSocket-Version: 13\r\n"));
    expect(answer.status).toBe(403);
    expect(answer.body).toBe("go away");
    expect(activeOf(gw)).toBe(0);
  });

  test("malformed upgrades answer 400 JSON", async () => {
    const noKey = await rawRequest(
      gwPort,
      "GET / HTTP/1.1\r\nHost: gw.test\r\nConnection: Upgrade, close\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n",
    );
    expect(noKey.status).toBe(400);
    expect(JSON.parse(noKey.body).error).toContain("Sec-WebSocket-Key");
    const badVersion = await rawRequest(gwPort, UPGRADE("/", "Sec-WebSocket-Version: 8\r\n"));
    expect(badVersion.status).toBe(400);
    expect(badVersion.headers).toContain("sec-websocket-version: 13");
    const post = await rawRequest(gwPort, UPGRADE("/", "Sec-WebSocket-Version: 13\r\n").replace("GET", "POST"));
    expect(post.status).toBe(400);
  });
});

describe("retries and timeouts", () => {
  test("a refused connect is retried on another server of the pool", async () => {
    const g = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        pools: { ws: { retries: 1, servers: [{ url: `http://127.0.0.1:${await deadPort()}` }, { url: `http://127.0.0.1:${upstream.port}` }] } },
        routes: [{ pool: "ws" }],
      },
    });
    try {
      for (let i = 0; i < 2; i++) {
        const c = new Client(g.url);
        await c.ready();
        c.ws.close();
        await c.closed;
      }
      const [dead, live] = g.current.pools.get("ws")!.servers;
      expect(dead!.failures).toBeGreaterThanOrEqual(1);
      await until(() => dead!.active === 0 && live!.active === 0, "both servers are released");
    } finally {
      await g.stop(100);
    }
  });

  test("an upstream that accepts TCP but never answers the handshake gets 502 after the connect timeout", async () => {
    const hole = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
    const g = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        pools: { ws: { retries: 0, timeouts: { connect: "200ms" }, servers: [{ url: `http://127.0.0.1:${hole.port}` }] } },
        routes: [{ pool: "ws" }],
      },
    });
    try {
      const started = Date.now();
      const answer = await rawRequest(Number(new URL(g.url).port), UPGRADE("/", "Sec-WebSocket-Version: 13\r\n"));
      expect(answer.status).toBe(502);
      expect(Date.now() - started).toBeGreaterThanOrEqual(180);
      expect(Date.now() - started).toBeLessThan(2000);
      expect(activeOf(g)).toBe(0);
    } finally {
      await g.stop(100);
      hole.stop(true);
    }
  });
});

describe("close and control frames", () => {
  test("a client's close code and reason reach the upstream", async () => {
    const c = new Client(gw.url);
    const id = await c.ready();
    c.ws.close(4001, "bye");
    expect(await upstreamClosed(id)).toEqual({ code: 4001, reason: "bye" });
    expect((await c.closed).code).toBe(4001);
  });

  test("an upstream's close code and reason reach the client", async () => {
    const c = new Client(gw.url);
    await c.ready();
    c.ws.send("close:4002:later");
    const closed = await c.closed;
    expect(closed).toEqual({ code: 4002, reason: "later", wasOpen: true });
  });

  // Close frames pass untouched: a close without a code arrives as one (1005 "no status received").
  test("a close without a code reaches the other side as such (1005)", async () => {
    const c = new Client(gw.url);
    const id = await c.ready();
    c.ws.close();
    expect((await upstreamClosed(id)).code).toBe(1005);
  });

  // The gateway sends no frames of its own: a lost connection is a lost connection on the other side too (1006).
  test("a connection lost without a close frame is lost on the other side too (1006)", async () => {
    const c = new Client(gw.url);
    const id = await c.ready();
    (c.ws as unknown as { terminate(): void }).terminate();
    expect((await upstreamClosed(id)).code).toBe(1006);

    const d = new Client(gw.url);
    await d.ready();
    d.ws.send("terminate");
    expect((await d.closed).code).toBe(1006);
  });

  test("pings cross both ways", async () => {
    const c = new Client(gw.url);
    await c.ready();
    c.ws.ping("heartbeat-1");
    await until(() => upstreamPings.includes("heartbeat-1"), "the upstream gets the ping");
    c.ws.send("ping:from-upstream");
    await until(() => c.pings.includes("from-upstream"), "the client gets the ping");
    c.ws.close();
    await c.closed;
  });
});

describe("load and bookkeeping", () => {
  test("the server counts a tunnel as active while it is open", async () => {
    const c = new Client(gw.url);
    await c.ready();
    expect(activeOf(gw)).toBe(1);
    c.ws.close();
    await c.closed;
    await until(() => activeOf(gw) === 0, "the tunnel is released");
  });

  test("50 concurrent tunnels keep their own streams; afterwards nothing is active", async () => {
    const clients = Array.from({ length: 50 }, () => new Client(gw.url));
    await Promise.all(clients.map((c) => c.ready()));
    expect(activeOf(gw)).toBe(50);
    await Promise.all(
      clients.map(async (c, n) => {
        for (let i = 0; i < 20; i++) c.ws.send(`${n}-${i}`);
        for (let i = 0; i < 20; i++) expect(await c.next()).toBe(`${n}-${i}`);
      }),
    );
    clients.forEach((c, n) => (n % 2 ? c.ws.close(1000) : c.ws.send("close:1001:bye")));
    await Promise.all(clients.map((c) => c.closed));
    await until(() => activeOf(gw) === 0, "the tunnel is released");
  });

  test("a client that stops reading slows the upstream down instead of losing messages", async () => {
    const c = new Client(gw.url);
    await c.ready();
    // 48 MB while the client reads nothing: past Bun's 16 MB backpressure limit, which drops messages
    // unless the gateway stops reading the upstream when the client's queue fills.
    c.ws.pause();
    c.ws.send("blast:48");
    await Bun.sleep(500);
    c.ws.resume();
    for (let i = 0; i < 48; i++) {
      const chunk = (await c.next()) as Uint8Array;
      expect(chunk.length).toBe(1024 * 1024);
      expect(chunk[0]).toBe(i);
    }
    expect(await c.next()).toBe("blast done");
    c.ws.close();
    await c.closed;
  }, 20_000);

  test("an upstream that stops reading slows the client down instead of buffering in the gateway", async () => {
    const c = new Client(gw.url);
    await c.ready();
    c.ws.send("stall:800");
    await Bun.sleep(50);
    const chunk = new Uint8Array(1024 * 1024);
    for (let i = 0; i < 48; i++) {
      chunk[0] = i;
      c.ws.send(chunk);
    }
    await Bun.sleep(400);
    // The gateway stopped reading the client: most of the 48 MB still waits in the client's own buffer.
    expect(c.ws.bufferedAmount).toBeGreaterThan(16 * 1024 * 1024);
    for (let i = 0; i < 48; i++) expect(await c.next()).toBe(`got:${i}`);
    c.ws.close();
    await c.closed;
  }, 20_000);

  test("after every tunnel closed, no server of the pool is busy", async () => {
    await until(() => activeOf(gw) === 0 && activeOf(down) === 0, "every tunnel is released");
  });
});
