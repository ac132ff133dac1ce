// Balancing TCP connections with the pool's algorithm, keyed on the client address; the pools are looked
// up per connection, so a reload's new pools take the next connection.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { configSchema } from "../gateway/config/schema.ts";
import { Pool } from "../gateway/pool/pool.ts";
import { exchange, namedUpstream, openClient, startL4, tcpPoolOf, type Client, type TcpUpstream } from "./helpers/l4.ts";
import { eventually } from "./helpers/common.ts";

let servers: TcpUpstream[];
let addresses: string[];

beforeAll(async () => {
  servers = await Promise.all(["a", "b", "c"].map((n) => namedUpstream(n)));
  addresses = servers.map((s) => s.address);
});
afterAll(async () => {
  await Promise.all(servers.map((s) => s.close()));
});

/** Which server a connection from `localAddress` lands on (its name, from the greeting). */
async function landsOn(port: number, localAddress?: string): Promise<string> {
  const result = await exchange(port, "", { localAddress });
  return result.bytes.toString().trim();
}

test("round-robin (weighted) spreads connections in proportion to weight", async () => {
  const pool = { mode: "tcp" as const, balance: "round-robin", servers: addresses.map((address, i) => ({ address, id: `s${i}`, weight: i === 0 ? 2 : 1 })) };
  const gw = await startL4({ pools: { p: pool }, tcp: [{ pool: "p" }] });
  try {
    const seen: string[] = [];
    for (let i = 0; i < 8; i++) seen.push(await landsOn(gw.port));
    const count = (n: string) => seen.filter((s) => s === n).length;
    expect([count("a"), count("b"), count("c")]).toEqual([4, 2, 2]);
  } finally {
    await gw.stop();
  }
});

test("least-conn sends a new connection to the server with the fewest open ones", async () => {
  const gw = await startL4({ pools: { p: tcpPoolOf(addresses.slice(0, 2), { balance: "least-conn" }) }, tcp: [{ pool: "p" }] });
  const held: Client[] = [];
  try {
    // Two long-lived connections, one on each; then close the one on b: the next goes to b.
    for (let i = 0; i < 2; i++) {
      const c = await openClient(gw.port);
      await c.waitFor((t) => t.length >= 2);
      held.push(c);
    }
    const names = held.map((c) => c.received().toString().trim()).sort();
    expect(names).toEqual(["a", "b"]);
    const onB = held.find((c) => c.received().toString().trim() === "b")!;
    onB.socket.end();
    const [sa, sb] = gw.pools.get("p")!.servers;
    expect(await eventually(() => sb!.active === 0)).toBe(true);
    expect(sa!.active).toBe(1);
    expect(await landsOn(gw.port)).toBe("b");
    expect(await landsOn(gw.port)).toBe("b");
  } finally {
    for (const c of held) c.socket.destroy();
    await gw.stop();
  }
});

for (const balance of ["ip-hash", "consistent-hash"]) {
  test(`${balance} keeps each client address on one server and spreads addresses`, async () => {
    const gw = await startL4({ pools: { p: tcpPoolOf(addresses, { balance }) }, tcp: [{ pool: "p" }] });
    try {
      const clients = Array.from({ length: 20 }, (_, i) => `127.0.0.${i + 2}`);
      const first = await Promise.all(clients.map((ip) => landsOn(gw.port, ip)));
      const second = await Promise.all(clients.map((ip) => landsOn(gw.port, ip)));
      expect(second).toEqual(first);
      expect(new Set(first).size).toBeGreaterThanOrEqual(2);
    } finally {
      await gw.stop();
    }
  });
}

test("first and random pick only available servers", async () => {
  const gw = await startL4({
    pools: { first: tcpPoolOf(addresses, { balance: "first" }), random: tcpPoolOf(addresses, { balance: "random" }) },
    tcp: [{ pool: "first" }, { pool: "random" }],
  });
  try {
    for (let i = 0; i < 3; i++) expect(await landsOn(gw.ports[0]!)).toBe("a");
    const random = gw.pools.get("random")!;
    random.setAdminState(random.servers[1]!, "disabled");
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) seen.add(await landsOn(gw.ports[1]!));
    expect([...seen].sort()).toEqual(["a", "c"]);
  } finally {
    await gw.stop();
  }
});

test("pools are looked up per connection: new pools (a reload) take the next connection, open ones stay", async () => {
  const gw = await startL4({ pools: { p: tcpPoolOf([addresses[0]!]) }, tcp: [{ pool: "p" }] });
  try {
    const open = await openClient(gw.port);
    await open.waitFor((t) => t === "a\n");
    const parsed = configSchema.parse({ pools: { p: tcpPoolOf([addresses[2]!]) } });
    gw.pools.set("p", new Pool("p", parsed.pools.p!));
    expect(await landsOn(gw.port)).toBe("c");
    open.socket.write("still here");
    await open.waitFor((t) => t === "a\nstill here");
    open.socket.destroy();
  } finally {
    await gw.stop();
  }
});

test("a listener whose pool does not exist (or is not tcp) closes connections and says so", async () => {
  const gw = await startL4({ pools: { p: tcpPoolOf([addresses[0]!]) }, tcp: [{ pool: "missing" }] });
  try {
    const result = await exchange(gw.port, "x", { halfClose: false, timeoutMs: 2_000 });
    expect(result.bytes.byteLength).toBe(0);
    expect(result.ms).toBeLessThan(500);
    expect(gw.logs.some((l) => l.includes('no tcp pool "missing"'))).toBe(true);
  } finally {
    await gw.stop();
  }
});
