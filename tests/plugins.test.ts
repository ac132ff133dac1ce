// Plugins end to end: a user's plugin file with every hook, the built-in request-id and headers
// plugins (on the byte path, but for the options that need the hono path), route-scoped plugins, option
// validation and load errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import { PluginLoadError } from "../gateway/plugin/load.ts";
import { deadPort } from "./helpers/common.ts";
import { requestObjectsMade } from "./helpers/request-objects.ts";
import { startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

const fixtures = resolve(import.meta.dir, "fixtures/plugins");

describe("a plugin file with every hook", () => {
  let up: Upstream;
  let gw: Gateway;
  beforeAll(async () => {
    up = startUpstream("app");
    const dead = await deadPort();
    gw = await startGateway({
      configDir: fixtures,
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        plugins: [{ use: "./tagger.ts", options: { tag: "T1" } }],
        pools: {
          app: { servers: [{ url: up.url, id: "app-1" }] },
          dead: { servers: [{ url: `http://127.0.0.1:${dead}` }], retries: 0 },
        },
        routes: [{ match: { path: "/dead/*" }, pool: "dead" }, { pool: "app" }],
      },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await up.stop();
  });

  test("middleware wraps every request and sees the final response", async () => {
    const res = await fetch(`${gw.url}/x`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-tagged-by")).toBe("T1");
    expect(await res.text()).toBe("app");
  });

  test("middleware can answer on its own", async () => {
    const res = await fetch(`${gw.url}/x`, { headers: { "x-block": "yes" } });
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ blocked: "T1" });
    expect(res.headers.get("x-request-id")).toBeTruthy();
  });

  test("beforeUpstream changes what the upstream receives", async () => {
    await fetch(`${gw.url}/tagged`);
    expect(up.seen.at(-1)!.headers.get("x-tag")).toBe("T1");
  });

  test("beforeUpstream can answer without the upstream", async () => {
    const before = up.seen.length;
    const res = await fetch(`${gw.url}/x`, { headers: { "x-answer-here": "yes" } });
    expect(await res.text()).toBe("answered by T1");
    expect(up.seen.length).toBe(before);
  });

  test("afterUpstream sees the chosen server and edits the response", async () => {
    const res = await fetch(`${gw.url}/x`);
    expect(res.headers.get("x-upstream-server")).toBe("app-1");
  });

  test("onError replaces the JSON error", async () => {
    const res = await fetch(`${gw.url}/dead/x`);
    expect(res.status).toBe(502);
    expect(await res.text()).toBe("custom 502 from T1");
  });

  test("routes() adds the plugin's own endpoints, and onLog sees every request", async () => {
    await fetch(`${gw.url}/logged-path`);
    const res = await fetch(`${gw.url}/_tagger/seen`);
    const body = (await res.json()) as { tag: string; seen: string[] };
    expect(body.tag).toBe("T1");
    expect(body.seen).toContain("GET /logged-path 200");
  });
});

describe("built-in plugins", () => {
  let up: Upstream;
  let gw: Gateway;
  beforeAll(async () => {
    up = startUpstream("app", (_req) => new Response("ok", { headers: { server: "secret-version", "x-powered-by": "php", "x-upstream-list": "u" } }));
    const dead = await deadPort();
    const edits = {
      request: { set: { "x-env": "prod" }, add: { "x-list": "gw", "x-fresh": "gw" }, remove: ["x-debug"] },
      response: { remove: ["x-powered-by"], set: { server: "sluice" }, add: { "strict-transport-security": "max-age=63072000", "x-upstream-list": "gw" } },
    };
    gw = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        plugins: ["request-id"],
        pools: { app: { servers: [{ url: up.url }] }, dead: { servers: [{ url: `http://127.0.0.1:${dead}` }], retries: 0 } },
        routes: [
          { match: { path: "/headers/*" }, pool: "app", plugins: [{ use: "headers", options: edits }] },
          { match: { path: "/headers-down/*" }, pool: "dead", plugins: [{ use: "headers", options: edits }] },
          { match: { path: "/forwarding/*" }, pool: "app", plugins: [{ use: "headers", options: { request: { set: { "X-Forwarded-Proto": "https" } } } }] },
          { match: { path: "/fresh-id/*" }, pool: "app", plugins: [{ use: "request-id", options: { trustIncoming: false } }] },
          {
            match: { path: "/edited/*" },
            pool: "app",
            plugins: [
              {
                use: "headers",
                options: {
                  request: { set: { "x-env": "prod" }, remove: ["x-debug"] },
                  response: { remove: ["x-powered-by"], add: { "strict-transport-security": "max-age=63072000" } },
                },
              },
              { use: "request-id", options: { header: "x-correlation-id" } },
            ],
          },
          { pool: "app" },
        ],
      },
    });
  });
  afterAll(async () => {
    await gw.stop();
    await up.stop();
  });

  test("headers edits requests and responses of its route only", async () => {
    const res = await fetch(`${gw.url}/edited/a`, { headers: { "x-debug": "1" } });
    const seen = up.seen.at(-1)!;
    expect(seen.headers.get("x-env")).toBe("prod");
    expect(seen.headers.has("x-debug")).toBe(false);
    expect(res.headers.has("x-powered-by")).toBe(false);
    expect(res.headers.get("strict-transport-security")).toBe("max-age=63072000");

    const other = await fetch(`${gw.url}/plain`, { headers: { "x-debug": "1" } });
    expect(up.seen.at(-1)!.headers.get("x-debug")).toBe("1");
    expect(other.headers.get("x-powered-by")).toBe("php");
  });

  test("request-id with another header name reads and echoes it", async () => {
    const res = await fetch(`${gw.url}/edited/b`, { headers: { "x-correlation-id": "corr-42" } });
    expect(res.headers.get("x-correlation-id")).toBe("corr-42");
    expect(res.headers.get("x-request-id")).toBe("corr-42");
    expect(up.seen.at(-1)!.headers.get("x-correlation-id")).toBe("corr-42");
    expect(up.seen.at(-1)!.headers.get("x-request-id")).toBe("corr-42");
  });

  test("request-id with trustIncoming: false gives every request a new ID, whatever the client sent", async () => {
    const res = await fetch(`${gw.url}/fresh-id/x`, { headers: { "x-request-id": "chosen-by-client" } });
    const id = res.headers.get("x-request-id")!;
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(up.seen.at(-1)!.headers.get("x-request-id")).toBe(id);
    await res.text();
  });

  test("headers on the byte path: remove, then set, then add (beside the client's value, as one list)", async () => {
    const res = await fetch(`${gw.url}/headers/x`, { headers: { "x-debug": "1", "x-env": "dev", "x-list": "client" } });
    expect(await res.text()).toBe("ok");
    const seen = up.seen.at(-1)!.headers;
    expect(seen.has("x-debug")).toBe(false);
    expect(seen.get("x-env")).toBe("prod");
    expect(seen.get("x-list")).toBe("client, gw");
    expect(seen.get("x-fresh")).toBe("gw");
    expect(res.headers.has("x-powered-by")).toBe(false);
    expect(res.headers.get("server")).toBe("sluice");
    expect(res.headers.get("strict-transport-security")).toBe("max-age=63072000");
    expect(res.headers.get("x-upstream-list")).toBe("u, gw");
  });

  test("headers: response edits are on the gateway's own answers too (a 502)", async () => {
    const res = await fetch(`${gw.url}/headers-down/x`);
    expect(res.status).toBe(502);
    expect(res.headers.get("strict-transport-security")).toBe("max-age=63072000");
    await res.text();
  });

  test("headers may still set the forwarding fields the gateway writes (on the hono path, after the gateway's own)", async () => {
    const res = await fetch(`${gw.url}/forwarding/x`);
    await res.text();
    expect(up.seen.at(-1)!.headers.get("x-forwarded-proto")).toBe("https");
  });

  test("routes of headers and of request-id (whatever its options) make no Request object", async () => {
    const made = await requestObjectsMade(async () => {
      for (const path of ["/headers/x", "/headers-down/x", "/plain", "/edited/x", "/fresh-id/x"]) await (await fetch(`${gw.url}${path}`)).text();
    });
    expect(made).toBe(0);
    // The control: headers edits of X-Forwarded-* are the gateway's own fields, which only the hono path lets a plugin set.
    const control = await requestObjectsMade(async () => void (await (await fetch(`${gw.url}/forwarding/x`)).text()));
    expect(control).toBeGreaterThan(0);
  });
});

describe("loading plugins", () => {
  const base = { listen: "127.0.0.1:0", admin: false as const, accessLog: false, pools: { app: { servers: [{ url: "http://127.0.0.1:9" }] } } };

  async function loadError(config: object): Promise<string[]> {
    try {
      const gw = await startGateway({ configDir: fixtures, config: { ...base, ...config } });
      await gw.stop();
    } catch (error) {
      expect(error).toBeInstanceOf(PluginLoadError);
      return (error as PluginLoadError).problems;
    }
    throw new Error("expected the plugins to fail loading");
  }

  test("options are validated by the plugin's schema, with the config path", async () => {
    expect(await loadError({ plugins: [{ use: "./tagger.ts", options: { tag: "" } }], routes: [{ pool: "app" }] })).toEqual([
      'plugins[0].options.tag: expected a non-empty string (got "")',
    ]);
    expect(await loadError({ routes: [{ pool: "app", plugins: [{ use: "headers", options: { request: { sett: {} } } }] }] })).toEqual([
      expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.request: .*sett/),
    ]);
  });

  test("headers: values that cannot be written and fields the gateway writes itself are config errors", async () => {
    const options = {
      request: { set: { "x-a": "1\r\nx-injected: 2", host: "example.com" }, add: { "x-b": "a\u0000b" }, remove: ["content-length"] },
      response: { set: { "x-c": "caf\u00e9 \u20ac" }, add: { "x-request-id": "mine" } },
    };
    const where = "routes[0].plugins[0].options";
    expect(await loadError({ routes: [{ pool: "app", plugins: [{ use: "headers", options }] }] })).toEqual([
      `${where}.request.set.x-a: a control character (U+000D) cannot be in a header value: CR, LF and NUL could end the field and start another (got "1\\r\\nx-injected: 2")`,
      expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.request\.add\.x-b: a control character \(U\+0000\)/),
      expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.request\.set\.host: the gateway writes host itself: .*preserveHost/),
      expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.request\.remove\[0\]: the gateway writes content-length itself/),
      expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.response\.set\.x-c: "€" cannot be sent in a header/),
      expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.response\.add\.x-request-id: the gateway writes x-request-id itself/),
    ]);
  });

  test("a missing plugin file, an unknown name and an unknown hook are reported together", async () => {
    const problems = await loadError({ plugins: ["./nope.ts", "no-such-plugin-package", "./bad-hook.ts"], routes: [{ pool: "app" }] });
    expect(problems).toHaveLength(3);
    expect(problems[0]).toStartWith("plugins[0].use: cannot load plugin");
    expect(problems[1]).toStartWith("plugins[1].use: cannot load plugin");
    expect(problems[2]).toStartWith('plugins[2].use: plugin "bad-hook" returned unknown hooks beforeUpsteam');
  });
});

describe("a plugin that throws", () => {
  test("becomes a 500 JSON answer for that request, and the gateway keeps serving", async () => {
    const up = startUpstream("app");
    const gw = await startGateway({
      configDir: fixtures,
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        plugins: ["./thrower.ts"],
        pools: { app: { servers: [{ url: up.url }] } },
        routes: [{ pool: "app" }],
      },
    });
    try {
      for (const where of ["middleware", "phase"]) {
        const res = await fetch(`${gw.url}/x`, { headers: { "x-throw": where } });
        expect(res.status).toBe(500);
        const body = (await res.json()) as { error: string; requestId: string };
        expect(body.error).toBe("internal gateway error");
        expect(body.requestId).toBe(res.headers.get("x-request-id")!);
      }
      const ok = await fetch(`${gw.url}/x`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe("app");
    } finally {
      await gw.stop();
      await up.stop();
    }
  });
});
