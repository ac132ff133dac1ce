// Who owns a server's run-time state: one ServerState per server, changed only through its Pool's methods,
// handed as the very same object to the new pool on a reload. Pools are built from configs as the gateway
// loads them; one test reloads a real gateway.
import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { startGateway, validateConfig } from "../gateway/gateway.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";
import { Pool } from "../gateway/pool/pool.ts";
import type { UpstreamServer } from "../gateway/pool/server.ts";
import { startUpstream } from "./helpers/upstream.ts";

type PoolInput = NonNullable<ConfigInput["pools"]>[string];

function poolOf(pool: PoolInput): Pool {
  const config = validateConfig({ pools: { app: pool }, routes: [{ pool: "app" }] });
  return new Pool("app", config.pools.app!);
}

const url = (port: number) => `http://127.0.0.1:${port}`;
const input = () => ({ now: Date.now(), clientIp: "192.0.2.1" });

/** Settles with the server acquire() gave, or "waiting" when it has not settled within `ms`. */
async function within(ms: number, acquired: Promise<UpstreamServer | undefined>): Promise<string | undefined> {
  const timeout = new Promise<"waiting">((resolve) => setTimeout(() => resolve("waiting"), ms));
  return Promise.race([acquired.then((s) => s?.id), timeout]);
}

describe("pool methods change the state", () => {
  test("answered feeds the latency average; failed counts against maxFails and takes the server out", () => {
    const pool = poolOf({ servers: [{ url: url(1001), id: "a", maxFails: 2, failTimeout: "10s" }] });
    const a = pool.byId("a")!;
    const now = Date.now();
    pool.answered(a, now, 40);
    expect(a.latencyMs).toBe(40);
    expect(a.lastOkAt).toBe(now);
    pool.answered(a, now + 1); // an answer without a measurement (a TCP connect)
    expect(a.latencyMs).toBe(40);
    pool.failed(a, now + 2);
    expect(a.failures).toBe(1);
    expect(a.alive(now + 2)).toBe(true);
    pool.failed(a, now + 3);
    expect(a.failedUntil).toBe(now + 3 + 10_000);
    expect(a.alive(now + 4)).toBe(false);
    expect(a.recoveredAt).toBe(a.failedUntil); // slow start runs from the end of the window
  });

  test("checked applies the rise/fall flip and keeps the last check; checksOff forgets it and brings the server back", () => {
    const pool = poolOf({ servers: [{ url: url(1001), id: "a" }] });
    const a = pool.byId("a")!;
    const failedCheck = { ok: false, status: 503, reason: "status 503", at: Date.now(), durationMs: 3 };
    pool.checked(a, failedCheck, undefined); // not yet `fall` failures in a row
    expect(a.healthy).toBe(true);
    expect(a.lastCheck).toBe(failedCheck);
    pool.checked(a, failedCheck, "down");
    expect(a.healthy).toBe(false);
    expect(a.state).toBe("down");
    const passed = { ok: true, status: 200, at: Date.now() + 5, durationMs: 1 };
    pool.checked(a, passed, "up");
    expect(a.healthy).toBe(true);
    expect(a.recoveredAt).toBe(passed.at);
    pool.checked(a, failedCheck, "down");
    expect(pool.checksOff(a)).toBe(true);
    expect(a.healthy).toBe(true);
    expect(a.lastCheck).toBeUndefined();
    expect(pool.checksOff(a)).toBe(false); // already up: nothing came back
  });

  test("setAdminState and setWeight return what was before; enabling starts slow start once", () => {
    const pool = poolOf({ servers: [{ url: url(1001), id: "a", weight: 10, slowStart: "10s" }] });
    const a = pool.byId("a")!;
    const now = Date.now();
    expect(pool.setAdminState(a, "drain", now)).toBe("up");
    expect(a.state).toBe("drain");
    expect(pool.setAdminState(a, "up", now)).toBe("drain");
    expect(a.recoveredAt).toBe(now);
    expect(a.effectiveWeight(now)).toBe(1);
    pool.setAdminState(a, "up", now + 5_000); // already up: the ramp goes on
    expect(a.recoveredAt).toBe(now);
    expect(pool.setWeight(a, 20)).toBe(10);
    expect(a.weight).toBe(20);
    expect(a.configuredWeight).toBe(10);
  });

  test("take and release count requests in flight; loadReported keeps a fresh report", () => {
    const pool = poolOf({ balance: "capacity", servers: [{ url: url(1001), id: "a" }] });
    const a = pool.take(input())!;
    expect([a.active, a.requests]).toEqual([1, 1]);
    pool.release(a);
    expect([a.active, a.requests]).toEqual([0, 1]);
    pool.loadReported(a, 0.25, Date.now());
    expect(a.currentLoad(Date.now())).toBe(0.25);
    pool.loadReported(a, Number("not a number"), Date.now());
    expect(a.currentLoad(Date.now())).toBe(0.25);
  });
});

describe("the queue wakes when a server becomes available", () => {
  const twoFull = () => {
    const pool = poolOf({
      servers: [
        { url: url(1001), id: "a", maxConns: 1 },
        { url: url(1002), id: "b", maxConns: 1, down: true },
      ],
      queue: { max: 10, timeout: "2s" },
    });
    expect(pool.take(input())!.id).toBe("a"); // a is full, b is disabled
    return pool;
  };

  test("an admin enabling a server lets a queued request take it", async () => {
    const pool = twoFull();
    const waiting = pool.acquire(input());
    expect(await within(50, waiting)).toBe("waiting");
    pool.setAdminState(pool.byId("b")!, "up");
    expect(await within(200, waiting)).toBe("b");
  });

  test("a server coming back from its health checks lets a queued request take it", async () => {
    const pool = poolOf({
      servers: [
        { url: url(1001), id: "a", maxConns: 1 },
        { url: url(1002), id: "b", maxConns: 1 },
      ],
      queue: { max: 10, timeout: "2s" },
    });
    const b = pool.byId("b")!;
    pool.checked(b, { ok: false, at: Date.now(), durationMs: 1 }, "down");
    expect(pool.take(input())!.id).toBe("a");
    const waiting = pool.acquire(input());
    expect(await within(50, waiting)).toBe("waiting");
    pool.checked(b, { ok: true, status: 200, at: Date.now(), durationMs: 1 }, "up");
    expect(await within(200, waiting)).toBe("b");
  });
});

describe("reloads share the state object", () => {
  const config: PoolInput = {
    servers: [
      { url: url(1001), id: "a", maxConns: 1 },
      { url: url(1002), id: "b", weight: 2 },
    ],
    queue: { max: 10, timeout: "2s" },
  };

  test("the new pool's twin of a server holds the very same state; another target or id starts afresh", () => {
    const old = poolOf(config);
    const next = poolOf({
      servers: [
        { url: url(1001), id: "a" },
        { url: url(1003), id: "b" },
        { url: url(1004), id: "c" },
      ],
    });
    next.inherit(old);
    expect(next.byId("a")!.live).toBe(old.byId("a")!.live);
    expect(next.byId("b")!.live).not.toBe(old.byId("b")!.live); // same id, another server
    // What changes on one side is seen on the other: one truth per server.
    next.failed(next.byId("a")!, Date.now());
    expect(old.byId("a")!.failures).toBe(1);
  });

  test("operator changes carry over unless the new config changed that setting", () => {
    const old = poolOf(config);
    old.setAdminState(old.byId("a")!, "drain");
    old.setWeight(old.byId("a")!, 7);
    old.setWeight(old.byId("b")!, 9);
    const next = poolOf({
      servers: [
        { url: url(1001), id: "a" },
        { url: url(1002), id: "b", weight: 3, down: true },
      ],
    });
    next.inherit(old);
    expect(next.byId("a")!.adminState).toBe("drain");
    expect(next.byId("a")!.weight).toBe(7);
    expect(next.byId("b")!.adminState).toBe("disabled");
    expect(next.byId("b")!.weight).toBe(3);
  });

  test("a request from before the reload that ends wakes the new pool's queue", async () => {
    const only = (): PoolInput => ({ servers: [{ url: url(1001), id: "a", maxConns: 1 }], queue: { max: 10, timeout: "2s" } });
    const old = poolOf(only());
    const a = old.take(input())!;
    const next = poolOf(only());
    next.inherit(old);
    expect(next.byId("a")!.active).toBe(1); // the old request still counts against maxConns
    const waiting = next.acquire(input());
    expect(await within(50, waiting)).toBe("waiting");
    old.release(a);
    expect(await within(200, waiting)).toBe("a");
  });

  test("through the gateway: a reload keeps the objects, a refused reload leaves them as they were", async () => {
    const up = startUpstream("a");
    const cfg = (weight: number, extra: Partial<ConfigInput> = {}): ConfigInput => ({
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      pools: { app: { servers: [{ url: up.url, id: "a", weight }] } },
      routes: [{ pool: "app" }],
      ...extra,
    });
    const gw = await startGateway({ config: cfg(1) });
    try {
      const pool = () => gw.current.pools.get("app")!;
      const state = pool().byId("a")!.live;
      pool().setWeight(pool().byId("a")!, 7);
      await gw.reload(cfg(1));
      expect(pool().byId("a")!.live).toBe(state);
      expect(pool().byId("a")!.weight).toBe(7);
      // A config that changes the weight but cannot be built (its plugin does not load) is refused: nothing moves.
      await expect(gw.reload(cfg(3, { plugins: [{ use: "./no-such-plugin.ts" }] }))).rejects.toThrow();
      expect(pool().byId("a")!.live).toBe(state);
      expect(state.weight).toBe(7);
    } finally {
      await gw.stop();
      await up.stop();
    }
  });
});

describe("nothing but the pool changes server state", () => {
  // Server state is reachable only through `server.live` and the few writers UpstreamServer keeps for selectors
  // tested without a pool (an `active` setter, observeLatency, recovered). Gateway code uses none of them
  // outside the pool.
  const root = resolve(import.meta.dir, "../gateway");
  const owners = new Set(["pool/pool.ts", "pool/server.ts", "pool/server-state.ts"]);
  const files = (dir: string): string[] =>
    readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith(".ts") ? [join(dir, e.name)] : []));
  const writers = [
    /\.live\b/,
    /\.(observeLatency|recovered|countFailure|recordLoad)\(/,
    // In-flight counts: listeners' own counters (`counters.active`) are not a server's.
    /(?<!counters)\.active\s*(\+\+|--|[-+]?=(?!=))/,
  ];

  test("no gateway file outside the pool reaches the state", () => {
    const found: string[] = [];
    for (const file of files(root)) {
      const name = relative(root, file);
      if (owners.has(name)) continue;
      readFileSync(file, "utf8")
        .split("\n")
        .forEach((line, i) => {
          if (writers.some((w) => w.test(line))) found.push(`${name}:${i + 1}: ${line.trim()}`);
        });
    }
    expect(found).toEqual([]);
  });
});
