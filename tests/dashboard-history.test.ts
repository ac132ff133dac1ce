// The dashboard's history, piece by piece: the ring that bounds it, the percentile estimated from histogram
// buckets, the series that appear and leave with traffic, the HTTP rates and shares taken from /metrics
// figures, and the servers' state timeline. (tests/dashboard-charts.test.ts drives it through a gateway.)
import { describe, expect, test } from "bun:test";
import { Ring } from "../gateway/observability/history-ring.ts";
import { quantileFromBuckets } from "../gateway/observability/history-quantile.ts";
import { SeriesSet } from "../gateway/observability/history-series.ts";
import { HttpHistory } from "../gateway/observability/history-http.ts";
import { StateTimeline } from "../gateway/observability/history-states.ts";
import { History } from "../gateway/observability/history.ts";
import { FigureSet, type Figures } from "../gateway/observability/exposition.ts";
import { HttpCounters } from "../gateway/observability/http-counters.ts";
import { reaches } from "./helpers/common.ts";
import { Histogram } from "../gateway/observability/histogram.ts";

describe("Ring", () => {
  test("keeps the latest `capacity` values, oldest first", () => {
    const ring = new Ring(3);
    expect(ring.toArray()).toEqual([]);
    expect(ring.last).toBeUndefined();
    ring.push(1);
    ring.push(2);
    expect(ring.toArray()).toEqual([1, 2]);
    for (const v of [3, 4, 5]) ring.push(v);
    expect(ring.length).toBe(3);
    expect(ring.toArray()).toEqual([3, 4, 5]);
    expect([ring.at(0), ring.at(2), ring.at(3), ring.at(-1)]).toEqual([3, 5, undefined, undefined]);
    expect(ring.last).toBe(5);
  });

  test("wraps around many times and stays the same size", () => {
    const ring = new Ring(180);
    for (let i = 0; i < 10_000; i++) ring.push(i);
    const values = ring.toArray();
    expect(values.length).toBe(180);
    expect(values[0]).toBe(10_000 - 180);
    expect(values[179]).toBe(9_999);
  });

  test("NaN is a gap: null in the array", () => {
    const ring = new Ring(2);
    ring.push(NaN);
    ring.push(1.5);
    expect(ring.toArray()).toEqual([null, 1.5]);
  });

  test("refuses a capacity below one", () => {
    expect(() => new Ring(0)).toThrow("at least one value");
    expect(() => new Ring(1.5)).toThrow();
  });
});

describe("quantileFromBuckets", () => {
  const bounds = [0.001, 0.005, 0.01, 0.1, Infinity];

  test("interpolates linearly inside the bucket that holds the rank (as histogram_quantile)", () => {
    // 100 observations: 50 at most 1 ms, 40 in (1, 5] ms, 10 in (5, 10] ms.
    const cumulative = [50, 90, 100, 100, 100];
    expect(quantileFromBuckets(bounds, cumulative, 0.5)).toBeCloseTo(0.001, 9);
    expect(quantileFromBuckets(bounds, cumulative, 0.25)).toBeCloseTo(0.0005, 9); // the first bucket starts at 0
    expect(quantileFromBuckets(bounds, cumulative, 0.7)).toBeCloseTo(0.003, 9); // rank 70: halfway through (1, 5]
    expect(quantileFromBuckets(bounds, cumulative, 0.95)).toBeCloseTo(0.0075, 9); // rank 95: halfway through (5, 10]
    expect(quantileFromBuckets(bounds, cumulative, 0.99)).toBeCloseTo(0.0095, 9);
    expect(quantileFromBuckets(bounds, cumulative, 1)).toBeCloseTo(0.01, 9);
  });

  test("a rank in the +Inf bucket gives the highest finite bound", () => {
    expect(quantileFromBuckets(bounds, [0, 0, 0, 1, 10], 0.99)).toBe(0.1);
    expect(quantileFromBuckets([Infinity], [5], 0.5)).toBeNaN();
  });

  test("no observation: NaN", () => {
    expect(quantileFromBuckets(bounds, [0, 0, 0, 0, 0], 0.5)).toBeNaN();
    expect(quantileFromBuckets([], [], 0.5)).toBeNaN();
  });

  test("agrees with the observations it was made of, within their bucket", () => {
    const histogram = new Histogram();
    const observed: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const ms = 0.2 + ((i * 7919) % 1000) / 40; // spread over 0.2 … 25 ms
      observed.push(ms);
      histogram.observe(ms);
    }
    observed.sort((a, b) => a - b);
    let cumulative = 0;
    const counts = [...histogram.counts].map((n) => (cumulative += n));
    const withInf = [...histogram.boundsSeconds, Infinity];
    for (const q of [0.5, 0.95, 0.99]) {
      const exact = observed[Math.ceil(q * observed.length) - 1]! / 1000;
      const estimate = quantileFromBuckets(withInf, counts, q);
      // Same bucket: the estimate is off by less than the bucket's width.
      const bucket = withInf.findIndex((b) => exact <= b);
      expect(estimate).toBeGreaterThanOrEqual(bucket === 0 ? 0 : withInf[bucket - 1]!);
      expect(estimate).toBeLessThanOrEqual(withInf[bucket]!);
    }
  });
});

describe("SeriesSet", () => {
  const options = { fields: ["n"] as const, capacity: 4, maxSeries: 2, active: (v: { n: number }) => v.n > 0 };
  const sample = (entries: Record<string, number>) => new Map(Object.entries(entries).map(([k, n]) => [k, { n }]));
  const keys = (set: SeriesSet<"n">) => set.list().map((s) => s.key);

  test("a series appears with its first activity, back-filled so that it lines up with the others", () => {
    const set = new SeriesSet(options);
    set.push(sample({ a: 1, b: 0 }), { n: 0 });
    expect(keys(set)).toEqual(["a"]); // b was idle: not shown yet
    set.push(sample({ a: 2, b: 3 }), { n: 0 });
    expect(set.list()).toEqual([
      { key: "a", points: { n: [1, 2] } },
      { key: "b", points: { n: [0, 3] } },
    ]);
  });

  test("a series not sampled gets a gap; one idle for a whole window is dropped", () => {
    const set = new SeriesSet(options);
    set.push(sample({ a: 1 }), { n: 0 });
    set.push(sample({}), { n: 0 });
    expect(set.list()[0]!.points.n).toEqual([1, null]);
    for (let i = 0; i < 2; i++) set.push(sample({ a: 0 }), { n: 0 });
    expect(keys(set)).toEqual(["a"]);
    set.push(sample({ a: 0 }), { n: 0 }); // four samples without activity: the whole window
    expect(keys(set)).toEqual([]);
  });

  test("at most maxSeries series; pinned ones show while idle", () => {
    const set = new SeriesSet({ ...options, pinned: (key: string) => key === "total" });
    set.push(sample({ total: 0, a: 1, b: 1, c: 1 }), { n: 0 });
    expect(keys(set)).toEqual(["total", "a"]);
    for (let i = 0; i < 10; i++) set.push(sample({ total: 0 }), { n: 0 });
    expect(keys(set)).toEqual(["total"]);
  });
});

/** Figures as the gateway's HttpCounters give them, for answers (route, pool, status, ms). */
function figuresOf(counters: HttpCounters): Figures {
  const set = new FigureSet();
  counters.collect(set);
  return set.figures;
}

describe("HttpHistory", () => {
  test("requests/s, 5xx and 4xx shares and percentiles of each interval, per route, per pool and in total", () => {
    const counters = new HttpCounters();
    const history = new HttpHistory(10, 10);
    const site = counters.route("site", "web");
    site.count(0, 200, 1); // before the baseline: not in any interval
    history.rebase(figuresOf(counters));
    for (let i = 0; i < 6; i++) site.count(0, 200, 3);
    site.count(0, 404, 3);
    site.count(0, 503, 40);
    counters.route("api", "web").count(0, 502, 2);
    counters.route("moved", "").count(0, 301, 0.5); // a redirect: no pool
    history.sample(figuresOf(counters), 2);
    const route = (name: string) => history.routes.list().find((s) => s.key === name)!.points;
    expect(route("site").requests).toEqual([4]); // 8 answers in 2 s
    expect(route("site").errors5xx).toEqual([12.5]);
    expect(route("site").errors4xx).toEqual([12.5]);
    expect(route("site").p50[0]).toBeGreaterThan(2.5); // in the (2.5, 5] ms bucket
    expect(route("site").p50[0]).toBeLessThanOrEqual(5);
    expect(route("site").p99[0]).toBeGreaterThan(25); // the slow 503 is the top 1%
    expect(route("moved").requests).toEqual([0.5]);
    const pools = history.pools.list();
    expect(pools.map((p) => p.key)).toEqual(["web"]);
    expect(pools[0]!.points.requests).toEqual([4.5]);
    expect(pools[0]!.points.errors5xx).toEqual([22.222]);
    const total = history.total.list()[0]!.points;
    expect(total.requests).toEqual([5]);
    expect(total.errors5xx).toEqual([20]);

    // An interval without requests: 0 req/s, no error share or latency.
    history.sample(figuresOf(counters), 2);
    expect(route("site").requests).toEqual([4, 0]);
    expect(route("site").errors5xx).toEqual([12.5, null]);
    expect(route("site").p95).toEqual([route("site").p95[0]!, null]);
  });

  test("a counter that went down (a worker restarted) is a gap, not a negative rate", () => {
    const a = new HttpCounters();
    const history = new HttpHistory(10, 10);
    for (let i = 0; i < 10; i++) a.route("site", "web").count(0, 200, 1);
    history.rebase(figuresOf(a));
    const b = new HttpCounters();
    b.route("site", "web").count(0, 200, 1);
    history.sample(figuresOf(b), 1);
    expect(history.total.list()[0]!.points.requests).toEqual([null]);
  });
});

describe("StateTimeline", () => {
  test("records changes as bands, cut at the window's start; servers gone end where they were last seen", () => {
    const timeline = new StateTimeline(1000, 10, 10);
    timeline.observe(
      [
        { pool: "web", id: "a", state: "up" },
        { pool: "web", id: "b", state: "up" },
      ],
      0,
    );
    timeline.observe(
      [
        { pool: "web", id: "a", state: "up" },
        { pool: "web", id: "b", state: "up" },
      ],
      100,
    );
    timeline.observe([{ pool: "web", id: "a", state: "down" }], 200);
    timeline.observe([{ pool: "web", id: "a", state: "up" }], 500);
    expect(timeline.timelines(600)).toEqual([
      {
        pool: "web",
        id: "a",
        bands: [
          { state: "up", from: 0, to: 200 },
          { state: "down", from: 200, to: 500 },
          { state: "up", from: 500, to: 500 },
        ],
      },
      { pool: "web", id: "b", bands: [{ state: "up", from: 0, to: 100 }] },
    ]);
    timeline.observe([{ pool: "web", id: "a", state: "up" }], 1400);
    // The window is 400 … 1400: a's first band is over and its "down" is cut at 400; b was last seen at 100.
    expect(timeline.timelines(1400)).toEqual([
      {
        pool: "web",
        id: "a",
        bands: [
          { state: "down", from: 400, to: 500 },
          { state: "up", from: 500, to: 1400 },
        ],
      },
    ]);
  });

  test("a server that flaps at every look keeps its latest changes only", () => {
    const timeline = new StateTimeline(1_000_000, 10, 4);
    for (let t = 0; t < 100; t++) timeline.observe([{ pool: "p", id: "s", state: t % 2 ? "down" : "up" }], t);
    const bands = timeline.timelines(100)[0]!.bands;
    expect(bands.length).toBe(4);
    expect(bands[3]).toEqual({ state: "down", from: 99, to: 99 });
  });
});

describe("History", () => {
  test("the first sample is the baseline; later ones add a point per series; a change in processes is a gap", async () => {
    const counters = new HttpCounters();
    let processes = 1;
    let state = "up";
    const history = new History(
      {
        figures: async () => ({ figures: figuresOf(counters), processes }),
        servers: () => [{ pool: "web", id: "a", state }],
        l4: () => ({}),
        log: () => {},
      },
      { intervalMs: 60_000, points: 5 },
    );
    counters.route("site", "web").count(0, 200, 1);
    await history.sample();
    expect(history.document().times).toEqual([]);
    counters.route("site", "web").count(0, 200, 1);
    await history.sample();
    processes = 2;
    await history.sample();
    state = "down";
    const doc = history.document();
    expect(doc.times.length).toBe(2);
    expect(doc.windowMs).toBe(300_000);
    expect(doc.http.routes[0]!.name).toBe("site");
    expect(doc.http.routes[0]!.points.requests[0]).toBeGreaterThan(0);
    expect(doc.http.routes[0]!.points.requests[1]).toBeNull();
    expect(doc.servers[0]!.bands.map((b) => b.state)).toEqual(["up", "down"]); // read when the document is made
    for (let i = 0; i < 20; i++) await history.sample();
    expect(history.document().times.length).toBe(5);
  });

  test("its timer samples until stopped, and does not keep a process alive", async () => {
    let samples = 0;
    const history = new History(
      { figures: async () => ({ figures: {}, processes: ++samples }), servers: () => [], l4: () => ({}), log: () => {} },
      { intervalMs: 10 },
    );
    history.start();
    expect(await reaches(true, () => samples >= 3)).toBe(true);
    history.stop();
    // A process whose only work is a started history exits on its own.
    const source = `import { History } from ${JSON.stringify(new URL("../gateway/observability/history.ts", import.meta.url).pathname)};
      new History({ figures: async () => ({ figures: {}, processes: 1 }), servers: () => [], l4: () => ({}), log: console.error }, { intervalMs: 10 }).start();`;
    const child = Bun.spawn([process.execPath, "-e", source], { stdout: "ignore", stderr: "pipe", timeout: 10_000 });
    expect(await child.exited).toBe(0);
    expect(child.signalCode).toBeNull(); // not killed by the timeout
  });
});
