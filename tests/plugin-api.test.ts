// What a plugin can decide beyond headers and paths: which pool and which server take a request
// (beforeUpstream), and route-level onLog hooks that see only their route's requests, on the engine's byte
// path and on the hono path alike.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import { until } from "./helpers/common.ts";
import { errorBody, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";
import { logged } from "./fixtures/plugins/steer.ts";

const steer = resolve(import.meta.dir, "fixtures/plugins/steer.ts");
const shout = resolve(import.meta.dir, "fixtures/plugins/shout.ts");

let blue1: Upstream;
let blue2: Upstream;
let green: Upstream;
let gw: Gateway;
beforeAll(async () => {
  blue1 = startUpstream("blue-1");
  blue2 = startUpstream("blue-2");
  green = startUpstream("green");
  gw = await startGateway({
    config: {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      plugins: [{ use: steer, options: { tag: "global" } }],
      pools: {
        blue: {
          balance: "round-robin",
          servers: [
            { url: blue1.url, id: "b1" },
            { url: blue2.url, id: "b2" },
          ],
        },
        green: { servers: [{ url: green.url, id: "g1" }] },
      },
      routes: [
        { name: "steered", match: { path: "/steered/*" }, pool: "blue", plugins: [{ use: steer, options: { tag: "steered", steer: true } }] },
        // onLog only: the byte path serves this route, and still calls the route's hook.
        { name: "logged", match: { path: "/logged/*" }, pool: "green", plugins: [{ use: steer, options: { tag: "logged" } }] },
        { name: "shouting", match: { path: "/shout/*" }, pool: "green", plugins: [{ use: shout }] },
        { name: "plain", pool: "blue" },
      ],
    },
  });
});
afterAll(async () => {
  await gw.stop();
  await Promise.all([blue1.stop(), blue2.stop(), green.stop()]);
});

async function get(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; res: Response }> {
  const res = await fetch(`${gw.url}${path}`, { headers });
  return { status: res.status, body: await res.text(), res };
}

describe("beforeUpstream chooses where a request goes", () => {
  test("another pool of the config takes the request, and the log names it", async () => {
    const { status, body } = await get("/steered/a", { "x-steer-pool": "green" });
    expect([status, body]).toEqual([200, "green"]);
    await until(() => logged.get("steered")!.some((e) => e.path === "/steered/a"), "the route's log entry");
    const entry = logged.get("steered")!.find((e) => e.path === "/steered/a")!;
    expect(entry.pool).toBe("green");
    expect(entry.server).toBe("g1");
  });

  test("a named server of the pool takes every request while it is available", async () => {
    const bodies = new Set<string>();
    for (let i = 0; i < 6; i++) bodies.add((await get("/steered/b", { "x-steer-server": "b2" })).body);
    expect([...bodies]).toEqual(["blue-2"]);
    // Without it, round-robin spreads them.
    const spread = new Set<string>();
    for (let i = 0; i < 6; i++) spread.add((await get("/steered/c")).body);
    expect([...spread].sort()).toEqual(["blue-1", "blue-2"]);
  });

  test("a pool the config does not have is the plugin's bug: 500 with a request id, and the gateway serves on", async () => {
    const { status, res, body } = await get("/steered/d", { "x-steer-pool": "nope" });
    expect(status).toBe(500);
    expect(JSON.parse(body).requestId).toBe(res.headers.get("x-request-id"));
    expect((await get("/steered/e")).status).toBe(200);
  });
});

describe("route-level onLog", () => {
  test("a route's hook sees its route's requests only, the global hook sees all, on the byte path too", async () => {
    await get("/logged/one");
    await get("/other");
    await until(() => logged.get("global")!.some((e) => e.path === "/other"), "the global log entry");
    await until(() => logged.get("logged")!.some((e) => e.path === "/logged/one"), "the route's log entry");
    expect(logged.get("logged")!.map((e) => e.path)).toEqual(["/logged/one"]);
    expect(logged.get("global")!.map((e) => e.path)).toContain("/logged/one");
    expect(logged.get("steered")!.map((e) => e.path)).not.toContain("/other");
    const entry = logged.get("logged")![0]!;
    expect([entry.route, entry.pool, entry.status]).toEqual(["logged", "green", 200]);
  });

  test("a request no route matched goes to the global hooks only", async () => {
    const lonely = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        plugins: [{ use: steer, options: { tag: "lonely-global" } }],
        pools: { green: { servers: [{ url: green.url }] } },
        routes: [{ match: { path: "/only/*" }, pool: "green", plugins: [{ use: steer, options: { tag: "lonely-route" } }] }],
      },
    });
    try {
      const res = await fetch(`${lonely.url}/elsewhere`);
      expect(res.status).toBe(404);
      expect((await errorBody(res)).error).toBe("no route matched");
      await until(() => logged.get("lonely-global")!.length === 1, "the global log entry");
      expect(logged.get("lonely-route")).toEqual([]);
    } finally {
      await lonely.stop();
    }
  });
});

describe("body hooks", () => {
  test("requestBody transforms what the upstream receives, which gets it chunked; responseBody what the client gets", async () => {
    green.seen.length = 0;
    const res = await fetch(`${gw.url}/shout/x`, { method: "POST", body: "hello upstream", headers: { "content-type": "text/plain" } });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-length")).toBeNull();
    expect(await res.text()).toBe("green\n-- shouted for shouting");
    const seen = green.seen.at(-1)!;
    expect(seen.body).toBe("HELLO UPSTREAM");
    expect(seen.headers.get("content-length")).toBeNull();
    expect(seen.headers.get("transfer-encoding")).toBe("chunked");
  });

  test("a route without body hooks keeps the Content-Length both ways", async () => {
    green.seen.length = 0;
    const res = await fetch(`${gw.url}/logged/x`, { method: "POST", body: "as it is" });
    expect(res.headers.get("content-length")).toBe("5");
    expect(await res.text()).toBe("green");
    expect(green.seen.at(-1)!.body).toBe("as it is");
    expect(green.seen.at(-1)!.headers.get("content-length")).toBe("8");
  });
});
