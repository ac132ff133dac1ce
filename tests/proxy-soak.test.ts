// Nothing leaks: thousands of requests (sequential, concurrent, failing) leave the gateway answering, every
// server's in-flight count at zero, and the counters exact.
import { afterAll, beforeAll, expect, test } from "bun:test";
import { deadPort, eventually } from "./helpers/common.ts";
import { gateway, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

let up: Upstream;
let gw: Gateway;

beforeAll(async () => {
  up = startUpstream("up", async (request) => {
    const path = new URL(request.url).pathname;
    if (path === "/echo") return new Response(await request.text());
    if (path === "/stream") {
      // A chunked answer larger than the gateway's "small body" threshold, so it is relayed as a stream.
      const piece = new Uint8Array(32 * 1024);
      let left = 4;
      return new Response(new ReadableStream({ pull: (c) => (left-- > 0 ? c.enqueue(piece) : c.close()) }));
    }
    return undefined;
  });
  gw = await gateway({
    pools: {
      app: [up.url],
      // maxFails 0: never ejected, so every request really tries it and fails.
      dead: { servers: [{ url: `http://127.0.0.1:${await deadPort()}`, maxFails: 0 }], retries: 0 },
    },
    routes: [{ match: { path: "/dead/*" }, pool: "dead" }, { pool: "app" }],
  });
});

afterAll(async () => {
  await gw.stop(0);
  await up.stop();
});

const app = () => gw.current.pools.get("app")!.servers[0]!;
const dead = () => gw.current.pools.get("dead")!.servers[0]!;

test("2000 sequential and 200 concurrent requests, then the gateway still answers", async () => {
  Bun.gc(true);
  const rssBefore = process.memoryUsage().rss;
  const statuses = new Map<number, number>();
  const count = (status: number) => statuses.set(status, (statuses.get(status) ?? 0) + 1);

  for (let i = 0; i < 2000; i++) {
    const kind = i % 4;
    const response =
      kind === 0
        ? await fetch(gw.url + "/echo", { method: "POST", body: `body ${i}` })
        : kind === 1
          ? await fetch(gw.url + "/stream")
          : await fetch(gw.url + `/get/${i}?q=${i}`);
    const text = await response.text();
    if (kind === 0) expect(text).toBe(`body ${i}`);
    if (kind === 1) expect(text.length).toBe(128 * 1024);
    count(response.status);
  }
  const concurrent = await Promise.all(
    Array.from({ length: 200 }, async (_, i) => {
      const response = await fetch(gw.url + (i % 2 ? "/stream" : `/c/${i}`));
      await response.arrayBuffer();
      return response.status;
    }),
  );
  for (const status of concurrent) count(status);

  expect(Object.fromEntries(statuses)).toEqual({ 200: 2200 });
  expect(app().requests).toBe(2200);
  expect(app().failures).toBe(0);
  expect(await eventually(() => app().active === 0, 2_000)).toBe(true);
  expect(up.seen).toHaveLength(2200);

  // Same process holds client, gateway and upstream; a leak of even a few KB per request would show.
  Bun.gc(true);
  expect((process.memoryUsage().rss - rssBefore) / 1024 / 1024).toBeLessThan(100);

  const last = await fetch(gw.url + "/still-here");
  expect(last.status).toBe(200);
  expect(await last.text()).toBe("up");
});

test("failing requests are counted and leak nothing either", async () => {
  const results = await Promise.all(
    Array.from({ length: 300 }, async (_, i) => {
      const response = await fetch(gw.url + `/dead/${i}`);
      await response.arrayBuffer();
      return response.status;
    }),
  );
  expect(results.every((s) => s === 502)).toBe(true);
  expect(dead().failures).toBe(300);
  expect(dead().requests).toBe(300);
  expect(dead().active).toBe(0);
  expect((await fetch(gw.url + "/ok")).status).toBe(200);
  expect(app().active).toBe(0);
});

test("client aborts in bulk leave no request in flight", async () => {
  const slowUp = startUpstream("slow", async () => {
    await Bun.sleep(150);
    return new Response("late");
  });
  const g = await gateway({ pools: { s: [slowUp.url] }, routes: [{ pool: "s" }] });
  try {
    const attempts = Array.from({ length: 100 }, async () => {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 30);
      try {
        await (await fetch(g.url + "/", { signal: controller.signal })).text();
        return "answered";
      } catch {
        return "aborted";
      }
    });
    const outcomes = await Promise.all(attempts);
    expect(outcomes.filter((o) => o === "aborted").length).toBeGreaterThan(0);
    const server = g.current.pools.get("s")!.servers[0]!;
    expect(await eventually(() => server.active === 0, 3_000)).toBe(true);
    // A client giving up is not the server's failure.
    expect(server.failures).toBe(0);
    expect(await (await fetch(g.url + "/")).text()).toBe("late");
  } finally {
    await g.stop(0);
    await slowUp.stop();
  }
});
