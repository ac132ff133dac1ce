// TCP health checks (`mode: "tcp"` pools): a server passes when it accepts a connection. Routes cannot
// use tcp pools yet (tcp listeners come later), so the checks run here on a Pool built from a tcp pool
// config, against a real node:net server that goes away and comes back on the same port.
import { afterEach, expect, test } from "bun:test";
import { createServer, type Server, type Socket } from "node:net";
import { configSchema, type PoolConfig } from "../gateway/config/schema.ts";
import { Pool } from "../gateway/pool/pool.ts";
import { getRuntime } from "../gateway/runtime/current.ts";
import { startHealthChecks } from "../gateway/health/checks.ts";
import { eventually } from "./helpers/common.ts";
import { closeServer, listen, startBlackhole } from "./helpers/upstream.ts";

let cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

interface TcpUpstream {
  port: number;
  accepted: number;
  close(): Promise<void>;
  reopen(): Promise<void>;
}

/** A node:net server that counts the connections it accepts; it can close and listen again on its port. */
async function tcpUpstream(): Promise<TcpUpstream> {
  const sockets = new Set<Socket>();
  let server: Server;
  const make = () =>
    createServer((socket) => {
      state.accepted++;
      sockets.add(socket);
      socket.on("close", () => sockets.delete(socket));
      socket.on("error", () => {});
    });
  const state: TcpUpstream = {
    port: 0,
    accepted: 0,
    close: () => closeServer(server, sockets),
    async reopen() {
      server = make();
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen({ host: "127.0.0.1", port: state.port }, () => resolve());
      });
    },
  };
  server = make();
  state.port = await listen(server);
  cleanup.push(() => (server.listening ? state.close() : undefined));
  return state;
}

function tcpPool(
  addresses: string[],
  health: Record<string, unknown> = { interval: "100ms", timeout: "100ms", rise: 2, fall: 2 },
): { pool: Pool; configs: Record<string, PoolConfig> } {
  const config = configSchema.parse({
    pools: { redis: { mode: "tcp", balance: "round-robin", servers: addresses.map((address, i) => ({ address, id: `r${i + 1}` })), health } },
  });
  return { pool: new Pool("redis", config.pools.redis!), configs: config.pools };
}

async function check(pool: Pool, configs: Record<string, PoolConfig>, lines: string[]) {
  const checks = startHealthChecks(new Map([["redis", pool]]), configs, await getRuntime(), (line) => lines.push(line));
  cleanup.push(() => checks.stop());
  return checks;
}

test("a tcp server that stops accepting goes down after `fall` checks and comes back after `rise`", async () => {
  const up = await tcpUpstream();
  const other = await tcpUpstream();
  const { pool, configs } = tcpPool([`127.0.0.1:${up.port}`, `127.0.0.1:${other.port}`]);
  const lines: string[] = [];
  await check(pool, configs, lines);
  const [r1, r2] = pool.servers;

  expect(await eventually(() => r1!.lastCheck?.ok === true)).toBe(true);
  expect(r1!.lastCheck!.status).toBeUndefined();
  expect(up.accepted).toBeGreaterThanOrEqual(1);

  await up.close();
  expect(await eventually(() => !r1!.healthy, 2_000)).toBe(true);
  expect(r1!.lastCheck).toMatchObject({ ok: false, reason: "connection refused" });
  expect(lines).toEqual(["sluice: pool redis server r1 is DOWN (2 checks failed: connection refused)"]);
  // The pool skips it.
  for (let i = 0; i < 4; i++) expect(pool.select(pool.selectionFor({ clientIp: "127.0.0.1" }))).toBe(r2);

  await up.reopen();
  expect(await eventually(() => r1!.healthy, 2_000)).toBe(true);
  expect(r1!.lastCheck?.ok).toBe(true);
  expect(lines[1]).toBe("sluice: pool redis server r1 is UP (2 checks passed)");
  expect(r2!.healthy).toBe(true);
});

test("a tcp server where connections hang: the timeout counts as a failure", async () => {
  const hole = await startBlackhole();
  cleanup.push(() => hole.close());
  const { pool, configs } = tcpPool([`127.0.0.1:${hole.port}`], { interval: "100ms", timeout: "100ms", rise: 1, fall: 1 });
  const lines: string[] = [];
  await check(pool, configs, lines);
  const r1 = pool.servers[0]!;
  expect(await eventually(() => !r1.healthy, 2_000)).toBe(true);
  expect(r1.lastCheck?.reason).toBe("timeout after 100ms");
  expect(r1.lastCheck!.durationMs).toBeLessThan(300);
  expect(lines[0]).toBe("sluice: pool redis server r1 is DOWN (1 check failed: timeout after 100ms)");
  expect(lines[1]).toBe("sluice: pool redis has no server available");
});

test("after stop, no more connections arrive", async () => {
  const up = await tcpUpstream();
  const { pool, configs } = tcpPool([`127.0.0.1:${up.port}`]);
  const checks = await check(pool, configs, []);
  expect(await eventually(() => up.accepted >= 2)).toBe(true);
  checks.stop();
  await Bun.sleep(50); // a connection already under way may still land
  const n = up.accepted;
  await Bun.sleep(350);
  expect(up.accepted).toBe(n);
});

test("probeTcp gives up at once when its signal aborts", async () => {
  const hole = await startBlackhole();
  cleanup.push(() => hole.close());
  const runtime = await getRuntime();
  const controller = new AbortController();
  const started = performance.now();
  const probe = runtime.probeTcp("127.0.0.1", hole.port, 5_000, controller.signal);
  setTimeout(() => controller.abort(new Error("stopped")), 50);
  await expect(probe).rejects.toThrow("stopped");
  expect(performance.now() - started).toBeLessThan(500);
  await expect(runtime.probeTcp("127.0.0.1", hole.port, 5_000, AbortSignal.abort(new Error("already")))).rejects.toThrow("already");
});
