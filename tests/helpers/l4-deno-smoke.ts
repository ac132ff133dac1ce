// Run under Deno by tests/l4-deno.test.ts: a TCP listener on the deno adapter in front of Deno upstreams,
// checked from a Deno client. Prints one JSON line of results; the Bun test asserts on it.
//   deno run -A tests/helpers/l4-deno-smoke.ts
import { configSchema } from "../../gateway/config/schema.ts";
import { Pool } from "../../gateway/pool/pool.ts";
import { denoRuntime } from "../../gateway/runtime/deno.ts";
import { startTcpListeners } from "../../gateway/l4/tcp-listeners.ts";

// deno-lint-ignore no-explicit-any
declare const Deno: any;

interface Conn {
  read(buffer: Uint8Array): Promise<number | null>;
  write(data: Uint8Array): Promise<number>;
  closeWrite(): Promise<void>;
  close(): void;
}

async function writeAll(conn: Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.byteLength) off += await conn.write(data.subarray(off, Math.min(data.byteLength, off + 256 * 1024)));
}

/** Read until EOF; returns the bytes. */
async function readAll(conn: Conn): Promise<Uint8Array<ArrayBuffer>> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
    total += n;
  }
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}

/** A Deno server: `serve` runs per connection; the connection is closed when it returns. */
function upstream(serve: (conn: Conn) => Promise<void>): { port: number; close(): void } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  void (async () => {
    for await (const conn of listener) {
      void serve(conn)
        .catch(() => {})
        .finally(() => {
          try {
            conn.close();
          } catch {
            // closed already
          }
        });
    }
  })().catch(() => {});
  return { port: listener.addr.port, close: () => listener.close() };
}

async function sha(data: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", data);
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

const echo = upstream(async (conn) => {
  const buffer = new Uint8Array(64 * 1024);
  for (;;) {
    const n = await conn.read(buffer);
    if (n === null) break;
    await writeAll(conn, buffer.subarray(0, n));
  }
  await conn.closeWrite();
});
// Answers only after the client's FIN: how many bytes it got.
const afterFin = upstream(async (conn) => {
  const all = await readAll(conn);
  await writeAll(conn, new TextEncoder().encode(`got ${all.byteLength} bytes`));
  await conn.closeWrite();
});

// Floods FLOOD bytes as fast as the connection takes them, counting what it got out.
const FLOOD = 32 * 1024 * 1024;
let flooded = 0;
const flood = upstream(async (conn) => {
  const chunk = new Uint8Array(64 * 1024);
  while (flooded < FLOOD) {
    await writeAll(conn, chunk);
    flooded += chunk.byteLength;
  }
  await conn.closeWrite();
});

// Closes with the client's bytes unread after 100 ms: the kernel answers with a reset.
const resetter = upstream(async () => {
  await new Promise((resolve) => setTimeout(resolve, 100));
});

const config = configSchema.parse({
  pools: {
    echo: { mode: "tcp", servers: [{ address: `127.0.0.1:${echo.port}` }] },
    afterFin: { mode: "tcp", servers: [{ address: `127.0.0.1:${afterFin.port}` }] },
    flood: { mode: "tcp", servers: [{ address: `127.0.0.1:${flood.port}` }] },
    resetter: { mode: "tcp", servers: [{ address: `127.0.0.1:${resetter.port}` }] },
  },
  tcp: [
    { listen: "127.0.0.1:0", pool: "echo" },
    { listen: "127.0.0.1:0", pool: "afterFin" },
    { listen: "127.0.0.1:0", pool: "flood" },
    { listen: "127.0.0.1:0", pool: "resetter" },
  ],
});
const pools = new Map(Object.entries(config.pools).map(([name, p]) => [name, new Pool(name, p)]));
const tcp = await startTcpListeners(config.tcp, { runtime: denoRuntime, pools: () => pools, log: () => {} });
const ports = tcp.listeners.map((l) => Number(l.address.split(":").pop()));

async function roundTrip(port: number, data: Uint8Array): Promise<{ bytes: Uint8Array<ArrayBuffer>; ms: number }> {
  const started = performance.now();
  const conn: Conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const reading = readAll(conn);
  await writeAll(conn, data);
  await conn.closeWrite();
  const bytes = await reading;
  conn.close();
  return { bytes, ms: performance.now() - started };
}

const size = 8 * 1024 * 1024;
const data = new Uint8Array(size);
for (let i = 0; i < size; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
const echoed = await roundTrip(ports[0]!, data);
const answered = await roundTrip(ports[1]!, new TextEncoder().encode("x".repeat(100_000)));
// Several at once.
const many = await Promise.all(Array.from({ length: 50 }, (_, i) => roundTrip(ports[0]!, new TextEncoder().encode(`conn ${i} `.repeat(400)))));
const manyOk = many.every((r, i) => new TextDecoder().decode(r.bytes) === `conn ${i} `.repeat(400));

// A client that does not read for a second: the flood must stall (the listener pauses the server), then
// everything arrives once it reads.
const slow: Conn = await Deno.connect({ hostname: "127.0.0.1", port: ports[2]! });
await new Promise((resolve) => setTimeout(resolve, 1_000));
const floodedWhilePaused = flooded;
const rssWhilePaused = Deno.memoryUsage().rss;
await slow.closeWrite();
const floodBytes = (await readAll(slow)).byteLength;
slow.close();

// A server that resets: the listener sees the reset (the adapter tells it from a FIN) and ends the client's
// connection promptly. Deno cannot send a reset itself, so the client sees an end, not a reset.
const resetStarted = performance.now();
const victim: Conn = await Deno.connect({ hostname: "127.0.0.1", port: ports[3]! });
await writeAll(victim, new TextEncoder().encode("unread bytes"));
let resetSeen: string;
try {
  resetSeen = (await victim.read(new Uint8Array(16))) === null ? "end" : "data";
} catch (error) {
  resetSeen = (error as Error).name;
}
const resetMs = Math.round(performance.now() - resetStarted);
victim.close();
await new Promise((resolve) => setTimeout(resolve, 50));

const stats = tcp.stats();
await tcp.stop(1_000);
echo.close();
afterFin.close();
flood.close();
resetter.close();
console.log(
  JSON.stringify({
    runtime: denoRuntime.name,
    echoBytes: echoed.bytes.byteLength,
    echoSame: (await sha(echoed.bytes)) === (await sha(data)),
    echoMs: Math.round(echoed.ms),
    afterFin: new TextDecoder().decode(answered.bytes),
    manyOk,
    accepted: stats.listeners[0]!.accepted,
    active: tcp.active,
    floodBytes,
    floodedWhilePaused,
    rssWhilePausedMB: Math.round(rssWhilePaused / 1048576),
    resetSeen,
    resetMs,
    resets: stats.listeners[3]!.errors.resets,
  }),
);
Deno.exit(0);
