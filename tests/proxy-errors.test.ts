// Upstream failures as a client sees them: retries of idempotent requests on connection failures, 502/503/504
// JSON answers, upstreams that send garbage or die mid-response, and timeouts that bound the wait.
import { afterEach, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { deadPort, eventually } from "./helpers/common.ts";
import { errorBody, gateway, startBlackhole, startRawUpstream, startUpstream, type Gateway } from "./helpers/upstream.ts";

const TAGGER = resolve(import.meta.dir, "fixtures/plugins/tagger.ts");

/** Things to stop after each test, newest first. */
let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function gw(config: Parameters<typeof gateway>[0]): Promise<Gateway> {
  const g = await gateway(config);
  cleanup.push(() => g.stop(0));
  return g;
}

function upstream(name: string, handler?: Parameters<typeof startUpstream>[1]) {
  const u = startUpstream(name, handler);
  cleanup.push(() => u.stop());
  return u;
}

describe("connection failures", () => {
  test("a GET to a dead server is retried on the next one", async () => {
    const dead = `http://127.0.0.1:${await deadPort()}`;
    const live = upstream("live");
    const g = await gw({ pools: { app: [dead, live.url] }, routes: [{ pool: "app" }] });
    const response = await fetch(g.url + "/x?y=1");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("live");
    expect(live.seen.map((s) => s.url)).toEqual(["/x?y=1"]);
    const [deadServer, liveServer] = g.current.pools.get("app")!.servers;
    expect(deadServer!.failures).toBe(1);
    expect(liveServer!.failures).toBe(0);
    expect(deadServer!.active).toBe(0);
  });

  test("a server that dies after answering (no connect probe) is retried too", async () => {
    const first = upstream("first");
    const second = upstream("second");
    const g = await gw({ pools: { app: [first.url, second.url] }, routes: [{ pool: "app" }] });
    expect(await (await fetch(g.url + "/")).text()).toBe("first");
    expect(await (await fetch(g.url + "/")).text()).toBe("second");
    await first.stop();
    // first answered a moment ago, so the gateway goes straight to fetch: the refusal comes from there.
    const texts = [];
    for (let i = 0; i < 4; i++) {
      const response = await fetch(g.url + "/");
      expect(response.status).toBe(200);
      texts.push(await response.text());
    }
    expect(texts).toEqual(["second", "second", "second", "second"]);
    expect(g.current.pools.get("app")!.servers[0]!.failures).toBe(1);
  });

  test("all servers dead: 502 JSON, then 503 while they are marked failed", async () => {
    const g = await gw({
      pools: { app: [`http://127.0.0.1:${await deadPort()}`, `http://127.0.0.1:${await deadPort()}`] },
      routes: [{ pool: "app" }],
    });
    const response = await fetch(g.url + "/", { headers: { "x-request-id": "all-dead" } });
    expect(response.status).toBe(502);
    const body = await errorBody(response);
    expect(body.requestId).toBe("all-dead");
    expect(body.error).not.toContain("127.0.0.1"); // no addresses leak to clients
    const servers = g.current.pools.get("app")!.servers;
    expect(servers.map((s) => s.failures)).toEqual([1, 1]);

    // maxFails 1 (the default) keeps them out for failTimeout: the pool has nothing left.
    const next = await fetch(g.url + "/");
    expect(next.status).toBe(503);
    expect(next.headers.get("retry-after")).toBeTruthy();
    await errorBody(next);
  });

  test("a POST with a body is not retried: 502", async () => {
    const live = upstream("live");
    const g = await gw({ pools: { app: [`http://127.0.0.1:${await deadPort()}`, live.url] }, routes: [{ pool: "app" }] });
    const response = await fetch(g.url + "/submit", { method: "POST", body: "payload" });
    expect(response.status).toBe(502);
    await errorBody(response);
    expect(live.seen).toHaveLength(0);
  });

  test("retries: 0 turns retrying off", async () => {
    const live = upstream("live");
    const g = await gw({
      pools: { app: { servers: [{ url: `http://127.0.0.1:${await deadPort()}` }, { url: live.url }], retries: 0 } },
      routes: [{ pool: "app" }],
    });
    expect((await fetch(g.url + "/")).status).toBe(502);
    expect(live.seen).toHaveLength(0);
  });

  test("every server `down: true`: 503 with Retry-After", async () => {
    const live = upstream("live");
    const g = await gw({
      pools: {
        app: {
          servers: [
            { url: live.url, down: true },
            { url: live.url, id: "b", down: true },
          ],
        },
      },
      routes: [{ pool: "app" }],
    });
    const response = await fetch(g.url + "/");
    expect(response.status).toBe(503);
    expect(Number(response.headers.get("retry-after"))).toBeGreaterThan(0);
    await errorBody(response);
    expect(live.seen).toHaveLength(0);
  });
});

describe("timeouts", () => {
  test("an upstream slower than timeouts.response: 504 JSON", async () => {
    const slow = upstream("slow", async () => {
      await Bun.sleep(3_000);
      return new Response("late");
    });
    const g = await gw({ pools: { app: { servers: [{ url: slow.url }], timeouts: { response: "500ms" } } }, routes: [{ pool: "app" }] });
    const response = await fetch(g.url + "/");
    expect(response.status).toBe(504);
    await errorBody(response);
    expect(g.current.pools.get("app")!.servers[0]!.failures).toBe(1);
    expect(g.current.pools.get("app")!.servers[0]!.active).toBe(0);
  });

  test("timeouts.response counts from the end of the upload: a slow client's upload is not a slow upstream", async () => {
    const reader = upstream("reader", async (request) => new Response(`got ${(await request.arrayBuffer()).byteLength}`));
    const g = await gw({ pools: { app: { servers: [{ url: reader.url }], timeouts: { response: "300ms" } } }, routes: [{ pool: "app" }] });
    let sent = 0;
    // 12 chunks, 100 ms apart: the upload alone takes four times the response timeout.
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        if (sent++ >= 12) return controller.close();
        await Bun.sleep(100);
        controller.enqueue(new Uint8Array(1000));
      },
    });
    const response = await fetch(g.url + "/", { method: "POST", body, duplex: "half" } as RequestInit);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("got 12000");
    expect(g.current.pools.get("app")!.servers[0]!.failures).toBe(0);
  });

  test("timeouts.response still applies once an upload is complete", async () => {
    const sleepy = upstream("sleepy", async (request) => {
      await request.arrayBuffer();
      await Bun.sleep(2_000);
      return new Response("late");
    });
    const g = await gw({ pools: { app: { servers: [{ url: sleepy.url }], timeouts: { response: "300ms" } } }, routes: [{ pool: "app" }] });
    const response = await fetch(g.url + "/", { method: "POST", body: "x".repeat(10_000) });
    expect(response.status).toBe(504);
    await errorBody(response);
  });

  test("timeouts.connect bounds a handshake that never completes, and the next server answers", async () => {
    const hole = await startBlackhole();
    cleanup.push(() => hole.close());
    const live = upstream("live");
    const g = await gw({
      pools: { app: { servers: [{ url: hole.url }, { url: live.url }], timeouts: { connect: "300ms", response: "25s" } } },
      routes: [{ pool: "app" }],
    });
    const response = await fetch(g.url + "/");
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("live");
    expect(g.current.pools.get("app")!.servers[0]!.failures).toBe(1);
  });

  test("timeouts.connect, no other server: 502 (not a 504 after the response timeout)", async () => {
    const hole = await startBlackhole();
    cleanup.push(() => hole.close());
    const g = await gw({
      pools: { app: { servers: [{ url: hole.url }], timeouts: { connect: "300ms", response: "25s" } } },
      routes: [{ pool: "app" }],
    });
    const response = await fetch(g.url + "/");
    expect(response.status).toBe(502);
    await errorBody(response);
  });
});

describe("upstreams that misbehave", () => {
  test("garbage instead of HTTP: 502, and the gateway keeps serving", async () => {
    const garbage = await startRawUpstream((socket) => socket.end("HELLO\r\n\r\n"));
    cleanup.push(() => garbage.close());
    const live = upstream("live");
    const g = await gw({ pools: { bad: [garbage.url], good: [live.url] }, routes: [{ match: { path: "/bad" }, pool: "bad" }, { pool: "good" }] });
    const response = await fetch(g.url + "/bad");
    expect(response.status).toBe(502);
    await errorBody(response);
    expect(garbage.heads).toHaveLength(1); // answered badly, not retried on a new connection
    expect((await fetch(g.url + "/ok")).status).toBe(200);
  });

  test("garbage that never ends the head: 502", async () => {
    const garbage = await startRawUpstream((socket) => socket.end("\x00\x01\x02 not http at all"));
    cleanup.push(() => garbage.close());
    const g = await gw({ pools: { bad: [garbage.url] }, routes: [{ pool: "bad" }] });
    expect((await fetch(g.url + "/")).status).toBe(502);
  });

  test("an upstream that closes without answering: 502", async () => {
    const closer = await startRawUpstream((socket) => socket.destroy());
    cleanup.push(() => closer.close());
    const g = await gw({ pools: { bad: [closer.url] }, routes: [{ pool: "bad" }] });
    const response = await fetch(g.url + "/", { method: "POST", body: "x" });
    expect(response.status).toBe(502);
    await errorBody(response);
  });

  test("an upstream that dies mid-response: the client sees a short body or an error; the gateway keeps serving", async () => {
    const cut = await startRawUpstream((socket) => {
      socket.write("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789");
      setTimeout(() => socket.destroy(), 50);
    });
    cleanup.push(() => cut.close());
    const live = upstream("live");
    const g = await gw({ pools: { cut: [cut.url], good: [live.url] }, routes: [{ match: { path: "/cut" }, pool: "cut" }, { pool: "good" }] });

    const response = await fetch(g.url + "/cut");
    expect(response.status).toBe(200);
    let text = "";
    let failed = false;
    try {
      text = await response.text();
    } catch {
      failed = true;
    }
    // Never a complete-looking 1000-byte body.
    expect(failed || text.length < 1000).toBe(true);
    expect(text.length).toBeLessThanOrEqual(10);

    const again = await fetch(g.url + "/ok");
    expect(again.status).toBe(200);
    expect(await again.text()).toBe("live");
    expect(await eventually(() => g.current.pools.get("cut")!.servers[0]!.active === 0)).toBe(true);
  });

  test("answers HTTP cannot relay (bad status, conflicting lengths, bad header names): 502", async () => {
    const answers: Record<string, string> = {
      "/status-999": "HTTP/1.1 999 Weird\r\nContent-Length: 2\r\n\r\nok",
      "/status-600": "HTTP/1.1 600 Weird\r\nContent-Length: 2\r\n\r\nok",
      "/two-lengths": "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nhello",
      "/negative-length": "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\nhello",
      "/bad-header-name": "HTTP/1.1 200 OK\r\nBad Name: x\r\nContent-Length: 2\r\n\r\nok",
    };
    const bad = await startRawUpstream((socket, head) => socket.end(answers[head.split(" ")[1]!]!));
    cleanup.push(() => bad.close());
    const g = await gw({ pools: { bad: { servers: [{ url: bad.url, maxFails: 0 }] } }, routes: [{ pool: "bad" }] });
    for (const path of Object.keys(answers)) {
      const response = await fetch(g.url + path);
      expect([path, response.status]).toEqual([path, 502]);
      await errorBody(response);
    }
    const server = g.current.pools.get("bad")!.servers[0]!;
    expect(server.failures).toBe(Object.keys(answers).length);
    expect(server.active).toBe(0);
  });

  test("a status line without a code: refused by the response parser at once, 502", async () => {
    const mute = await startRawUpstream((socket) => socket.write("HTTP/1.1\r\n\r\n"));
    cleanup.push(() => mute.close());
    const g = await gw({ pools: { bad: { servers: [{ url: mute.url }], timeouts: { response: "300ms" } } }, routes: [{ pool: "bad" }] });
    const response = await fetch(g.url + "/");
    expect(response.status).toBe(502);
    await errorBody(response);
  });

  // An answer cut mid-body must reach the client as a failure (its connection closed before the body is
  // complete, which fetch reports as an error), never as a shorter body that looks complete. Both framings,
  // on the plain path and on a route whose plugins see the response as an object.
  const cutAnswers = {
    "with a Content-Length": "HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + "z".repeat(100_000),
    chunked: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + `${(100_000).toString(16)}\r\n${"z".repeat(100_000)}\r\n`,
  };
  for (const [framing, sent] of Object.entries(cutAnswers)) {
    for (const plugins of [false, true]) {
      test(`a large answer ${framing} cut mid-body${plugins ? ", on a route with plugins" : ""}: the client sees it fail, the server is released`, async () => {
        const cut = await startRawUpstream((socket) => {
          socket.write(sent);
          setTimeout(() => socket.destroy(), 50);
        });
        cleanup.push(() => cut.close());
        const routePlugins = plugins ? [{ use: TAGGER, options: { tag: "t" } }] : [];
        const g = await gw({ pools: { cut: [cut.url] }, routes: [{ pool: "cut", plugins: routePlugins }] });
        const response = await fetch(g.url + "/");
        expect(response.status).toBe(200);
        if (plugins) expect(response.headers.get("x-tagged-by")).toBe("t");
        await expect(response.arrayBuffer()).rejects.toThrow();
        expect(await eventually(() => g.current.pools.get("cut")!.servers[0]!.active === 0)).toBe(true);
      });
    }
  }

  test("an upstream redirect is passed to the client, never followed", async () => {
    const redirector = upstream("r", () => new Response(null, { status: 302, headers: { location: "http://127.0.0.1:1/elsewhere" } }));
    const g = await gw({ pools: { app: [redirector.url] }, routes: [{ pool: "app" }] });
    const response = await fetch(g.url + "/", { redirect: "manual" });
    expect(response.status).toBe(302);
    expect(response.headers.get("location")).toBe("http://127.0.0.1:1/elsewhere");
  });

  test("upstream error statuses pass through as they are", async () => {
    const failing = upstream("f", () => new Response("upstream says no", { status: 500, headers: { "x-why": "because" } }));
    const g = await gw({ pools: { app: [failing.url] }, routes: [{ pool: "app" }] });
    const response = await fetch(g.url + "/");
    expect(response.status).toBe(500);
    expect(response.headers.get("x-why")).toBe("because");
    expect(await response.text()).toBe("upstream says no");
  });
});
