// The access log as an operator reads it: the gateway started from the command line with a config that does
// not mention `accessLog` (it is on by default), its stdout read line by line while requests of every kind
// go through it. Every line is one JSON object, one per request, with the documented fields.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { deadPort, until } from "./helpers/common.ts";
import { startCli, type RunningProcess } from "./helpers/process.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";
import type { LogEntry } from "../gateway/mod.ts";

const TAGGER = resolve(import.meta.dir, "fixtures/plugins/tagger.ts");

/** One line of the access log, as the gateway writes it. */
type Line = LogEntry;

let dir: string;
let up: Upstream;
let gw: RunningProcess;
let base: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "sluice-access-log-"));
  up = startUpstream("app");
  const port = await deadPort();
  base = `http://127.0.0.1:${port}`;
  const config = {
    listen: `127.0.0.1:${port}`,
    admin: false,
    pools: {
      app: { servers: [{ url: up.url, id: "app-1" }] },
      gone: { servers: [{ url: `http://127.0.0.1:${await deadPort()}`, id: "gone-1" }] },
    },
    routes: [
      { name: "api", match: { path: "/api/*" }, pool: "app" },
      { name: "plugged", match: { path: "/plugged/*" }, pool: "app", plugins: [{ use: TAGGER, options: { tag: "t" } }] },
      { name: "gone", match: { path: "/gone/*" }, pool: "gone" },
      { name: "old", match: { path: "/old" }, redirect: { to: "/new", status: 301 } },
    ],
  };
  const path = join(dir, "sluice.config.json");
  await writeFile(path, JSON.stringify(config));
  gw = await startCli(["--config", path]);
});

afterAll(async () => {
  await gw?.stop();
  await up.stop();
  await rm(dir, { recursive: true, force: true });
});

/** The lines printed on stdout so far: every one must be a JSON object. */
function lines(): Line[] {
  const text = gw.stdout();
  const complete = text.slice(0, text.lastIndexOf("\n") + 1);
  return complete
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => {
      const value = JSON.parse(l);
      if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error(`not a JSON object: ${l}`);
      return value as Line;
    });
}

/** Wait for the log line of the request with this ID (the log is written in batches). */
async function lineOf(requestId: string): Promise<Line> {
  await until(() => lines().some((l) => l.requestId === requestId), `the log line of ${requestId}`, 3_000);
  return lines().find((l) => l.requestId === requestId)!;
}

describe("the access log, on by default", () => {
  test("a proxied request: every field, the path and its query apart", async () => {
    const before = Date.now();
    const response = await fetch(`${base}/api/items?page=2&q=secret`, { headers: { "x-request-id": "req-proxied", "user-agent": "log-test/1.0" } });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe("app");
    expect(response.headers.get("x-request-id")).toBe("req-proxied");
    const line = await lineOf("req-proxied");
    expect(line).toEqual({
      time: expect.any(String),
      requestId: "req-proxied",
      clientIp: "127.0.0.1",
      method: "GET",
      host: new URL(base).host,
      path: "/api/items",
      query: "page=2&q=secret",
      protocol: "HTTP/1.1",
      status: 200,
      durationMs: expect.any(Number),
      bytesIn: 0,
      bytesOut: 3,
      route: "api",
      pool: "app",
      server: "app-1",
      upstreamConnectMs: expect.any(Number),
      upstreamResponseMs: expect.any(Number),
      retries: 0,
      termination: "ok",
      userAgent: "log-test/1.0",
    });
    expect(line.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(Date.parse(line.time)).toBeGreaterThanOrEqual(before - 5);
    expect(Date.parse(line.time)).toBeLessThanOrEqual(Date.now());
    expect(line.durationMs).toBeGreaterThanOrEqual(0);
    expect(line.durationMs).toBeLessThan(5_000);
  });

  test("requests that never reach an upstream, and one whose upstream is down, are logged too", async () => {
    const cases: Array<[string, RequestInit, Partial<Line>]> = [
      ["/old?x=1", { redirect: "manual" }, { status: 301, route: "old", path: "/old", method: "GET" }],
      ["/nowhere", {}, { status: 404, path: "/nowhere" }],
      ["/api/upload", { method: "POST", body: "hello" }, { status: 200, route: "api", pool: "app", method: "POST", bytesIn: 5 }],
      ["/api/head", { method: "HEAD" }, { status: 200, method: "HEAD" }],
      ["/plugged/p", {}, { status: 200, route: "plugged", pool: "app" }],
      ["/gone/x", {}, { status: 502, route: "gone", pool: "gone", error: expect.any(String), termination: "upstream-failed" }],
    ];
    for (const [i, [target, init, expected]] of cases.entries()) {
      const id = `req-kind-${i}`;
      const response = await fetch(base + target, { ...init, headers: { "x-request-id": id } });
      expect(response.status).toBe(expected.status!);
      await response.arrayBuffer();
      expect(await lineOf(id)).toMatchObject({ requestId: id, ...expected });
    }
    const notFound = await lineOf("req-kind-1");
    expect(notFound.pool).toBeUndefined();
    expect(notFound.server).toBeUndefined();
    expect(notFound.termination).toBe("refused");
  });

  test("one JSON object per line and one line per request, also for requests at once", async () => {
    const before = lines().length;
    const ids = Array.from({ length: 60 }, (_, i) => `req-burst-${i}`);
    const statuses = await Promise.all(
      ids.map(async (id) => {
        const response = await fetch(`${base}/api/burst/${id}`, { headers: { "x-request-id": id } });
        await response.arrayBuffer();
        return response.status;
      }),
    );
    expect(new Set(statuses)).toEqual(new Set([200]));
    await until(() => lines().length >= before + ids.length, "a line for every request", 3_000);
    const burst = lines().slice(before);
    expect(burst).toHaveLength(ids.length);
    expect(burst.map((l) => l.requestId).sort()).toEqual([...ids].sort());
    for (const line of burst) expect(line.path).toBe(`/api/burst/${line.requestId}`);
    // Nothing else goes to stdout: every line printed so far was a log line (lines() parsed them all), and the
    // lines end with a newline.
    expect(gw.stdout().endsWith("\n")).toBe(true);
    expect(gw.output()).toContain("sluice: serving");
    expect(gw.stdout()).not.toContain("sluice: serving");
  });
});
