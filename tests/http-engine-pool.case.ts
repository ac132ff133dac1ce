// The gateway's upstream connections, seen from real upstreams on 127.0.0.1 that count what they accept:
// keep-alive reuse across requests and clients, the server's Keep-Alive hint, servers that close right after
// answering, the stale keep-alive race (a reused connection reset before the answer: retried once on a fresh
// connection for an idempotent request, never for a POST with a body), a connect timeout against a blackholed
// address, and a client that leaves before or during the answer (its upstream connection is closed, never
// reused). One suite for both runtimes: http-engine-pool.test.ts runs it on Bun, http-engine-deno.test.ts on Deno.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Socket } from "node:net";
import { until } from "./helpers/common.ts";
import { errorBody, startBlackhole, type Blackhole } from "./helpers/upstream.ts";
import { answerWith, background, openWire, wireUpstream, type WireUpstream } from "./helpers/wire.ts";
import { startEngineGateway, type EngineGateway, type EngineRuntime } from "./helpers/engine-gateway.ts";
import { resolve } from "node:path";

/** A plugin that works on Request and Response objects: its routes go through hono. */
const OBJECT_HEADERS = resolve(import.meta.dir, "./fixtures/plugins/object-headers.ts");

/** Writes `total` bytes of body with backpressure until done or the connection goes. */
function stream(socket: Socket, total: number, chunked: boolean): void {
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  let sent = 0;
  const pump = () => {
    while (sent < total && !socket.destroyed) {
      sent += chunk.length;
      const ok = chunked ? socket.write(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n")])) : socket.write(chunk);
      if (!ok) return void socket.once("drain", pump);
    }
    if (!socket.destroyed) socket.write(chunked ? "0\r\n\r\n" : "");
  };
  pump();
}

/** Answers each request after `delayMs` (so that concurrent requests need connections of their own). */
const helloAfter = (delayMs: number) => (request: { target: string }, socket: Socket) => {
  setTimeout(() => socket.write(answerWith(200, `hello ${request.target}`)), delayMs);
};

export function poolCases(runtime: EngineRuntime): void {
  const ups: Record<string, WireUpstream> = {};
  let hole: Blackhole;
  let gw: EngineGateway;
  /** The early-answering upstream's connection, paused after its answer. */
  let earlySocket: Socket | undefined;
  let hinted: () => Promise<{ answers: Array<{ status: number; body: string }>; answeredAt: number }>;

  describe(`upstream connections on ${runtime}`, () => {
    beforeAll(async () => {
      ups.reuse = await wireUpstream(helloAfter(0));
      ups.concurrent = await wireUpstream(helloAfter(50));
      // As Node's and Apache's servers say it: Keep-Alive named in Connection, with the server's timeout.
      ups.hint = await wireUpstream((_r, socket) => void socket.write(answerWith(200, "hinted", ["Connection: keep-alive", "Keep-Alive: timeout=2"])));
      ups.closes = await wireUpstream((_r, socket) => void socket.end(answerWith(200, "bye", ["Connection: close"])));
      ups.justCloses = await wireUpstream((_r, socket) => void socket.end(answerWith(200, "bye")));
      ups.http10 = await wireUpstream((_r, socket) => void socket.end("HTTP/1.0 200 OK\r\nContent-Length: 4\r\n\r\nold!"));
      // The stale keep-alive race: the second request on any connection is met with a reset.
      ups.resetsSecond = await wireUpstream((request, socket) => {
        if (request.index >= 2) socket.resetAndDestroy();
        else socket.write(answerWith(200, `fresh ${request.connection.id}`));
      });
      ups.resetsPost = await wireUpstream((request, socket) => {
        if (request.index >= 2) socket.resetAndDestroy();
        else socket.write(answerWith(200, "warm"));
      });
      // Answers the very first request, then resets every later one, on any connection.
      let answeredOnce = false;
      ups.resetsAlways = await wireUpstream((_request, socket) => {
        if (answeredOnce) return void socket.resetAndDestroy();
        answeredOnce = true;
        socket.write(answerWith(200, "once"));
      });
      // /big-length and /big-chunked: 256 MB answers, far more than any buffer on the way; anything else: a small one.
      ups.leaver = await wireUpstream((request, socket) => {
        if (request.target === "/big-length") {
          socket.write("HTTP/1.1 200 OK\r\nContent-Length: 268435456\r\n\r\n");
          stream(socket, 256 * 1024 * 1024, false);
        } else if (request.target === "/big-chunked") {
          socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
          stream(socket, 256 * 1024 * 1024, true);
        } else socket.write(answerWith(200, "small"));
      });
      // Answers a POST to /early with 413 as soon as its head is in and stops reading until the test lets it (so
      // that the body cannot all be sent before the answer); then reads the body on and stays open for more, as a
      // keep-alive server that drains a refused body. Everything else gets a small answer.
      ups.early = await wireUpstream(
        (request, socket) => {
          if (request.target !== "/early") socket.write(answerWith(200, "small"));
        },
        {
          onHead: (head, socket) => {
            if (!head.startsWith("POST /early ")) return;
            socket.pause();
            earlySocket = socket;
            socket.write(answerWith(413, '{"error":"too big for me"}'));
          },
        },
      );
      // The same behaviours behind a route with plugins (the fetch-shaped client, pooled-fetch.ts).
      ups.pluginReuse = await wireUpstream(helloAfter(0));
      ups.pluginResets = await wireUpstream((request, socket) => {
        if (request.index >= 2) socket.resetAndDestroy();
        else socket.write(answerWith(200, `fresh ${request.connection.id}`));
      });
      ups.pluginLeaver = await wireUpstream((request, socket) => {
        if (request.target !== "/big") return void socket.write(answerWith(200, "small"));
        socket.write("HTTP/1.1 200 OK\r\nContent-Length: 268435456\r\n\r\n");
        stream(socket, 256 * 1024 * 1024, false);
      });
      // Never answer: the client gives up first.
      ups.silentReset = await wireUpstream(() => {});
      ups.silentFin = await wireUpstream(() => {});
      hole = await startBlackhole();
      const pool = (up: WireUpstream, extra: Record<string, unknown> = {}) => ({ servers: [{ url: up.url, id: "s1" }], ...extra });
      gw = await startEngineGateway(runtime, {
        pools: {
          reuse: pool(ups.reuse),
          concurrent: pool(ups.concurrent),
          hint: pool(ups.hint),
          closes: pool(ups.closes),
          justCloses: pool(ups.justCloses),
          http10: pool(ups.http10),
          resetsSecond: pool(ups.resetsSecond),
          // maxFails 0: the POST's 502 must not take the server out for the rest of the file.
          resetsPost: { servers: [{ url: ups.resetsPost.url, id: "s1", maxFails: 0 }] },
          resetsAlways: pool(ups.resetsAlways),
          leaver: pool(ups.leaver),
          early: pool(ups.early),
          pluginReuse: pool(ups.pluginReuse),
          pluginResets: pool(ups.pluginResets),
          pluginLeaver: pool(ups.pluginLeaver),
          silentReset: pool(ups.silentReset),
          silentFin: pool(ups.silentFin),
          hole: { servers: [{ url: hole.url, id: "s1" }], timeouts: { connect: "300ms" } },
        },
        routes: Object.keys(ups)
          .concat("hole")
          .map((name) => ({
            match: { path: `/${name}/*` },
            pool: name,
            stripPrefix: `/${name}`,
            // An afterUpstream hook needs the answer as a Response: these routes go through hono.
            ...(name.startsWith("plugin") && { plugins: [{ use: OBJECT_HEADERS, options: { response: { set: { "x-via": "plugin" } } } }] }),
          })),
      });
      // The hint's expiry takes a second or two of waiting: it starts now, so that the wait overlaps the other
      // cases, and its test checks when the connection closed.
      hinted = background(async () => {
        const answers = [await get("/hint/a"), await get("/hint/b")];
        const answeredAt = Date.now();
        // The gap is the case itself: a request after the gateway's limit and before the server's.
        await Bun.sleep(1_200);
        answers.push(await get("/hint/c"));
        return { answers, answeredAt };
      });
    });

    afterAll(async () => {
      await gw?.stop();
      hole?.close();
      await Promise.all(Object.values(ups).map((u) => u.close()));
    });

    const server = (pool: string) => gw.server(pool);

    async function get(path: string, init?: RequestInit): Promise<{ status: number; body: string }> {
      const response = await fetch(gw.url + path, init);
      return { status: response.status, body: await response.text() };
    }

    describe("reuse", () => {
      test("sequential requests, from different clients, travel on one upstream connection", async () => {
        for (let i = 1; i <= 5; i++) expect(await get(`/reuse/r${i}`)).toEqual({ status: 200, body: `hello /r${i}` });
        // Raw clients, each on its own connection to the gateway: still the same upstream connection.
        for (let i = 6; i <= 8; i++) {
          const client = await openWire(gw.port);
          client.write(`GET /reuse/r${i} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
          expect((await client.read()).body.toString()).toBe(`hello /r${i}`);
          client.close();
        }
        expect(ups.reuse!.accepted).toBe(1);
        expect(ups.reuse!.requests.map((r) => [r.connection.id, r.index])).toEqual([1, 2, 3, 4, 5, 6, 7, 8].map((i) => [1, i]));
        expect(ups.reuse!.closedCount).toBe(0);
      });

      test("concurrent requests each get a connection; the idle ones then serve later requests", async () => {
        const first = await Promise.all([1, 2, 3].map((i) => get(`/concurrent/c${i}`)));
        expect(first.map((r) => r.status)).toEqual([200, 200, 200]);
        expect(ups.concurrent!.accepted).toBe(3);
        for (let i = 4; i <= 9; i++) expect((await get(`/concurrent/c${i}`)).status).toBe(200);
        const again = await Promise.all([10, 11, 12].map((i) => get(`/concurrent/c${i}`)));
        expect(again.map((r) => r.status)).toEqual([200, 200, 200]);
        expect(ups.concurrent!.accepted).toBe(3);
        expect(ups.concurrent!.requests.length).toBe(12);
      });
    });

    describe("the server's Keep-Alive hint", () => {
      test("Keep-Alive: timeout=2 → reused at once, never after the hint less a margin (1 s), and closed by the gateway", async () => {
        const up = ups.hint!;
        const { answers, answeredAt } = await hinted();
        expect(answers).toEqual([
          { status: 200, body: "hinted" },
          { status: 200, body: "hinted" },
          { status: 200, body: "hinted" },
        ]);
        // The third request came 1.2 s after the second answer: inside the server's 2 s, outside the gateway's 1 s.
        expect(up.requests.map((r) => r.connection.id)).toEqual([1, 1, 2]);
        await until(() => up.connections[0]!.closed, "hinted connection closed", 4_000);
        // Closed by the gateway (this server never closes): when the late request found it too old, or by the
        // sweep (once a second) — not before the 1 s limit.
        const after = up.connections[0]!.closedAt - answeredAt;
        expect(after).toBeGreaterThanOrEqual(800);
        expect(after).toBeLessThan(2_500);
      });
    });

    describe("servers that close right after answering", () => {
      for (const [pool, how, body] of [
        ["closes", "with Connection: close", "bye"],
        ["justCloses", "without a word (keep-alive answer, then FIN)", "bye"],
        ["http10", "as HTTP/1.0 without keep-alive", "old!"],
      ] as const) {
        test(`a server that closes ${how}: every next request opens a new connection and succeeds, no failure counted`, async () => {
          const up = ups[pool]!;
          for (let i = 0; i < 5; i++) expect(await get(`/${pool}/x${i}`)).toEqual({ status: 200, body });
          expect(up.accepted).toBe(5);
          // Each answer came on a connection of its own. The answer that says it closes is never followed by
          // another request on its connection; a bare FIN can race the next request onto the connection (the
          // stale keep-alive race: this server, half-open, still reads it but no longer answers), which is then
          // retried on a new one — so only there may a second request show up, and never answered.
          expect(up.requests.filter((r) => r.index === 1).length).toBe(5);
          if (pool !== "justCloses") expect(up.requests.length).toBe(5);
          expect((await server(pool)).failures).toBe(0);
        });
      }
    });

    describe("a reset before the answer", () => {
      test("a GET on a reused connection that the server resets is retried once on a fresh connection: 200, not the server's failure", async () => {
        const up = ups.resetsSecond!;
        expect(await get("/resetsSecond/one")).toEqual({ status: 200, body: "fresh 1" });
        expect(await get("/resetsSecond/two")).toEqual({ status: 200, body: "fresh 2" });
        expect(up.accepted).toBe(2);
        expect(up.requests.map((r) => [r.target, r.connection.id, r.index])).toEqual([
          ["/one", 1, 1],
          ["/two", 1, 2],
          ["/two", 2, 1],
        ]);
        expect((await server("resetsSecond")).failures).toBe(0);
        // Other idempotent methods without a body get the same treatment.
        expect((await get("/resetsSecond/three", { method: "DELETE" })).status).toBe(200);
        expect(up.accepted).toBe(3);
        expect((await server("resetsSecond")).failures).toBe(0);
      });

      test("a POST with a body on a reused connection that the server resets is not retried: 502 JSON", async () => {
        const up = ups.resetsPost!;
        expect((await get("/resetsPost/warm")).status).toBe(200);
        const response = await fetch(gw.url + "/resetsPost/submit", { method: "POST", body: "order=1" });
        expect(response.status).toBe(502);
        expect((await errorBody(response)).error).toBeTruthy();
        expect(up.accepted).toBe(1);
        expect(up.requests.map((r) => [r.method, r.index, r.body.toString()])).toEqual([
          ["GET", 1, ""],
          ["POST", 2, "order=1"],
        ]);
      });

      test("the retry happens once only: a fresh connection reset as well is a 502 and the server's failure", async () => {
        const up = ups.resetsAlways!;
        expect(await get("/resetsAlways/a")).toEqual({ status: 200, body: "once" });
        const response = await fetch(gw.url + "/resetsAlways/b");
        expect(response.status).toBe(502);
        await errorBody(response);
        // The reused connection, then one fresh one: two attempts at /b, no third.
        expect(up.requests.filter((r) => r.target === "/b").length).toBe(2);
        expect(up.accepted).toBe(2);
        expect((await server("resetsAlways")).failures).toBe(1);
      });
    });

    describe("connect timeout", () => {
      test("a blackholed server (handshake never completes): 502 JSON after timeouts.connect, not before", async () => {
        const started = Date.now();
        const response = await fetch(gw.url + "/hole/x");
        const elapsed = Date.now() - started;
        expect(response.status).toBe(502);
        expect((await errorBody(response)).error).toBeTruthy();
        expect(elapsed).toBeGreaterThanOrEqual(280);
        expect(elapsed).toBeLessThan(1_500);
        expect((await server("hole")).failures).toBe(1);
      });
    });

    describe("an answer before the request is all sent", () => {
      test("an upstream that refuses an upload before its end: the client gets the answer, and the connection, left mid-message, is never reused", async () => {
        const up = ups.early!;
        const client = await openWire(gw.port);
        // Far more than the socket buffers on the way take while the upstream does not read.
        const body = Buffer.alloc(16 * 1024 * 1024, 0x62);
        client.write(`POST /early/early HTTP/1.1\r\nHost: a.test\r\nContent-Length: ${body.length}\r\n\r\n`);
        client.write(body);
        const refused = await client.read();
        expect(refused.status).toBe(413);
        expect(refused.body.toString()).toBe('{"error":"too big for me"}');
        await client.closed(3_000);
        // The upstream reads again: it sees the gateway's close.
        earlySocket!.resume();
        const carrier = up.connections[0]!;
        await until(() => carrier.closed, "the connection of the unfinished request closed", 2_000);
        expect(await get("/early/next")).toEqual({ status: 200, body: "small" });
        expect(up.requests.at(-1)!.connection).not.toBe(carrier);
        expect((await server("early")).failures).toBe(0);
      });
    });

    describe("a client that goes away", () => {
      for (const framing of ["length", "chunked"] as const) {
        test(`mid-answer (${framing === "length" ? "Content-Length" : "chunked"}): the upstream connection is closed, never reused, and the server is not blamed`, async () => {
          const up = ups.leaver!;
          // A warm idle connection first, so that the big answer goes on a reused one.
          expect(await get("/leaver/warm")).toEqual({ status: 200, body: "small" });
          const warm = up.requests.at(-1)!.connection;
          const client = await openWire(gw.port);
          client.write(`GET /leaver/big-${framing} HTTP/1.1\r\nHost: a.test\r\n\r\n`);
          await until(() => client.buffered > 256 * 1024, "part of the big answer arrived");
          const carrier = up.requests.at(-1)!.connection;
          expect(carrier).toBe(warm);
          expect(carrier.closed).toBe(false);
          client.close();
          await until(() => carrier.closed, "the upstream connection carrying the answer closed");
          // The next request cannot have gone on it: a new connection, answered in full.
          expect(await get("/leaver/after")).toEqual({ status: 200, body: "small" });
          const after = up.requests.at(-1)!;
          expect(after.connection).not.toBe(carrier);
          expect(after.index).toBe(1);
          expect(after.connection.id).toBeGreaterThan(carrier.id);
          expect((await server("leaver")).failures).toBe(0);
          await until(async () => (await server("leaver")).active === 0, "no request active on the server");
        });
      }

      for (const [pool, how] of [
        ["silentReset", "resets its connection"],
        ["silentFin", "closes its connection (FIN)"],
      ] as const) {
        test(`before the answer, a client that ${how}: the upstream connection waiting for the answer is closed`, async () => {
          const up = ups[pool]!;
          const client = await openWire(gw.port);
          client.write(`GET /${pool}/wait HTTP/1.1\r\nHost: a.test\r\n\r\n`);
          await until(() => up.requests.length === 1, "the request reached the upstream", 2_000);
          const carrier = up.requests[0]!.connection;
          if (pool === "silentReset") client.socket.resetAndDestroy();
          else client.close();
          await until(() => carrier.closed, "the waiting upstream connection closed", 2_000);
          expect((await server(pool)).failures).toBe(0);
          await until(async () => (await server(pool)).active === 0, "no request active on the server", 2_000);
        });
      }
    });

    describe("behind a route with plugins (the fetch-shaped client)", () => {
      test("sequential requests travel on one upstream connection, and the plugin sees each answer", async () => {
        for (let i = 1; i <= 4; i++) {
          const response = await fetch(`${gw.url}/pluginReuse/p${i}`);
          expect(response.headers.get("x-via")).toBe("plugin");
          expect(await response.text()).toBe(`hello /p${i}`);
        }
        expect(ups.pluginReuse!.accepted).toBe(1);
        expect(ups.pluginReuse!.requests.map((r) => r.index)).toEqual([1, 2, 3, 4]);
      });

      test("a GET on a reused connection that the server resets is retried once on a fresh one: 200, not the server's failure", async () => {
        expect(await get("/pluginResets/one")).toEqual({ status: 200, body: "fresh 1" });
        expect(await get("/pluginResets/two")).toEqual({ status: 200, body: "fresh 2" });
        expect(ups.pluginResets!.requests.map((r) => [r.target, r.connection.id, r.index])).toEqual([
          ["/one", 1, 1],
          ["/two", 1, 2],
          ["/two", 2, 1],
        ]);
        expect((await server("pluginResets")).failures).toBe(0);
      });

      test("a client that leaves mid-answer: the upstream connection is closed, never reused, and the server is not blamed", async () => {
        const up = ups.pluginLeaver!;
        expect(await get("/pluginLeaver/warm")).toEqual({ status: 200, body: "small" });
        const warm = up.requests.at(-1)!.connection;
        const client = await openWire(gw.port);
        client.write("GET /pluginLeaver/big HTTP/1.1\r\nHost: a.test\r\n\r\n");
        await until(() => client.buffered > 256 * 1024, "part of the big answer arrived");
        expect(up.requests.at(-1)!.connection).toBe(warm);
        client.close();
        await until(() => warm.closed, "the upstream connection carrying the answer closed", 2_000);
        expect(await get("/pluginLeaver/after")).toEqual({ status: 200, body: "small" });
        expect(up.requests.at(-1)!.connection.id).toBeGreaterThan(warm.id);
        expect((await server("pluginLeaver")).failures).toBe(0);
        await until(async () => (await server("pluginLeaver")).active === 0, "no request active on the server", 2_000);
      });
    });
  });
}
