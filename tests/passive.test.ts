// Passive health and slow start end to end. Passive: requests that fail against a server count toward
// maxFails within failTimeout; then the server is skipped for failTimeout and tried again (nginx
// max_fails/fail_timeout), while retries keep clients from seeing the failures. Slow start: a server back
// in rotation (failTimeout over, or health checks passing again) ramps from 10% of its weight to all of it.
import { afterEach, beforeEach, expect, spyOn, test } from "bun:test";
import { startGateway } from "../gateway/gateway.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";
import type { UpstreamServer } from "../gateway/pool/server.ts";
import { deadPort, eventually } from "./helpers/common.ts";
import { errorBody, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

let cleanup: Array<() => unknown> = [];
beforeEach(() => {
  // Health-check lines would clutter the test output.
  const spy = spyOn(console, "error").mockImplementation(() => {});
  cleanup.push(() => spy.mockRestore());
});
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

function upstream(name: string, handler?: Parameters<typeof startUpstream>[1]): Upstream {
  const u = startUpstream(name, handler);
  cleanup.push(() => u.stop());
  return u;
}

/** A plain upstream answering its name on a given port (to bring a stopped server back at its address). */
function upstreamOn(name: string, port: number): Upstream {
  const server = Bun.serve({ hostname: "127.0.0.1", port, fetch: () => new Response(name) });
  cleanup.push(() => server.stop(true));
  return { url: `http://127.0.0.1:${port}`, port, name, seen: [], server, stop: () => server.stop(true) };
}

async function gw(pools: NonNullable<ConfigInput["pools"]>): Promise<Gateway> {
  const g = await startGateway({
    config: { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" }, accessLog: false, pools, routes: [{ pool: "app" }] },
  });
  cleanup.push(() => g.stop(0));
  return g;
}

function serversOf(g: Gateway): readonly UpstreamServer[] {
  return g.current.pools.get("app")!.servers;
}

/** Send `n` sequential GETs; returns the answering upstream's name per request (or "status NNN"). */
async function send(url: string, n: number): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await fetch(url);
    names.push(r.status === 200 ? await r.text() : `status ${r.status}`);
  }
  return names;
}

const count = (names: string[], name: string) => names.filter((n) => n === name).length;

test("a dead server is skipped after maxFails failures, retried after failTimeout; clients see no error", async () => {
  const b = upstream("b");
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const g = await gw({
    app: {
      retries: 1,
      servers: [
        { url: dead, id: "dead", maxFails: 2, failTimeout: "1s" },
        { url: b.url, id: "b" },
      ],
    },
  });
  const [sd] = serversOf(g);

  // Round-robin sends every other request to the dead server: each fails over to b.
  const first = await send(g.url + "/", 10);
  expect(first).toEqual(Array(10).fill("b"));
  expect(sd!.failures).toBe(2);
  expect(sd!.state).toBe("down");
  const outAt = Date.now();
  expect(sd!.failedUntil).toBeGreaterThan(outAt + 800);

  // While it is out, nothing is tried on it.
  expect(await send(g.url + "/", 10)).toEqual(Array(10).fill("b"));
  expect(sd!.failures).toBe(2);

  // Once failTimeout is over it is tried again (and fails again, still unseen by clients).
  const answers: string[] = [];
  while (sd!.failures === 2 && Date.now() - outAt < 3_000) {
    answers.push(...(await send(g.url + "/", 1)));
    await Bun.sleep(20);
  }
  const retriedAfter = Date.now() - outAt;
  expect(sd!.failures).toBe(3);
  expect(retriedAfter).toBeGreaterThanOrEqual(950);
  expect(retriedAfter).toBeLessThan(1_400);
  expect(answers.every((a) => a === "b")).toBe(true);
});

test("GETs that land on a dead server are retried on another with the same path; a POST with a body is not replayed", async () => {
  const b = upstream("b");
  const dead = `http://127.0.0.1:${await deadPort()}`;
  const g = await gw({
    app: {
      retries: 1,
      servers: [
        { url: dead, id: "dead", maxFails: 5, failTimeout: "1s" },
        { url: b.url, id: "b" },
      ],
    },
  });
  const gets = await Promise.all([0, 1, 2, 3].map(() => fetch(g.url + "/x?y=1").then((r) => r.status)));
  expect(gets).toEqual([200, 200, 200, 200]);
  expect(b.seen.filter((s) => s.url === "/x?y=1").length).toBe(4);
  // A POST with a body that lands on the dead server is not replayed: the client gets 502.
  const posts = await Promise.all([0, 1, 2, 3].map(() => fetch(g.url + "/p", { method: "POST", body: "x" }).then((r) => r.status)));
  expect(posts.filter((s) => s === 502).length).toBeGreaterThanOrEqual(1);
  expect(posts.every((s) => s === 200 || s === 502)).toBe(true);
});

test("every server passively out: 503 with Retry-After at once, no connection attempted", async () => {
  const d1 = `http://127.0.0.1:${await deadPort()}`;
  const d2 = `http://127.0.0.1:${await deadPort()}`;
  const g = await gw({
    app: {
      retries: 1,
      servers: [
        { url: d1, id: "d1", maxFails: 1, failTimeout: "10s" },
        { url: d2, id: "d2", maxFails: 1, failTimeout: "10s" },
      ],
    },
  });
  // The first request tries both and gets 502 ...
  const first = await fetch(g.url + "/");
  expect(first.status).toBe(502);
  await first.arrayBuffer();
  expect(serversOf(g).map((s) => s.state)).toEqual(["down", "down"]);
  // ... after that the pool has nothing left: 503 at once.
  const started = performance.now();
  const r = await fetch(g.url + "/");
  expect(r.status).toBe(503);
  expect(r.headers.get("retry-after")).toBe("1");
  expect((await errorBody(r)).error).toContain("no server available");
  expect(performance.now() - started).toBeLessThan(100);
  expect(serversOf(g).map((s) => s.failures)).toEqual([1, 1]);
});

test("slow start after health checks bring a server back: a small share at first, half after `slowStart`", async () => {
  let failing = false;
  const a = upstream("a", (request) => (new URL(request.url).pathname === "/healthz" && failing ? new Response("", { status: 500 }) : undefined));
  const b = upstream("b");
  const g = await gw({
    app: {
      balance: "round-robin",
      servers: [
        { url: a.url, id: "a", slowStart: "2s" },
        { url: b.url, id: "b", slowStart: "2s" },
      ],
      health: { path: "/healthz", interval: "100ms", timeout: "100ms", rise: 1, fall: 1 },
    },
  });
  const [sa] = serversOf(g);
  // Servers up from the start are not slowed down.
  expect(count(await send(g.url + "/", 20), "a")).toBe(10);

  failing = true;
  expect(await eventually(() => !sa!.healthy, 2_000)).toBe(true);
  failing = false;
  expect(await eventually(() => sa!.healthy, 2_000, 5)).toBe(true);
  const recoveredAt = sa!.recoveredAt;
  expect(Date.now() - recoveredAt).toBeLessThan(100);

  // Right after recovery a weighs ~10% of b: clearly less than half.
  const early = await send(g.url + "/", 40);
  expect(Date.now() - recoveredAt).toBeLessThan(1_000);
  expect(count(early, "a")).toBeGreaterThanOrEqual(1);
  expect(count(early, "a")).toBeLessThan(12);
  expect(count(early, "a") + count(early, "b")).toBe(40);

  // Once slowStart has passed: half again.
  await Bun.sleep(Math.max(0, recoveredAt + 2_050 - Date.now()));
  const late = await send(g.url + "/", 40);
  expect(count(late, "a")).toBeGreaterThanOrEqual(19);
  expect(count(late, "a")).toBeLessThanOrEqual(21);
});

test("slow start after failTimeout: a server that was out comes back with a small share, clients see no error", async () => {
  const first = upstream("a");
  const port = first.port;
  const b = upstream("b");
  const g = await gw({
    app: {
      retries: 1,
      servers: [
        { url: first.url, id: "a", maxFails: 1, failTimeout: "500ms", slowStart: "2s" },
        { url: b.url, id: "b" },
      ],
    },
  });
  const [sa] = serversOf(g);
  expect(count(await send(g.url + "/", 4), "a")).toBe(2);

  await first.stop();
  const whileGone = await send(g.url + "/", 6);
  expect(whileGone).toEqual(Array(6).fill("b"));
  expect(sa!.state).toBe("down");
  expect(sa!.recoveredAt).toBe(sa!.failedUntil);

  upstreamOn("a", port);
  await Bun.sleep(Math.max(0, sa!.failedUntil + 20 - Date.now()));
  expect(sa!.state).toBe("up");
  const early = await send(g.url + "/", 40);
  expect(early.every((n) => n === "a" || n === "b")).toBe(true);
  expect(count(early, "a")).toBeGreaterThanOrEqual(1);
  expect(count(early, "a")).toBeLessThan(12);
});
