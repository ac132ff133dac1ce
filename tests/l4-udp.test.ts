// UDP listeners end to end on Bun: real UDP sockets on 127.0.0.1 as clients and servers (echo servers, a
// tiny DNS server answered by hand-built packets and by `dig`), pools built from a parsed config, and
// startUdpListeners driven directly.
import { afterEach, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { lookup } from "node:dns/promises";
import { configSchema, type ConfigInput } from "../gateway/config/schema.ts";
import { Pool } from "../gateway/pool/pool.ts";
import { bindUdp } from "../gateway/runtime/bun-udp.ts";
import { startUdpListeners, type UdpListeners } from "../gateway/l4/udp-listener.ts";
import { plainIp } from "../gateway/l4/udp-address.ts";
import { repoRoot, spawnCommand } from "./helpers/process.ts";
import { eventually } from "./helpers/common.ts";

const runtime = { bindUdp };
const text = (data: Uint8Array) => new TextDecoder().decode(data);
const bytes = (s: string) => new TextEncoder().encode(s);

interface Received {
  data: Uint8Array;
  address: string;
  port: number;
}

/** A UDP socket on 127.0.0.1 that keeps what it receives; `next()` waits for the next datagram. */
interface Peer {
  readonly port: number;
  readonly received: Received[];
  send(data: Uint8Array | string, port: number, address?: string): void;
  next(timeoutMs?: number): Promise<Received>;
  /** True when nothing arrives within `ms`. */
  silentFor(ms: number): Promise<boolean>;
  close(): void;
}

const opened: Array<{ close(): void }> = [];

async function peer(onData?: (d: Received, reply: (data: Uint8Array | string) => void) => void, hostname = "127.0.0.1"): Promise<Peer> {
  const received: Received[] = [];
  const waiters: Array<(d: Received) => void> = [];
  let read = 0;
  const socket = await Bun.udpSocket({
    hostname,
    port: 0,
    binaryType: "uint8array",
    socket: {
      data(s, data, port, address) {
        const d = { data, address, port };
        received.push(d);
        onData?.(d, (reply) => s.send(reply, port, address));
        const waiter = waiters.shift();
        if (waiter) {
          read++;
          waiter(d);
        }
      },
      // ICMP errors for datagrams to closed ports (the stop test sends some on purpose).
      error() {},
    },
  });
  const p: Peer = {
    port: socket.port,
    received,
    send(data, port, address = "127.0.0.1") {
      // Bun reports an earlier ICMP error on the next send (ECONNREFUSED), which then did not go out: send again.
      try {
        socket.send(data, port, address);
      } catch {
        socket.send(data, port, address);
      }
    },
    next(timeoutMs = 3_000) {
      if (read < received.length) return Promise.resolve(received[read++]!);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no datagram within ${timeoutMs}ms`)), timeoutMs);
        waiters.push((d) => {
          clearTimeout(timer);
          resolve(d);
        });
      });
    },
    async silentFor(ms) {
      const before = received.length;
      await Bun.sleep(ms);
      return received.length === before;
    },
    close: () => socket.close(),
  };
  opened.push(p);
  return p;
}

/** A server answering "<name>:<datagram>" (or the bytes as they came, with `raw`). */
function echoServer(name: string, raw = false): Promise<Peer> {
  return peer((d, reply) => reply(raw ? d.data : `${name}:${text(d.data)}`));
}

interface Setup {
  udp: UdpListeners;
  pools: Map<string, Pool>;
  pool: Pool;
  /** The listener's port. */
  port: number;
  logs: string[];
}

const started: UdpListeners[] = [];

type TcpPoolInput = Extract<NonNullable<ConfigInput["pools"]>[string], { mode: "tcp" }>;
type ServerInput = TcpPoolInput["servers"][number];

/** Listeners and pools from a config, as the gateway would build them. */
async function listen(
  servers: Array<number | ServerInput>,
  options: { balance?: string; idleTimeout?: string; maxSessions?: number; pool?: Partial<TcpPoolInput> } = {},
): Promise<Setup> {
  const input: ConfigInput = {
    pools: {
      dns: {
        mode: "tcp",
        balance: options.balance ?? "round-robin",
        servers: servers.map((s) => (typeof s === "number" ? { address: `127.0.0.1:${s}` } : s)),
        ...options.pool,
      },
    },
    udp: [{ listen: "127.0.0.1:0", pool: "dns", ...(options.idleTimeout ? { idleTimeout: options.idleTimeout } : {}) }],
  };
  const config = configSchema.parse(input);
  const pool = new Pool("dns", config.pools.dns!);
  const pools = new Map([["dns", pool]]);
  const logs: string[] = [];
  const udp = await startUdpListeners(config.udp, { runtime, pools: () => pools, log: (line) => logs.push(line), maxSessions: options.maxSessions });
  started.push(udp);
  const port = Number(udp.listeners[0]!.address.split(":").at(-1));
  return { udp, pools, pool, port, logs };
}

afterEach(async () => {
  for (const udp of started.splice(0)) await udp.stop();
  for (const p of opened.splice(0)) p.close();
});

const active = (pool: Pool) => pool.servers.map((s) => s.active);

describe("udp listener", () => {
  test("round trip: the reply comes back from the listener's own address and port", async () => {
    const server = await echoServer("a");
    const { udp, port, pool } = await listen([server.port]);
    expect(udp.listeners).toEqual([{ kind: "udp", address: `127.0.0.1:${port}` }]);
    const client = await peer();
    client.send("hello", port);
    const reply = await client.next();
    expect(text(reply.data)).toBe("a:hello");
    expect(reply.address).toBe("127.0.0.1");
    expect(reply.port).toBe(port);
    // The server saw the gateway's session socket, not the client, and not the listener's port.
    expect(server.received[0]!.port).not.toBe(client.port);
    expect(server.received[0]!.port).not.toBe(port);
    expect(active(pool)).toEqual([1]);
    expect(pool.servers[0]!.requests).toBe(1);

    client.send("again", port);
    expect(text((await client.next()).data)).toBe("a:again");
    const [stats] = udp.stats();
    expect(stats).toMatchObject({
      listen: `127.0.0.1:${port}`,
      pool: "dns",
      activeSessions: 1,
      sessions: 1,
      received: { datagrams: 2, bytes: 10 },
      forwarded: { datagrams: 2, bytes: 10 },
      replied: { datagrams: 2, bytes: 14 },
      dropped: { noServer: 0, sessionLimit: 0, sendFailed: 0, foreignSource: 0 },
    });
    expect(pool.servers[0]!.lastOkAt).toBeGreaterThan(0);
  });

  test("50 clients each keep their own session and server; round-robin splits them 25/25", async () => {
    const a = await echoServer("a");
    const b = await echoServer("b");
    const { udp, port, pool } = await listen([a.port, b.port]);
    const clients = await Promise.all(Array.from({ length: 50 }, () => peer()));
    const serverOf = new Map<Peer, string>();
    for (let round = 0; round < 3; round++) {
      await Promise.all(
        clients.map(async (client, i) => {
          client.send(`c${i}r${round}`, port);
          const reply = text((await client.next()).data);
          const [server, body] = reply.split(":");
          expect(body).toBe(`c${i}r${round}`);
          if (round === 0) serverOf.set(client, server!);
          else expect(server).toBe(serverOf.get(client)!);
        }),
      );
    }
    const counts = { a: 0, b: 0 };
    for (const s of serverOf.values()) counts[s as "a" | "b"]++;
    expect(counts).toEqual({ a: 25, b: 25 });
    expect(active(pool)).toEqual([25, 25]);
    expect(udp.stats()[0]!.activeSessions).toBe(50);
    expect(udp.stats()[0]!.sessions).toBe(50);
    // Each session has its own socket (ephemeral port) toward its server, the same for all its datagrams.
    const portsOf = (server: Peer) => {
      const byClient = new Map<string, Set<number>>();
      for (const d of server.received) {
        const client = text(d.data).split("r")[0]!;
        byClient.set(client, (byClient.get(client) ?? new Set()).add(d.port));
      }
      return byClient;
    };
    const all = new Set<number>();
    for (const server of [a, b]) {
      for (const ports of portsOf(server).values()) {
        expect(ports.size).toBe(1);
        all.add([...ports][0]!);
      }
    }
    expect(all.size).toBe(50);
  });

  test("round-robin alternates new sessions over two servers", async () => {
    const a = await echoServer("a");
    const b = await echoServer("b");
    const { port } = await listen([a.port, b.port]);
    const order: string[] = [];
    for (let i = 0; i < 6; i++) {
      const client = await peer();
      client.send("x", port);
      order.push(text((await client.next()).data).split(":")[0]!);
    }
    expect(order).toEqual(["a", "b", "a", "b", "a", "b"]);
  });

  test("a session expires after idleTimeout: the server's slot is released, the next datagram starts a new session", async () => {
    const server = await echoServer("a");
    const { udp, port, pool } = await listen([server.port], { idleTimeout: "300ms" });
    const client = await peer();
    client.send("one", port);
    await client.next();
    // Traffic keeps it alive: a datagram every 100 ms for 600 ms, twice the idle timeout.
    for (let i = 0; i < 6; i++) {
      await Bun.sleep(100);
      client.send(`keep${i}`, port);
      await client.next();
    }
    expect(active(pool)).toEqual([1]);
    expect(udp.stats()[0]!.expired).toBe(0);
    expect(await eventually(() => pool.servers[0]!.active === 0, 1_000, 10)).toBe(true);
    expect(udp.stats()[0]).toMatchObject({ activeSessions: 0, expired: 1, sessions: 1 });
    const firstPort = server.received[0]!.port;
    expect(new Set(server.received.map((d) => d.port)).size).toBe(1);

    client.send("two", port);
    expect(text((await client.next()).data)).toBe("a:two");
    expect(server.received.at(-1)!.port).not.toBe(firstPort);
    expect(active(pool)).toEqual([1]);
    expect(udp.stats()[0]).toMatchObject({ activeSessions: 1, sessions: 2 });
  });

  test("replies keep a session alive too (idle means no traffic either way)", async () => {
    // A server that answers each datagram three times, 120 ms apart.
    const server = await peer((_d, reply) => {
      for (let i = 1; i <= 3; i++) setTimeout(() => reply(`late${i}`), i * 120);
    });
    const { port, pool } = await listen([server.port], { idleTimeout: "200ms" });
    const client = await peer();
    client.send("start", port);
    for (let i = 1; i <= 3; i++) expect(text((await client.next()).data)).toBe(`late${i}`);
    expect(active(pool)).toEqual([1]);
    expect(await eventually(() => pool.servers[0]!.active === 0, 1_000, 10)).toBe(true);
  });

  test("datagrams of every size up to 65507 bytes pass intact both ways", async () => {
    const server = await echoServer("raw", true);
    const { udp, port } = await listen([server.port]);
    const client = await peer();
    for (const size of [0, 1, 512, 1472, 9000, 32768, 65507]) {
      const full = crypto.getRandomValues(new Uint8Array(size));
      client.send(full, port);
      const reply = await client.next();
      expect(reply.data.byteLength).toBe(size);
      expect(Buffer.from(reply.data).equals(Buffer.from(full))).toBe(true);
    }
    expect(udp.stats()[0]!.forwarded.bytes).toBe(0 + 1 + 512 + 1472 + 9000 + 32768 + 65507);
  });

  test("DNS: a hand-built query to a fake DNS server comes back answered, through the listener", async () => {
    const a = await dnsServer("10.0.0.1");
    const b = await dnsServer("10.0.0.2");
    const { port } = await listen([a.port, b.port]);
    const client = await peer();
    client.send(dnsQuery(0xbeef, "www.example.test"), port);
    const answer = parseDnsAnswer((await client.next()).data);
    expect(answer).toEqual({ id: 0xbeef, rcode: 0, name: "www.example.test", a: "10.0.0.1" });
    // A second resolver (another source port) is another session: round-robin gives it the other server.
    const other = await peer();
    other.send(dnsQuery(7, "mail.example.test"), port);
    expect(parseDnsAnswer((await other.next()).data)).toEqual({ id: 7, rcode: 0, name: "mail.example.test", a: "10.0.0.2" });
  });

  test("DNS: dig resolves through the listener", async () => {
    if (!Bun.which("dig")) throw new Error("dig is not installed: apt-get install -y dnsutils");
    const dns = await dnsServer("192.0.2.53");
    const { port, udp } = await listen([dns.port]);
    // Each dig is a new socket, so a new session.
    for (let i = 0; i < 3; i++) {
      const dig = Bun.spawn(["dig", "@127.0.0.1", "-p", String(port), `host${i}.example.test`, "A", "+short", "+tries=1", "+time=2", "+notcp", "+noedns"], {
        stdout: "pipe",
        stderr: "pipe",
      });
      expect(await dig.exited).toBe(0);
      expect((await new Response(dig.stdout).text()).trim()).toBe("192.0.2.53");
    }
    expect(udp.stats()[0]!.sessions).toBe(3);
  });

  test("beyond maxSessions new clients are dropped and counted; known clients go on", async () => {
    const server = await echoServer("a");
    const { udp, port, logs } = await listen([server.port], { maxSessions: 3 });
    const clients = await Promise.all(Array.from({ length: 5 }, () => peer()));
    for (const c of clients.slice(0, 3)) {
      c.send("in", port);
      await c.next();
    }
    for (const c of clients.slice(3)) c.send("out", port);
    for (const c of clients.slice(3)) expect(await c.silentFor(100)).toBe(true);
    clients[0]!.send("still", port);
    expect(text((await clients[0]!.next()).data)).toBe("a:still");
    expect(udp.stats()[0]).toMatchObject({ activeSessions: 3, maxSessions: 3, dropped: { sessionLimit: 2 } });
    expect(logs.filter((l) => l.includes("session limit")).length).toBe(1);
  });

  test("no server available: the datagram is dropped and counted, one log line for many drops", async () => {
    const { udp, port, pool, logs } = await listen([{ address: "127.0.0.1:9", down: true }]);
    const client = await peer();
    for (let i = 0; i < 5; i++) client.send("nobody", port);
    expect(await eventually(() => udp.stats()[0]!.dropped.noServer === 5)).toBe(true);
    expect(await client.silentFor(50)).toBe(true);
    expect(udp.stats()[0]).toMatchObject({ activeSessions: 0, sessions: 0 });
    expect(active(pool)).toEqual([0]);
    expect(logs).toEqual([`sluice: udp 127.0.0.1:${port} (pool dns): dropping datagrams: no server is available`]);
  });

  test("backup servers take sessions only when no primary can", async () => {
    const primary = await echoServer("primary");
    const backup = await echoServer("backup");
    const { port, pool } = await listen([
      { address: `127.0.0.1:${primary.port}`, down: true },
      { address: `127.0.0.1:${backup.port}`, backup: true },
    ]);
    const client = await peer();
    client.send("q", port);
    expect(text((await client.next()).data)).toBe("backup:q");
    expect(active(pool)).toEqual([0, 1]);
  });

  test("ICMP port unreachable is a passive failure: the server is marked down and the session ends", async () => {
    const dead = await peer();
    const deadPort = dead.port;
    dead.close();
    const alive = await echoServer("alive");
    const { udp, port, pool, logs } = await listen([{ address: `127.0.0.1:${deadPort}`, maxFails: 1, failTimeout: "10s" }, alive.port]);
    const client = await peer();
    client.send("first", port); // round-robin: the dead server
    expect(await eventually(() => udp.stats()[0]!.serverErrors === 1)).toBe(true);
    const [down, up] = pool.servers;
    expect(down!.state).toBe("down");
    expect(down!.failures).toBeGreaterThanOrEqual(1);
    expect(down!.active).toBe(0);
    expect(logs.some((l) => l.includes(`server 127.0.0.1:${deadPort} failed`))).toBe(true);
    // The client's retry is a new session, on the server that is up.
    client.send("retry", port);
    expect(text((await client.next()).data)).toBe("alive:retry");
    expect(up!.active).toBe(1);
  });

  test("a session whose server goes out (disabled, down) moves to another server with its next datagram", async () => {
    const a = await echoServer("a");
    const b = await echoServer("b");
    const { port, pool } = await listen([a.port, b.port]);
    const client = await peer();
    client.send("1", port);
    expect(text((await client.next()).data)).toBe("a:1");
    pool.setAdminState(pool.servers[0]!, "drain"); // draining servers keep their sessions
    client.send("2", port);
    expect(text((await client.next()).data)).toBe("a:2");
    pool.setAdminState(pool.servers[0]!, "disabled");
    client.send("3", port);
    expect(text((await client.next()).data)).toBe("b:3");
    expect(active(pool)).toEqual([0, 1]);
  });

  test("datagrams from anyone but the server, sent to a session's socket, are dropped", async () => {
    const server = await peer(); // answers nothing by itself
    const { udp, port } = await listen([server.port]);
    const client = await peer();
    client.send("hi", port);
    const arrived = await server.next();
    const intruder = await peer();
    intruder.send("spoofed", arrived.port);
    expect(await eventually(() => udp.stats()[0]!.dropped.foreignSource === 1)).toBe(true);
    expect(await client.silentFor(50)).toBe(true);
    server.send("genuine", arrived.port);
    expect(text((await client.next()).data)).toBe("genuine");
  });

  test("reloads: pools() is read for each new session; running sessions keep their server", async () => {
    const old = await echoServer("old");
    const fresh = await echoServer("new");
    const { port, pools, pool } = await listen([old.port]);
    const early = await peer();
    early.send("1", port);
    expect(text((await early.next()).data)).toBe("old:1");
    const config = configSchema.parse({ pools: { dns: { mode: "tcp", servers: [{ address: `127.0.0.1:${fresh.port}` }] } } });
    const next = new Pool("dns", config.pools.dns!);
    pools.set("dns", next);
    const late = await peer();
    late.send("2", port);
    expect(text((await late.next()).data)).toBe("new:2");
    early.send("3", port);
    expect(text((await early.next()).data)).toBe("old:3");
    expect(active(pool)).toEqual([1]);
    expect(active(next)).toEqual([1]);
  });

  test("hash balancing keys on the client IP; a server given by hostname is resolved", async () => {
    const { address: localhost } = await lookup("localhost");
    const server = await peer((d, reply) => reply(`named:${text(d.data)}`), localhost);
    const { port } = await listen([{ address: `localhost:${server.port}` }], { balance: "ip-hash" });
    const client = await peer();
    client.send("q", port);
    expect(text((await client.next()).data)).toBe("named:q");
  });

  test("sessions waiting for a server under maxConns are served when one frees up", async () => {
    const server = await echoServer("a");
    const { port, pool, udp } = await listen([{ address: `127.0.0.1:${server.port}`, maxConns: 1 }], { idleTimeout: "200ms" });
    const first = await peer();
    first.send("1", port);
    await first.next();
    const second = await peer();
    second.send("2a", port);
    second.send("2b", port); // held with the first while the session waits
    expect(await second.silentFor(50)).toBe(true);
    // The first session expires, its slot goes to the waiting one.
    expect(text((await second.next(2_000)).data)).toBe("a:2a");
    expect(text((await second.next()).data)).toBe("a:2b");
    expect(active(pool)).toEqual([1]);
    expect(udp.stats()[0]!.sessions).toBe(2);
  });

  test("stop() closes the listener and every session, and gives back the servers' slots", async () => {
    const server = await peer(); // silent: sessions stay open
    const { udp, port, pool } = await listen([{ address: `127.0.0.1:${server.port}`, maxConns: 2 }], { idleTimeout: "1h" });
    const clients = await Promise.all(Array.from({ length: 3 }, () => peer()));
    for (const c of clients) c.send("x", port);
    expect(await eventually(() => server.received.length === 2)).toBe(true);
    expect(active(pool)).toEqual([2]);
    expect(pool.queued).toBe(1); // the third waits for a slot
    await udp.stop();
    expect(active(pool)).toEqual([0]);
    expect(pool.queued).toBe(0);
    expect(udp.stats()[0]!.activeSessions).toBe(0);
    // Replies to the old session sockets go nowhere; the listener port no longer answers.
    for (const d of server.received) server.send("late", d.port);
    const probe = await peer();
    probe.send("anyone?", port);
    for (const c of [...clients, probe]) expect(await c.silentFor(50)).toBe(true);
    await udp.stop(); // idempotent
  });

  test("stop() leaves nothing behind: the process exits on its own (no timers, no sockets)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-udp-"));
    try {
      const script = join(dir, "exit.ts");
      await writeFile(script, exitScript());
      const run = spawnCommand([process.execPath, script]);
      const code = await Promise.race([run.proc.exited, Bun.sleep(5_000).then(() => "hung" as const)]);
      if (code === "hung") {
        run.proc.kill();
        throw new Error(`the process did not exit after stop():\n${run.output()}`);
      }
      expect(run.output()).toContain("stopped active=[0] replies=5 queued=0");
      expect(code).toBe(0);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("a port in use is a clear startup error, and listeners bound before it are closed", async () => {
    const taken = await peer();
    const config = configSchema.parse({
      pools: { dns: { mode: "tcp", servers: [{ address: "127.0.0.1:53" }] } },
      udp: [
        { listen: "127.0.0.1:0", pool: "dns" },
        { listen: `127.0.0.1:${taken.port}`, pool: "dns" },
      ],
    });
    const pools = new Map([["dns", new Pool("dns", config.pools.dns!)]]);
    const failure = startUdpListeners(config.udp, { runtime, pools: () => pools, log: () => {} });
    await expect(failure).rejects.toThrow(`cannot listen on udp 127.0.0.1:${taken.port}: `);
    await expect(failure).rejects.toThrow(/EADDRINUSE|in use/i);
  });

  test("IPv6: a dual-stack listener serves IPv4 and IPv6 clients, toward an IPv6 server", async () => {
    const server = await peer((d, reply) => reply(`v6:${text(d.data)}`), "::1");
    const config = configSchema.parse({
      pools: { dns: { mode: "tcp", balance: "ip-hash", servers: [{ address: `[::1]:${server.port}` }] } },
      udp: [{ listen: "[::]:0", pool: "dns" }],
    });
    const pools = new Map([["dns", new Pool("dns", config.pools.dns!)]]);
    const udp = await startUdpListeners(config.udp, { runtime, pools: () => pools, log: () => {} });
    started.push(udp);
    const address = udp.listeners[0]!.address;
    expect(address).toMatch(/^\[::\]:\d+$/);
    const port = Number(address.split(":").at(-1));
    for (const [host, target] of [
      ["127.0.0.1", "127.0.0.1"],
      ["::1", "::1"],
    ] as const) {
      const client = await peer(undefined, host);
      client.send(`from ${host}`, port, target);
      const reply = await client.next();
      expect(text(reply.data)).toBe(`v6:from ${host}`);
      expect([reply.address, reply.port]).toEqual([target, port]);
    }
    expect(server.received.every((d) => d.address === "::1")).toBe(true);
  });

  test("IPv4 clients of a dual-stack listener balance on their plain IPv4 address", () => {
    expect(plainIp("::ffff:127.0.0.1")).toBe("127.0.0.1");
    expect(plainIp("0:0:0:0:0:0:0:1")).toBe("::1");
    expect(plainIp("10.1.2.3")).toBe("10.1.2.3");
  });
});

// ── a tiny DNS server and packets built by hand (RFC 1035) ──────────────────────────────────────────

function dnsQuery(id: number, name: string): Uint8Array {
  const labels = name.split(".").flatMap((l) => [l.length, ...bytes(l)]);
  const packet = new Uint8Array(12 + labels.length + 1 + 4);
  const view = new DataView(packet.buffer);
  view.setUint16(0, id);
  view.setUint16(2, 0x0100); // standard query, recursion desired
  view.setUint16(4, 1); // one question
  packet.set(labels, 12);
  let at = 12 + labels.length + 1; // the root label's 0 is already there
  view.setUint16(at, 1); // type A
  view.setUint16((at += 2), 1); // class IN
  return packet;
}

/** The name of the question at offset 12 and where the question ends. */
function readQuestion(packet: Uint8Array): { name: string; end: number } {
  const labels: string[] = [];
  let at = 12;
  while (packet[at]! !== 0) {
    const length = packet[at]!;
    labels.push(text(packet.subarray(at + 1, at + 1 + length)));
    at += 1 + length;
  }
  return { name: labels.join("."), end: at + 1 + 4 };
}

/** Answers every A question with `ip`, as an authoritative server would. */
function dnsServer(ip: string): Promise<Peer> {
  return peer((d, reply) => {
    const query = d.data;
    const { end } = readQuestion(query);
    const answer = new Uint8Array(end + 16);
    answer.set(query.subarray(0, end));
    const view = new DataView(answer.buffer);
    view.setUint16(2, 0x8580); // response, authoritative, RD, RA, rcode 0
    view.setUint16(6, 1); // one answer
    view.setUint16(8, 0);
    view.setUint16(10, 0); // no additional records (dig's OPT is not echoed)
    view.setUint16(end, 0xc00c); // the name: a pointer to the question's
    view.setUint16(end + 2, 1); // A
    view.setUint16(end + 4, 1); // IN
    view.setUint32(end + 6, 60); // TTL
    view.setUint16(end + 10, 4);
    answer.set(ip.split(".").map(Number), end + 12);
    reply(answer);
  });
}

function parseDnsAnswer(packet: Uint8Array) {
  const view = new DataView(packet.buffer, packet.byteOffset, packet.byteLength);
  expect(view.getUint16(2) & 0x8000).toBe(0x8000);
  expect(view.getUint16(6)).toBe(1);
  const { name, end } = readQuestion(packet);
  return { id: view.getUint16(0), rcode: view.getUint16(2) & 0xf, name, a: [...packet.subarray(end + 12, end + 16)].join(".") };
}

/** A script that uses the listener and stops it: if anything is left running, the process does not exit. */
function exitScript(): string {
  const from = (path: string) => JSON.stringify(join(repoRoot, path));
  return `
import { startUdpListeners } from ${from("gateway/l4/udp-listener.ts")};
import { bindUdp } from ${from("gateway/runtime/bun-udp.ts")};
import { Pool } from ${from("gateway/pool/pool.ts")};
import { configSchema } from ${from("gateway/config/schema.ts")};
const echo = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data(s, d, port, address) { s.send(d, port, address); } } });
const config = configSchema.parse({
  pools: { dns: { mode: "tcp", servers: [{ address: "127.0.0.1:" + echo.port, maxConns: 5 }] } },
  udp: [{ listen: "127.0.0.1:0", pool: "dns", idleTimeout: "1h" }, { listen: "127.0.0.1:0", pool: "dns", idleTimeout: "1h" }],
});
const pool = new Pool("dns", config.pools.dns);
const udp = await startUdpListeners(config.udp, { runtime: { bindUdp }, pools: () => new Map([["dns", pool]]), log: () => {} });
const port = Number(udp.listeners[0].address.split(":").at(-1));
let replies = 0;
const client = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data() { replies++; } } });
const clients = [client];
for (let i = 0; i < 4; i++) clients.push(await Bun.udpSocket({ hostname: "127.0.0.1", port: 0, socket: { data() { replies++; } } }));
for (const c of clients) c.send("x", port, "127.0.0.1");
// A sixth client waits in the pool's queue (maxConns 5) when stop() comes.
const waiting = await Bun.udpSocket({ hostname: "127.0.0.1", port: 0 });
while (replies < 5) await Bun.sleep(5);
waiting.send("queued", port, "127.0.0.1");
await Bun.sleep(20);
await udp.stop();
for (const c of clients) c.close();
waiting.close();
echo.close();
console.log("stopped active=" + JSON.stringify(pool.servers.map((s) => s.active)) + " replies=" + replies + " queued=" + pool.queued);
`;
}
