// The tables: per target the median over rounds of throughput and latency, the spread between rounds,
// and Sluice's ratios to the others. Ratios of medians from one interleaved run are the result; absolute
// numbers depend on whatever else the (shared) machine was doing.
import type { WrkResult } from "./wrk.ts";

export type TargetName = "direct" | "nginx" | "haproxy" | "sluice";
export const TARGET_LABELS: Record<TargetName, string> = { direct: "direct", nginx: "nginx", haproxy: "HAProxy", sluice: "Sluice" };

export interface RunRecord {
  round: number;
  target: TargetName;
  result: WrkResult;
  /** TIME_WAIT sockets on this target's own listening port (wrk's connections), after minus before the run. */
  timeWaitClient: number;
  /** TIME_WAIT sockets on this target's own backend listener (the proxy's upstream connections), after minus before. */
  timeWaitUpstream: number;
  /** All TIME_WAIT sockets on the machine right after the run. */
  timeWaitAll: number;
  /** Connections open to this target's backend listener, sampled mid-run (the proxy's upstream pool; wrk's own for direct). */
  upstreamConns: number;
}

export interface Scenario {
  name: string;
  title: string;
  /** Report MiB/s (large bodies) rather than req/s as the throughput. */
  bytes: boolean;
  runs: RunRecord[];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const MiB = 1024 * 1024;

function throughput(scenario: Scenario, r: WrkResult): number {
  return scenario.bytes ? r.bytesPerSec / MiB : r.requestsPerSec;
}

interface Summary {
  target: TargetName;
  throughput: number;
  requestsPerSec: number;
  spreadPct: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  timeWaitClient: number;
  timeWaitUpstream: number;
  upstreamConns: number;
}

export function summarize(scenario: Scenario, targets: TargetName[]): Summary[] {
  return targets.map((target) => {
    const runs = scenario.runs.filter((r) => r.target === target);
    const values = runs.map((r) => throughput(scenario, r.result));
    const mid = median(values);
    return {
      target,
      throughput: mid,
      requestsPerSec: median(runs.map((r) => r.result.requestsPerSec)),
      spreadPct: mid > 0 ? ((Math.max(...values) - Math.min(...values)) / mid) * 100 : 0,
      p50ms: median(runs.map((r) => r.result.p50ms)),
      p99ms: median(runs.map((r) => r.result.p99ms)),
      errors: runs.reduce((sum, r) => sum + r.result.errors, 0),
      timeWaitClient: Math.max(...runs.map((r) => r.timeWaitClient)),
      timeWaitUpstream: Math.max(...runs.map((r) => r.timeWaitUpstream)),
      upstreamConns: median(runs.map((r) => r.upstreamConns)),
    };
  });
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))).join("  ")).join("\n");
}

const fmt = (n: number, digits = 0) => (Number.isFinite(n) ? n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits }) : "n/a");
const ms = (n: number) => (n < 10 ? n.toFixed(2) : n.toFixed(1));

export function renderScenario(scenario: Scenario, targets: TargetName[]): string {
  const rows = summarize(scenario, targets);
  const unit = scenario.bytes ? "MiB/s" : "req/s";
  const header = [
    "target",
    unit,
    ...(scenario.bytes ? ["req/s"] : []),
    "spread",
    "p50 ms",
    "p99 ms",
    "errors",
    "upstream conns",
    "TW client",
    "TW upstream",
  ];
  const body = rows.map((r) => [
    TARGET_LABELS[r.target],
    fmt(r.throughput, scenario.bytes ? 1 : 0),
    ...(scenario.bytes ? [fmt(r.requestsPerSec, 0)] : []),
    `±${(r.spreadPct / 2).toFixed(1)}%`,
    ms(r.p50ms),
    ms(r.p99ms),
    String(r.errors),
    fmt(r.upstreamConns),
    r.target === "direct" ? "-" : fmt(r.timeWaitClient),
    fmt(r.timeWaitUpstream),
  ]);
  const of = (t: TargetName) => rows.find((r) => r.target === t)?.throughput ?? NaN;
  const ratio = (t: TargetName) => (of("sluice") / of(t)).toFixed(2);
  const ratios = targets.includes("sluice")
    ? `Sluice/nginx ${ratio("nginx")}×   Sluice/HAProxy ${ratio("haproxy")}×   Sluice/direct ${ratio("direct")}×   (${unit}, ratio of medians)`
    : "";
  return `${scenario.title}\n${table([header, ...body])}\n${ratios}`;
}

export const LEGEND = `spread: half the max−min range over rounds, relative to the median. p50/p99: median over rounds of wrk --latency.
errors: wrk socket errors plus non-2xx/3xx responses, summed over rounds.
upstream conns: connections open to the backend, sampled mid-run (median over rounds); for direct these are wrk's own.
TW client / TW upstream: most TIME_WAIT sockets one run added on the target's own port / on its own backend listener
(each target has one; for direct they are the same port, shown under upstream). Churn shows as thousands; ~50 is the
connections closed when wrk stops.`;
