// Backpressure through the HTTP engine, against the gateway alone in a process of its own: a client that stops
// reading a 64 MB answer stops the upstream's writes after a bounded amount, and gets every byte once it reads
// again; an upstream that stops reading a 64 MB upload stops the client's writes the same way. What the
// gateway itself holds is measured exactly: the bytes the writer got into its kernel, less what the kernel
// queues of the four sockets on the way hold (Linux's /proc/net/tcp), less what the reader took. Loopback
// buffers autotune to tens of megabytes, so the writer's count alone says little; the difference does.
// One suite for both runtimes: http-engine-backpressure.test.ts runs it on Bun, http-engine-deno.test.ts on Deno.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { createHash } from "node:crypto";
import { tcpUpstream, type TcpUpstream } from "./helpers/l4.ts";
import { startEngineGateway, type EngineGateway, type EngineRuntime } from "./helpers/engine-gateway.ts";
import { until } from "./helpers/common.ts";
import { tablePort, tcpTableRows } from "./helpers/process.ts";
import { openWire } from "./helpers/wire.ts";

const MB = 1024 * 1024;
const BODY = 64 * MB;
/**
 * The writer must stop well before the end of the body. The kernel's buffers on the way take most of what it
 * got out (loopback receive buffers autotune up to tens of megabytes), so this bound is loose; HELD_LIMIT is not.
 */
const STALL_LIMIT = 48 * MB;
/** Bytes the gateway may hold itself: its flush window and one read of each socket, with room to spare. */
const HELD_LIMIT = 2 * MB;
/** The gateway's RSS may grow by its runtime's own buffers, never by the body. */
const RSS_LIMIT_MB = 40;

/** Kernel queues can be read (Linux); elsewhere only the loose bounds are checked. */
const QUEUES_KNOWN = existsSync("/proc/net/tcp");

/** Bytes queued in the kernel (send and receive queues) of every TCP socket with an end on one of `ports`. */
function kernelQueued(ports: number[]): number {
  let total = 0;
  for (const cols of tcpTableRows()) {
    if (cols.length < 5 || cols[3] !== "01") continue; // established only
    if (!ports.includes(tablePort(cols[1]!)) && !ports.includes(tablePort(cols[2]!))) continue;
    const [tx, rx] = cols[4]!.split(":").map((h) => parseInt(h, 16)) as [number, number];
    total += tx + rx;
  }
  return total;
}

const chunk = Buffer.alloc(64 * 1024);
for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 131) & 0xff;
/** The body: `chunk` repeated, its first byte numbering the copy (so that a lost or repeated chunk shows). */
function piece(index: number): Buffer {
  chunk[0] = index & 0xff;
  return chunk;
}
const expectedSha = (() => {
  const hash = createHash("sha256");
  for (let i = 0; i < BODY / chunk.length; i++) hash.update(piece(i));
  return hash.digest("hex");
})();

/** Wait until `probe` has not changed for `quietMs` (the flow stopped); returns its value then. */
async function settled(probe: () => number, quietMs = 300, timeoutMs = 10_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let value = probe();
  let since = Date.now();
  while (Date.now() < deadline) {
    await Bun.sleep(25);
    const now = probe();
    if (now !== value) {
      value = now;
      since = Date.now();
    } else if (Date.now() - since >= quietMs) return value;
  }
  throw new Error(`still moving after ${timeoutMs} ms (at ${value})`);
}

/** Write BODY bytes with backpressure, counting what the socket took; resolves when all was taken. */
function pump(socket: Socket, counter: { written: number }, frame: (b: Buffer) => Buffer = (b) => b): Promise<void> {
  return new Promise((resolve) => {
    let index = 0;
    const go = () => {
      while (index < BODY / chunk.length) {
        if (socket.destroyed) return resolve();
        const ok = socket.write(Buffer.from(frame(piece(index++))));
        counter.written += chunk.length;
        if (!ok) return void socket.once("drain", go);
      }
      resolve();
    };
    go();
  });
}

/** Takes a body's bytes as they come, framed by Content-Length or chunked, and hashes the data. */
class BodyReader {
  bytes = 0;
  done = false;
  private readonly hash = createHash("sha256");
  private pending = Buffer.alloc(0);
  /** Data bytes left in the current chunk; -1 while a size line is due; -2 while the CRLF after data is due. */
  private inChunk = -1;

  constructor(
    readonly chunked: boolean,
    private readonly length = -1,
  ) {}

  push(d: Buffer): void {
    if (!this.chunked) {
      this.take(d);
      if (this.bytes === this.length) this.done = true;
      return;
    }
    let buf = this.pending.length ? Buffer.concat([this.pending, d]) : d;
    while (!this.done) {
      if (this.inChunk > 0) {
        const n = Math.min(this.inChunk, buf.length);
        if (n === 0) break;
        this.take(buf.subarray(0, n));
        this.inChunk -= n;
        buf = buf.subarray(n);
        if (this.inChunk === 0) this.inChunk = -2;
        continue;
      }
      if (this.inChunk === -2) {
        if (buf.length < 2) break;
        buf = buf.subarray(2);
        this.inChunk = -1;
        continue;
      }
      const eol = buf.indexOf("\r\n");
      if (eol < 0) break;
      const size = parseInt(buf.subarray(0, eol).toString("latin1"), 16);
      buf = buf.subarray(eol + 2);
      // The last chunk: no trailers are sent in these tests, so the body ends with its blank line.
      if (size === 0) this.done = true;
      else this.inChunk = size;
    }
    this.pending = Buffer.from(buf);
  }

  get sha256(): string {
    return this.hash.copy().digest("hex");
  }

  private take(data: Buffer): void {
    this.bytes += data.length;
    this.hash.update(data);
  }
}

/** Size of each answer to a pipelined request. */
const PIECE = 32 * 1024;
/** Pipelined requests sent at once: their answers, 64 MB in all, far more than the buffers on the way. */
const PIPELINED = 2_048;

const chunkFrame = (b: Buffer) => Buffer.concat([Buffer.from(`${b.length.toString(16)}\r\n`), b, Buffer.from("\r\n")]);

export function backpressureCases(runtime: EngineRuntime): void {
  describe(`backpressure on ${runtime}`, () => {
    let gw: EngineGateway;
    let download: TcpUpstream;
    let upload: TcpUpstream;
    /** Bytes of the answer the downloading upstream's socket took so far, and that socket. */
    const served = { written: 0 };
    let servingSocket: Socket | undefined;
    /** The pipelined requests the downloading upstream answered, and the body bytes of those answers. */
    const pieces = { served: 0, bytes: 0 };
    /** The uploading upstream's socket while it is paused, and the body bytes it read before pausing. */
    let sinkSocket: Socket | undefined;
    let sinkTook = 0;
    let sinkHead = "";

    beforeAll(async () => {
      // Answers any request head with 64 MB: Content-Length for /length, chunked for /chunked.
      download = await tcpUpstream((socket) => {
        // The gateway may reuse the connection: each head (GETs, no bodies) starts an answer.
        let buffered = "";
        socket.on("data", (d: Buffer) => {
          buffered += d.toString("latin1");
          if (!buffered.includes("\r\n\r\n")) return;
          const head = buffered;
          buffered = "";
          const piece = /^GET \/piece\/(\d+) /.exec(head);
          if (piece) {
            // One of many pipelined requests: a small answer naming it.
            pieces.served++;
            pieces.bytes += PIECE;
            return void socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${PIECE}\r\n\r\n${piece[1]!.padEnd(PIECE, ".")}`);
          }
          served.written = 0;
          servingSocket = socket;
          if (head.startsWith("GET /chunked")) {
            socket.write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
            void pump(socket, served, chunkFrame).then(() => socket.write("0\r\n\r\n"));
          } else {
            socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${BODY}\r\n\r\n`);
            void pump(socket, served);
          }
        });
      });
      // Reads a request head, then stops reading until the test resumes it; then hashes the body and answers.
      upload = await tcpUpstream((socket) => {
        let buffered = Buffer.alloc(0);
        let body: BodyReader | undefined;
        const onBody = (b: Buffer) => {
          body!.push(b);
          if (!body!.done) return;
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 82\r\n\r\n${String(body!.bytes).padStart(17, "0")} ${body!.sha256}`);
          // Ready for the next request on this connection (the gateway keeps it): nothing follows until then.
          body = undefined;
          buffered = Buffer.alloc(0);
        };
        socket.on("data", (d: Buffer) => {
          if (body) return onBody(d);
          buffered = Buffer.concat([buffered, d]);
          const end = buffered.indexOf("\r\n\r\n");
          if (end < 0) return;
          const head = buffered.subarray(0, end).toString("latin1");
          const length = /\r\ncontent-length: *(\d+)/i.exec(head);
          body = new BodyReader(!length, length ? Number(length[1]) : -1);
          sinkHead = head;
          socket.pause();
          sinkSocket = socket;
          sinkTook = buffered.length - end - 4;
          if (sinkTook > 0) onBody(buffered.subarray(end + 4));
        });
      });
      gw = await startEngineGateway(
        runtime,
        {
          pools: { download: { servers: [{ url: `http://${download.address}` }] }, upload: { servers: [{ url: `http://${upload.address}` }] } },
          routes: [{ match: { path: "/up" }, pool: "upload" }, { pool: "download" }],
        },
        { ownProcess: true },
      );
    }, 20_000);

    afterAll(async () => {
      await gw?.stop();
      await download?.close();
      await upload?.close();
    });

    const gatewayPort = () => gw.port;

    /** A client that sends `request` and does not read until told to; then reads the answer whole. */
    function slowClient(request: string) {
      const socket = connect({ host: "127.0.0.1", port: gatewayPort() });
      socket.pause();
      socket.write(request);
      let received = 0;
      return {
        get received() {
          return received;
        },
        /** Read the answer to the end of its body (framed as its head says); resolves with the body's size and hash. */
        readAll(): Promise<{ status: number; bytes: number; sha256: string; chunked: boolean }> {
          return new Promise((resolve, reject) => {
            let head = Buffer.alloc(0);
            let body: BodyReader | undefined;
            let status = 0;
            const finish = () => {
              socket.destroy();
              resolve({ status, bytes: body!.bytes, sha256: body!.sha256, chunked: body!.chunked });
            };
            socket.on("data", (d: Buffer) => {
              received += d.length;
              if (!body) {
                head = Buffer.concat([head, d]);
                const end = head.indexOf("\r\n\r\n");
                if (end < 0) return;
                const text = head.subarray(0, end).toString("latin1");
                status = Number(text.slice(9, 12));
                const length = /\r\ncontent-length: *(\d+)/i.exec(text);
                body = new BodyReader(!length, length ? Number(length[1]) : -1);
                d = head.subarray(end + 4);
              }
              body.push(d);
              if (body.done) finish();
            });
            socket.on("error", reject);
            socket.on("close", () => reject(new Error(`closed after ${body?.bytes ?? 0} body bytes`)));
            socket.resume();
          });
        },
      };
    }

    describe("a client that stops reading", () => {
      for (const framing of ["length", "chunked"] as const) {
        test(`a 64 MB answer (${framing === "length" ? "Content-Length" : "chunked"}): the upstream is held back, memory stays bounded, and every byte arrives once the client reads`, async () => {
          const before = (await gw.peak()).nowMB;
          const client = slowClient(`GET /${framing} HTTP/1.1\r\nHost: bp.test\r\n\r\n`);
          const stalledAt = await settled(() => served.written);
          // Sent by the upstream into its kernel, not yet in the client's hands, not in any kernel queue: in the gateway.
          const held = stalledAt - servingSocket!.writableLength - kernelQueued([gatewayPort(), download.port]) - client.received;
          const { peakMB } = await gw.peak();
          console.log(
            `${runtime}: download (${framing}) to a client that does not read: the upstream stopped after ${(stalledAt / MB).toFixed(1)} MB, ${(held / 1024).toFixed(0)} KB of it in the gateway; RSS +${(peakMB - before).toFixed(1)} MB`,
          );
          expect(stalledAt).toBeGreaterThan(0);
          expect(stalledAt).toBeLessThan(STALL_LIMIT);
          if (QUEUES_KNOWN) expect(held).toBeLessThan(HELD_LIMIT);
          expect(peakMB - before).toBeLessThan(RSS_LIMIT_MB);
          const result = await client.readAll();
          expect(result.status).toBe(200);
          expect(result.chunked).toBe(framing === "chunked");
          expect(result.bytes).toBe(BODY);
          expect(result.sha256).toBe(expectedSha);
          expect(served.written).toBe(BODY);
        });
      }
    });

    describe("an upstream that stops reading", () => {
      for (const framing of ["length", "chunked"] as const) {
        test(`a 64 MB upload (${framing === "length" ? "Content-Length" : "chunked"}): the client's writes are held back, memory stays bounded, and the whole body arrives once the upstream reads`, async () => {
          const before = (await gw.peak()).nowMB;
          sinkSocket = undefined;
          const socket = connect({ host: "127.0.0.1", port: gatewayPort() });
          let answer = "";
          socket.on("data", (d: Buffer) => (answer += d.toString("latin1")));
          const sent = { written: 0 };
          socket.write(`POST /up HTTP/1.1\r\nHost: bp.test\r\n${framing === "length" ? `Content-Length: ${BODY}` : "Transfer-Encoding: chunked"}\r\n\r\n`);
          const writing = pump(socket, sent, framing === "chunked" ? chunkFrame : undefined).then(() => {
            if (framing === "chunked") socket.write("0\r\n\r\n");
          });
          const stalledAt = await settled(() => sent.written);
          // The head and what the upstream read before it paused are in its hands, not the gateway's (data bytes
          // are counted: the chunk framing on either side differs by a few bytes per chunk).
          const held = stalledAt - socket.writableLength - kernelQueued([gatewayPort(), upload.port]) - sinkTook;
          const { peakMB } = await gw.peak();
          console.log(
            `${runtime}: upload (${framing}) to an upstream that does not read: the client stopped after ${(stalledAt / MB).toFixed(1)} MB, ${(held / 1024).toFixed(0)} KB of it in the gateway; RSS +${(peakMB - before).toFixed(1)} MB`,
          );
          expect(sinkSocket).toBeDefined();
          expect(/\r\ntransfer-encoding: chunked/i.test(sinkHead)).toBe(framing === "chunked");
          expect(stalledAt).toBeGreaterThan(0);
          expect(stalledAt).toBeLessThan(STALL_LIMIT);
          if (QUEUES_KNOWN) expect(held).toBeLessThan(HELD_LIMIT);
          expect(peakMB - before).toBeLessThan(RSS_LIMIT_MB);
          sinkSocket!.resume();
          await writing;
          await until(() => answer.includes("\r\n\r\n") && answer.length >= answer.indexOf("\r\n\r\n") + 4 + 82, "the upstream's whole answer", 10_000);
          socket.destroy();
          expect(answer.slice(0, 12)).toBe("HTTP/1.1 200");
          expect(answer.slice(answer.indexOf("\r\n\r\n") + 4)).toBe(`${String(BODY).padStart(17, "0")} ${expectedSha}`);
        });
      }
    });

    describe("a client that pipelines and does not read", () => {
      test(`${PIPELINED} pipelined requests in one write, answers unread: the gateway stops taking them, then answers every one, in order, once the client reads`, async () => {
        const before = (await gw.peak()).nowMB;
        const client = await openWire(gw.port);
        client.socket.pause();
        try {
          let requests = "";
          for (let i = 0; i < PIPELINED; i++) requests += `GET /piece/${i} HTTP/1.1\r\nHost: bp.test\r\n\r\n`;
          client.write(requests);
          const stalledAt = await settled(() => pieces.served);
          // Answer bodies the upstream sent, less what the kernel queues on the way hold: in the gateway.
          const held = pieces.bytes - kernelQueued([gw.port, download.port]);
          const { peakMB } = await gw.peak();
          console.log(
            `${runtime}: ${PIPELINED} pipelined requests, answers unread: ${stalledAt} answered before the gateway stopped reading; ${(held / 1024).toFixed(0)} KB of answers in the gateway; RSS +${(peakMB - before).toFixed(1)} MB`,
          );
          expect(stalledAt).toBeGreaterThan(0);
          expect(stalledAt).toBeLessThan(PIPELINED * 0.75);
          if (QUEUES_KNOWN) expect(held).toBeLessThan(HELD_LIMIT);
          expect(peakMB - before).toBeLessThan(RSS_LIMIT_MB);
          client.socket.resume();
          for (let i = 0; i < PIPELINED; i++) {
            const answer = await client.read();
            if (answer.status !== 200 || answer.body.subarray(0, 12).toString("latin1") !== `${i}`.padEnd(12, ".")) {
              throw new Error(`answer ${i}: ${answer.status} ${answer.body.subarray(0, 12).toString("latin1")}`);
            }
          }
          expect(pieces.served).toBe(PIPELINED);
          expect(client.ended).toBe(false);
        } finally {
          client.close();
        }
      });
    });
  });
}
