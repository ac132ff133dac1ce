// /metrics as requests flow: each test scrapes, sends requests through a gateway on 127.0.0.1 (on the engine's byte
// path and through hono), scrapes again and checks what moved — requests by route, pool, method and exact code,
// the duration histogram, per-server attempts, failures by reason and times, the upstream connection pool, plugin
// rejections, the process figures — and that a real scrape passes `promtool check metrics`.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { resolve } from "node:path";
import { startGateway } from "../gateway/gateway.ts";
import { deadPort } from "./helpers/common.ts";
import { portOf, rawRequest, startRawUpstream, startUpstream, type RawUpstream, type Upstream } from "./helpers/upstream.ts";
import { expectWellFormed, parseSamples, sampleSum, sampleValue, scrapeMetrics } from "./helpers/metrics.ts";
import packageJson from "../package.json" with { type: "json" };

const TAGGER = resolve(import.meta.dir, "fixtures/plugins/tagger.ts");

let app: Upstream;
let slow: Upstream;
let closer: RawUpstream;
let garbage: RawUpstream;
let gw: Awaited<ReturnType<typeof startGateway>>;

beforeAll(async () => {
  app = startUpstream("app");
  // Answers after 30 ms: every request through it takes at least that long.
  slow = startUpstream("slow", async (request) => {
    const wait = Number(new URL(request.url).searchParams.get("wait") ?? 30);
    await Bun.sleep(wait);
    return new Response("slow");
  });
  closer = await startRawUpstream((socket) => socket.destroy());
  garbage = await startRawUpstream((socket) => socket.end("NOT HTTP AT ALL\r\n\r\n"));
  gw = await startGateway({
    config: {
      listen: "127.0.0.1:0",
      admin: { listen: "127.0.0.1:0" },
      accessLog: false,
      pools: {
        app: { servers: [{ url: app.url, id: "a" }] },
        slow: { servers: [{ url: slow.url, id: "s", maxFails: 0 }], timeouts: { response: "300ms" } },
        // The dead server first: a request fails to connect there, then is retried on the live one.
        retry: {
          balance: "first",
          retries: 1,
          servers: [
            { url: `http://127.0.0.1:${await deadPort()}`, id: "dead", maxFails: 0 },
            { url: app.url, id: "live" },
          ],
        },
        closer: { retries: 0, servers: [{ url: closer.url, id: "c", maxFails: 0 }] },
        garbage: { retries: 0, servers: [{ url: garbage.url, id: "g", maxFails: 0 }] },
      },
      routes: [
        { name: "api", match: { path: "/api/*" }, pool: "app" },
        { name: "slow", match: { path: "/slow/*" }, pool: "slow" },
        { name: "retry", match: { path: "/retry/*" }, pool: "retry" },
        { name: "closer", match: { path: "/closer/*" }, pool: "closer" },
        { name: "garbage", match: { path: "/garbage/*" }, pool: "garbage" },
        // On the byte path: rate-limit answers in the onRequest phase.
        { name: "limited", match: { path: "/limited/*" }, pool: "app", plugins: [{ use: "rate-limit", options: { limit: 1, window: "1m", key: "route" } }] },
        // Through hono: a middleware that answers 403 to x-block: yes.
        { name: "hono", match: { path: "/hono/*" }, pool: "app", plugins: [{ use: TAGGER, options: { tag: "t" } }] },
      ],
    },
  });
});

afterAll(async () => {
  await gw.stop(0);
  await Promise.all([app.stop(), slow.stop(), closer.close(), garbage.close()]);
});

const scrape = () => scrapeMetrics(gw.adminUrl!);

async function send(path: string, init: RequestInit = {}): Promise<number> {
  const response = await fetch(gw.url + path, init);
  await response.arrayBuffer();
  return response.status;
}

/** How much each figure moved between two scrapes. */
function delta(before: string, after: string, name: string, labels: Record<string, string> = {}): number {
  return sampleSum(after, name, labels) - sampleSum(before, name, labels);
}

describe("requests", () => {
  test("counted by route, pool, method and exact code; unregistered methods as OTHER", async () => {
    const before = await scrape();
    for (let i = 0; i < 3; i++) expect(await send("/api/a")).toBe(200);
    expect(await send("/api/a", { method: "POST", body: "x" })).toBe(200);
    expect(await send("/api/a", { method: "PURGE" })).toBe(200);
    expect(await send("/nowhere")).toBe(404);
    // fetch would send an unknown method as GET, and the upstream would not take it: this one goes on the wire as
    // it is, to no route.
    expect((await rawRequest(portOf(gw), "BREW /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")).status).toBe(404);
    const after = await scrape();
    const route = { route: "api", pool: "app" };
    expect(delta(before, after, "sluice_http_requests_total", { ...route, method: "GET", code: "200" })).toBe(3);
    expect(delta(before, after, "sluice_http_requests_total", { ...route, method: "POST", code: "200" })).toBe(1);
    expect(delta(before, after, "sluice_http_requests_total", { ...route, method: "OTHER", code: "200" })).toBe(1);
    expect(delta(before, after, "sluice_http_requests_total", { route: "", pool: "", method: "GET", code: "404" })).toBe(1);
    expect(delta(before, after, "sluice_http_requests_total", { route: "", pool: "", method: "OTHER", code: "404" })).toBe(1);
    expect(delta(before, after, "sluice_http_request_duration_seconds_count", route)).toBe(5);
    // Methods are a closed set: no label for BREW or PURGE ever appears.
    const methods = new Set(
      parseSamples(after)
        .filter((s) => s.name === "sluice_http_requests_total")
        .map((s) => s.labels.method),
    );
    for (const method of methods) expect(["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT", "OTHER"]).toContain(method!);
  });

  test("the duration histogram places requests by how long they took, and its sum grows by their time", async () => {
    const labels = { route: "slow", pool: "slow" };
    const before = await scrape();
    for (let i = 0; i < 4; i++) expect(await send("/slow/x?wait=30")).toBe(200);
    const after = await scrape();
    const bucket = (le: string) => delta(before, after, "sluice_http_request_duration_seconds_bucket", { ...labels, le });
    // Each took at least the upstream's 30 ms: none in a bucket at or below 25 ms, all four by +Inf.
    expect(bucket("0.001")).toBe(0);
    expect(bucket("0.025")).toBe(0);
    expect(bucket("+Inf")).toBe(4);
    expect(delta(before, after, "sluice_http_request_duration_seconds_count", labels)).toBe(4);
    expect(delta(before, after, "sluice_http_request_duration_seconds_sum", labels)).toBeGreaterThanOrEqual(0.12);
    // The upstream's own time to answer, in its server's histogram (whole milliseconds: at least 29 each).
    const server = { pool: "slow", server: "s" };
    expect(delta(before, after, "sluice_upstream_response_seconds_bucket", { ...server, le: "0.025" })).toBe(0);
    expect(delta(before, after, "sluice_upstream_response_seconds_count", server)).toBe(4);
    expect(delta(before, after, "sluice_upstream_response_seconds_sum", server)).toBeGreaterThanOrEqual(0.115);
  });
});

describe("upstream servers", () => {
  test("a connect failure retried on another server: attempts on both, a connect failure on the dead one", async () => {
    const before = await scrape();
    expect(await send("/retry/x")).toBe(200);
    const after = await scrape();
    expect(delta(before, after, "sluice_upstream_attempts_total", { pool: "retry", server: "dead" })).toBe(1);
    expect(delta(before, after, "sluice_upstream_attempts_total", { pool: "retry", server: "live" })).toBe(1);
    expect(delta(before, after, "sluice_upstream_failures_total", { pool: "retry", server: "dead", reason: "connect" })).toBe(1);
    expect(delta(before, after, "sluice_upstream_failures_total", { pool: "retry", server: "live" })).toBe(0);
    expect(delta(before, after, "sluice_http_requests_total", { route: "retry", code: "200" })).toBe(1);
  });

  test("failures by reason: timeout (504), closed before answering and a bad answer (502)", async () => {
    const before = await scrape();
    expect(await send("/slow/x?wait=2000")).toBe(504);
    expect(await send("/closer/x")).toBe(502);
    expect(await send("/garbage/x")).toBe(502);
    const after = await scrape();
    expect(delta(before, after, "sluice_upstream_failures_total", { pool: "slow", server: "s", reason: "timeout" })).toBe(1);
    expect(delta(before, after, "sluice_upstream_failures_total", { pool: "closer", server: "c", reason: "closed" })).toBe(1);
    expect(delta(before, after, "sluice_upstream_failures_total", { pool: "garbage", server: "g", reason: "bad-response" })).toBe(1);
    for (const [pool, server] of [
      ["slow", "s"],
      ["closer", "c"],
      ["garbage", "g"],
    ]) {
      expect(delta(before, after, "sluice_upstream_attempts_total", { pool: pool!, server: server! })).toBe(1);
    }
    expect(delta(before, after, "sluice_http_requests_total", { route: "slow", code: "504" })).toBe(1);
    expect(delta(before, after, "sluice_http_requests_total", { route: "closer", code: "502" })).toBe(1);
  });

  test("the connection pool: a keep-alive server's connection is opened once and reused", async () => {
    const address = `127.0.0.1:${app.port}`;
    await send("/api/warm"); // at least one idle connection to the address from here on
    const before = await scrape();
    for (let i = 0; i < 5; i++) expect(await send("/api/reuse")).toBe(200);
    const after = await scrape();
    expect(delta(before, after, "sluice_upstream_connections_reused_total", { address })).toBe(5);
    expect(delta(before, after, "sluice_upstream_connections_opened_total", { address })).toBe(0);
    expect(sampleValue(after, "sluice_upstream_connections_idle", { address })).toBeGreaterThanOrEqual(1);
    expect(sampleValue(after, "sluice_upstream_connections_open", { address })).toBeGreaterThanOrEqual(1);
    expect(delta(before, after, "sluice_upstream_connect_seconds_count", { pool: "app", server: "a" })).toBe(0);
  });

  test("a new connection is timed in the connect histogram", async () => {
    const before = await scrape();
    // A connection of its own: the gateway's idle one is busy while this request's upstream answers slowly.
    expect(await Promise.all([send("/slow/x?wait=100"), send("/slow/x?wait=100")])).toEqual([200, 200]);
    const after = await scrape();
    const opened = delta(before, after, "sluice_upstream_connections_opened_total", { address: `127.0.0.1:${slow.port}` });
    expect(opened).toBeGreaterThanOrEqual(1);
    expect(delta(before, after, "sluice_upstream_connect_seconds_count", { pool: "slow", server: "s" })).toBe(opened);
  });
});

describe("plugin rejections", () => {
  test("a 429 from the onRequest phase (byte path) and a 403 from hono middleware count, the upstream's answers do not", async () => {
    const before = await scrape();
    expect(await send("/limited/x")).toBe(200);
    expect(await send("/limited/x")).toBe(429);
    expect(await send("/hono/x", { headers: { "x-block": "yes" } })).toBe(403);
    expect(await send("/hono/x")).toBe(200);
    const after = await scrape();
    expect(delta(before, after, "sluice_plugin_rejections_total", { route: "limited", code: "429" })).toBe(1);
    expect(delta(before, after, "sluice_plugin_rejections_total", { route: "hono", code: "403" })).toBe(1);
    expect(delta(before, after, "sluice_plugin_rejections_total")).toBe(2);
    // Every one of them is a request too, on its route and pool.
    expect(delta(before, after, "sluice_http_requests_total", { route: "limited", code: "429" })).toBe(1);
    expect(delta(before, after, "sluice_http_requests_total", { route: "hono", pool: "app", code: "403" })).toBe(1);
    expect(delta(before, after, "sluice_http_requests_total", { route: "hono", pool: "app", code: "200" })).toBe(1);
    // Through hono the upstream figures count as well.
    expect(delta(before, after, "sluice_upstream_attempts_total", { pool: "app", server: "a" })).toBe(2);
  });
});

describe("the process and the build", () => {
  test("process_* figures, start time and build info", async () => {
    const text = await scrape();
    expect(sampleValue(text, "process_cpu_seconds_total")).toBeGreaterThan(0);
    expect(sampleValue(text, "process_resident_memory_bytes")).toBeGreaterThan(1024 * 1024);
    expect(sampleValue(text, "process_open_fds")).toBeGreaterThan(3);
    expect(sampleValue(text, "process_max_fds")).toBeGreaterThan(0);
    const start = sampleValue(text, "process_start_time_seconds")!;
    expect(start).toBeLessThanOrEqual(Date.now() / 1000);
    expect(start).toBeGreaterThan(Date.now() / 1000 - 3600);
    expect(sampleValue(text, "sluice_build_info", { version: packageJson.version, runtime: "bun", runtime_version: Bun.version })).toBe(1);
    expect(sampleValue(text, "sluice_worker_processes")).toBe(1);
    expect(sampleValue(text, "sluice_access_log_dropped_total")).toBe(0);
  });

  test("CPU time grows as the gateway works", async () => {
    const before = sampleValue(await scrape(), "process_cpu_seconds_total")!;
    await Promise.all(Array.from({ length: 200 }, () => send("/api/cpu")));
    expect(sampleValue(await scrape(), "process_cpu_seconds_total")!).toBeGreaterThan(before);
  });
});

describe("the exposition format", () => {
  test("a real scrape is well formed: families, HELP/TYPE, cumulative buckets with +Inf = _count", async () => {
    expectWellFormed(await scrape());
  });

  test("promtool check metrics accepts a real scrape", async () => {
    const promtool = Bun.which("promtool");
    if (!promtool) throw new Error("promtool is missing: install it with `apt-get install -y prometheus` (Debian's package ships it)");
    const text = await scrape();
    const check = Bun.spawn([promtool, "check", "metrics"], { stdin: new TextEncoder().encode(text), stdout: "pipe", stderr: "pipe" });
    const [code, out, err] = await Promise.all([check.exited, new Response(check.stdout).text(), new Response(check.stderr).text()]);
    expect({ code, problems: (out + err).trim() }).toEqual({ code: 0, problems: "" });
  });
});
