// Plugins end to end: a user's plugin file with every hook, the built-in request-id and headers
// plugins, route-scoped plugins, option validation and load errors.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import { PluginLoadError } from "../gateway/plugin/load.ts";
import { deadPort } from "./helpers/common.ts";
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
        routes: [
          { match: { path: "/dead/*" }, pool: "dead" },
          { pool: "app" },
        ],
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
    up = startUpstream("app", (req) => new Response("ok", { headers: { server: "secret-version", "x-powered-by": "php" } }));
    gw = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        plugins: ["request-id"],
        pools: { app: { servers: [{ url: up.url }] } },
        routes: [
          {
            match: { path: "/edited/*" },
            pool: "app",
            plugins: [
              { use: "headers", options: { request: { set: { "x-env": "prod" }, remove: ["x-debug"] }, response: { remove: ["x-powered-by"], add: { "strict-transport-security": "max-age=63072000" } } } },
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
    expect(await loadError({ plugins: [{ use: "./tagger.ts", options: { tag: "" } }], routes: [{ pool: "app" }] }))
      .toEqual(['plugins[0].options.tag: expected a non-empty string (got "")']);
    expect(await loadError({ routes: [{ pool: "app", plugins: [{ use: "headers", options: { request: { sett: {} } } }] }] }))
      .toEqual([expect.stringMatching(/^routes\[0\]\.plugins\[0\]\.options\.request: .*sett/)]);
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
