// The onRequest phase: plugins that decide on the parsed request, before any server is chosen, on the engine's
// byte path — answers of their own, header changes both ways, async hooks, facts handed on to later phases, the
// hono path when a route also has middleware, WebSocket upgrades guarded too, and a plugin bug contained.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import { deadPort, until } from "./helpers/common.ts";
import { portOf, rawRequest, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";
import { logged } from "./fixtures/plugins/steer.ts";
import { requestObjectsMade } from "./helpers/request-objects.ts";

const gatekeeper = resolve(import.meta.dir, "fixtures/plugins/gatekeeper.ts");
const tagger = resolve(import.meta.dir, "fixtures/plugins/tagger.ts");
const steer = resolve(import.meta.dir, "fixtures/plugins/steer.ts");

let up: Upstream;
let gw: Gateway;
beforeAll(async () => {
  // The upstream sends a header the plugin hides from clients.
  up = startUpstream("app", () => new Response("app", { headers: { "x-secret": "internal", "x-upstream": "app" } }));
  const dead = await deadPort();
  const guard = (extra: Record<string, unknown> = {}) => [{ use: gatekeeper, options: { token: "open-sesame", ...extra } }];
  gw = await startGateway({
    config: {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      // onLog only: keeps the access-log entries, and every route on the byte path.
      plugins: [{ use: steer, options: { tag: "phase-log" } }],
      pools: { app: { servers: [{ url: up.url }] }, dead: { servers: [{ url: `http://127.0.0.1:${dead}` }], retries: 0 } },
      routes: [
        { name: "sync", match: { path: "/sync/*" }, pool: "app", plugins: guard() },
        { name: "async", match: { path: "/async/*" }, pool: "app", plugins: guard({ async: true }) },
        { name: "dead", match: { path: "/dead/*" }, pool: "dead", plugins: guard() },
        // A middleware plugin as well: the route goes through hono, after the phase.
        { name: "hono", match: { path: "/hono/*" }, pool: "app", plugins: [...guard({ readVars: true }), { use: tagger, options: { tag: "T" } }] },
        { name: "buggy", match: { path: "/buggy/*" }, pool: "app", plugins: guard({ misbehave: true }) },
        { name: "open", pool: "app" },
      ],
    },
  });
});
afterAll(async () => {
  await gw.stop();
  await up.stop();
});

const TOKEN = { "x-token": "open-sesame" };

describe.each(["sync", "async", "hono"])("the %s route", (route) => {
  test("without the token: the plugin's 401, with its headers and the answer edits, and nothing upstream", async () => {
    const before = up.seen.length;
    const res = await fetch(`${gw.url}/${route}/x`);
    expect(res.status).toBe(401);
    expect(res.headers.get("www-authenticate")).toBe('Token realm="test"');
    expect(res.headers.get("x-gate")).toBe("checked");
    expect(res.headers.get("content-type")).toBe("application/json");
    const body = await res.json();
    expect(body).toEqual({ error: "token required", requestId: res.headers.get("x-request-id") });
    expect(up.seen.length).toBe(before);
  });

  test("with it: the upstream learns the user (the client's own x-user dropped), the answer is edited", async () => {
    const res = await fetch(`${gw.url}/${route}/x`, { headers: { ...TOKEN, "x-user": "mallory" } });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("app");
    expect(res.headers.get("x-gate")).toBe("checked");
    expect(res.headers.get("x-secret")).toBeNull();
    expect(res.headers.get("x-upstream")).toBe("app");
    const seen = up.seen.at(-1)!;
    expect(seen.headers.get("x-user")).toBe("alice");
    expect(seen.headers.get("x-token")).toBe("open-sesame");
  });

  test("HEAD gets the plugin's answer without a body", async () => {
    const res = await rawRequest(portOf(gw), `HEAD /${route}/x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`);
    expect(res.status).toBe(401);
    expect(Number(res.headers.get("content-length"))).toBeGreaterThan(0);
    expect(res.body.length).toBe(0);
  });
});

describe("beyond the first hook", () => {
  test("the access log says why a plugin answered, and which route it was", async () => {
    const res = await fetch(`${gw.url}/sync/logged`);
    expect(res.status).toBe(401);
    await res.text();
    await until(() => logged.get("phase-log")!.some((e) => e.path === "/sync/logged"), "the log entry");
    const entry = logged.get("phase-log")!.find((e) => e.path === "/sync/logged")!;
    expect([entry.status, entry.route, entry.error]).toEqual([401, "sync", "gatekeeper: no token"]);
  });

  test("facts a hook leaves in vars reach the hono path's later phases", async () => {
    const res = await fetch(`${gw.url}/hono/x`, { headers: TOKEN });
    expect(res.headers.get("x-tagged-by")).toBe("T");
    await res.text();
    expect(up.seen.at(-1)!.headers.get("x-from-vars")).toBe("alice");
  });

  test("the gateway's own error answers carry the answer edits too", async () => {
    const res = await fetch(`${gw.url}/dead/x`, { headers: TOKEN });
    expect(res.status).toBe(502);
    expect(res.headers.get("x-gate")).toBe("checked");
    expect((await res.json()).requestId).toBe(res.headers.get("x-request-id"));
  });

  test("a keep-alive connection serves the next request after a plugin's answer", async () => {
    const res = await rawRequest(
      portOf(gw),
      ["GET /sync/a HTTP/1.1\r\nHost: t\r\n\r\n", "GET /sync/b HTTP/1.1\r\nHost: t\r\nx-token: open-sesame\r\nConnection: close\r\n\r\n"].join(""),
    );
    const text = res.text;
    expect(text.match(/HTTP\/1\.1 \d+/g)).toEqual(["HTTP/1.1 401", "HTTP/1.1 200"]);
  });

  test("a WebSocket upgrade meets the phase too: refused without the token", async () => {
    const res = await rawRequest(
      portOf(gw),
      "GET /sync/ws HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
    );
    expect(res.status).toBe(401);
  });

  test("a plugin that sets a header the gateway owns is a 500 with a request id; the gateway serves on", async () => {
    const res = await fetch(`${gw.url}/buggy/x`, { headers: TOKEN });
    expect(res.status).toBe(500);
    expect((await res.json()).requestId).toBe(res.headers.get("x-request-id"));
    expect((await fetch(`${gw.url}/sync/x`, { headers: TOKEN })).status).toBe(200);
  });

  test("a client gone while an async hook runs leaves nothing behind: the next requests are served", async () => {
    const res = await rawRequest(portOf(gw), "GET /async/x HTTP/1.1\r\nHost: t\r\nx-token: open-sesame\r\n\r\n", { idleMs: 1 });
    expect(res).toBeDefined();
    await until(async () => (await fetch(`${gw.url}/async/y`, { headers: TOKEN })).status === 200, "served after the client left");
  });
});

describe("what the phase costs a route without it", () => {
  test("routes without onRequest hooks and the byte path make no Request object", async () => {
    const made = await requestObjectsMade(async () => {
      for (const path of ["/open/x", "/sync/x", "/async/x"]) {
        const res = await fetch(`${gw.url}${path}`, { headers: TOKEN });
        expect(res.status).toBe(200);
        await res.text();
      }
    });
    expect(made).toBe(0);
    // The control: the hono path does make one.
    expect(await requestObjectsMade(async () => void (await (await fetch(`${gw.url}/hono/x`, { headers: TOKEN })).text()))).toBeGreaterThan(0);
  });
});
