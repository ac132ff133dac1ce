// What a TCP listener reads or writes before the client's bytes: the PROXY header it sends upstream
// (`proxyProtocol`), the one it accepts from a load balancer in front (`acceptProxy`), and the TLS
// ClientHello it peeks to route by server name (`sni`) without terminating TLS.
import { afterAll, afterEach, beforeAll, expect, test } from "bun:test";
import { connect as tlsConnect, createServer as createTlsServer } from "node:tls";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { encodeProxyHeader, parseProxyHeader } from "../gateway/l4/proxy-protocol.ts";
import { exchange, startL4, tcpPoolOf, tcpUpstream, type L4Setup, type TcpUpstream } from "./helpers/l4.ts";
import { closeServer, listen } from "./helpers/upstream.ts";
import { selfSigned } from "./helpers/test-certificates.ts";

/** A server that says its name, records every byte of each connection, and closes after the client's FIN. */
interface Recorder extends TcpUpstream {
  readonly name: string;
  readonly received: Buffer[];
}

async function recorder(name: string): Promise<Recorder> {
  const received: Buffer[] = [];
  const u = await tcpUpstream((socket) => {
    const chunks: Buffer[] = [];
    const index = received.length;
    received.push(Buffer.alloc(0));
    socket.write(`${name}\n`);
    socket.on("data", (c: Buffer) => {
      chunks.push(c);
      received[index] = Buffer.concat(chunks);
    });
    socket.on("end", () => socket.end());
  });
  return Object.assign(u, { name, received });
}

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function rec(name: string): Promise<Recorder> {
  const r = await recorder(name);
  cleanup.push(() => r.close());
  return r;
}

async function l4(...args: Parameters<typeof startL4>): Promise<L4Setup> {
  const setup = await startL4(...args);
  cleanup.push(() => setup.stop(0));
  return setup;
}

// ── PROXY protocol, sent ─────────────────────────────────────────────────────────────────────────

test("proxyProtocol v1: the server gets the client's address line before the client's bytes", async () => {
  const up = await rec("up");
  const gw = await l4({ pools: { p: tcpPoolOf([up.address]) }, tcp: [{ pool: "p", proxyProtocol: "v1" }] });
  const result = await exchange(gw.port, "payload", { localAddress: "127.0.0.5" });
  expect(result.bytes.toString()).toBe("up\n");
  const got = up.received[0]!.toString();
  const m = /^PROXY TCP4 127\.0\.0\.5 127\.0\.0\.1 (\d+) (\d+)\r\npayload$/.exec(got);
  expect(m).not.toBeNull();
  expect(Number(m![2])).toBe(gw.port);
});

test("proxyProtocol v2: a binary header the parser reads back with the client's address", async () => {
  const up = await rec("up");
  const gw = await l4({ pools: { p: tcpPoolOf([up.address]) }, tcp: [{ pool: "p", proxyProtocol: "v2" }] });
  await exchange(gw.port, "payload", { localAddress: "127.0.0.9" });
  const got = new Uint8Array(up.received[0]!);
  const parsed = parseProxyHeader(got);
  expect(parsed.kind).toBe("ok");
  if (parsed.kind !== "ok") return;
  expect(parsed.source?.address).toBe("127.0.0.9");
  expect(parsed.destination).toEqual({ address: "127.0.0.1", port: gw.port });
  expect(Buffer.from(got.subarray(parsed.consumed)).toString()).toBe("payload");
});

// ── PROXY protocol, accepted ─────────────────────────────────────────────────────────────────────

test("acceptProxy: the header is read (even a byte at a time), stripped, and its source is the client for the next header", async () => {
  const up = await rec("up");
  const gw = await l4({ pools: { p: tcpPoolOf([up.address]) }, tcp: [{ pool: "p", acceptProxy: true, proxyProtocol: "v1" }] });
  const header = "PROXY TCP4 203.0.113.7 198.51.100.1 5555 443\r\n";
  const pieces = [...header].concat(["first ", "second"]);
  const result = await exchange(gw.port, pieces, { gapMs: 1 });
  expect(result.bytes.toString()).toBe("up\n");
  expect(up.received[0]!.toString()).toBe("PROXY TCP4 203.0.113.7 198.51.100.1 5555 443\r\nfirst second");
  expect(gw.tcp.stats().listeners[0]!.errors.proxyRefused).toBe(0);
});

test("acceptProxy with a v2 header and bytes in the same packet: only the bytes are forwarded", async () => {
  const up = await rec("up");
  const gw = await l4({ pools: { p: tcpPoolOf([up.address]) }, tcp: [{ pool: "p", acceptProxy: true }] });
  const header = encodeProxyHeader("v2", { source: { address: "2001:db8::1", port: 40000 }, destination: { address: "2001:db8::2", port: 443 } });
  const result = await exchange(gw.port, Buffer.concat([header, Buffer.from("hello")]));
  expect(result.bytes.toString()).toBe("up\n");
  expect(up.received[0]!.toString()).toBe("hello");
});

test("acceptProxy: the header's source address is what hash balancing keys on", async () => {
  const ups = await Promise.all(["a", "b", "c"].map((n) => rec(n)));
  const gw = await l4({
    pools: {
      p: tcpPoolOf(
        ups.map((u) => u.address),
        { balance: "ip-hash" },
      ),
    },
    tcp: [{ pool: "p", acceptProxy: true }],
  });
  const via = (ip: string) => exchange(gw.port, `PROXY TCP4 ${ip} 10.0.0.1 1234 80\r\n`).then((r) => r.bytes.toString().trim());
  const ips = Array.from({ length: 20 }, (_, i) => `198.51.100.${i + 1}`);
  const first = await Promise.all(ips.map(via));
  const second = await Promise.all(ips.map(via));
  expect(second).toEqual(first);
  // All connections come from 127.0.0.1: only the header's addresses can spread them.
  expect(new Set(first).size).toBeGreaterThanOrEqual(2);
});

test("acceptProxy: a malformed header is refused at once and nothing reaches a server", async () => {
  const up = await rec("up");
  const gw = await l4({ pools: { p: tcpPoolOf([up.address]) }, tcp: [{ pool: "p", acceptProxy: true }] });
  const result = await exchange(gw.port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", { halfClose: false, timeoutMs: 2_000 });
  expect(result.bytes.byteLength).toBe(0);
  expect(result.ms).toBeLessThan(500);
  expect(up.accepted).toBe(0);
  expect(gw.tcp.stats().listeners[0]!.errors.proxyRefused).toBe(1);
  expect(gw.logs.some((l) => l.includes("bad PROXY header"))).toBe(true);
});

test("acceptProxy: a client that sends no header in time is closed (prelude timeout)", async () => {
  const up = await rec("up");
  const gw = await l4({ pools: { p: tcpPoolOf([up.address]) }, tcp: [{ pool: "p", acceptProxy: true }] }, { preludeTimeoutMs: 200 });
  const result = await exchange(gw.port, "PROXY TCP4 1.2.3.4", { halfClose: false, timeoutMs: 2_000 });
  expect(result.bytes.byteLength).toBe(0);
  expect(result.ms).toBeGreaterThanOrEqual(180);
  expect(result.ms).toBeLessThan(1_000);
  expect(up.accepted).toBe(0);
  expect(gw.tcp.stats().listeners[0]!.errors.preludeTimeouts).toBe(1);
});

// ── SNI ──────────────────────────────────────────────────────────────────────────────────────────

let certDir: string;
let cert: Buffer;
let key: Buffer;
const hellos = new Map<string, Buffer>();

/** The ClientHello a real TLS client (node:tls) sends for `servername` (none when empty). */
async function captureHello(servername: string): Promise<Buffer> {
  const { createServer } = await import("node:net");
  let got = Buffer.alloc(0);
  const sockets = new Set<import("node:net").Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on("data", (c: Buffer) => (got = Buffer.concat([got, c])));
    s.on("error", () => {});
  });
  const port = await listen(server);
  const client = tlsConnect({ host: "127.0.0.1", port, servername: servername || undefined, rejectUnauthorized: false });
  client.on("error", () => {});
  const until = Date.now() + 2_000;
  while (got.byteLength < 5 || got.byteLength < 5 + got.readUInt16BE(3)) {
    if (Date.now() > until) throw new Error("no ClientHello captured");
    await Bun.sleep(5);
  }
  client.destroy();
  await closeServer(server, sockets);
  return got;
}

beforeAll(async () => {
  for (const name of ["db.example.com", "www.example.com", "other.org", ""]) hellos.set(name, await captureHello(name));
  certDir = await mkdtemp(join(tmpdir(), "sluice-l4-tls-"));
  const files = await selfSigned(certDir, "db.example.com");
  cert = await readFile(files.cert);
  key = await readFile(files.key);
});

afterAll(async () => {
  if (certDir) await rm(certDir, { recursive: true, force: true });
});

const table = { "db.example.com": "db", "*.example.com": "web", "*": "fallback" };

async function sniSetup(sni: Record<string, string> = table) {
  const ups = { db: await rec("db"), web: await rec("web"), fallback: await rec("fallback") };
  const gw = await l4({
    pools: { db: tcpPoolOf([ups.db.address]), web: tcpPoolOf([ups.web.address]), fallback: tcpPoolOf([ups.fallback.address]) },
    tcp: [{ sni }],
  });
  return { ups, gw };
}

/** The hello in 64-byte pieces: the listener must gather it across reads. */
function inPieces(hello: Buffer, size = 64): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < hello.byteLength; i += size) out.push(hello.subarray(i, i + size));
  return out;
}

test("sni: each ClientHello goes to the pool its server name picks, and every byte of it is forwarded", async () => {
  const { ups, gw } = await sniSetup();
  const cases: Array<[string, Recorder]> = [
    ["db.example.com", ups.db],
    ["www.example.com", ups.web],
    ["other.org", ups.fallback],
    ["", ups.fallback],
  ];
  for (const [name, expected] of cases) {
    const hello = hellos.get(name)!;
    const tail = Buffer.from("after the hello");
    const result = await exchange(gw.port, [...inPieces(hello), tail], { gapMs: 2 });
    expect(result.bytes.toString()).toBe(`${expected.name}\n`);
    expect(expected.received.at(-1)!.equals(Buffer.concat([hello, tail]))).toBe(true);
  }
  expect(gw.tcp.stats().listeners[0]!.errors.sniRefused).toBe(0);
  expect(gw.tcp.stats().listeners[0]!.sni).toEqual(table);
});

test("sni without `*`: a name that matches nothing, or no name, is closed", async () => {
  const { ups, gw } = await sniSetup({ "db.example.com": "db" });
  for (const name of ["other.org", ""]) {
    const result = await exchange(gw.port, hellos.get(name)!, { halfClose: false, timeoutMs: 2_000 });
    expect(result.bytes.byteLength).toBe(0);
    expect(result.ms).toBeLessThan(500);
  }
  expect(ups.db.accepted + ups.web.accepted + ups.fallback.accepted).toBe(0);
  expect(gw.tcp.stats().listeners[0]!.errors.sniRefused).toBe(2);
});

test("sni: bytes that are not a TLS ClientHello are refused", async () => {
  const { ups, gw } = await sniSetup();
  const result = await exchange(gw.port, "GET / HTTP/1.1\r\nHost: db.example.com\r\n\r\n", { halfClose: false, timeoutMs: 2_000 });
  expect(result.bytes.byteLength).toBe(0);
  expect(ups.fallback.accepted).toBe(0);
  expect(gw.tcp.stats().listeners[0]!.errors.sniRefused).toBe(1);
});

test("sni: a real TLS handshake passes through untouched to the server the name picks", async () => {
  const sockets = new Set<import("node:net").Socket>();
  const tlsServer = createTlsServer({ cert, key }, (socket) => {
    sockets.add(socket);
    socket.on("data", (c: Buffer) => socket.write(`tls echo: ${c.toString()}`));
    socket.on("error", () => {});
  });
  const tlsPort = await listen(tlsServer as unknown as import("node:net").Server);
  cleanup.push(() => closeServer(tlsServer as unknown as import("node:net").Server, sockets));
  const web = await rec("web");
  const gw = await l4({
    pools: { db: tcpPoolOf([`127.0.0.1:${tlsPort}`]), web: tcpPoolOf([web.address]) },
    tcp: [{ sni: { "db.example.com": "db", "*": "web" } }],
  });
  const answer = await new Promise<string>((resolve, reject) => {
    const socket = tlsConnect({ host: "127.0.0.1", port: gw.port, servername: "db.example.com", ca: cert }, () => {
      expect(socket.authorized).toBe(true);
      socket.write("hello over TLS");
    });
    socket.on("data", (c: Buffer) => {
      resolve(c.toString());
      socket.end();
    });
    socket.on("error", reject);
  });
  expect(answer).toBe("tls echo: hello over TLS");
  expect(web.accepted).toBe(0);
});

test("acceptProxy and sni together: the PROXY header first, then the hello routes", async () => {
  const { ups, gw } = await (async () => {
    const ups = { db: await rec("db"), fallback: await rec("fallback") };
    const gw = await l4({
      pools: { db: tcpPoolOf([ups.db.address]), fallback: tcpPoolOf([ups.fallback.address]) },
      tcp: [{ sni: { "db.example.com": "db", "*": "fallback" }, acceptProxy: true, proxyProtocol: "v1" }],
    });
    return { ups, gw };
  })();
  const hello = hellos.get("db.example.com")!;
  const header = Buffer.from("PROXY TCP4 192.0.2.10 192.0.2.20 1000 443\r\n");
  const result = await exchange(gw.port, [Buffer.concat([header, hello.subarray(0, 10)]), hello.subarray(10)], { gapMs: 5 });
  expect(result.bytes.toString()).toBe("db\n");
  expect(ups.db.received[0]!.equals(Buffer.concat([header, hello]))).toBe(true);
});
