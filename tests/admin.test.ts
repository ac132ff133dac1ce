// The admin listener: liveness and readiness without a token, status behind the bearer token, and
// the refusal to expose an unprotected admin listener beyond loopback.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { startGateway } from "../gateway/gateway.ts";
import { ConfigError } from "../gateway/config/errors.ts";
import { deadPort, until } from "./helpers/common.ts";
import { startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

describe("admin listener with a token", () => {
  let up: Upstream;
  let gw: Gateway;
  let dead: number;
  beforeAll(async () => {
    up = startUpstream("a");
    dead = await deadPort();
    gw = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: { listen: "127.0.0.1:0", token: "s3cret" },
        accessLog: false,
        pools: {
          app: {
            servers: [
              { url: up.url, id: "a" },
              { url: `http://127.0.0.1:${dead}`, id: "dead", maxFails: 1, failTimeout: "30s" },
              { url: up.url, id: "off", down: true },
            ],
          },
        },
        routes: [{ name: "all", pool: "app" }],
      },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await up.stop();
  });

  test("/healthz and /readyz need no token", async () => {
    const health = await fetch(`${gw.adminUrl}/healthz`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: "ok" });
    const ready = await fetch(`${gw.adminUrl}/readyz`);
    expect(ready.status).toBe(200);
  });

  test("/status needs the bearer token", async () => {
    const none = await fetch(`${gw.adminUrl}/status`);
    expect(none.status).toBe(401);
    expect(none.headers.get("www-authenticate")).toContain("Bearer");
    const wrong = await fetch(`${gw.adminUrl}/status`, { headers: { authorization: "Bearer nope" } });
    expect(wrong.status).toBe(401);
  });

  test("/status shows pools, servers with state and counters, routes and listeners", async () => {
    for (let i = 0; i < 4; i++) expect((await fetch(`${gw.url}/x`)).status).toBe(200);
    const res = await fetch(`${gw.adminUrl}/status`, { headers: { authorization: "Bearer s3cret" } });
    expect(res.status).toBe(200);
    const status = (await res.json()) as {
      pools: Record<string, { servers: Array<{ id: string; state: string; weight: number; active: number; requests: number; failures: number }> }>;
      routes: Array<{ name: string; kind: string; pool: string }>;
      listeners: Array<{ kind: string; address: string }>;
    };
    const servers = Object.fromEntries(status.pools.app!.servers.map((s) => [s.id, s]));
    expect(servers.a!.state).toBe("up");
    expect(servers.a!.requests).toBeGreaterThanOrEqual(4);
    expect(servers.a!.active).toBe(0);
    expect(servers.a!.weight).toBe(1);
    // The dead server failed once (then the retry went to "a") and is out for its failTimeout.
    expect(servers.dead!.failures).toBe(1);
    expect(servers.dead!.state).toBe("down");
    expect(servers.off!.state).toBe("disabled");
    expect(servers.off!.requests).toBe(0);
    expect(status.routes).toEqual([{ name: "all", kind: "proxy", pool: "app" }]);
    expect(status.listeners.map((l) => l.kind)).toEqual(["http", "admin"]);
  });

  test("unknown admin paths answer 404 JSON (with the token)", async () => {
    const res = await fetch(`${gw.adminUrl}/nope`, { headers: { authorization: "Bearer s3cret" } });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: "not found" });
  });
});

describe("admin listener safety", () => {
  test("a non-loopback admin address without a token is refused", async () => {
    let problems: string[] = [];
    try {
      await startGateway({ config: { listen: "127.0.0.1:0", admin: { listen: "0.0.0.0:0" }, pools: {}, routes: [] } });
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([expect.stringMatching(/^admin\.token: required/)]);
  });

  test("a loopback admin listener without a token serves /status openly", async () => {
    const gw = await startGateway({ config: { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" }, accessLog: false } });
    try {
      const res = await fetch(`${gw.adminUrl}/status`);
      expect(res.status).toBe(200);
    } finally {
      await gw.stop();
    }
  });

  test("/readyz turns 503 while the gateway drains", async () => {
    const slow = startUpstream("slow", async () => {
      await Bun.sleep(400);
      return new Response("done");
    });
    const gw = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: { listen: "127.0.0.1:0" },
        accessLog: false,
        pools: { s: { servers: [{ url: slow.url }] } },
        routes: [{ pool: "s" }],
      },
    });
    const adminUrl = gw.adminUrl!;
    const inFlight = fetch(`${gw.url}/slow`);
    await until(() => slow.seen.length === 1, "the request reaches the upstream");
    const stopping = gw.stop(5_000);
    // While the request drains, the admin listener stays up and says "not ready".
    const ready = await fetch(`${adminUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toEqual({ status: "draining" });
    const res = await inFlight;
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("done");
    await stopping;
    // Once drained, everything is closed.
    await expect(fetch(`${adminUrl}/readyz`)).rejects.toThrow();
    await slow.stop();
  });
});
