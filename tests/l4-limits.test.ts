// Limits and lifecycle of TCP listeners, beyond l4-pipe.case.ts (idle timeout, the listener's maxConns and
// stop(grace), run on both runtimes): servers' maxConns with `first` filling them in order and the pool's
// queue behind them, stop returning early, and a listener that cannot listen.
import { afterEach, expect, test } from "bun:test";
import { echoUpstream, exchange, namedUpstream, openClient, startL4, tcpPoolOf, type Client, type L4Setup, type TcpUpstream } from "./helpers/l4.ts";
import { eventually } from "./helpers/common.ts";

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function upstream(make: Promise<TcpUpstream>): Promise<TcpUpstream> {
  const u = await make;
  cleanup.push(() => u.close());
  return u;
}

async function l4(...args: Parameters<typeof startL4>): Promise<L4Setup> {
  const setup = await startL4(...args);
  cleanup.push(() => setup.stop(0));
  return setup;
}

async function client(port: number): Promise<Client> {
  const c = await openClient(port);
  c.socket.on("error", () => {});
  cleanup.push(() => c.socket.destroy());
  return c;
}

test("servers' maxConns with `first`: the first server fills up, then the second; over both, a client waits in the queue", async () => {
  const a = await upstream(namedUpstream("a"));
  const b = await upstream(namedUpstream("b"));
  const gw = await l4({
    pools: { p: tcpPoolOf([a.address, b.address], { balance: "first", queue: { max: 10, timeout: "2s" } }, { maxConns: 2 }) },
    tcp: [{ pool: "p" }],
  });
  const clients: Client[] = [];
  for (let i = 0; i < 4; i++) {
    const c = await client(gw.port);
    await c.waitFor((t) => t.length >= 2);
    clients.push(c);
  }
  expect(clients.map((c) => c.received().toString())).toEqual(["a\n", "a\n", "b\n", "b\n"]);
  const [sa, sb] = gw.pools.get("p")!.servers;
  expect([sa!.active, sb!.active]).toEqual([2, 2]);

  // A fifth client waits for a slot: it gets one when the first client leaves (a's slot frees).
  const fifth = await client(gw.port);
  expect(await eventually(() => gw.pools.get("p")!.queued === 1)).toBe(true);
  expect(fifth.received().byteLength).toBe(0);
  expect(a.accepted + b.accepted).toBe(4); // nothing was opened upstream for it
  clients[0]!.socket.end();
  expect(await fifth.waitFor((t) => t === "a\n")).toBe("a\n");
  expect(await eventually(() => sa!.active === 2 && sb!.active === 2)).toBe(true);
});

test("a queued client whose wait runs out is closed and counted as no server", async () => {
  const a = await upstream(namedUpstream("a"));
  const gw = await l4({
    pools: { p: tcpPoolOf([a.address], { queue: { max: 10, timeout: "200ms" } }, { maxConns: 1 }) },
    tcp: [{ pool: "p" }],
  });
  const first = await client(gw.port);
  await first.waitFor((t) => t === "a\n");
  const second = await exchange(gw.port, "hi", { halfClose: false, timeoutMs: 2_000 });
  expect(second.bytes.byteLength).toBe(0);
  expect(second.ms).toBeGreaterThanOrEqual(180);
  expect(second.ms).toBeLessThan(1_000);
  expect(gw.tcp.stats().listeners[0]!.errors.noServer).toBe(1);
  // Waiting for a slot is not the server's fault.
  expect(gw.pools.get("p")!.servers[0]!.failures).toBe(0);
});

test("stop(grace) returns as soon as the last connection closes on its own", async () => {
  const echo = await upstream(echoUpstream());
  const gw = await startL4({ pools: { echo: tcpPoolOf([echo.address]) }, tcp: [{ pool: "echo" }] });
  const open = await client(gw.port);
  open.socket.write("x");
  await open.waitFor((t) => t === "x");
  const started = Date.now();
  const stopping = gw.stop(5_000);
  setTimeout(() => open.socket.end(), 100);
  await stopping;
  expect(Date.now() - started).toBeLessThan(1_000);
  expect(await open.ended).toBe("end");
});

test("a listener that cannot listen fails with its address in the message", async () => {
  const echo = await upstream(echoUpstream());
  const gw = await l4({ pools: { echo: tcpPoolOf([echo.address]) }, tcp: [{ pool: "echo" }] });
  const busy = `127.0.0.1:${gw.port}`;
  await expect(startL4({ pools: { echo: tcpPoolOf([echo.address]) }, tcp: [{ pool: "echo" }, { listen: busy, pool: "echo" }] })).rejects.toThrow(busy);
});
