// The tables of the streaming benchmark: per scenario and target the median over rounds of the rate, the
// latency (WebSocket), the proxy's CPU per message or per GiB and its peak memory; then Sluice's HTTP path
// against its own TCP pipe and against nginx and HAProxy, and the goals. Ratios of medians from one
// interleaved run are the result; absolute figures depend on whatever else the machine was doing.
import { WS_SCENARIOS, type StreamScenario, type StreamTarget } from "./stream-options.ts";
import { fmt, median, times, type Table } from "./tables.ts";

export const STREAM_LABELS: Record<StreamTarget, string> = {
  direct: "direct",
  "sluice-tcp": "Sluice TCP pipe",
  sluice: "Sluice HTTP",
  nginx: "nginx",
  haproxy: "HAProxy",
};

/** The HTTP path's goal against the TCP pipe, for every scenario. */
export const PIPE_GOAL = 0.9;
/** Sluice's RSS may rise at most this much during one transfer: a bounded buffer, whatever the size. */
export const RSS_RISE_GOAL_MB = 64;

export interface StreamRun {
  scenario: StreamScenario;
  round: number;
  target: StreamTarget;
  /** Messages (WebSocket) or bytes (transfers) that made it. */
  units: number;
  seconds: number;
  /** Messages or bytes per second; NaN for a failed transfer. */
  rate: number;
  p50ms: number;
  p99ms: number;
  errors: number;
  firstError: string | undefined;
  /** user + system CPU seconds of the process serving the target (the upstream itself for direct). */
  cpuSeconds: number;
  rssStartMB: number;
  rssPeakMB: number;
}

export interface Summary {
  target: StreamTarget;
  rate: number;
  spreadPct: number;
  p50ms: number;
  p99ms: number;
  seconds: number;
  errors: number;
  /** µs per message (WebSocket) or seconds per GiB (transfers). */
  cpu: number;
  rssStartMB: number;
  rssPeakMB: number;
  /** Largest rise of RSS over its value at the start of a run. */
  rssRiseMB: number;
}

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const isWs = (s: StreamScenario) => WS_SCENARIOS.includes(s);

function cpuPerUnit(run: StreamRun): number {
  if (run.units <= 0) return NaN;
  return isWs(run.scenario) ? (run.cpuSeconds * 1e6) / run.units : run.cpuSeconds / (run.units / GiB);
}

export function summarize(runs: StreamRun[], scenario: StreamScenario, targets: StreamTarget[]): Summary[] {
  return targets.map((target) => {
    const mine = runs.filter((r) => r.scenario === scenario && r.target === target);
    const ok = mine.filter((r) => Number.isFinite(r.rate));
    const rates = ok.map((r) => r.rate);
    const mid = rates.length > 0 ? median(rates) : NaN;
    return {
      target,
      rate: mid,
      spreadPct: mid > 0 ? ((Math.max(...rates) - Math.min(...rates)) / mid) * 100 : NaN,
      p50ms: ok.length > 0 ? median(ok.map((r) => r.p50ms)) : NaN,
      p99ms: ok.length > 0 ? median(ok.map((r) => r.p99ms)) : NaN,
      seconds: ok.length > 0 ? median(ok.map((r) => r.seconds)) : NaN,
      errors: mine.reduce((sum, r) => sum + r.errors, 0),
      cpu: ok.length > 0 ? median(ok.map(cpuPerUnit)) : NaN,
      rssStartMB: mine.length > 0 ? median(mine.map((r) => r.rssStartMB)) : NaN,
      rssPeakMB: mine.length > 0 ? Math.max(...mine.map((r) => r.rssPeakMB)) : NaN,
      rssRiseMB: mine.length > 0 ? Math.max(...mine.map((r) => r.rssPeakMB - r.rssStartMB)) : NaN,
    };
  });
}

const ms = (n: number) => (!Number.isFinite(n) ? "n/a" : n < 10 ? n.toFixed(3) : n.toFixed(1));
const spread = (n: number) => (Number.isFinite(n) ? `±${(n / 2).toFixed(1)}%` : "n/a");

export function scenarioTable(runs: StreamRun[], scenario: StreamScenario, targets: StreamTarget[]): Table {
  const rows = summarize(runs, scenario, targets);
  if (isWs(scenario)) {
    return {
      header: ["target", "msg/s", "spread", "p50 ms", "p99 ms", "errors", "CPU µs/msg", "RSS MB", "RSS peak MB"],
      rows: rows.map((r) => [
        STREAM_LABELS[r.target],
        fmt(r.rate),
        spread(r.spreadPct),
        ms(r.p50ms),
        ms(r.p99ms),
        fmt(r.errors),
        Number.isFinite(r.cpu) ? r.cpu.toFixed(2) : "n/a",
        fmt(r.rssStartMB, 1),
        fmt(r.rssPeakMB, 1),
      ]),
    };
  }
  return {
    header: ["target", "MiB/s", "spread", "seconds", "errors", "CPU s/GiB", "RSS MB", "RSS peak MB", "peak rise MB"],
    rows: rows.map((r) => [
      STREAM_LABELS[r.target],
      fmt(r.rate / MiB, 1),
      spread(r.spreadPct),
      Number.isFinite(r.seconds) ? r.seconds.toFixed(2) : "n/a",
      fmt(r.errors),
      Number.isFinite(r.cpu) ? r.cpu.toFixed(2) : "n/a",
      fmt(r.rssStartMB, 1),
      fmt(r.rssPeakMB, 1),
      fmt(r.rssRiseMB, 1),
    ]),
  };
}

/** Per scenario: Sluice HTTP's rate divided by the TCP pipe's, nginx's and HAProxy's, its CPU per unit
 *  divided by the pipe's, and direct's rate divided by the fastest proxy's (the load side's headroom). */
export function ratioTable(runs: StreamRun[], scenarios: StreamScenario[], targets: StreamTarget[]): Table | null {
  if (!targets.includes("sluice")) return null;
  const others = (["sluice-tcp", "nginx", "haproxy"] as StreamTarget[]).filter((t) => targets.includes(t));
  const proxies = targets.filter((t) => t !== "direct");
  const header = [
    "scenario",
    ...others.map((o) => `÷ ${STREAM_LABELS[o]}`),
    ...(targets.includes("sluice-tcp") ? ["CPU ÷ TCP pipe"] : []),
    ...(targets.includes("direct") ? ["direct ÷ fastest proxy"] : []),
  ];
  const rows = scenarios.map((scenario) => {
    const summaries = summarize(runs, scenario, targets);
    const of = (t: StreamTarget) => summaries.find((s) => s.target === t)!;
    const sluice = of("sluice");
    return [
      scenario,
      ...others.map((o) => times(sluice.rate / of(o).rate)),
      ...(targets.includes("sluice-tcp") ? [times(sluice.cpu / of("sluice-tcp").cpu)] : []),
      ...(targets.includes("direct") ? [times(of("direct").rate / Math.max(...proxies.map((p) => of(p).rate).filter(Number.isFinite)))] : []),
    ];
  });
  return { header, rows };
}

/** Sluice HTTP ≥ 0.9× its TCP pipe in every scenario, and its memory bounded during the transfers. The goal
 *  is quoted for the rate; the same ratio from CPU time (the pipe's CPU per message or GiB divided by the
 *  HTTP path's) stands beside it, because on a busy machine it is the steadier of the two. */
export function goalsTable(runs: StreamRun[], scenarios: StreamScenario[], targets: StreamTarget[]): Table | null {
  if (!targets.includes("sluice")) return null;
  const mark = (ratio: number) => (Number.isFinite(ratio) ? (ratio >= PIPE_GOAL ? "✓" : "✗") : "n/a");
  const rows: string[][] = [];
  if (targets.includes("sluice-tcp")) {
    for (const scenario of scenarios) {
      const [http, pipe] = summarize(runs, scenario, ["sluice", "sluice-tcp"]) as [Summary, Summary];
      const byRate = http.rate / pipe.rate;
      const byCpu = pipe.cpu / http.cpu;
      rows.push([`${scenario}: Sluice HTTP ≥ ${PIPE_GOAL}× the TCP pipe`, times(byRate), mark(byRate), times(byCpu), mark(byCpu)]);
    }
  }
  const transfers = scenarios.filter((s) => !isWs(s));
  if (transfers.length > 0) {
    const rise = Math.max(...transfers.map((s) => summarize(runs, s, ["sluice"])[0]!.rssRiseMB));
    rows.push([
      `transfers: Sluice HTTP's RSS rises < ${RSS_RISE_GOAL_MB} MB during one`,
      `${fmt(rise, 1)} MB`,
      Number.isFinite(rise) ? (rise < RSS_RISE_GOAL_MB ? "✓" : "✗") : "n/a",
      "",
      "",
    ]);
  }
  return rows.length > 0 ? { header: ["goal", "by rate", "met", "by CPU", "met"], rows } : null;
}

export const STREAM_LEGEND = `msg/s: WebSocket messages echoed per second (each one went client → proxy → upstream → back), median over rounds.
MiB/s: bytes of the transfer over the time of the whole request (curl's for downloads), median over rounds.
spread: half the max−min range over rounds, relative to the median. p50/p99 ms: median over rounds of each run's
round-trip percentiles.
errors: failed transfers (wrong status or byte count, curl errors); for WebSocket, echoes of the wrong size,
messages never echoed, connections that failed or closed; summed over rounds.
CPU: user+system CPU time of the proxy process (all threads; nginx master and worker) during the run, per message
echoed or per GiB moved, median over rounds; for direct it is the upstream's own cost.
RSS MB: VmRSS of the proxy at the start of a run (median); RSS peak MB: highest VmRSS during any run (VmHWM reset
before each run); peak rise MB: largest rise over the run's starting RSS.
Ratios: Sluice HTTP's median divided by the other target's (≥ 1 is better for Sluice; for CPU ≤ 1 is better).
Goals "by CPU": the TCP pipe's CPU per message or GiB divided by Sluice HTTP's, the rate ratio the two would have
if each had its core to itself and nothing else limited them.
direct ÷ fastest proxy: near 1 or below means the clients and upstream on the load core are the limit, and every
proxy's rate is squeezed towards the same figure (CPU per message or GiB is not affected by that).`;
