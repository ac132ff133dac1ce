// The TCP pipe, as both runtime adapters must carry it: one suite, run by l4-pipe-bun.test.ts and
// l4-pipe-deno.test.ts against listeners in a child process on that runtime (so memory is measured for
// the listeners alone). Upstreams and clients are node:net in the test process: an independent TCP stack.
//
// Covered: 32 MB byte for byte with half-close, an answer only after the client's FIN, the server's FIN
// while the client keeps sending, 300 connections at once, order of many small writes, bytes sent before
// the server is connected, resets either way, backpressure both ways (64 MB against a reader that stops,
// and against a server that stops), connect failure and timeout going to the next server, idle timeout,
// the listener's maxConns, and the graceful stop.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { connect, type Socket } from "node:net";
import { createHash } from "node:crypto";
import {
  echoUpstream,
  exchange,
  namedUpstream,
  openClient,
  randomBytes,
  refusingPort,
  sha256,
  tcpUpstream,
  type Client,
  type DeadPort,
  type TcpUpstream,
} from "./helpers/l4.ts";
import { spawnL4, type L4Process, type L4Runtime } from "./helpers/l4-process.ts";
import { eventually } from "./helpers/common.ts";
import { startBlackhole, type Blackhole } from "./helpers/upstream.ts";

const FLOOD = 64 * 1024 * 1024;

export function pipeCases(runtime: L4Runtime): void {
  describe(`tcp pipe on ${runtime}`, () => {
    const ups: Record<string, TcpUpstream> = {};
    let hole: Blackhole;
    const dead: DeadPort[] = [];
    let child: L4Process;
    const port: Record<string, number> = {};
    /** Bytes the flooding server got out so far, and the hash of all of it once done. */
    const flood = { sent: 0, sha256: "" };
    /** What the holding server saw of its connection's end. */
    const holderSaw: string[] = [];
    let holderSocket: Socket | undefined;
    let counted = 0;

    beforeAll(async () => {
      ups.echo = await echoUpstream();
      ups.b = await namedUpstream("b");
      ups.afterFin = await tcpUpstream((socket) => {
        let got = 0;
        socket.on("data", (chunk: Buffer) => (got += chunk.byteLength));
        socket.on("end", () => {
          socket.write(`got ${got} bytes;`);
          setTimeout(() => socket.end(" bye"), 50);
        });
      });
      ups.greeter = await tcpUpstream((socket) => {
        socket.end("hello and goodbye");
        socket.on("data", (chunk: Buffer) => (counted += chunk.byteLength));
      });
      ups.resetter = await tcpUpstream((socket) => {
        socket.write("partial answer");
        setTimeout(() => socket.resetAndDestroy(), 100);
      });
      ups.holder = await tcpUpstream((socket) => {
        holderSocket = socket;
        socket.on("data", () => socket.write("ack"));
        socket.on("end", () => holderSaw.push("end"));
        socket.on("error", (e: NodeJS.ErrnoException) => holderSaw.push(`error ${e.code}`));
        socket.on("close", () => holderSaw.push("close"));
      });
      const chunk = new Uint8Array(64 * 1024);
      crypto.getRandomValues(chunk);
      ups.flood = await tcpUpstream((socket) => {
        const hash = createHash("sha256");
        const pump = () => {
          while (flood.sent < FLOOD) {
            chunk[0] = (flood.sent / chunk.byteLength) & 0xff;
            hash.update(chunk);
            flood.sent += chunk.byteLength;
            if (!socket.write(chunk)) return void socket.once("drain", pump);
          }
          flood.sha256 = hash.digest("hex");
          socket.end();
        };
        pump();
      });
      ups.sink = await tcpUpstream((socket) => {
        socket.pause();
        const hash = createHash("sha256");
        let got = 0;
        socket.on("data", (c: Buffer) => {
          got += c.byteLength;
          hash.update(c);
        });
        socket.on("end", () => socket.end(`${got} ${hash.digest("hex")}`));
        setTimeout(() => socket.resume(), 1_500);
      });
      hole = await startBlackhole();
      dead.push(await refusingPort(), await refusingPort());
      const [dead1, dead2] = dead.map((d) => d.address) as [string, string];
      const pool = (addresses: string[], extra: Record<string, unknown> = {}) => ({
        mode: "tcp",
        servers: addresses.map((address, i) => ({ address, id: `s${i + 1}` })),
        ...extra,
      });
      const pools = {
        echo: pool([ups.echo.address]),
        afterFin: pool([ups.afterFin.address]),
        greeter: pool([ups.greeter.address]),
        resetter: pool([ups.resetter.address]),
        holder: pool([ups.holder.address]),
        flood: pool([ups.flood.address]),
        sink: pool([ups.sink.address]),
        deadFirst: pool([dead1, ups.b.address], { balance: "first" }),
        allDead: pool([dead1, dead2]),
        blackholeFirst: pool([`127.0.0.1:${hole.port}`, ups.b.address], { balance: "first" }),
      };
      const listeners: Array<[string, Record<string, unknown>]> = [
        ["big", { pool: "echo" }],
        ["afterFin", { pool: "afterFin" }],
        ["greeter", { pool: "greeter" }],
        ["many", { pool: "echo" }],
        ["order", { pool: "echo" }],
        ["early", { pool: "echo" }],
        ["resetter", { pool: "resetter" }],
        ["holder", { pool: "holder" }],
        ["flood", { pool: "flood" }],
        ["sink", { pool: "sink" }],
        ["deadFirst", { pool: "deadFirst" }],
        ["allDead", { pool: "allDead" }],
        ["blackholeFirst", { pool: "blackholeFirst", connectTimeout: "300ms" }],
        ["idle", { pool: "echo", idleTimeout: "300ms" }],
        ["max2", { pool: "echo", maxConns: 2 }],
        ["drain", { pool: "echo" }],
      ];
      child = await spawnL4({ pools, tcp: listeners.map(([, l]) => ({ listen: "127.0.0.1:0", ...l })) }, runtime);
      listeners.forEach(([name], i) => (port[name] = child.ports[i]!));
    }, 30_000);

    afterAll(async () => {
      await child?.kill();
      hole?.close();
      for (const d of dead) d.close();
      await Promise.all(Object.values(ups).map((u) => u.close()));
    });

    const listenerStats = async (name: string) => {
      const stats = await child.stats();
      return stats.tcp.listeners.find((l) => l.address.endsWith(`:${port[name]}`))!;
    };

    test("32 MB of random bytes echo byte for byte, with the client's half-close carried to the server", async () => {
      const data = randomBytes(32 * 1024 * 1024);
      const result = await exchange(port.big!, data, { timeoutMs: 20_000 });
      expect(result.ending).toBe("end");
      expect(result.bytes.byteLength).toBe(data.byteLength);
      expect(result.sha256).toBe(sha256(data));
      console.log(`${runtime}: 32 MB echoed through the listener in ${result.ms.toFixed(0)} ms (${(32 / (result.ms / 1000)).toFixed(0)} MB/s each way)`);
      const stats = await listenerStats("big");
      expect(stats.bytesIn).toBe(data.byteLength);
      expect(stats.bytesOut).toBe(data.byteLength);
    }, 30_000);

    test("a server that answers only after the client's FIN gets it, and its answer reaches the client", async () => {
      const result = await exchange(port.afterFin!, ["a".repeat(70_000), "b".repeat(30_000)], { gapMs: 20 });
      expect(result.bytes.toString()).toBe("got 100000 bytes; bye");
      expect(result.ending).toBe("end");
    });

    test("the server's FIN reaches the client while the client's direction stays open", async () => {
      const client = await openClient(port.greeter!);
      await new Promise<void>((resolve) => client.socket.once("end", () => resolve()));
      expect(client.received().toString()).toBe("hello and goodbye");
      client.socket.write("x".repeat(50_000));
      expect(await eventually(() => counted === 50_000)).toBe(true);
      client.socket.end();
      expect(await eventually(() => ups.greeter!.sockets.size === 0)).toBe(true);
    });

    test("300 concurrent connections each echo their own bytes", async () => {
      const payloads = Array.from({ length: 300 }, (_, i) => Buffer.from(`#${i}:`.padEnd(4096, String.fromCharCode(97 + (i % 26)))));
      const results = await Promise.all(payloads.map((p) => exchange(port.many!, [p.subarray(0, 1000), p.subarray(1000)], { gapMs: 5 })));
      for (const [i, r] of results.entries()) {
        expect(r.ending).toBe("end");
        expect(r.bytes.equals(payloads[i]!)).toBe(true);
      }
      let stats = await listenerStats("many");
      for (let i = 0; i < 50 && stats.active > 0; i++) stats = (await Bun.sleep(20), await listenerStats("many"));
      expect(stats.active).toBe(0);
      expect(stats.accepted).toBe(300);
      expect(stats.bytesIn).toBe(300 * 4096);
      expect(stats.bytesOut).toBe(300 * 4096);
      expect(stats.errors.resets).toBe(0);
    }, 20_000);

    test("many small writes keep their order", async () => {
      const parts = Array.from({ length: 2_000 }, (_, i) => `${i},`);
      const result = await exchange(port.order!, parts);
      expect(result.bytes.toString()).toBe(parts.join(""));
    });

    test("bytes sent before the server connection is made are forwarded first", async () => {
      const socket = connect({ host: "127.0.0.1", port: port.early!, allowHalfOpen: true });
      socket.write("early bytes ");
      socket.write("and more");
      socket.end();
      const got: Buffer[] = [];
      socket.on("data", (c: Buffer) => got.push(c));
      await new Promise<void>((resolve) => socket.on("end", () => resolve()));
      socket.destroy();
      expect(Buffer.concat(got).toString()).toBe("early bytes and more");
    });

    test("a server that resets mid-stream ends the client's connection promptly", async () => {
      const client = await openClient(port.resetter!);
      client.socket.on("error", () => {});
      await client.waitFor((t) => t === "partial answer");
      const started = Date.now();
      const how = await client.ended;
      expect(Date.now() - started).toBeLessThan(1_000);
      // Bun resets the client too (SO_LINGER 0); Deno cannot send a reset, so its client sees an end.
      expect(how).toBe(runtime === "bun" ? "error: ECONNRESET" : "end");
      const stats = await listenerStats("resetter");
      expect(stats.errors.resets).toBe(1);
    });

    test("a client that resets closes the server side promptly", async () => {
      const client = await openClient(port.holder!);
      client.socket.write("hi");
      await client.waitFor((t) => t === "ack");
      expect(holderSocket).toBeDefined();
      const started = Date.now();
      client.socket.resetAndDestroy();
      // Bun passes the reset on; Deno closes the server side (a FIN: Deno cannot reset).
      expect(await eventually(() => holderSaw.length > 0, 2_000)).toBe(true);
      expect(Date.now() - started).toBeLessThan(1_000);
      expect(holderSaw[0]).toBe(runtime === "bun" ? "error ECONNRESET" : "end");
      let stats = await listenerStats("holder");
      for (let i = 0; i < 50 && stats.active > 0; i++) stats = (await Bun.sleep(20), await listenerStats("holder"));
      expect(stats.active).toBe(0);
      expect(stats.errors.resets).toBe(1);
      holderSocket!.destroy();
    });

    test("a client that stops reading pauses the server: memory stays bounded and all 64 MB arrive", async () => {
      const base = await child.peak();
      const hash = createHash("sha256");
      let received = 0;
      let slowly = false;
      const socket = connect({ host: "127.0.0.1", port: port.flood! });
      socket.pause();
      socket.on("data", (chunk: Buffer) => {
        received += chunk.byteLength;
        hash.update(chunk);
        if (slowly) {
          socket.pause();
          setTimeout(() => slowly && socket.resume(), 20);
        }
      });
      const ended = new Promise<void>((resolve, reject) => {
        socket.on("end", () => resolve());
        socket.on("error", reject);
      });
      await Bun.sleep(1_500);
      const stalledAt = flood.sent;
      const paused = await child.peak();
      slowly = true;
      socket.resume();
      await Bun.sleep(1_000);
      const slow = await child.peak();
      const slowReceived = received;
      slowly = false;
      socket.resume();
      await ended;
      socket.destroy();
      const growth = Math.max(paused.peakMB, slow.peakMB) - base.nowMB;
      console.log(
        `${runtime} slow reader: listener RSS ${base.nowMB.toFixed(1)} MB at rest; the server got ${(stalledAt / 1048576).toFixed(1)} MB of 64 MB out while ` +
          `the client did not read (RSS peak ${paused.peakMB.toFixed(1)} MB); reading slowly took ${(slowReceived / 1048576).toFixed(1)} MB in 1 s ` +
          `(RSS peak ${slow.peakMB.toFixed(1)} MB); growth while held back ${growth.toFixed(1)} MB`,
      );
      expect(stalledAt).toBeLessThan(FLOOD / 2);
      expect(growth).toBeLessThan(16);
      expect(received).toBe(FLOOD);
      expect(hash.digest("hex")).toBe(flood.sha256);
      expect((await listenerStats("flood")).bytesOut).toBe(FLOOD);
    }, 20_000);

    test("a server that stops reading pauses the client: 64 MB uploaded arrive whole", async () => {
      const base = await child.peak();
      const chunk = new Uint8Array(256 * 1024);
      crypto.getRandomValues(chunk);
      const hash = createHash("sha256");
      const socket = connect({ host: "127.0.0.1", port: port.sink!, allowHalfOpen: true });
      let answer = "";
      socket.on("data", (data: Buffer) => (answer += data.toString()));
      const ended = new Promise<void>((resolve, reject) => {
        socket.on("end", () => resolve());
        socket.on("error", reject);
      });
      await new Promise<void>((resolve) => socket.once("connect", () => resolve()));
      let written = 0;
      let writtenWhilePaused = 0;
      let pausedPeak = 0;
      const checkpoint = setTimeout(async () => {
        writtenWhilePaused = written;
        pausedPeak = (await child.peak()).peakMB;
      }, 1_300);
      while (written < FLOOD) {
        chunk[0] = (written / chunk.byteLength) & 0xff;
        hash.update(chunk);
        written += chunk.byteLength;
        if (!socket.write(chunk)) await new Promise((resolve) => socket.once("drain", resolve));
      }
      socket.end();
      await ended;
      clearTimeout(checkpoint);
      socket.destroy();
      console.log(
        `${runtime} slow server: the client got ${(writtenWhilePaused / 1048576).toFixed(1)} MB out while the server did not read; listener RSS ${base.nowMB.toFixed(1)} → ${pausedPeak.toFixed(1)} MB`,
      );
      expect(writtenWhilePaused).toBeLessThan(FLOOD / 2);
      expect(pausedPeak - base.nowMB).toBeLessThan(16);
      expect(answer).toBe(`${FLOOD} ${hash.digest("hex")}`);
    }, 20_000);

    test("a dead first server is retried on the next one; the failure counts against it", async () => {
      const result = await exchange(port.deadFirst!, "ping");
      expect(result.bytes.toString()).toBe("b\nping");
      const stats = await child.stats();
      const [dead, live] = stats.pools.deadFirst!;
      expect(dead!.failures).toBe(1);
      expect(dead!.state).toBe("down");
      expect(live!.failures).toBe(0);
      expect(stats.tcp.listeners.find((l) => l.address.endsWith(`:${port.deadFirst}`))!.errors.connectFailures).toBe(1);
    });

    test("every server dead: the client is closed promptly, each server tried once", async () => {
      const result = await exchange(port.allDead!, "anyone?", { halfClose: false, timeoutMs: 3_000 });
      expect(result.ms).toBeLessThan(1_000);
      expect(result.bytes.byteLength).toBe(0);
      const stats = await child.stats();
      expect(stats.pools.allDead!.map((s) => s.failures)).toEqual([1, 1]);
      expect(stats.pools.allDead!.map((s) => s.active)).toEqual([0, 0]);
      const l = stats.tcp.listeners.find((x) => x.address.endsWith(`:${port.allDead}`))!;
      expect(l.errors.noServer).toBe(1);
    });

    test("a blackholed server is given up after connectTimeout for the next one", async () => {
      const result = await exchange(port.blackholeFirst!, "hello");
      expect(result.bytes.toString()).toBe("b\nhello");
      expect(result.ms).toBeGreaterThanOrEqual(280);
      expect(result.ms).toBeLessThan(1_500);
      const stats = await child.stats();
      expect(stats.pools.blackholeFirst![0]!.failures).toBe(1);
    });

    test("idle timeout closes a connection with no byte either way, not one that keeps talking", async () => {
      const idle = await openClient(port.idle!);
      const busy = await openClient(port.idle!);
      idle.socket.on("error", () => {});
      busy.socket.on("error", () => {});
      idle.socket.write("once");
      await idle.waitFor((t) => t === "once");
      const started = Date.now();
      let idleClosedAt = 0;
      void idle.ended.then(() => (idleClosedAt = Date.now()));
      for (let i = 0; i < 9; i++) {
        busy.socket.write(String(i));
        await Bun.sleep(100);
      }
      await idle.ended;
      expect(idleClosedAt - started).toBeGreaterThanOrEqual(250);
      expect(idleClosedAt - started).toBeLessThan(700);
      await busy.waitFor((t) => t === "012345678");
      expect(busy.socket.readyState).toBe("open");
      busy.socket.destroy();
      expect((await listenerStats("idle")).errors.idleTimeouts).toBe(1);
    });

    test("the listener's maxConns refuses the connection over the limit", async () => {
      const clients: Client[] = [];
      for (const text of ["a", "b"]) {
        const c = await openClient(port.max2!);
        c.socket.on("error", () => {});
        c.socket.write(text);
        await c.waitFor((t) => t === text);
        clients.push(c);
      }
      const refused = await exchange(port.max2!, "c", { halfClose: false, timeoutMs: 2_000 });
      expect(refused.bytes.byteLength).toBe(0);
      expect(refused.ms).toBeLessThan(500);
      const stats = await listenerStats("max2");
      expect(stats.errors.maxConns).toBe(1);
      expect(stats.active).toBe(2);
      clients[0]!.socket.end();
      await clients[0]!.ended;
      let now = await listenerStats("max2");
      for (let i = 0; i < 50 && now.active > 1; i++) now = (await Bun.sleep(20), await listenerStats("max2"));
      expect((await exchange(port.max2!, "d")).bytes.toString()).toBe("d");
      clients[1]!.socket.destroy();
    });

    // Last: it stops every listener of the child.
    test("stop(grace): no new connections, open ones served during the grace period, cut after it", async () => {
      const open = await openClient(port.drain!);
      open.socket.on("error", () => {});
      open.socket.write("before");
      await open.waitFor((t) => t === "before");
      const started = Date.now();
      const stopping = child.stopListeners(500);
      await Bun.sleep(50);
      const late = await exchange(port.drain!, "late", { timeoutMs: 1_000 });
      expect(late.bytes.byteLength).toBe(0);
      open.socket.write(" during");
      await open.waitFor((t) => t === "before during");
      const stopped = await stopping;
      const took = Date.now() - started;
      expect(stopped.active).toBe(0);
      expect(took).toBeGreaterThanOrEqual(450);
      expect(took).toBeLessThan(1_500);
      expect(["end", "close", "error: ECONNRESET"]).toContain(await open.ended);
    });
  });
}
