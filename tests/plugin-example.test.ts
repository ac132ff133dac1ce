// The example plugin of docs/plugins.md, used exactly as the docs show: a global plugin from a file, with its
// options, in front of one pool per tenant.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import { deadPort } from "./helpers/common.ts";
import { runCli } from "./helpers/process.ts";
import { startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

const repo = resolve(import.meta.dir, "..");

let acme: Upstream;
let globex: Upstream;
let gw: Gateway;
beforeAll(async () => {
  acme = startUpstream("acme");
  globex = startUpstream("globex");
  const dead = await deadPort();
  gw = await startGateway({
    configDir: repo,
    config: {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      plugins: [
        { use: "./plugins/example-tenants/index.ts", options: { header: "x-tenant", tenants: { acme: "acme", globex: "globex", initech: "initech" } } },
      ],
      pools: {
        acme: { servers: [{ url: acme.url }] },
        globex: { servers: [{ url: globex.url }] },
        initech: { servers: [{ url: `http://127.0.0.1:${dead}` }], retries: 0 },
      },
      routes: [{ pool: "acme" }],
    },
  });
});
afterAll(async () => {
  await gw.stop();
  await Promise.all([acme.stop(), globex.stop()]);
});

describe("example-tenants", () => {
  test("each tenant's requests go to its own pool, which learns the tenant", async () => {
    for (const tenant of ["acme", "globex"]) {
      const res = await fetch(`${gw.url}/orders`, { headers: { "x-tenant": tenant } });
      expect(await res.text()).toBe(tenant);
      expect(res.headers.get("x-served-tenant")).toBe(tenant);
    }
    expect(globex.seen.at(-1)!.headers.get("x-tenant-verified")).toBe("globex");
  });

  test("no tenant header: 400; an unknown tenant: 403; both as JSON with the request id, and nothing upstream", async () => {
    const before = acme.seen.length + globex.seen.length;
    const missing = await fetch(`${gw.url}/orders`);
    expect(missing.status).toBe(400);
    expect((await missing.json()).requestId).toBe(missing.headers.get("x-request-id"));
    const unknown = await fetch(`${gw.url}/orders`, { headers: { "x-tenant": "umbrella" } });
    expect(unknown.status).toBe(403);
    expect((await unknown.json()).error).toBe("unknown tenant umbrella");
    expect(acme.seen.length + globex.seen.length).toBe(before);
  });

  test("a failure toward the tenant's pool names the tenant (onError)", async () => {
    const res = await fetch(`${gw.url}/orders`, { headers: { "x-tenant": "initech" } });
    expect(res.status).toBe(502);
    expect((await res.json()).error).toEndWith("(tenant initech)");
  });

  test("/_tenants, the plugin's own route, counts the answered requests", async () => {
    const res = await fetch(`${gw.url}/_tenants`);
    const counts = await res.json();
    expect(counts.acme).toBeGreaterThanOrEqual(1);
    expect(counts.globex).toBeGreaterThanOrEqual(1);
    expect(counts.initech).toBe(0);
  });

  test("sluice check reports bad options the way config problems are reported", async () => {
    const dir = await mkdtemp(join(tmpdir(), "sluice-example-"));
    try {
      const path = join(dir, "sluice.config.json");
      await writeFile(
        path,
        JSON.stringify({
          pools: { acme: { servers: [{ url: "http://127.0.0.1:9" }] } },
          plugins: [{ use: join(repo, "plugins/example-tenants/index.ts"), options: { header: "x tenant", tenants: {} } }],
          routes: [{ pool: "acme" }],
        }),
      );
      const { code, out } = await runCli(["check", "--config", path]);
      expect(code).toBe(1);
      expect(out.trim().split("\n").sort()).toEqual([
        'plugins[0].options.header: not a header name (got "x tenant")',
        "plugins[0].options.tenants: name at least one tenant (got {})",
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
