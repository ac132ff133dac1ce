// The admin API's run-time changes to servers (drain, disable, enable, weight) and the /status document
// they show up in, against a real gateway and real upstreams.
//
//   POST /pools/:pool/servers/:id/drain     no new clients; sticky clients stay           → 200 server entry
//   POST /pools/:pool/servers/:id/disable   no traffic at all                              → 200 server entry
//   POST /pools/:pool/servers/:id/enable    back in rotation (slow start applies)          → 200 server entry
//   POST /pools/:pool/servers/:id/weight    { "weight": 1–1000 }                           → 200 server entry
//   GET  /pools/:pool, GET /pools/:pool/servers/:id                                        → status entries
// Unknown pool or server: 404 JSON; bad weight body: 400 JSON; another method on an action: 405 JSON.
import { afterAll, afterEach, beforeAll, describe, expect, spyOn, test } from "bun:test";
import { startGateway } from "../gateway/gateway.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";
import type { PoolStatus, ServerStatus } from "../gateway/admin/status.ts";
import { deadPort, reaches, until, valueOf } from "./helpers/common.ts";
import { startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

const TOKEN = "adm1n-t0ken";

// What the admin API answers: the same shapes /status is built from.
type Entry = ServerStatus;

interface Status {
  pools: Record<string, PoolStatus>;
}

function adminClient(gw: Gateway) {
  const call = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(`${gw.adminUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${TOKEN}`, ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
      body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
    });
    return { status: res.status, headers: res.headers, body: (await res.json()) as any };
  };
  return {
    call,
    post: (path: string, body?: unknown) => call("POST", path, body),
    status: async () => (await call("GET", "/status")).body as Status,
    entry: async (pool: string, id: string) => (await call("GET", "/status")).body.pools[pool].servers.find((s: Entry) => s.id === id) as Entry,
  };
}

/** How many of `n` requests each upstream answered. */
async function spread(gw: Gateway, n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await fetch(`${gw.url}/`);
    const name = res.headers.get("x-upstream") ?? `status ${res.status}`;
    await res.arrayBuffer();
    counts[name] = (counts[name] ?? 0) + 1;
  }
  return counts;
}

let logSpy: ReturnType<typeof spyOn>;
beforeAll(() => {
  // The admin API records every change on stderr: keep the test output clean, and look at the lines.
  logSpy = spyOn(console, "error").mockImplementation(() => {});
});
afterAll(() => logSpy.mockRestore());

describe("changing servers at run time", () => {
  let ups: Upstream[];
  let gw: Gateway;
  let admin: ReturnType<typeof adminClient>;
  const cfg = (): ConfigInput => ({
    listen: "127.0.0.1:0",
    admin: { listen: "127.0.0.1:0", token: TOKEN },
    accessLog: false,
    pools: {
      app: {
        servers: [
          { url: ups[0]!.url, id: "a" },
          { url: ups[1]!.url, id: "b" },
          { url: ups[2]!.url, id: "c", weight: 2 },
        ],
      },
    },
    routes: [{ pool: "app" }],
  });
  beforeAll(async () => {
    ups = ["a", "b", "c"].map((name) => startUpstream(name));
    gw = await startGateway({ config: cfg() });
    admin = adminClient(gw);
  });
  afterEach(async () => {
    // Every test starts from the configured state.
    for (const id of ["a", "b", "c"]) await admin.post(`/pools/app/servers/${id}/enable`);
    await admin.post("/pools/app/servers/a/weight", { weight: 1 });
    await admin.post("/pools/app/servers/b/weight", { weight: 1 });
    await admin.post("/pools/app/servers/c/weight", { weight: 2 });
  });
  afterAll(async () => {
    await gw.stop();
    await Promise.all(ups.map((u) => u.stop()));
  });

  test("every change needs the token", async () => {
    for (const path of ["/pools/app/servers/a/drain", "/pools/app/servers/a/disable", "/pools/app/servers/a/enable", "/pools/app/servers/a/weight"]) {
      const none = await fetch(`${gw.adminUrl}${path}`, { method: "POST", body: '{"weight":3}' });
      expect(none.status).toBe(401);
      const wrong = await fetch(`${gw.adminUrl}${path}`, { method: "POST", headers: { authorization: "Bearer nope" }, body: '{"weight":3}' });
      expect(wrong.status).toBe(401);
    }
    expect((await admin.entry("app", "a")).adminState).toBe("up");
    expect((await admin.entry("app", "a")).adminWeight).toBeNull();
  });

  test("drain: answered with the new entry; no new clients go there", async () => {
    const res = await admin.post("/pools/app/servers/a/drain");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("application/json");
    expect(res.body).toMatchObject({ id: "a", state: "drain", adminState: "drain", target: ups[0]!.url, weight: 1, configuredWeight: 1 });
    expect((await admin.entry("app", "a")).state).toBe("drain");
    const counts = await spread(gw, 12);
    expect(counts.a).toBeUndefined();
    expect(counts.b! + counts.c!).toBe(12);
  });

  test("disable: no traffic; enable: back in rotation", async () => {
    const off = await admin.post("/pools/app/servers/b/disable");
    expect(off.status).toBe(200);
    expect(off.body).toMatchObject({ id: "b", state: "disabled", adminState: "disabled" });
    expect((await spread(gw, 12)).b).toBeUndefined();
    const on = await admin.post("/pools/app/servers/b/enable");
    expect(on.status).toBe(200);
    expect(on.body).toMatchObject({ id: "b", state: "up", adminState: "up" });
    expect((await spread(gw, 12)).b).toBe(3);
  });

  test("weight: balancing follows at once; the entry shows the new and the configured weight", async () => {
    const res = await admin.post("/pools/app/servers/a/weight", { weight: 9 });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: "a", weight: 9, configuredWeight: 1, adminWeight: 9 });
    // Smooth weighted round-robin over 9:1:2 is exact over a full cycle.
    expect(await spread(gw, 24)).toEqual({ a: 18, b: 2, c: 4 });
    // Back to the configured weight: nothing set by the admin any more.
    const back = await admin.post("/pools/app/servers/a/weight", { weight: 1 });
    expect(back.body).toMatchObject({ weight: 1, configuredWeight: 1, adminWeight: null });
  });

  test("weight: bad input is a 400 JSON naming the problem, and changes nothing", async () => {
    const bad: unknown[] = [
      { weight: 0 },
      { weight: 1001 },
      { weight: -3 },
      { weight: 2.5 },
      { weight: "5" },
      { weight: null },
      {},
      { weight: 5, extra: true },
      [5],
      5,
      "not json at all",
      "",
    ];
    for (const body of bad) {
      const res = await admin.call("POST", "/pools/app/servers/a/weight", typeof body === "string" ? body : JSON.stringify(body));
      expect(res.status).toBe(400);
      expect(res.headers.get("content-type")).toStartWith("application/json");
      expect(typeof res.body.error).toBe("string");
    }
    expect((await admin.post("/pools/app/servers/a/weight", { weight: 0 })).body.error).toBe("weight: expected a whole number from 1 to 1000 (got 0)");
    expect((await admin.post("/pools/app/servers/a/weight", { weight: 5, extra: true })).body.error).toContain('"extra"');
    expect((await admin.entry("app", "a")).weight).toBe(1);
    // The bounds themselves are fine.
    expect((await admin.post("/pools/app/servers/a/weight", { weight: 1000 })).status).toBe(200);
    expect((await admin.post("/pools/app/servers/a/weight", { weight: 1 })).status).toBe(200);
  });

  test("an unknown pool or server is a 404 JSON; GET on an action is a 405", async () => {
    for (const path of ["/pools/nope/servers/a/drain", "/pools/app/servers/nope/drain", "/pools/nope/servers/a/weight", "/pools/app/servers/zz/enable"]) {
      const res = await admin.post(path, path.endsWith("weight") ? { weight: 2 } : undefined);
      expect(res.status).toBe(404);
      expect(res.headers.get("content-type")).toStartWith("application/json");
      expect(res.body.error).toMatch(/^no (pool|server) "/);
    }
    expect((await admin.post("/pools/app/servers/nope/drain")).body.error).toBe('no server "nope" in pool "app"');
    const get = await admin.call("GET", "/pools/app/servers/a/drain");
    expect(get.status).toBe(405);
    expect(get.headers.get("allow")).toBe("POST");
    expect((await admin.post("/pools/app/servers/a/explode")).status).toBe(404);
  });

  test("GET /pools/:pool and /pools/:pool/servers/:id show the status entries", async () => {
    const pool = await admin.call("GET", "/pools/app");
    expect(pool.status).toBe(200);
    expect(pool.body).toMatchObject({ mode: "http", balance: "round-robin", queued: 0 });
    expect(pool.body.servers.map((s: Entry) => s.id)).toEqual(["a", "b", "c"]);
    const one = await admin.call("GET", "/pools/app/servers/c");
    expect(one.body).toMatchObject({ id: "c", state: "up", weight: 2, configuredWeight: 2 });
    expect((await admin.call("GET", "/pools/zz")).status).toBe(404);
  });

  test("changes are recorded on stderr", async () => {
    logSpy.mockClear();
    await admin.post("/pools/app/servers/c/drain");
    await admin.post("/pools/app/servers/c/weight", { weight: 4 });
    const lines = logSpy.mock.calls.map((args: unknown[]) => String(args[0]));
    expect(lines).toContain('sluice: admin: pool "app" server "c": drain (admin state up -> drain)');
    expect(lines).toContain('sluice: admin: pool "app" server "c": weight 2 -> 4');
  });

  test("browsers cannot make changes from another site (CSRF)", async () => {
    const crossOrigin = await admin.call("POST", "/pools/app/servers/a/disable", undefined, { origin: "http://evil.example" });
    expect(crossOrigin.status).toBe(403);
    const crossSite = await admin.call("POST", "/pools/app/servers/a/disable", undefined, { "sec-fetch-site": "cross-site" });
    expect(crossSite.status).toBe(403);
    expect((await admin.entry("app", "a")).adminState).toBe("up");
    // The admin's own page (same origin) may.
    const same = await admin.call("POST", "/pools/app/servers/a/drain", undefined, { origin: gw.adminUrl!, "sec-fetch-site": "same-origin" });
    expect(same.status).toBe(200);
  });
});

describe("slow start, health and passive failures", () => {
  let up: Upstream;
  let gw: Gateway;
  let admin: ReturnType<typeof adminClient>;
  let dead: number;
  beforeAll(async () => {
    up = startUpstream("a");
    dead = await deadPort();
    gw = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: { listen: "127.0.0.1:0", token: TOKEN },
        accessLog: false,
        pools: {
          app: {
            servers: [
              { url: up.url, id: "slow", weight: 10, slowStart: "2s" },
              { url: up.url, id: "sick" },
              { url: `http://127.0.0.1:${dead}`, id: "dead", maxFails: 1, failTimeout: "60s" },
            ],
          },
        },
        routes: [{ pool: "app" }],
      },
    });
    admin = adminClient(gw);
  });
  afterAll(async () => {
    await gw.stop();
    await up.stop();
  });

  test("enable after disable starts slow start: the weight ramps up from 10%", async () => {
    expect((await admin.entry("app", "slow")).weight).toBe(10);
    await admin.post("/pools/app/servers/slow/disable");
    const on = await admin.post("/pools/app/servers/slow/enable");
    expect(on.body.state).toBe("up");
    expect(on.body.configuredWeight).toBe(10);
    expect(on.body.weight).toBeGreaterThanOrEqual(1);
    expect(on.body.weight).toBeLessThan(2);
    const later = await valueOf(async () => {
      const entry = await admin.entry("app", "slow");
      return entry.weight > on.body.weight ? entry : undefined;
    }, "the weight ramps up");
    expect(later.weight).toBeLessThan(10);
  });

  test("enable on a server already up does not restart slow start", async () => {
    const pool = gw.current.pools.get("app")!;
    pool.byId("slow")!.live.recoveredAt = 0; // slow start over
    const on = await admin.post("/pools/app/servers/slow/enable");
    expect(on.body.weight).toBe(10);
  });

  test("enable never overrides a failing health check: the state stays down", async () => {
    const pool = gw.current.pools.get("app")!;
    const sick = pool.byId("sick")!;
    // What the health checker tells the pool after `fall` failures.
    pool.checked(sick, { ok: false, status: 503, reason: "unexpected status 503", at: Date.UTC(2030, 0, 2, 3, 4, 5), durationMs: 4 }, "down");
    try {
      await admin.post("/pools/app/servers/sick/disable");
      const on = await admin.post("/pools/app/servers/sick/enable");
      expect(on.body).toMatchObject({ id: "sick", state: "down", adminState: "up", healthy: false });
      expect(on.body.lastCheck).toEqual({ ok: false, status: 503, reason: "unexpected status 503", at: "2030-01-02T03:04:05.000Z", durationMs: 4 });
      // A drained server failing its checks is down too.
      expect((await admin.post("/pools/app/servers/sick/drain")).body.state).toBe("down");
      expect((await admin.entry("app", "sick")).state).toBe("down");
      // A disabled one shows as disabled: the operator's word comes first in what is shown.
      expect((await admin.post("/pools/app/servers/sick/disable")).body.state).toBe("disabled");
    } finally {
      pool.checksOff(sick);
      await admin.post("/pools/app/servers/sick/enable");
    }
    expect((await admin.entry("app", "sick")).state).toBe("up");
  });

  test("enable does not clear passive failures either: down until failTimeout ends", async () => {
    for (let i = 0; i < 40 && gw.current.pools.get("app")!.byId("dead")!.failures === 0; i++) {
      const res = await fetch(`${gw.url}/`);
      expect(res.status).toBe(200); // retried on a live server
      await res.arrayBuffer();
    }
    const before = await admin.entry("app", "dead");
    expect(before.state).toBe("down");
    expect(before.failures).toBe(1);
    const on = await admin.post("/pools/app/servers/dead/enable");
    expect(on.body).toMatchObject({ state: "down", adminState: "up", healthy: true });
  });
});

describe("/status per server and per pool", () => {
  let ups: Upstream[];
  let gw: Gateway;
  let admin: ReturnType<typeof adminClient>;
  beforeAll(async () => {
    ups = [startUpstream("a"), startUpstream("b")];
    gw = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: { listen: "127.0.0.1:0", token: TOKEN },
        accessLog: false,
        pools: {
          app: {
            servers: [
              { url: ups[0]!.url, id: "a", maxConns: 5 },
              { url: ups[1]!.url, id: "b", backup: true },
            ],
          },
          other: { balance: "roundrobin", servers: [{ url: ups[1]!.url }] },
        },
        routes: [{ pool: "app" }],
      },
    });
    admin = adminClient(gw);
  });
  afterAll(async () => {
    await gw.stop();
    await Promise.all(ups.map((u) => u.stop()));
  });

  test("every field, with its type", async () => {
    for (let i = 0; i < 5; i++) await (await fetch(`${gw.url}/`)).arrayBuffer();
    const app = gw.current.pools.get("app")!;
    app.loadReported(app.byId("a")!, 0.42, Date.now());
    const status = await admin.status();
    expect(status.pools.app).toMatchObject({ mode: "http", balance: "round-robin", queued: 0 });
    // Written as the alias `roundrobin`: shown by the algorithm's name.
    expect(status.pools.other).toMatchObject({ mode: "http", balance: "round-robin", queued: 0 });
    const [a, b] = status.pools.app!.servers;
    expect(a).toEqual({
      id: "a",
      target: ups[0]!.url,
      state: "up",
      adminState: "up",
      weight: 1,
      configuredWeight: 1,
      adminWeight: null,
      backup: false,
      maxConns: 5,
      active: 0,
      requests: 5,
      failures: 0,
      healthy: true,
      latencyMs: expect.any(Number),
      load: 0.42,
      lastCheck: null,
    });
    expect(a!.latencyMs).toBeGreaterThanOrEqual(0);
    expect(Math.round(a!.latencyMs * 10)).toBe(a!.latencyMs * 10);
    expect(b).toMatchObject({ id: "b", backup: true, requests: 0, load: null, latencyMs: 0 });
  });

  test("a server with the default id (host:port) is addressed by it, plain or percent-encoded", async () => {
    const id = `127.0.0.1:${ups[1]!.port}`;
    const plain = await admin.post(`/pools/other/servers/${id}/drain`);
    expect(plain.status).toBe(200);
    expect(plain.body).toMatchObject({ id, state: "drain" });
    const encoded = await admin.post(`/pools/other/servers/${encodeURIComponent(id)}/enable`);
    expect(encoded.status).toBe(200);
    expect(encoded.body).toMatchObject({ id, state: "up" });
  });

  test("a stale load report is not shown", async () => {
    const app = gw.current.pools.get("app")!;
    app.loadReported(app.byId("a")!, 0.9, Date.now() - 60_000);
    expect((await admin.entry("app", "a")).load).toBeNull();
  });

  test("active counts requests in flight", async () => {
    const release: Array<() => void> = [];
    const slow = startUpstream("slow", async () => {
      await new Promise<void>((resolve) => release.push(resolve));
      return new Response("done");
    });
    const g2 = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: { listen: "127.0.0.1:0", token: TOKEN },
        accessLog: false,
        pools: { app: { servers: [{ url: slow.url, id: "s" }] } },
        routes: [{ pool: "app" }],
      },
    });
    try {
      const inFlight = [fetch(`${g2.url}/`), fetch(`${g2.url}/`)];
      await until(() => release.length === 2, "both requests reach the upstream");
      const during = await adminClient(g2).entry("app", "s");
      expect(during.active).toBe(2);
      release.forEach((r) => r());
      expect(await Promise.all(inFlight.map(async (r) => (await r).text()))).toEqual(["done", "done"]);
      expect(await reaches(0, async () => (await adminClient(g2).entry("app", "s")).active)).toBe(0);
    } finally {
      await g2.stop();
      await slow.stop();
    }
  });
});

describe("admin changes and reloads", () => {
  let ups: Upstream[];
  beforeAll(() => (ups = ["a", "b"].map((name) => startUpstream(name))));
  afterAll(() => Promise.all(ups.map((u) => u.stop())));

  const cfg = (servers: Array<{ url: string; id: string; weight?: number; down?: boolean }>): ConfigInput => ({
    listen: "127.0.0.1:0",
    admin: { listen: "127.0.0.1:0", token: TOKEN },
    accessLog: false,
    pools: { app: { servers } },
    routes: [{ pool: "app" }],
  });

  test("drain, disable and weight survive a reload; later changes act on the new snapshot", async () => {
    const servers = [
      { url: ups[0]!.url, id: "a" },
      { url: ups[1]!.url, id: "b" },
    ];
    const gw = await startGateway({ config: cfg(servers) });
    const admin = adminClient(gw);
    try {
      await admin.post("/pools/app/servers/a/drain");
      await admin.post("/pools/app/servers/b/weight", { weight: 7 });
      const before = gw.current;
      await gw.reload(cfg(servers));
      expect(gw.current).not.toBe(before);
      expect(await admin.entry("app", "a")).toMatchObject({ state: "drain", adminState: "drain" });
      expect(await admin.entry("app", "b")).toMatchObject({ weight: 7, configuredWeight: 1, adminWeight: 7 });
      expect(await spread(gw, 6)).toEqual({ b: 6 });
      // A change after the reload reaches the pool that serves now.
      await admin.post("/pools/app/servers/a/enable");
      await admin.post("/pools/app/servers/b/disable");
      expect(gw.current.pools.get("app")!.byId("b")!.adminState).toBe("disabled");
      expect(await spread(gw, 4)).toEqual({ a: 4 });
      await gw.reload(cfg(servers));
      expect(await admin.entry("app", "b")).toMatchObject({ state: "disabled" });
    } finally {
      await gw.stop();
    }
  });

  test("a reload that changes a server's configured weight wins over the admin's weight", async () => {
    const gw = await startGateway({ config: cfg([{ url: ups[0]!.url, id: "a" }]) });
    const admin = adminClient(gw);
    try {
      await admin.post("/pools/app/servers/a/weight", { weight: 7 });
      await gw.reload(cfg([{ url: ups[0]!.url, id: "a", weight: 3 }]));
      expect(await admin.entry("app", "a")).toMatchObject({ weight: 3, configuredWeight: 3, adminWeight: null });
    } finally {
      await gw.stop();
    }
  });

  test("a reload that sets down: true disables a server the admin had drained", async () => {
    const gw = await startGateway({
      config: cfg([
        { url: ups[0]!.url, id: "a" },
        { url: ups[1]!.url, id: "b" },
      ]),
    });
    const admin = adminClient(gw);
    try {
      await admin.post("/pools/app/servers/a/drain");
      await gw.reload(
        cfg([
          { url: ups[0]!.url, id: "a", down: true },
          { url: ups[1]!.url, id: "b" },
        ]),
      );
      expect((await admin.entry("app", "a")).state).toBe("disabled");
    } finally {
      await gw.stop();
    }
  });

  // A config's `down: true` is not an operator's disable: removing it and reloading brings the server back.
  test("a reload that removes down: true brings the server back", async () => {
    const gw = await startGateway({
      config: cfg([
        { url: ups[0]!.url, id: "a", down: true },
        { url: ups[1]!.url, id: "b" },
      ]),
    });
    const admin = adminClient(gw);
    try {
      expect((await admin.entry("app", "a")).state).toBe("disabled");
      await gw.reload(
        cfg([
          { url: ups[0]!.url, id: "a" },
          { url: ups[1]!.url, id: "b" },
        ]),
      );
      expect((await admin.entry("app", "a")).state).toBe("up");
    } finally {
      await gw.stop();
    }
  });
});

describe("an admin listener without a token (loopback only)", () => {
  let up: Upstream;
  let gw: Gateway;
  beforeAll(async () => {
    up = startUpstream("a");
    gw = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: { listen: "127.0.0.1:0" },
        accessLog: false,
        pools: { app: { servers: [{ url: up.url, id: "a" }] } },
        routes: [{ pool: "app" }],
      },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await up.stop();
  });

  test("changes work by address or localhost, no token needed", async () => {
    const res = await fetch(`${gw.adminUrl}/pools/app/servers/a/drain`, { method: "POST" });
    expect(res.status).toBe(200);
    const port = new URL(gw.adminUrl!).port;
    const byName = await fetch(`${gw.adminUrl}/pools/app/servers/a/enable`, { method: "POST", headers: { host: `localhost:${port}` } });
    expect(byName.status).toBe(200);
    expect(((await byName.json()) as Entry).state).toBe("up");
  });

  test("a request under another host name (DNS rebinding) is refused, reads included", async () => {
    const port = new URL(gw.adminUrl!).port;
    for (const [method, path] of [
      ["GET", "/status"],
      ["POST", "/pools/app/servers/a/disable"],
    ] as const) {
      const res = await fetch(`${gw.adminUrl}${path}`, { method, headers: { host: `attacker.example:${port}` } });
      expect(res.status).toBe(403);
      expect(((await res.json()) as { error: string }).error).toContain("localhost");
    }
    expect(gw.current.pools.get("app")!.byId("a")!.adminState).toBe("up");
    // Health probes are not affected.
    expect((await fetch(`${gw.adminUrl}/healthz`, { headers: { host: `lb.internal:${port}` } })).status).toBe(200);
  });
});
