// Connect failures on a TCP listener, beyond the basic cases of l4-pipe.case.ts (dead, all dead, blackholed,
// run on both runtimes): passive health with maxFails > 1, active TCP health checks keeping a down server
// out, and a client that leaves or half-closes while its connect is pending.
import { afterEach, expect, test } from "bun:test";
import { configSchema } from "../gateway/config/schema.ts";
import { startHealthChecks } from "../gateway/health/checks.ts";
import { getRuntime } from "../gateway/runtime/current.ts";
import { exchange, namedUpstream, openClient, refusingPort, startL4, tcpPoolOf, type L4Setup, type TcpUpstream } from "./helpers/l4.ts";
import { eventually } from "./helpers/common.ts";
import { startBlackhole } from "./helpers/upstream.ts";

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function named(name: string): Promise<TcpUpstream> {
  const u = await namedUpstream(name);
  cleanup.push(() => u.close());
  return u;
}

async function l4(...args: Parameters<typeof startL4>): Promise<L4Setup> {
  const setup = await startL4(...args);
  cleanup.push(() => setup.stop(0));
  return setup;
}

test("a server with maxFails 2 stays in rotation after one failure and leaves after the second", async () => {
  const dead = await refusingPort();
  cleanup.push(() => dead.close());
  const b = await named("b");
  const gw = await l4({
    pools: { p: tcpPoolOf([dead.address, b.address], { balance: "first" }, { maxFails: 2, failTimeout: "5s" }) },
    tcp: [{ pool: "p" }],
  });
  const s1 = gw.pools.get("p")!.servers[0]!;
  expect((await exchange(gw.port, "1")).bytes.toString()).toBe("b\n1");
  expect(s1.failures).toBe(1);
  expect(s1.state).toBe("up");
  expect((await exchange(gw.port, "2")).bytes.toString()).toBe("b\n2");
  expect(s1.failures).toBe(2);
  expect(s1.state).toBe("down");
  expect((await exchange(gw.port, "3")).bytes.toString()).toBe("b\n3");
  expect(s1.failures).toBe(2);
});

test("TCP health checks take a dead server out before any client tries it", async () => {
  const a = await named("a");
  const b = await named("b");
  const parsed = configSchema.parse({
    pools: { p: tcpPoolOf([a.address, b.address], { balance: "first", health: { interval: "100ms", timeout: "100ms", rise: 1, fall: 1 } }) },
  });
  const gw = await l4({ pools: { p: tcpPoolOf([a.address, b.address], { balance: "first" }) }, tcp: [{ pool: "p" }] });
  const pool = gw.pools.get("p")!;
  const checks = startHealthChecks(gw.pools, parsed.pools, await getRuntime(), () => {});
  cleanup.push(() => checks.stop());
  expect((await exchange(gw.port, "x")).bytes.toString()).toBe("a\nx");
  await a.close();
  expect(await eventually(() => pool.servers[0]!.healthy === false, 3_000)).toBe(true);
  expect((await exchange(gw.port, "y")).bytes.toString()).toBe("b\ny");
  // No client ever hit the dead server: the checks, not a failed connect, kept it out.
  expect(gw.tcp.stats().listeners[0]!.errors.connectFailures).toBe(0);
});

test("a client that resets while its connect is pending cancels it: not counted against the server", async () => {
  const hole = await startBlackhole();
  cleanup.push(() => hole.close());
  const gw = await l4({ pools: { p: tcpPoolOf([`127.0.0.1:${hole.port}`]) }, tcp: [{ pool: "p", connectTimeout: "5s" }] });
  const client = await openClient(gw.port);
  client.socket.on("error", () => {});
  await Bun.sleep(100);
  client.socket.resetAndDestroy();
  expect(await eventually(() => gw.tcp.active === 0, 2_000)).toBe(true);
  const server = gw.pools.get("p")!.servers[0]!;
  expect(server.failures).toBe(0);
  expect(server.active).toBe(0);
  expect(gw.tcp.stats().listeners[0]!.errors.connectFailures).toBe(0);
});

test("a client that half-closes while its connect is pending still gets its bytes delivered", async () => {
  const hole = await startBlackhole();
  cleanup.push(() => hole.close());
  const b = await named("b");
  const gw = await l4({
    pools: { p: tcpPoolOf([`127.0.0.1:${hole.port}`, b.address], { balance: "first" }) },
    tcp: [{ pool: "p", connectTimeout: "200ms" }],
  });
  // `printf 'request' | nc`: the request and the FIN come before any server is connected.
  const result = await exchange(gw.port, "request");
  expect(result.bytes.toString()).toBe("b\nrequest");
  expect(result.ending).toBe("end");
});
