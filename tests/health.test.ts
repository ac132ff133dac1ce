// Active HTTP health checks end to end: real upstreams on loopback whose health endpoints fail, hang,
// want a Host or report their load, behind a real gateway. Checks run every 100 ms with a 100 ms timeout
// so that every rise and fall happens in a fraction of a second.
import { afterEach, beforeEach, describe, expect, spyOn, test } from "bun:test";
import { startGateway } from "../gateway/gateway.ts";
import type { ConfigInput } from "../gateway/config/schema.ts";
import type { UpstreamServer } from "../gateway/pool/server.ts";
import { eventually } from "./helpers/common.ts";
import { errorBody, startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";

const FAST = { interval: "100ms", timeout: "100ms" } as const;

let cleanup: Array<() => unknown> = [];
let logged: string[] = [];
beforeEach(() => {
  logged = [];
  const spy = spyOn(console, "error").mockImplementation((...args: unknown[]) => void logged.push(args.map(String).join(" ")));
  cleanup.push(() => spy.mockRestore());
});
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

/** The health-check lines logged so far. */
function healthLines(): string[] {
  return logged.filter((line) => line.startsWith("sluice: pool "));
}

/** An upstream whose /healthz answers what `health()` says (default 200); other paths answer its name. */
function upstream(name: string, health: (request: Request) => Response | Promise<Response> = () => new Response("ok")): Upstream {
  const u = startUpstream(name, (request) => (new URL(request.url).pathname === "/healthz" ? health(request) : undefined));
  cleanup.push(() => u.stop());
  return u;
}

async function gw(pools: NonNullable<ConfigInput["pools"]>): Promise<Gateway> {
  const g = await startGateway({
    config: { listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" }, accessLog: false, pools, routes: [{ pool: Object.keys(pools)[0] }] },
  });
  cleanup.push(() => g.stop(0));
  return g;
}

function serversOf(g: Gateway, pool = "app"): readonly UpstreamServer[] {
  return g.current.pools.get(pool)!.servers;
}

function probes(u: Upstream): number {
  return u.seen.filter((s) => s.url === "/healthz").length;
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

function count(names: string[], name: string): number {
  return names.filter((n) => n === name).length;
}

describe("a server failing its health endpoint", () => {
  test("is taken out after `fall` checks, gets no traffic, comes back after `rise` checks", async () => {
    let failing = false;
    const a = upstream("a", () => (failing ? new Response("broken", { status: 500 }) : new Response("ok")));
    const b = upstream("b");
    const g = await gw({
      app: {
        servers: [
          { url: a.url, id: "a" },
          { url: b.url, id: "b" },
        ],
        health: { path: "/healthz", ...FAST, rise: 2, fall: 2 },
      },
    });
    const [sa, sb] = serversOf(g);

    // Servers start up and are checked soon.
    expect(sa!.healthy).toBe(true);
    expect(await eventually(() => sa!.lastCheck?.ok === true && sb!.lastCheck?.ok === true, 1_000)).toBe(true);
    expect(sa!.lastCheck).toMatchObject({ ok: true, status: 200 });

    // Clients keep sending the whole time: none of them may see an error.
    let clientErrors = 0;
    let clients = true;
    const load = (async () => {
      while (clients) {
        try {
          const r = await fetch(g.url + "/");
          if (r.status !== 200) clientErrors++;
          await r.arrayBuffer();
        } catch {
          clientErrors++;
        }
        await Bun.sleep(5);
      }
    })();
    // Ends the client loop before the gateway stops, even when an expectation below fails.
    cleanup.push(() => {
      clients = false;
      return load;
    });

    failing = true;
    const failedAt = Date.now();
    expect(await eventually(() => !sa!.healthy, 2_000, 5)).toBe(true);
    // fall × interval (+ jitter, + the check in progress when it started failing).
    expect(Date.now() - failedAt).toBeLessThan(2 * 115 + 115 + 150);
    expect(sa!.lastCheck).toMatchObject({ ok: false, status: 500, reason: "status 500, expected 200-399" });
    expect(sa!.state).toBe("down");
    expect(healthLines()).toContain("sluice: pool app server a is DOWN (2 checks failed: status 500, expected 200-399)");

    // While it is down, everything goes to b.
    const whileDown = await send(g.url + "/", 20);
    expect(count(whileDown, "b")).toBe(20);

    // /status shows it down, with its last check.
    const status = (await (await fetch(`${g.adminUrl}/status`)).json()) as { pools: { app: { servers: Array<{ id: string; state: string }> } } };
    expect(status.pools.app.servers.find((s) => s.id === "a")?.state).toBe("down");

    failing = false;
    const fixedAt = Date.now();
    expect(await eventually(() => sa!.healthy, 2_000, 5)).toBe(true);
    expect(Date.now() - fixedAt).toBeLessThan(2 * 115 + 115 + 150);
    expect(sa!.lastCheck).toMatchObject({ ok: true, status: 200 });
    expect(sa!.recoveredAt).toBeGreaterThanOrEqual(fixedAt);
    expect(healthLines()).toContain("sluice: pool app server a is UP (2 checks passed)");

    // Back in rotation (the client loop's requests interleave with these, so the split is only about even).
    const afterwards = await send(g.url + "/", 20);
    expect(count(afterwards, "a")).toBeGreaterThanOrEqual(6);
    expect(count(afterwards, "a") + count(afterwards, "b")).toBe(20);

    clients = false;
    await load;
    expect(clientErrors).toBe(0);
    // Each flip was logged once, in order.
    expect(healthLines()).toEqual([
      "sluice: pool app server a is DOWN (2 checks failed: status 500, expected 200-399)",
      "sluice: pool app server a is UP (2 checks passed)",
    ]);
  });

  test("one failure between passes (fall 2) changes nothing", async () => {
    let n = 0;
    // Fails every third check: never two in a row.
    const a = upstream("a", () => (++n % 3 === 0 ? new Response("", { status: 503 }) : new Response("ok")));
    const g = await gw({ app: { servers: [{ url: a.url, id: "a" }], health: { path: "/healthz", ...FAST, rise: 1, fall: 2 } } });
    expect(await eventually(() => n >= 7, 2_000)).toBe(true);
    expect(serversOf(g)[0]!.healthy).toBe(true);
    expect(healthLines()).toEqual([]);
  });
});

test("a hanging health endpoint: the timeout counts as a failure", async () => {
  const hang = Promise.withResolvers<Response>();
  cleanup.push(() => hang.resolve(new Response("late")));
  const a = upstream("a", () => hang.promise);
  const b = upstream("b");
  const g = await gw({
    app: {
      servers: [
        { url: a.url, id: "a" },
        { url: b.url, id: "b" },
      ],
      health: { path: "/healthz", ...FAST, rise: 2, fall: 2 },
    },
  });
  const sa = serversOf(g)[0]!;
  expect(await eventually(() => !sa.healthy, 2_000)).toBe(true);
  expect(sa.lastCheck?.ok).toBe(false);
  expect(sa.lastCheck?.reason).toBe("timeout after 100ms");
  expect(sa.lastCheck?.status).toBeUndefined();
  expect(sa.lastCheck!.durationMs).toBeGreaterThanOrEqual(95);
  expect(sa.lastCheck!.durationMs).toBeLessThan(300);
  expect(healthLines()).toContain("sluice: pool app server a is DOWN (2 checks failed: timeout after 100ms)");
  expect(serversOf(g)[1]!.healthy).toBe(true);
  expect(count(await send(g.url + "/", 6), "b")).toBe(6);
});

test("a refused connection is a failure too", async () => {
  const a = upstream("a");
  const b = upstream("b");
  const g = await gw({
    app: {
      servers: [
        { url: a.url, id: "a" },
        { url: b.url, id: "b" },
      ],
      health: { path: "/healthz", ...FAST, rise: 1, fall: 1 },
    },
  });
  const sa = serversOf(g)[0]!;
  expect(await eventually(() => sa.lastCheck?.ok === true)).toBe(true);
  await a.stop();
  expect(await eventually(() => !sa.healthy, 2_000)).toBe(true);
  expect(sa.lastCheck?.reason).toMatch(/connection (refused|reset)/);
});

describe("expect", () => {
  test('"204" rejects a 200; "200,204" accepts a 204', async () => {
    const only204 = upstream("only204");
    const gives204 = upstream("gives204", () => new Response(null, { status: 204 }));
    const g = await gw({
      strict: { servers: [{ url: only204.url, id: "x" }], health: { path: "/healthz", ...FAST, rise: 1, fall: 1, expect: "204" } },
      list: { servers: [{ url: gives204.url, id: "y" }], health: { path: "/healthz", ...FAST, rise: 1, fall: 1, expect: "200,204" } },
    });
    const x = serversOf(g, "strict")[0]!;
    const y = serversOf(g, "list")[0]!;
    expect(await eventually(() => !x.healthy && y.lastCheck !== undefined, 2_000)).toBe(true);
    expect(x.lastCheck).toMatchObject({ ok: false, status: 200, reason: "status 200, expected 204" });
    expect(y.healthy).toBe(true);
    expect(y.lastCheck).toMatchObject({ ok: true, status: 204 });
  });

  test("a redirect is an answer judged by `expect`, not followed", async () => {
    const a = upstream("a", () => new Response(null, { status: 302, headers: { location: "/elsewhere" } }));
    const g = await gw({
      app: { servers: [{ url: a.url, id: "a" }], health: { path: "/healthz", ...FAST, rise: 1, fall: 1, expect: "200-299" } },
    });
    const sa = serversOf(g)[0]!;
    expect(await eventually(() => !sa.healthy, 2_000)).toBe(true);
    expect(sa.lastCheck).toMatchObject({ status: 302, reason: "status 302, expected 200-299" });
    expect(a.seen.some((s) => s.url === "/elsewhere")).toBe(false);
  });
});

describe("what a check sends", () => {
  test("GET path with the configured Host; without one, the server's own host", async () => {
    const a = upstream("a");
    const b = upstream("b");
    await gw({
      withHost: { servers: [{ url: a.url }], health: { path: "/healthz", host: "health.example.com", ...FAST } },
      without: { servers: [{ url: b.url }], health: { path: "/healthz", ...FAST } },
    });
    expect(await eventually(() => probes(a) > 0 && probes(b) > 0)).toBe(true);
    const seenA = a.seen.find((s) => s.url === "/healthz")!;
    expect(seenA.method).toBe("GET");
    expect(seenA.headers.get("host")).toBe("health.example.com");
    expect(seenA.headers.get("user-agent")).toBe("sluice-health-check");
    expect(b.seen.find((s) => s.url === "/healthz")!.headers.get("host")).toBe(`127.0.0.1:${b.port}`);
  });

  test("a path with a query is sent as written", async () => {
    const a = startUpstream("a");
    cleanup.push(() => a.stop());
    await gw({ app: { servers: [{ url: a.url }], health: { path: "/status?full=1", ...FAST } } });
    expect(await eventually(() => a.seen.length > 0)).toBe(true);
    expect(a.seen[0]!.url).toBe("/status?full=1");
  });

  test("X-Server-Load of a health reply becomes the server's current load", async () => {
    const a = upstream("a", () => new Response("ok", { headers: { "x-server-load": "0.7" } }));
    const g = await gw({ app: { servers: [{ url: a.url }], health: { path: "/healthz", ...FAST } } });
    const sa = serversOf(g)[0]!;
    expect(await eventually(() => sa.currentLoad(Date.now()) !== undefined)).toBe(true);
    expect(sa.currentLoad(Date.now())).toBe(0.7);
  });

  test("a big health body is not read (the check finishes on the status)", async () => {
    const a = upstream("a", () => new Response(new Uint8Array(8 * 1024 * 1024)));
    const g = await gw({ app: { servers: [{ url: a.url }], health: { path: "/healthz", ...FAST, rise: 1, fall: 1 } } });
    const sa = serversOf(g)[0]!;
    expect(await eventually(() => probes(a) >= 3)).toBe(true);
    expect(sa.healthy).toBe(true);
    expect(sa.lastCheck).toMatchObject({ ok: true, status: 200 });
  });
});

test("every server unhealthy: 503 with Retry-After at once, nothing sent upstream", async () => {
  const a = upstream("a", () => new Response("", { status: 500 }));
  const b = upstream("b", () => new Response("", { status: 500 }));
  const g = await gw({
    app: {
      servers: [
        { url: a.url, id: "a" },
        { url: b.url, id: "b" },
      ],
      health: { path: "/healthz", ...FAST, rise: 1, fall: 1 },
    },
  });
  expect(await eventually(() => serversOf(g).every((s) => !s.healthy), 2_000)).toBe(true);
  expect(healthLines()).toContain("sluice: pool app has no server available");
  const before = a.seen.length + b.seen.length - probes(a) - probes(b);
  const started = performance.now();
  const r = await fetch(g.url + "/page");
  const took = performance.now() - started;
  expect(r.status).toBe(503);
  expect(r.headers.get("retry-after")).toBe("1");
  expect((await errorBody(r)).error).toContain("no server available");
  expect(took).toBeLessThan(100);
  expect(a.seen.length + b.seen.length - probes(a) - probes(b)).toBe(before);
});

test("a disabled server (down: true) is checked too, and stays out of rotation whatever its health", async () => {
  const a = upstream("a");
  const off = upstream("off", () => new Response("", { status: 500 }));
  const g = await gw({
    app: {
      servers: [
        { url: a.url, id: "a" },
        { url: off.url, id: "off", down: true },
      ],
      health: { path: "/healthz", ...FAST, rise: 1, fall: 1 },
    },
  });
  const so = serversOf(g)[1]!;
  expect(await eventually(() => !so.healthy, 2_000)).toBe(true);
  expect(so.state).toBe("disabled");
  expect(so.lastCheck).toMatchObject({ ok: false, status: 500 });
  expect(count(await send(g.url + "/", 5), "a")).toBe(5);
});

test("a pool without `health` is judged passively only: no probes, servers stay healthy", async () => {
  const a = upstream("a", () => new Response("", { status: 500 }));
  const g = await gw({ app: { servers: [{ url: a.url }] } });
  await Bun.sleep(250);
  expect(probes(a)).toBe(0);
  expect(serversOf(g)[0]!.healthy).toBe(true);
  expect(serversOf(g)[0]!.lastCheck).toBeUndefined();
});

describe("reload", () => {
  test("the new pools keep the servers' health, and one checker per server keeps running", async () => {
    let failing = true;
    const a = upstream("a", () => (failing ? new Response("", { status: 500 }) : new Response("ok")));
    const b = upstream("b");
    const pools = {
      app: {
        servers: [
          { url: a.url, id: "a" },
          { url: b.url, id: "b" },
        ],
        health: { path: "/healthz", ...FAST, rise: 3, fall: 1 },
      },
    };
    const g = await gw(pools);
    expect(await eventually(() => !serversOf(g)[0]!.healthy, 2_000)).toBe(true);
    const oldCheck = serversOf(g)[0]!.lastCheck;

    await g.reload({ listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" }, accessLog: false, pools, routes: [{ pool: "app" }] });
    const sa = serversOf(g)[0]!;
    expect(sa.healthy).toBe(false);
    expect(sa.lastCheck).toBe(oldCheck!);
    expect(count(await send(g.url + "/", 4), "b")).toBe(4);

    // The old snapshot's checks stopped: probes keep coming at one per interval, not two.
    const n0 = probes(b);
    await Bun.sleep(1_000);
    const perSecond = probes(b) - n0;
    expect(perSecond).toBeGreaterThanOrEqual(6);
    expect(perSecond).toBeLessThanOrEqual(13);

    // The new checker carries on: a comes back after `rise` passes.
    failing = false;
    expect(await eventually(() => sa.healthy, 2_000)).toBe(true);
    expect(healthLines().filter((l) => l.includes("is UP"))).toEqual(["sluice: pool app server a is UP (3 checks passed)"]);
  });

  test("a reload that removes `health` puts a server it had taken out back in", async () => {
    const a = upstream("a", () => new Response("", { status: 500 }));
    const b = upstream("b");
    const servers = [
      { url: a.url, id: "a" },
      { url: b.url, id: "b" },
    ];
    const g = await gw({ app: { servers, health: { path: "/healthz", ...FAST, rise: 1, fall: 1 } } });
    expect(await eventually(() => !serversOf(g)[0]!.healthy, 2_000)).toBe(true);
    await g.reload({ listen: "127.0.0.1:0", admin: { listen: "127.0.0.1:0" }, accessLog: false, pools: { app: { servers } }, routes: [{ pool: "app" }] });
    expect(serversOf(g)[0]!.healthy).toBe(true);
    expect(healthLines()).toContain("sluice: pool app server a is UP (health checks turned off)");
    const n = probes(a);
    await Bun.sleep(300);
    expect(probes(a)).toBe(n);
    expect(count(await send(g.url + "/", 4), "a")).toBe(2);
  });
});

describe("stop", () => {
  test("no probe reaches an upstream after the gateway stopped", async () => {
    const a = upstream("a");
    const g = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: false,
        accessLog: false,
        pools: { app: { servers: [{ url: a.url }], health: { path: "/healthz", ...FAST } } },
        routes: [{ pool: "app" }],
      },
    });
    expect(await eventually(() => probes(a) >= 2)).toBe(true);
    await g.stop(0);
    const n = probes(a);
    await Bun.sleep(400);
    expect(probes(a)).toBe(n);
  });

  test("a process that stops its gateway exits by itself, even with a probe hanging", async () => {
    const hang = Promise.withResolvers<Response>();
    cleanup.push(() => hang.resolve(new Response("late")));
    let aborted = 0;
    const a = upstream("a", (request) => {
      request.signal.addEventListener("abort", () => aborted++);
      return hang.promise;
    });
    const gatewayModule = new URL("../gateway/gateway.ts", import.meta.url).pathname;
    const config = {
      listen: "127.0.0.1:0",
      admin: false,
      accessLog: false,
      pools: { app: { servers: [{ url: a.url }], health: { path: "/healthz", interval: "100ms", timeout: "5s" } } },
      routes: [{ pool: "app" }],
    };
    const script = `
      import { startGateway } from ${JSON.stringify(gatewayModule)};
      const g = await startGateway({ config: ${JSON.stringify(config)} });
      await Bun.sleep(250);
      await g.stop(0);
      console.log("stopped");
    `;
    const started = performance.now();
    const child = Bun.spawn([process.execPath, "-e", script], { stdout: "pipe", stderr: "pipe" });
    const exited = await Promise.race([child.exited, Bun.sleep(3_000).then(() => "hung" as const)]);
    if (exited === "hung") child.kill();
    expect(exited).toBe(0);
    expect(await new Response(child.stdout).text()).toBe("stopped\n");
    // Well before the 5 s probe timeout: the probe in flight was aborted, not waited for.
    expect(performance.now() - started).toBeLessThan(2_500);
    expect(probes(a)).toBe(1);
    expect(await eventually(() => aborted === 1, 1_000)).toBe(true);
  });
});
