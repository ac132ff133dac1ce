// The HTTP side of the dashboard's history: per route, per pool and for the whole gateway, requests per second,
// the share of 5xx and of 4xx answers, and the p50/p95/p99 latency of the requests answered in each interval.
// All of it is read from the figures /metrics shows (sluice_http_requests_total and the buckets of
// sluice_http_request_duration_seconds): each sample takes their growth since the sample before.
import type { Figures, Sample } from "./exposition.ts";
import { quantileFromBuckets } from "./history-quantile.ts";
import { SeriesSet } from "./history-series.ts";

export const HTTP_FIELDS = ["requests", "errors5xx", "errors4xx", "p50", "p95", "p99"] as const;
/** requests: per second; errors5xx, errors4xx: % of the answers; p50, p95, p99: milliseconds. */
export type HttpField = (typeof HTTP_FIELDS)[number];

/** Counters as they stood at a sample, summed over what a series covers. */
interface Totals {
  answers: number;
  clientErrors: number;
  serverErrors: number;
  /** Histogram bucket bound in seconds (Infinity for +Inf) → observations at most that long. */
  buckets: Map<number, number>;
}

const IDLE: Record<HttpField, number> = { requests: 0, errors5xx: NaN, errors4xx: NaN, p50: NaN, p95: NaN, p99: NaN };
const GAP: Record<HttpField, number> = { requests: NaN, errors5xx: NaN, errors4xx: NaN, p50: NaN, p95: NaN, p99: NaN };

/** The key of the whole gateway's series. */
export const TOTAL = "";

export class HttpHistory {
  readonly total: SeriesSet<HttpField>;
  readonly routes: SeriesSet<HttpField>;
  readonly pools: SeriesSet<HttpField>;
  private previous: { total: Map<string, Totals>; routes: Map<string, Totals>; pools: Map<string, Totals> } | undefined;

  constructor(capacity: number, maxSeries: number) {
    const options = { fields: HTTP_FIELDS, capacity, maxSeries, active: (v: Record<HttpField, number>) => v.requests > 0 };
    this.total = new SeriesSet({ ...options, pinned: () => true });
    this.routes = new SeriesSet(options);
    this.pools = new SeriesSet(options);
  }

  /** Remember where the counters stand, without a point: the next sample measures from here. */
  rebase(figures: Figures): void {
    this.previous = totalsOf(figures);
  }

  /** A point for every series: what the counters grew by over `seconds` since the last sample (or rebase). */
  sample(figures: Figures, seconds: number): void {
    const now = totalsOf(figures);
    const before = this.previous;
    this.previous = now;
    for (const group of ["total", "routes", "pools"] as const) {
      const values = new Map<string, Record<HttpField, number>>();
      for (const [key, totals] of now[group]) values.set(key, before ? pointOf(totals, before[group].get(key), seconds) : GAP);
      if (group === "total" && !values.has(TOTAL)) values.set(TOTAL, IDLE);
      this[group].push(values, IDLE);
    }
  }

  /** A gap in every series (the counters cannot be compared with the last sample's), then measure from here. */
  gap(figures: Figures): void {
    for (const group of [this.total, this.routes, this.pools]) group.push(new Map(), IDLE);
    this.rebase(figures);
  }
}

function pointOf(now: Totals, before: Totals | undefined, seconds: number): Record<HttpField, number> {
  const answers = now.answers - (before?.answers ?? 0);
  const clientErrors = now.clientErrors - (before?.clientErrors ?? 0);
  const serverErrors = now.serverErrors - (before?.serverErrors ?? 0);
  const bounds = [...now.buckets.keys()].sort((a, b) => a - b);
  const grown = bounds.map((bound) => now.buckets.get(bound)! - (before?.buckets.get(bound) ?? 0));
  // A counter that went down was reset (a --workers process restarted): this interval cannot be measured.
  if (answers < 0 || clientErrors < 0 || serverErrors < 0 || grown.some((n) => n < 0)) return GAP;
  const share = (n: number) => (answers > 0 ? (100 * n) / answers : NaN);
  const percentile = (q: number) => quantileFromBuckets(bounds, grown, q) * 1000;
  return {
    requests: answers / seconds,
    errors5xx: share(serverErrors),
    errors4xx: share(clientErrors),
    p50: percentile(0.5),
    p95: percentile(0.95),
    p99: percentile(0.99),
  };
}

function label(labels: readonly string[], name: string): string {
  for (let i = 0; i < labels.length; i += 2) if (labels[i] === name) return labels[i + 1]!;
  return "";
}

/** The counters summed for the gateway, per route and per pool (requests without a pool count in no pool). */
function totalsOf(figures: Figures): { total: Map<string, Totals>; routes: Map<string, Totals>; pools: Map<string, Totals> } {
  const out = { total: new Map<string, Totals>(), routes: new Map<string, Totals>(), pools: new Map<string, Totals>() };
  const into = (sample: Sample, add: (totals: Totals) => void): void => {
    const [, labels] = sample;
    const pool = label(labels, "pool");
    const targets: Array<[Map<string, Totals>, string]> = [
      [out.total, TOTAL],
      [out.routes, label(labels, "route")],
    ];
    if (pool !== "") targets.push([out.pools, pool]);
    for (const [map, key] of targets) {
      let totals = map.get(key);
      if (!totals) map.set(key, (totals = { answers: 0, clientErrors: 0, serverErrors: 0, buckets: new Map() }));
      add(totals);
    }
  };
  for (const sample of figures.sluice_http_requests_total ?? []) {
    const value = sample[2];
    const code = Number(label(sample[1], "code"));
    into(sample, (t) => {
      t.answers += value;
      if (code >= 400 && code < 500) t.clientErrors += value;
      else if (code >= 500) t.serverErrors += value;
    });
  }
  for (const sample of figures.sluice_http_request_duration_seconds ?? []) {
    if (sample[0] !== "_bucket") continue;
    const le = label(sample[1], "le");
    const bound = le === "+Inf" ? Infinity : Number(le);
    into(sample, (t) => t.buckets.set(bound, (t.buckets.get(bound) ?? 0) + sample[2]));
  }
  return out;
}
