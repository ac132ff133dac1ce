// The dashboard's charts, as an operator sees them: traffic through a real gateway to real upstreams, then the
// admin page — rendered on the server with its charts already drawn as SVG, then live in headless chromium,
// where its script redraws them from /history. The history samples every 150 ms here (StartOptions.history)
// instead of every 5 s, so that a few seconds of traffic fill the charts.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { connect } from "node:net";
import { startGateway } from "../gateway/gateway.ts";
import type { HistoryDocument } from "../gateway/observability/history.ts";
import { startUpstream, type Gateway, type Upstream } from "./helpers/upstream.ts";
import { reaches } from "./helpers/common.ts";
import { withPage } from "./helpers/chromium.ts";
import { countColor, decodePng } from "./helpers/png.ts";
import { HttpCounters } from "../gateway/observability/http-counters.ts";
import { FigureSet } from "../gateway/observability/exposition.ts";

const INTERVAL_MS = 150;
const TOKEN = "ch4rts";
const auth = { authorization: `Bearer ${TOKEN}` };
/** The series colours of dashboard-charts.ts. */
const REQUESTS_BLUE = "#2f5fd0";
const ERRORS_RED = "#d93025";
const P99_ORANGE = "#e8710a";
/** A route name that would run script if the charts, their selector or their rows did not escape it. */
const HOSTILE_ROUTE = `<img src=x onerror="document.title='pwned'">`;

let a: Upstream;
let b: Upstream;
let bHealthy = true;
let gw: Gateway;
let echo: UdpSocket;
const TCP_REQUEST = "GET / HTTP/1.0\r\nHost: x\r\n\r\n";

/** One HTTP/1.0 request through the TCP listener; resolves with the answer once the connection ends. */
function throughTcp(address: string): Promise<string> {
  const port = Number(address.slice(address.lastIndexOf(":") + 1));
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.write(TCP_REQUEST));
    let got = "";
    socket.on("data", (d) => (got += d));
    socket.on("end", () => resolve(got));
    socket.on("error", reject);
  });
}

/** Datagrams through the UDP listener, each answered by the echo server; resolves once every answer came back. */
function throughUdp(address: string, count: number): Promise<void> {
  const port = Number(address.slice(address.lastIndexOf(":") + 1));
  const client = createSocket("udp4");
  return new Promise((resolve, reject) => {
    let answers = 0;
    client.on("message", () => {
      if (++answers === count) client.close(() => resolve());
    });
    client.on("error", reject);
    for (let i = 0; i < count; i++) client.send(`ping ${i}`, port, "127.0.0.1");
  });
}

/** Answers 500 on /fail, 404 on /missing; b's health check fails while bHealthy is false. */
const handler = (request: Request) => {
  const path = new URL(request.url).pathname;
  if (path === "/fail") return new Response("boom", { status: 500 });
  if (path === "/missing") return new Response("no", { status: 404 });
  return undefined;
};

async function history(): Promise<HistoryDocument> {
  return (await (await fetch(`${gw.adminUrl}/history`, { headers: auth })).json()) as HistoryDocument;
}

/** Requests answered in the window, per the history: each point's rate times the time it covers. */
function answered(doc: HistoryDocument, rates: Array<number | null>, shares?: Array<number | null>): number {
  let n = 0;
  for (let i = 1; i < doc.times.length; i++) {
    const seconds = (doc.times[i]! - doc.times[i - 1]!) / 1000;
    n += (rates[i] ?? 0) * seconds * (shares ? (shares[i] ?? 0) / 100 : 1);
  }
  return n;
}

async function send(path: string, count: number, expectStatus: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const res = await fetch(`${gw.url}${path}`);
    await res.arrayBuffer();
    expect(res.status).toBe(expectStatus);
  }
}

/** The attributes of a chart's series in the page's HTML: the row (group and name), the chart, the series. */
function seriesIn(html: string, group: string, name: string, chart: string, series: string): { points: number; values: Array<number | null>; shapes: string } {
  const row = html.indexOf(`<div class="chart-row" data-group="${group}" data-name="${name}">`);
  if (row < 0) throw new Error(`no chart row ${group} ${name}`);
  const figure = html.indexOf(`<figure class="chart" data-chart="${chart}">`, row);
  const at = html.indexOf(`<g class="series" data-name="${series}"`, figure);
  const g = html.slice(at, html.indexOf("</g>", at));
  const [, points, values] = /data-points="(\d+)" data-values="([^"]*)"/.exec(g)!;
  return { points: Number(points), values: values!.split(",").map((v) => (v === "" ? null : Number(v))), shapes: g };
}

beforeAll(async () => {
  a = startUpstream("a", handler);
  echo = createSocket("udp4");
  echo.on("message", (message, from) => echo.send(message, from.port, from.address));
  await new Promise<void>((resolve) => echo.bind(0, "127.0.0.1", resolve));
  b = startUpstream("b", (request) => {
    if (new URL(request.url).pathname === "/healthz") return new Response(bHealthy ? "ok" : "down", { status: bHealthy ? 200 : 503 });
    return handler(request);
  });
  gw = await startGateway({
    config: {
      listen: "127.0.0.1:0",
      admin: { listen: "127.0.0.1:0", token: TOKEN },
      accessLog: false,
      pools: {
        web: {
          servers: [
            { url: a.url, id: "a" },
            { url: b.url, id: "b" },
          ],
          health: { path: "/healthz", interval: "100ms", timeout: "100ms", rise: 1, fall: 1 },
        },
        api: { servers: [{ url: a.url, id: "api-1" }] },
        db: { mode: "tcp", servers: [{ address: `127.0.0.1:${a.port}`, id: "db-1" }] },
        dns: { mode: "tcp", servers: [{ address: `127.0.0.1:${echo.address().port}`, id: "dns-1" }] },
      },
      tcp: [{ listen: "127.0.0.1:0", pool: "db" }],
      udp: [{ listen: "127.0.0.1:0", pool: "dns" }],
      routes: [
        { name: "api", match: { path: "/api/*" }, pool: "api" },
        { name: HOSTILE_ROUTE, match: { path: "/odd/*" }, pool: "api" },
        { name: "site", pool: "web" },
      ],
    },
    history: { intervalMs: INTERVAL_MS },
  });
  // Traffic starts after the baseline and a first point, so that every request falls in a measured interval.
  expect(await reaches(true, async () => (await history()).times.length >= 2)).toBe(true);
  await send("/", 24, 200);
  await send("/fail", 6, 500);
  await send("/missing", 2, 404);
  await send("/odd/x", 1, 200);
  expect(await throughTcp(listener("tcp"))).toContain("200 OK");
  await throughUdp(listener("udp"), 3);
});

const listener = (kind: string) => gw.listeners().find((l) => l.kind === kind)!.address;

afterAll(async () => {
  await gw?.stop(0);
  await a.stop();
  await b.stop();
  echo?.close();
});

describe("the history behind the charts", () => {
  test("GET /history counts what went through: requests, 5xx and 4xx per route and pool, latency percentiles", async () => {
    // Wait for the sample that takes in the last request.
    const route = (doc: HistoryDocument) => doc.http.routes.find((r) => r.name === "site");
    let doc = await history();
    expect(await reaches(33, async () => Math.round(answered((doc = await history()), doc.http.total.requests)))).toBe(33);
    const site = route(doc)!.points;
    expect(Math.round(answered(doc, site.requests, site.errors5xx))).toBe(6);
    expect(Math.round(answered(doc, site.requests, site.errors4xx))).toBe(2);
    const pool = doc.http.pools.find((p) => p.name === "web")!.points;
    expect(Math.round(answered(doc, pool.requests))).toBe(32);
    expect(Math.round(answered(doc, doc.http.total.requests))).toBe(33); // and the one through the odd route
    expect(Math.round(answered(doc, doc.http.pools.find((p) => p.name === "api")!.points.requests))).toBe(1);
    expect(doc.http.routes.map((r) => r.name)).not.toContain("api"); // no traffic yet: no series
    const busy = site.requests.findIndex((v) => (v ?? 0) > 0);
    expect(site.p50[busy]).toBeGreaterThan(0);
    expect(site.p99[busy]!).toBeGreaterThanOrEqual(site.p50[busy]!);
    expect(doc.intervalMs).toBe(INTERVAL_MS);
    expect(doc.windowMs).toBe(INTERVAL_MS * 180);
    expect(doc.servers.map((s) => `${s.pool}/${s.id}:${s.bands.at(-1)!.state}`)).toEqual([
      "web/a:up",
      "web/b:up",
      "api/api-1:up",
      "db/db-1:up",
      "dns/dns-1:up",
    ]);
  });

  test("GET /history has the TCP and UDP listeners' traffic: connections, datagrams and bytes per second", async () => {
    const l4 = async () => {
      const doc = await history();
      const tcp = doc.tcp.find((l) => l.listener === listener("tcp"))!.points;
      const udp = doc.udp.find((l) => l.listener === listener("udp"))!.points;
      const n = (values: Array<number | null>) => Math.round(answered(doc, values));
      return `tcp ${n(tcp.connections)} conn ${n(tcp.bytesIn)} B in; udp ${n(udp.received)} in ${n(udp.replied)} back ${n(udp.bytesOut)} B back`;
    };
    const want = `tcp 1 conn ${TCP_REQUEST.length} B in; udp 3 in 3 back ${3 * "ping 0".length} B back`;
    expect(await reaches(want, l4)).toBe(want);
    const html = await (await fetch(`${gw.adminUrl}/`, { headers: auth })).text();
    expect(html).toContain(`<div class="chart-row" data-group="tcp" data-name="${listener("tcp")}">`);
    expect(seriesIn(html, "udp", listener("udp"), "datagrams", "replied").values.some((v) => (v ?? 0) > 0)).toBe(true);
  });

  test("GET /history needs the admin token like the rest of the API", async () => {
    expect((await fetch(`${gw.adminUrl}/history`)).status).toBe(401);
    expect((await fetch(`${gw.adminUrl}/history?token=${TOKEN}`)).status).toBe(401);
  });
});

describe("the page", () => {
  test("the first paint has the charts drawn as SVG, with the data /history holds", async () => {
    const html = await (await fetch(`${gw.adminUrl}/`, { headers: auth })).text();
    expect(html).toMatch(/<div id="charts" data-source="server" data-interval="150" data-updated="\d+">/);
    expect(html).not.toMatch(/<script[^>]+src=|<link[^>]+stylesheet|https?:\/\/(?!127\.0\.0\.1)/); // nothing from elsewhere
    const requests = seriesIn(html, "route", "site", "requests", "requests");
    // One point per sample, and the polylines draw each one that has a value.
    const drawn =
      [...requests.shapes.matchAll(/<polyline points="([^"]+)"/g)].reduce((n, m) => n + m[1]!.split(" ").length, 0) +
      [...requests.shapes.matchAll(/<circle /g)].length;
    expect(requests.points).toBe(requests.values.filter((v) => v !== null).length);
    expect(drawn).toBe(requests.points);
    expect(requests.points).toBeGreaterThanOrEqual(3);
    // The same numbers as /history (the page was made at one sample or another: compare what both hold).
    const doc = await history();
    const site = doc.http.routes.find((r) => r.name === "site")!.points.requests;
    const shared = requests.values.slice(-Math.min(requests.values.length, site.length));
    const at = site.findIndex((_, i) => shared.every((v, j) => site[i + j] === v));
    expect(at).toBeGreaterThanOrEqual(0);
    // The error chart: 5xx and 4xx lines, labelled with units; latency with its three percentiles.
    expect(seriesIn(html, "route", "site", "errors", "errors5xx").values.some((v) => (v ?? 0) > 0)).toBe(true);
    expect(seriesIn(html, "pool", "web", "errors", "errors4xx").values.some((v) => (v ?? 0) > 0)).toBe(true);
    for (const p of ["p50", "p95", "p99"]) expect(seriesIn(html, "total", "", "latency", p).points).toBeGreaterThan(0);
    expect(html).toContain('<span class="title">Requests</span> <span class="unit">req/s</span>');
    expect(html).toContain('<span class="title">Latency</span> <span class="unit">ms</span>');
    expect(html).toMatch(/<span class="key" data-name="p99">.*?p99 <b>[\d.]+ ms<\/b><\/span>/);
    expect(html).toContain('class="tick">now</text>');
    // The timeline: one row per server, a band in the state it is in.
    expect(html).toMatch(/<g class="server" data-pool="web" data-id="b">.*?<rect [^>]*data-state="up">/);
    // A route's name is escaped in its row, its heading and the selector.
    expect(html).not.toContain("<img");
    const escaped = "&#60;img src=x onerror=&#34;document.title=&#39;pwned&#39;&#34;&#62;";
    expect(html).toContain(`<div class="chart-row" data-group="route" data-name="${escaped}">`);
    expect(html).toContain(`<option value="route:${escaped}">route ${escaped}</option>`);
  });

  test("in a browser: the charts update live, a server taken down shows in the timeline, and the chart draws its lines", async () => {
    await withPage(`${gw.adminUrl}/?token=${TOKEN}`, async ({ evaluate, send: command }) => {
      expect(await reaches(true, async () => await evaluate(`document.readyState === "complete" && document.getElementById("charts") !== null`))).toBe(true);
      // Live: the script redraws from /history (the first paint said data-source="server").
      expect(await reaches("live", async () => await evaluate(`document.getElementById("charts").dataset.source`))).toBe("live");
      expect(await evaluate("document.title")).toBe("Sluice admin"); // redrawn in the browser, still escaped
      expect(await evaluate(`document.querySelectorAll("#charts img").length`)).toBe(0);

      // More traffic, on a route that had none: its row appears, and its requests chart rises.
      await send("/api/x", 10, 200);
      const apiTotal = `(() => {
        const g = document.querySelector('.chart-row[data-group="route"][data-name="api"] [data-chart="requests"] .series');
        return g ? g.dataset.values.split(",").reduce((n, v) => n + Number(v || 0), 0) > 0 : false;
      })()`;
      expect(await reaches(true, async () => await evaluate(apiTotal), 10_000)).toBe(true);
      // The selector shows one route's charts alone, and keeps showing them across redraws.
      await evaluate(
        `(() => { const s = document.getElementById("chart-filter"); s.value = "route:api"; s.dispatchEvent(new Event("change", { bubbles: true })); })()`,
      );
      const visible = `[...document.querySelectorAll("#http-charts .chart-row")].filter((r) => !r.hidden).map((r) => r.dataset.group + ":" + r.dataset.name).join(" ")`;
      expect(await evaluate(visible)).toBe("route:api");
      const updated = Number(await evaluate(`document.getElementById("charts").dataset.updated`));
      expect(await reaches(true, async () => Number(await evaluate(`document.getElementById("charts").dataset.updated`)) > updated)).toBe(true);
      expect(await evaluate(visible)).toBe("route:api");
      await evaluate(
        `(() => { const s = document.getElementById("chart-filter"); s.value = "all"; s.dispatchEvent(new Event("change", { bubbles: true })); })()`,
      );

      // b fails its health check: the timeline gets a red band for it.
      bHealthy = false;
      const downBand = `!!document.querySelector('#state-timeline g.server[data-pool="web"][data-id="b"] rect[data-state="down"]')`;
      expect(await reaches(true, async () => await evaluate(downBand), 10_000)).toBe(true);
      expect(await evaluate(`document.querySelector('#state-timeline g.server[data-id="b"] rect[data-state="down"] title').textContent`)).toMatch(
        /^web \/ b: down from \d\d:\d\d:\d\d UTC/,
      );
      bHealthy = true;

      // Steady traffic with errors for a few samples, so that every line has a run of points to draw, and
      // the page has drawn them.
      const runs = `(() => {
        const values = document.querySelector('.chart-row[data-group="total"] [data-chart="errors"] .series[data-name="errors5xx"]').dataset.values.split(",");
        let run = 0, best = 0;
        for (const v of values) best = Math.max(best, (run = v === "" ? 0 : run + 1));
        return best >= 4;
      })()`;
      const until = Date.now() + 10_000;
      while (!(await evaluate(runs)) && Date.now() < until) {
        await send("/", 3, 200);
        await send("/fail", 1, 500);
      }
      expect(await evaluate(runs)).toBe(true);

      // A screenshot of the whole gateway's requests chart: its line is there, in its colour, as are the error
      // and p99 lines of their charts.
      const shot = async (selector: string) => {
        const rect =
          (await evaluate(`(() => { const e = document.querySelector(${JSON.stringify(selector)}); e.scrollIntoView(); const r = e.getBoundingClientRect();
          return { x: r.x + scrollX, y: r.y + scrollY, width: r.width, height: r.height }; })()`)) as { x: number; y: number; width: number; height: number };
        const { data } = await command("Page.captureScreenshot", { format: "png", clip: { ...rect, scale: 1 }, captureBeyondViewport: true });
        return decodePng(Buffer.from(data, "base64"));
      };
      const chart = (name: string) => `.chart-row[data-group="total"] [data-chart="${name}"] svg.plot`;
      const requests = await shot(chart("requests"));
      expect(requests.width).toBeGreaterThan(200);
      expect(countColor(requests, REQUESTS_BLUE)).toBeGreaterThan(40);
      expect(countColor(requests, ERRORS_RED)).toBe(0);
      // Not a blank box: axes, grid and labels too (anything darker than the white background).
      let drawn = 0;
      for (let i = 0; i < requests.rgba.length; i += 4) if (requests.rgba[i]! < 235 || requests.rgba[i + 1]! < 235 || requests.rgba[i + 2]! < 235) drawn++;
      expect(drawn).toBeGreaterThan(countColor(requests, REQUESTS_BLUE));
      expect(countColor(await shot(chart("errors")), ERRORS_RED)).toBeGreaterThan(5);
      expect(countColor(await shot(chart("latency")), P99_ORANGE)).toBeGreaterThan(5);
      expect(countColor(await shot("#state-timeline svg.timeline"), ERRORS_RED)).toBeGreaterThan(5); // the down band
    });
  }, 40_000);
});

describe("with --workers", () => {
  test("the charts sum every process's counts, the figures /metrics sums", async () => {
    const g = await startGateway({
      config: {
        listen: "127.0.0.1:0",
        admin: { listen: "127.0.0.1:0" },
        accessLog: false,
        pools: { web: { servers: [{ url: a.url }] } },
        routes: [{ name: "site", pool: "web" }],
      },
      history: { intervalMs: INTERVAL_MS },
    });
    try {
      // A worker's counts, as it hands them to the primary.
      const worker = new HttpCounters();
      g.workerFigures = async () => {
        const set = new FigureSet();
        worker.collect(set);
        return [set.figures];
      };
      const doc = async () => (await (await fetch(`${g.adminUrl}/history`)).json()) as HistoryDocument;
      // The sample where the worker first answered is a gap (the sums changed by a whole process): start after it.
      const from = (await doc()).times.length + 2;
      expect(await reaches(true, async () => (await doc()).times.length > from)).toBe(true);
      for (let i = 0; i < 7; i++) worker.route("site", "web").count(0, 503, 2);
      for (let i = 0; i < 3; i++) expect((await fetch(`${g.url}/`)).status).toBe(200);
      const total = async () => {
        const d = await doc();
        const cut = { ...d, times: d.times.slice(from - 1) };
        const site = d.http.routes.find((r) => r.name === "site")?.points;
        return site
          ? `${Math.round(answered(cut, site.requests.slice(from - 1)))} ${Math.round(answered(cut, site.requests.slice(from - 1), site.errors5xx.slice(from - 1)))}`
          : "";
      };
      expect(await reaches("10 7", total)).toBe("10 7");
    } finally {
      await g.stop(0);
    }
  });
});
