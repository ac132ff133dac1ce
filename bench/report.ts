// The tables of run.ts: per target the median over rounds of throughput, latency and CPU per request, the
// spread between rounds, the upstream connection figures, and Sluice's ratios to the others. Ratios of
// medians from one interleaved run are the result; absolute numbers depend on whatever else the (shared)
// machine was doing.
import type { TargetName } from "./options.ts";
import { fmt, median, times, type Table } from "./tables.ts";
import type { WrkResult } from "./wrk.ts";

export const TARGET_LABELS: Record<TargetName, string> = {
  direct: "direct",
  nginx: "nginx",
  haproxy: "HAProxy",
  sluice: "Sluice",
  "sluice-deno": "Sluice (Deno)",
};
const SLUICE_TARGETS: TargetName[] = ["sluice", "sluice-deno"];

export interface RunRecord {
  round: number;
  target: TargetName;
  result: WrkResult;
  /** user + system CPU seconds of the process serving the target (all threads, forked workers included). */
  cpuSeconds: number;
  /** Connections the backend accepted from this target during the run (wrk's own for direct). */
  upstreamOpened: number;
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

const MiB = 1024 * 1024;

function throughput(scenario: Scenario, r: WrkResult): number {
  return scenario.bytes ? r.bytesPerSec / MiB : r.requestsPerSec;
}

/** CPU microseconds per request wrk counted. */
export function cpuPerRequest(run: RunRecord): number {
  return run.result.requests > 0 ? (run.cpuSeconds * 1e6) / run.result.requests : NaN;
}

export interface Summary {
  target: TargetName;
  throughput: number;
  requestsPerSec: number;
  spreadPct: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  cpuUs: number;
  upstreamOpened: number;
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
      cpuUs: median(runs.map(cpuPerRequest)),
      upstreamOpened: Math.max(...runs.map((r) => r.upstreamOpened)),
      timeWaitClient: Math.max(...runs.map((r) => r.timeWaitClient)),
      timeWaitUpstream: Math.max(...runs.map((r) => r.timeWaitUpstream)),
      upstreamConns: median(runs.map((r) => r.upstreamConns)),
    };
  });
}

const ms = (n: number) => (!Number.isFinite(n) ? "n/a" : n < 10 ? n.toFixed(2) : n.toFixed(1));
const us = (n: number) => (!Number.isFinite(n) ? "n/a" : n < 100 ? n.toFixed(2) : fmt(n, 0));

export function scenarioTable(scenario: Scenario, targets: TargetName[]): Table {
  const unit = scenario.bytes ? "MiB/s" : "req/s";
  const header = [
    "target",
    unit,
    ...(scenario.bytes ? ["req/s"] : []),
    "spread",
    "p50 ms",
    "p99 ms",
    "errors",
    "CPU µs/req",
    "upstream opened",
    "upstream conns",
    "TW client",
    "TW upstream",
  ];
  const rows = summarize(scenario, targets).map((r) => [
    TARGET_LABELS[r.target],
    fmt(r.throughput, scenario.bytes ? 1 : 0),
    ...(scenario.bytes ? [fmt(r.requestsPerSec, 0)] : []),
    `±${(r.spreadPct / 2).toFixed(1)}%`,
    ms(r.p50ms),
    ms(r.p99ms),
    String(r.errors),
    us(r.cpuUs),
    fmt(r.upstreamOpened),
    fmt(r.upstreamConns),
    r.target === "direct" ? "-" : fmt(r.timeWaitClient),
    fmt(r.timeWaitUpstream),
  ]);
  return { header, rows };
}

/** Each Sluice target divided by each other target: throughput (higher is better for Sluice) and CPU per
 *  request (lower is better). Null when the run has no Sluice target. */
export function ratioTable(scenario: Scenario, targets: TargetName[]): Table | null {
  const summaries = summarize(scenario, targets);
  const of = (t: TargetName) => summaries.find((s) => s.target === t);
  const others = (["nginx", "haproxy", "direct"] as TargetName[]).filter((t) => targets.includes(t));
  const sluices = SLUICE_TARGETS.filter((t) => targets.includes(t));
  if (sluices.length === 0 || others.length === 0) return null;
  const unit = scenario.bytes ? "MiB/s" : "req/s";
  const rows: string[][] = [];
  for (const s of sluices) {
    const mine = of(s)!;
    rows.push([`${TARGET_LABELS[s]} ${unit}`, ...others.map((o) => times(mine.throughput / of(o)!.throughput))]);
    // CPU per request against direct would compare a proxy with the backend: left out.
    rows.push([`${TARGET_LABELS[s]} CPU/req`, ...others.map((o) => (o === "direct" ? "-" : times(mine.cpuUs / of(o)!.cpuUs)))]);
  }
  return { header: ["ratio", ...others.map((o) => `÷ ${TARGET_LABELS[o]}`)], rows };
}

export const LEGEND = `spread: half the max−min range over rounds, relative to the median. p50/p99: median over rounds of wrk --latency.
errors: wrk socket errors plus non-2xx/3xx responses, summed over rounds.
CPU µs/req: user+system CPU time of the process serving the target (all threads; nginx master and worker) during
one wrk run, divided by the requests wrk completed; median over rounds. For direct it is the backend's own cost.
upstream opened: most connections the backend accepted from the target in one run (nginx stub_status "accepts").
With a reused pool it stays at or below the client count; churn shows as thousands. For direct these are wrk's own:
-c plus the one connection wrk opens first to check the address.
upstream conns: connections open to the backend, sampled mid-run (median over rounds); for direct these are wrk's own.
TW client / TW upstream: most TIME_WAIT sockets one run added on the target's own port / on its own backend listener
(each target has one; for direct they are the same port, shown under upstream). Both read low: sockets of earlier
rounds expire during a run (60 s) and tcp_tw_reuse lets new loopback connections take over TIME_WAIT slots;
"upstream opened" is the exact churn figure.
Ratios: Sluice's median divided by the other target's; ≥ 1 is better for throughput, ≤ 1 is better for CPU/req.`;
