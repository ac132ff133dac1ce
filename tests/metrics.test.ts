// GET /metrics on the admin listener: Prometheus text exposition of requests per route, pool, method and exact
// status, server state and counters, queues, and the TCP/UDP listeners. (tests/metrics-traffic.test.ts follows
// the figures as requests flow, with promtool; tests/metrics-workers.test.ts sums --workers processes.)
import { afterAll, beforeAll, expect, test } from "bun:test";
import { startGateway } from "../gateway/gateway.ts";
import { echoUpstream, exchange, type TcpUpstream } from "./helpers/l4.ts";
import { deadPort } from "./helpers/common.ts";
import { startUpstream, type Upstream } from "./helpers/upstream.ts";
import { expectWellFormed } from "./helpers/metrics.ts";

let up: Upstream;
let echo: TcpUpstream;
let gw: Awaited<ReturnType<typeof startGateway>>;
let tcpPort: number;
let udpPort: number;

beforeAll(async () => {
  up = startUpstream("app");
  echo = await echoUpstream();
  const dead = await deadPort();
  tcpPort = await deadPort();
  udpPort = await deadPort();
  gw = await startGateway({
    config: {
      listen: "127.0.0.1:0",
      admin: { listen: "127.0.0.1:0", token: "t0ken" },
      accessLog: false,
      pools: {
        app: { servers: [{ url: up.url, id: "a" }] },
        dead: { servers: [{ url: `http://127.0.0.1:${dead}`, id: "gone" }], retries: 0 },
        echo: { mode: "tcp", servers: [{ address: `127.0.0.1:${echo.port}`, id: "e" }] },
      },
      routes: [
        { name: "api", match: { path: "/api/*" }, pool: "app" },
        { name: "broken", match: { path: "/broken" }, pool: "dead" },
      ],
      tcp: [{ listen: `127.0.0.1:${tcpPort}`, pool: "echo" }],
      udp: [{ listen: `127.0.0.1:${udpPort}`, pool: "echo" }],
    },
  });
});
afterAll(async () => {
  await gw.stop(0);
  await up.stop();
  await echo.close();
});

async function scrape(): Promise<string> {
  const res = await fetch(`${gw.adminUrl}/metrics`, { headers: { authorization: "Bearer t0ken" } });
  expect(res.status).toBe(200);
  expect(res.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  return await res.text();
}

test("needs the admin token like /status", async () => {
  expect((await fetch(`${gw.adminUrl}/metrics`)).status).toBe(401);
});

test("counts requests per route, pool, method and exact status, and shows every server", async () => {
  for (let i = 0; i < 3; i++) expect((await fetch(`${gw.url}/api/x`)).status).toBe(200);
  expect((await fetch(`${gw.url}/nowhere`)).status).toBe(404);
  expect((await fetch(`${gw.url}/broken`)).status).toBe(502);
  const text = await scrape();
  expect(text).toContain('sluice_http_requests_total{route="api",pool="app",method="GET",code="200"} 3');
  expect(text).toContain('sluice_http_requests_total{route="",pool="",method="GET",code="404"} 1');
  expect(text).toContain('sluice_http_requests_total{route="broken",pool="dead",method="GET",code="502"} 1');
  expect(text).toContain('sluice_http_request_duration_seconds_count{route="api",pool="app"} 3');
  expect(text).toContain('sluice_server_requests_total{pool="app",server="a"} 3');
  expect(text).toContain('sluice_server_up{pool="app",server="a"} 1');
  expect(text).toContain('sluice_server_failures_total{pool="dead",server="gone"} 1');
  expect(text).toContain('sluice_server_up{pool="dead",server="gone"} 0');
  expect(text).toContain('sluice_pool_queued{pool="app"} 0');
  expect(text).toMatch(/^sluice_uptime_seconds \d+$/m);
});

test("shows the TCP and UDP listeners", async () => {
  await exchange(tcpPort, new TextEncoder().encode("hello"));
  const text = await scrape();
  expect(text).toContain(`sluice_tcp_connections_total{listener="127.0.0.1:${tcpPort}"} 1`);
  expect(text).toContain(`sluice_tcp_received_bytes_total{listener="127.0.0.1:${tcpPort}"} 5`);
  expect(text).toContain(`sluice_tcp_server_received_bytes_total{pool="echo",server="e"} 5`);
  expect(text).toContain(`sluice_tcp_errors_total{listener="127.0.0.1:${tcpPort}",reason="maxConns"} 0`);
  expect(text).toContain(`sluice_udp_sessions_active{listener="127.0.0.1:${udpPort}"} 0`);
});

test("is well-formed exposition text: HELP and TYPE once per family, then samples; histograms cumulative", async () => {
  const text = await scrape();
  expectWellFormed(text);
  expect(text.match(/^# HELP /gm)!.length).toBeGreaterThan(10);
});
