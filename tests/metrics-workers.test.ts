// With --workers, /metrics (served by the primary) sums every process's figures: the gateway started from the
// command line with two processes, requests on connections of their own (the kernel spreads them over both), and
// the totals must equal what was sent, in /metrics and /status, while the primary's own view saw only part of
// it. Also the channel the workers answer on: a connection without the primary's token gets nothing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deadPort, reaches } from "./helpers/common.ts";
import { startCli, type RunningProcess } from "./helpers/process.ts";
import { rawRequest, startUpstream, type Upstream } from "./helpers/upstream.ts";
import { expectWellFormed, sampleSum, sampleValue, scrapeMetrics } from "./helpers/metrics.ts";
import { connectToPrimary, PrimaryChannel } from "../gateway/workers/channel.ts";
import { getRuntime } from "../gateway/runtime/current.ts";

describe("--workers 2", () => {
  let dir: string;
  let up: Upstream;
  let gw: RunningProcess;
  let port: number;
  let admin: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "sluice-metrics-workers-"));
    up = startUpstream("app");
    port = await deadPort();
    const adminPort = await deadPort();
    admin = `http://127.0.0.1:${adminPort}`;
    const path = join(dir, "sluice.config.json");
    await writeFile(
      path,
      JSON.stringify({
        listen: `127.0.0.1:${port}`,
        admin: { listen: `127.0.0.1:${adminPort}` },
        accessLog: false,
        pools: { app: { servers: [{ url: up.url, id: "a" }] } },
        routes: [{ name: "api", pool: "app" }],
      }),
    );
    gw = await startCli(["--config", path, "--workers", "2"]);
  });

  afterAll(async () => {
    await gw?.stop();
    await up.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const total = async (name: string, labels: Record<string, string>) => sampleSum(await scrapeMetrics(admin), name, labels);

  test("both processes report, and the totals are every request sent, not the primary's share", async () => {
    expect(await reaches(2, async () => sampleValue(await scrapeMetrics(admin), "sluice_worker_processes"))).toBe(2);
    const sent = 60;
    // Each on a connection of its own, so that the kernel (SO_REUSEPORT) picks a process for each.
    const statuses = await Promise.all(
      Array.from({ length: sent }, (_, i) => rawRequest(port, `GET /w/${i} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`).then((r) => r.status)),
    );
    expect(new Set(statuses)).toEqual(new Set([200]));
    expect(up.seen.length).toBe(sent);
    const labels = { route: "api", pool: "app", method: "GET", code: "200" };
    expect(await reaches(sent, () => total("sluice_http_requests_total", labels))).toBe(sent);
    const text = await scrapeMetrics(admin);
    expect(sampleValue(text, "sluice_http_request_duration_seconds_count", { route: "api", pool: "app" })).toBe(sent);
    expect(sampleValue(text, "sluice_upstream_attempts_total", { pool: "app", server: "a" })).toBe(sent);
    expect(sampleValue(text, "sluice_server_requests_total", { pool: "app", server: "a" })).toBe(sent);
    expect(sampleValue(text, "sluice_worker_processes")).toBe(2);
    // /status sums too; the primary's own view (workers[0]) saw a share only: the kernel gave the worker the rest.
    type Status = { pools: { app: { servers: Array<{ requests: number }> } }; workers: Array<{ pools: { app: { servers: Array<{ requests: number }> } } }> };
    const status = (await (await fetch(`${admin}/status`)).json()) as Status;
    expect(status.pools.app.servers[0]!.requests).toBe(sent);
    const primary = status.workers[0]!.pools.app.servers[0]!.requests;
    expect(primary).toBeGreaterThan(0);
    expect(primary).toBeLessThan(sent);
    expectWellFormed(text);
  }, 20_000);

  test("process figures add up over both processes", async () => {
    const text = await scrapeMetrics(admin);
    // Two gateway processes hold more than one's worth of memory and descriptors.
    expect(sampleValue(text, "process_resident_memory_bytes")).toBeGreaterThan(2 * 1024 * 1024);
    expect(sampleValue(text, "process_open_fds")).toBeGreaterThan(6);
    expect(sampleValue(text, "sluice_build_info", { runtime: "bun" })).toBe(1);
  });
});

describe("the workers' channel", () => {
  test("a worker with the token is asked for its figures; a connection without it is closed and never asked", async () => {
    const runtime = await getRuntime();
    const hub = await PrimaryChannel.open(runtime);
    const collect = () => Promise.all(hub.connected.map((link) => link.ask({ what: "figures" }, 1_000)));
    try {
      const [hubPort] = hub.env.split(" ");
      // An intruder on the loopback port: a wrong token, and the connection is closed on it.
      const intruder = connect({ host: "127.0.0.1", port: Number(hubPort) });
      const closed = new Promise<void>((resolve) => intruder.on("close", () => resolve()));
      intruder.on("error", () => {});
      intruder.write(`${JSON.stringify({ hello: "not-the-token" })}\n`);
      await closed;
      expect(await collect()).toEqual([]);
      // A worker as the CLI starts one: it joins, and its figures come back when asked.
      await connectToPrimary(runtime, hub.env, { worker: 1, pid: 1 }, { answer: () => ({ sluice_test_total: [["", ["a", "b"], 7]] }), follow() {} });
      const answers = await reaches(1, async () => (await collect()).length);
      expect(answers).toBe(1);
      expect(await collect()).toEqual([{ sluice_test_total: [["", ["a", "b"], 7]] }]);
    } finally {
      hub.close();
    }
  });
});
