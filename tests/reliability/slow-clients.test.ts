// Slow and greedy clients, over real sockets, with small timeouts so that each takes a second or two:
// - each timeout on its own, against an in-process gateway and byte-level upstreams: the header timeout is a
//   total from a keep-alive head's first byte; a trickled body gets 408 without ever holding a server; a body
//   that stalls after reaching the upstream gets 408 and its upstream connection is closed, not pooled; a body
//   the gateway itself holds back is not timed out; a client that reads nothing of its answer is cut after the
//   send timeout and its upstream connection closed, one that reads slowly but steadily is not;
// - all of them at once against a gateway in a process of its own (its memory is its alone): 100 slowloris
//   connections, 30 readers that read nothing of 10 MiB answers, 30 trickled uploads to a pool whose one
//   server takes 20 requests at a time, and idle connections up to the listener's maxConnections. Clients
//   already connected are still served, the connection over the limit gets a 503, /healthz answers, the slow
//   ones are cut at their timeouts, and the gateway's RSS grows by less than 50 MB.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, createServer, type Socket } from "node:net";
import { deadPort, until } from "../helpers/common.ts";
import { closeServer, gateway, listen, portOf, spawnGateway, type Gateway, type GatewayProcess } from "../helpers/upstream.ts";
import { answerWith, openWire, wireUpstream, type WireUpstream } from "../helpers/wire.ts";
import { validateConfig } from "../../gateway/gateway.ts";
import type { ConfigError } from "../../gateway/config/errors.ts";

/** A raw client connection and what became of it: the first answer's status (0: none) and when it closed. */
interface Watched {
  socket: Socket;
  /** Everything received, as latin1 text. */
  readonly text: string;
  readonly status: number;
  /** ms since epoch when the connection closed, 0 while open. */
  readonly closedAt: number;
}

function watch(port: number, options: { paused?: boolean } = {}): Watched {
  const socket = connect({ host: "127.0.0.1", port });
  let text = "";
  let closedAt = 0;
  socket.on("data", (chunk: Buffer) => {
    if (text.length < 4096) text += chunk.toString("latin1");
  });
  socket.on("error", () => {});
  socket.on("close", () => (closedAt = Date.now()));
  if (options.paused) socket.pause();
  return {
    socket,
    get text() {
      return text;
    },
    get status() {
      return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
    },
    get closedAt() {
      return closedAt;
    },
  };
}

/** Write `text` one byte every `everyMs` (then stop), as slowloris does with a head and R.U.D.Y. with a body. */
function trickle(client: Watched, text: string, everyMs: number): () => void {
  let at = 0;
  const timer = setInterval(() => {
    if (client.closedAt !== 0 || at >= text.length) return clearInterval(timer);
    client.socket.write(text[at++]!);
  }, everyMs);
  return () => clearInterval(timer);
}

describe("each timeout on its own", () => {
  let up: WireUpstream;
  /** Heads the upstream saw before their bodies were complete. */
  const heads: string[] = [];
  let gw: Gateway;
  let port: number;
  const BIG = Buffer.alloc(24 * 1024 * 1024, 0x61);

  beforeAll(async () => {
    up = await wireUpstream(
      (request, socket) => {
        if (request.target.startsWith("/big")) socket.write(answerWith(200, BIG));
        else socket.write(answerWith(200, `got ${request.body.length}`));
      },
      { onHead: (head) => heads.push(head) },
    );
    gw = await gateway({
      limits: { headerTimeout: "1s", idleTimeout: "4s", bodyTimeout: "1s", sendTimeout: "1s" },
      pools: { app: { servers: [{ url: up.url, maxFails: 0 }] } },
      routes: [{ pool: "app" }],
    });
    port = portOf(gw);
  });

  afterAll(async () => {
    await gw?.stop(0);
    await up?.close();
  });

  test("a keep-alive connection's next head, trickled, gets 408 headerTimeout after its first byte (the idle timeout is longer)", async () => {
    const c = await openWire(port);
    c.write("GET /first HTTP/1.1\r\nHost: s.test\r\n\r\n");
    expect((await c.read()).status).toBe(200);
    const started = Date.now();
    let sent = 0;
    const head = "GET /second HTTP/1.1\r\nHost: s.test\r\nX-Slow: 0123456789abcdefghijklmnopqrstuvwxyz\r\n\r\n";
    const timer = setInterval(() => (c.ended || sent >= head.length ? clearInterval(timer) : c.write(head[sent++]!)), 100);
    try {
      const answer = await c.read({ timeoutMs: 5_000 });
      const elapsed = Date.now() - started;
      expect(answer.status).toBe(408);
      expect(answer.headers.get("connection")).toBe("close");
      expect(JSON.parse(answer.body.toString()).error).toBe("request header timeout");
      // Not before headerTimeout; the deadlines are swept once a second, and idleTimeout (4 s) is not what cut it.
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(3_500);
      expect(sent).toBeLessThan(head.length);
      await c.closed(3_000);
    } finally {
      clearInterval(timer);
      c.close();
    }
    expect(up.requests.some((r) => r.target === "/second")).toBe(false);
  });

  test("a body trickled ten bytes a second gets 408 after bodyTimeout, and never reached the upstream", async () => {
    const client = watch(port);
    const started = Date.now();
    client.socket.write("POST /trickled HTTP/1.1\r\nHost: s.test\r\nContent-Length: 1000\r\n\r\n");
    const stop = trickle(client, "x".repeat(1000), 100);
    try {
      await until(() => client.closedAt !== 0, "the trickled upload was closed", 5_000);
    } finally {
      stop();
    }
    expect(client.status).toBe(408);
    expect(client.text).toContain('"error":"request body timeout"');
    expect(client.text.toLowerCase()).toContain("connection: close");
    expect(client.closedAt - started).toBeGreaterThanOrEqual(900);
    expect(heads.some((h) => h.startsWith("POST /trickled "))).toBe(false);
  });

  test("a body that stalls after its first 64 KiB reached the upstream: 408, and that upstream connection is closed, not pooled", async () => {
    const before = up.connections.length;
    const client = watch(port);
    client.socket.write(`POST /stalled HTTP/1.1\r\nHost: s.test\r\nContent-Length: 1000000\r\n\r\n${"y".repeat(100_000)}`);
    await until(() => heads.some((h) => h.startsWith("POST /stalled ")), "the upstream saw the stalled upload's head", 3_000);
    const upstream = up.connections.find((c) => c.requests === 0 && !c.closed && c.id > before) ?? up.connections.at(-1)!;
    await until(() => client.closedAt !== 0, "the stalled upload was closed", 5_000);
    expect(client.status).toBe(408);
    await until(() => upstream.closed, "the upstream connection of the stalled upload closed", 3_000);
    // The next request goes on a connection of its own, and is answered.
    const c = await openWire(port);
    c.write("GET /after-stall HTTP/1.1\r\nHost: s.test\r\n\r\n");
    expect((await c.read()).status).toBe(200);
    c.close();
    expect(up.requests.find((r) => r.target === "/after-stall")!.connection).not.toBe(upstream);
    expect(gw.current.pools.get("app")!.servers[0]!.failures).toBe(0);
  });

  test("a body the gateway holds back (its upstream reads nothing for 2.5 s) is not timed out", async () => {
    // A server that reads its first request's head, then nothing for longer than bodyTimeout, then the rest.
    let received = 0;
    const sockets = new Set<Socket>();
    const lazy = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => {});
      let head = "";
      const onData = (chunk: Buffer) => {
        if (!head.includes("\r\n\r\n")) {
          head += chunk.toString("latin1");
          const end = head.indexOf("\r\n\r\n");
          if (end < 0) return;
          received += head.length - end - 4;
          socket.pause();
          setTimeout(() => socket.resume(), 2_500);
          return;
        }
        received += chunk.length;
        if (received >= 16 * 1024 * 1024) socket.end(answerWith(200, `got ${received}`));
      };
      socket.on("data", onData);
    });
    const lazyPort = await listen(lazy);
    const lazyGw = await gateway({
      limits: { bodyTimeout: "1s" },
      pools: { lazy: { servers: [{ url: `http://127.0.0.1:${lazyPort}`, maxFails: 0 }], timeouts: { response: "10s" } } },
      routes: [{ pool: "lazy" }],
    });
    try {
      const c = await openWire(portOf(lazyGw));
      c.write(`POST /held-back HTTP/1.1\r\nHost: s.test\r\nContent-Length: ${16 * 1024 * 1024}\r\n\r\n`);
      const chunk = Buffer.alloc(1024 * 1024, 0x62);
      for (let i = 0; i < 16; i++) c.write(chunk);
      const answer = await c.read({ timeoutMs: 10_000 });
      expect(answer.status).toBe(200);
      expect(answer.body.toString()).toBe(`got ${16 * 1024 * 1024}`);
      c.close();
    } finally {
      await lazyGw.stop(0);
      await closeServer(lazy, sockets);
    }
  });

  test("a client that reads nothing of a 24 MiB answer is cut after sendTimeout, and its upstream connection is closed", async () => {
    const client = watch(port, { paused: true });
    client.socket.write("GET /big-unread HTTP/1.1\r\nHost: s.test\r\n\r\n");
    await until(() => up.requests.some((r) => r.target === "/big-unread"), "the upstream got the request", 3_000);
    const upstream = up.requests.find((r) => r.target === "/big-unread")!.connection;
    expect(upstream.id).toBeGreaterThan(0);
    await until(() => upstream.closed, "the upstream connection of the unread answer closed", 6_000);
    // The client was cut: reading what reached it ends before the whole answer.
    let got = 0;
    client.socket.on("data", (chunk: Buffer) => (got += chunk.length));
    client.socket.resume();
    await until(() => client.closedAt !== 0, "the unread client's connection closed", 5_000);
    expect(got).toBeLessThan(BIG.length);
    expect(gw.current.pools.get("app")!.servers[0]!.active).toBe(0);
  });

  test("a client that reads 24 MiB slowly but steadily (a little every 50 ms) is not cut by the send timeout", async () => {
    const client = watch(port, { paused: true });
    client.socket.write("GET /big-steady HTTP/1.1\r\nHost: s.test\r\n\r\n");
    let got = 0;
    client.socket.on("data", (chunk: Buffer) => {
      got += chunk.length;
      client.socket.pause();
    });
    // About 6 MB/s: several times longer than sendTimeout in all, but never a second without progress.
    const reader = setInterval(() => client.socket.resume(), 50);
    try {
      await until(() => got >= BIG.length || client.closedAt !== 0, "the steady reader got everything or was cut", 15_000);
    } finally {
      clearInterval(reader);
    }
    expect(client.closedAt).toBe(0);
    expect(got).toBeGreaterThanOrEqual(BIG.length);
    client.socket.destroy();
  });
});

describe("all at once, against a gateway process: 100 slowloris, 30 unread 10 MiB answers, 30 trickled uploads, the connection limit", () => {
  const MAX_CONNECTIONS = 200;
  const BIG = new Uint8Array(10 * 1024 * 1024);
  let upstream: ReturnType<typeof Bun.serve>;
  let gw: GatewayProcess;
  let port: number;
  let admin: string;
  const clients: Watched[] = [];
  const stops: Array<() => void> = [];

  beforeAll(async () => {
    upstream = Bun.serve({
      hostname: "127.0.0.1",
      port: 0,
      idleTimeout: 0,
      async fetch(request) {
        const path = new URL(request.url).pathname;
        if (path.startsWith("/big")) return new Response(BIG);
        if (request.body) await request.arrayBuffer();
        return new Response("small");
      },
    });
    const adminPort = await deadPort();
    admin = `http://127.0.0.1:${adminPort}`;
    const server = `http://127.0.0.1:${upstream.port}`;
    gw = await spawnGateway({
      listen: [{ address: "127.0.0.1:0", maxConnections: MAX_CONNECTIONS }],
      admin: { listen: `127.0.0.1:${adminPort}` },
      // Long enough for every check below to run while all the slow clients are there.
      limits: { headerTimeout: "3s", idleTimeout: "10s", bodyTimeout: "3s", sendTimeout: "3s" },
      pools: {
        // One server that takes 20 requests at a time: trickled uploads holding slots would starve everyone.
        app: { servers: [{ url: server, maxConns: 20 }], queue: { max: 10, timeout: "1s" } },
        downloads: { servers: [{ url: server }] },
      },
      routes: [{ match: { path: "/big*" }, pool: "downloads" }, { pool: "app" }],
    });
    port = Number(new URL(gw.url).port);
  });

  afterAll(async () => {
    for (const stop of stops) stop();
    for (const c of clients) c.socket.destroy();
    await gw?.stop();
    upstream?.stop(true);
  });

  async function status(): Promise<{ listeners: Array<{ kind: string; connections?: number; refused?: number; maxConnections?: number }> }> {
    return (await fetch(`${admin}/status`)).json() as never;
  }

  test("clients already connected are served, the connection over the limit gets a 503, /healthz answers, the slow ones are cut at their timeouts, RSS grows < 50 MB", async () => {
    // Warm up (one whole download, so that the first one's allocations are not counted), then the baseline.
    expect((await (await fetch(`${gw.url}/big-warm`)).arrayBuffer()).byteLength).toBe(BIG.length);
    await gw.peak();
    const baseline = (await gw.peak()).nowMB;

    // Real clients: keep-alive connections opened first.
    const real = await Promise.all(Array.from({ length: 4 }, () => openWire(port)));
    for (const c of real) {
      c.write("GET /hello HTTP/1.1\r\nHost: s.test\r\n\r\n");
      expect((await c.read()).status).toBe(200);
    }

    const started = Date.now();
    const slowloris: Watched[] = [];
    for (let i = 0; i < 100; i++) {
      const c = watch(port);
      c.socket.write("GET / HTTP/1.1\r\nHost: s.test\r\n");
      stops.push(trickle(c, `X-Slowloris-${i}: ${"z".repeat(200)}\r\n`, 300));
      slowloris.push(c);
    }
    const readers: Watched[] = [];
    for (let i = 0; i < 30; i++) {
      const c = watch(port, { paused: true });
      c.socket.write(`GET /big-${i} HTTP/1.1\r\nHost: s.test\r\n\r\n`);
      readers.push(c);
    }
    const uploads: Watched[] = [];
    for (let i = 0; i < 30; i++) {
      const c = watch(port);
      c.socket.write(`POST /upload-${i} HTTP/1.1\r\nHost: s.test\r\nContent-Length: 5000\r\n\r\n`);
      stops.push(trickle(c, "u".repeat(5000), 100));
      uploads.push(c);
    }
    clients.push(...slowloris, ...readers, ...uploads);
    // Idle connections up to the limit (the 4 real clients count too).
    const idle: Watched[] = [];
    await until(async () => ((await status()).listeners.find((l) => l.kind === "http")!.connections ?? 0) >= 164, "the slow clients are connected", 3_000);
    for (let i = 164; i < MAX_CONNECTIONS; i++) idle.push(watch(port));
    clients.push(...idle);
    await until(
      async () => (await status()).listeners.find((l) => l.kind === "http")!.connections === MAX_CONNECTIONS,
      "the listener is at maxConnections",
      3_000,
    );

    // Over the limit: a 503 with a JSON body, then the close.
    const over = watch(port);
    clients.push(over);
    over.socket.write("GET /over HTTP/1.1\r\nHost: s.test\r\n\r\n");
    await until(() => over.closedAt !== 0, "the connection over the limit was closed", 3_000);
    expect(over.status).toBe(503);
    expect(over.text).toContain('"error":"too many connections"');
    expect(over.text.toLowerCase()).toContain("retry-after: 1");
    const listener = (await status()).listeners.find((l) => l.kind === "http")!;
    expect(listener.refused).toBeGreaterThanOrEqual(1);
    expect(listener.maxConnections).toBe(MAX_CONNECTIONS);
    expect(await (await fetch(`${admin}/metrics`)).text()).toMatch(/sluice_http_connections_refused_total\{listener="[^"]+"\} [1-9]/);

    // While saturated: the admin listener answers, and the real clients are served (the app pool's 20 slots
    // are not held by the 30 trickled uploads).
    const healthz = await fetch(`${admin}/healthz`);
    expect(healthz.status).toBe(200);
    const latencies: number[] = [];
    for (let round = 0; round < 10; round++) {
      for (const c of real) {
        const t = performance.now();
        c.write("GET /hello HTTP/1.1\r\nHost: s.test\r\n\r\n");
        const answer = await c.read();
        latencies.push(performance.now() - t);
        expect(answer.status).toBe(200);
        expect(answer.body.toString()).toBe("small");
      }
    }
    const during = await gw.peak();
    // All of that while every slow client was still there.
    expect((await status()).listeners.find((l) => l.kind === "http")!.connections).toBe(MAX_CONNECTIONS);
    latencies.sort((a, b) => a - b);
    console.log(
      `saturated: 40 real requests p50 ${latencies[20]!.toFixed(1)} ms, max ${latencies.at(-1)!.toFixed(1)} ms; RSS ${baseline.toFixed(1)} → peak ${during.peakMB.toFixed(1)} MB`,
    );
    expect(during.peakMB - baseline).toBeLessThan(50);

    // The slow ones are cut at their timeouts (3 s, swept once a second): slowloris and uploads with a 408.
    await until(() => [...slowloris, ...uploads, ...readers].every((c) => c.closedAt !== 0), "every slow client was cut", 8_000);
    for (const c of slowloris) {
      expect(c.status).toBe(408);
      expect(c.closedAt - started).toBeGreaterThanOrEqual(2_900);
    }
    for (const c of uploads) {
      expect(c.status).toBe(408);
      expect(c.text).toContain("request body timeout");
    }
    // The readers were cut by the send timeout, not before.
    for (const c of readers) expect(c.closedAt - started).toBeGreaterThanOrEqual(2_900);

    // Room again: a new connection is served.
    const fresh = await openWire(port);
    fresh.write("GET /after HTTP/1.1\r\nHost: s.test\r\n\r\n");
    expect((await fresh.read()).status).toBe(200);
    fresh.close();
    for (const c of real) c.close();
  }, 20_000);
});

describe("config", () => {
  const problems = (input: unknown): string[] => {
    try {
      validateConfig(input);
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  test("a listener may be a string or an object with its own maxConnections; limits.maxConnections is the default for the rest", () => {
    const config = validateConfig({ listen: ["127.0.0.1:8080", { address: "127.0.0.1:8081", maxConnections: 5 }], limits: { maxConnections: 7 } });
    expect(config.listen).toEqual(["127.0.0.1:8080", { address: "127.0.0.1:8081", maxConnections: 5 }]);
    expect(config.limits.maxConnections).toBe(7);
    expect(config.limits.bodyTimeout).toBe(30_000);
    expect(config.limits.sendTimeout).toBe(60_000);
    expect(validateConfig({}).limits.maxConnections).toBe(10_000);
  });

  test("a listener object's bad values get their line (tls without certificates too)", () => {
    expect(problems({ listen: [{ address: ":8443", tls: { certificates: [] } }] })).toEqual(["listen[0].tls.certificates: must not be empty (got [])"]);
    expect(problems({ listen: [{ address: "nowhere", maxConnections: -1 }] })).toEqual([
      'listen[0].address: not an address: use "host:port" or ":port" (got "nowhere")',
      "listen[0].maxConnections: must be at least 0 (got -1)",
    ]);
    expect(problems({ limits: { bodyTimeout: "soon", sendTimeout: "1m", maxConnections: 0 } })).toEqual([
      'limits.bodyTimeout: not a duration: use milliseconds or a number with ms, s, m, h or d, like "2s" (got "soon")',
    ]);
    expect(problems({ listen: [{ address: ":8080" }, ":8080"] })[0]).toMatch(/^listen\[1\]: .*8080/);
  });
});
