// The L4 tables: redis-benchmark medians per target with Sluice's ratios, and the idle-connection memory.
import type { RedisBenchResult, RedisTest } from "./l4-redis-benchmark.ts";
import { fmt, median, renderText } from "./tables.ts";

export type L4Target = "direct" | "haproxy" | "sluice";
export const L4_LABELS: Record<L4Target, string> = { direct: "direct", haproxy: "HAProxy", sluice: "Sluice" };

export interface L4Run {
  round: number;
  test: RedisTest["name"];
  target: L4Target;
  result: RedisBenchResult;
}

export function renderTest(test: RedisTest, runs: L4Run[], targets: L4Target[], rounds: number): string {
  const rows = targets.map((target) => {
    const mine = runs.filter((r) => r.test === test.name && r.target === target);
    const rps = mine.map((r) => r.result.requestsPerSec);
    const mid = median(rps);
    return {
      target,
      rps: mid,
      spreadPct: mid > 0 ? ((Math.max(...rps) - Math.min(...rps)) / mid) * 50 : NaN,
      p50: median(mine.map((r) => r.result.p50ms)),
      all: rps,
    };
  });
  const body = rows.map((r) => [
    L4_LABELS[r.target],
    fmt(r.rps),
    `±${r.spreadPct.toFixed(1)}%`,
    Number.isFinite(r.p50) ? r.p50.toFixed(3) : "n/a",
    r.all.map((v) => fmt(v)).join(" / "),
  ]);
  const of = (t: L4Target) => rows.find((r) => r.target === t)?.rps ?? NaN;
  const ratio = (t: L4Target) => (of("sluice") / of(t)).toFixed(2);
  return `${test.title}, median of ${rounds} rounds
${renderText({ header: ["target", "req/s", "spread", "p50 ms", "per round (run order)"], rows: body })}
Sluice/HAProxy ${ratio("haproxy")}×   Sluice/direct ${ratio("direct")}×   (req/s, ratio of medians)`;
}

export interface IdleMemory {
  label: string;
  /** VmRSS in kB: right after start, after the small warm-up (the baseline), with the connections held, after closing them. */
  startKB: number;
  beforeKB: number;
  heldKB: number;
  afterCloseKB: number;
  /** VmHWM in kB while held. */
  peakKB: number;
  held: number;
  failed: number;
  dropped: number;
  /** The process's open fds while held, and the connections redis counted from it. */
  fds: number;
  redisClients: number;
  openMs: number;
}

export function renderMemory(rows: IdleMemory[], requested: number): string {
  const held = rows.map((r) => r.held);
  const mb = (kb: number) => fmt(kb / 1024, 1);
  const body = rows.map((r) => {
    const delta = r.heldKB - r.beforeKB;
    return [
      r.label,
      fmt(r.held),
      mb(r.startKB),
      mb(r.beforeKB),
      mb(r.heldKB),
      mb(delta),
      fmt(delta / r.held, 2),
      mb(r.peakKB),
      mb(r.afterCloseKB),
      fmt(r.fds),
      fmt(r.redisClients),
      `${fmt(r.openMs / 1000, 1)} s`,
    ];
  });
  const header = ["proxy", "held", "RSS start MB", "before MB", "held MB", "delta MB", "KB/conn", "peak MB", "after close MB", "fds", "at redis", "open time"];
  const notes = rows
    .filter((r) => r.failed > 0 || r.dropped > 0)
    .map((r) => `${r.label}: ${r.failed} connections failed to open, ${r.dropped} dropped while held`);
  const of = (label: string) => rows.find((r) => r.label === label);
  const s = of("Sluice"),
    h = of("HAProxy");
  const ratio = s && h ? `Sluice/HAProxy per connection ${((s.heldKB - s.beforeKB) / s.held / ((h.heldKB - h.beforeKB) / h.held)).toFixed(1)}×` : "";
  return `Idle connections: ${Math.min(...held).toLocaleString("en-US")}${held.every((n) => n === requested) ? "" : ` (of ${requested.toLocaleString("en-US")} asked)`} held through each proxy to redis, each after PING → +PONG; VmRSS from /proc/PID/status
${renderText({ header, rows: body })}
${[ratio, ...notes].filter(Boolean).join("\n")}
before: after start and a 100-connection warm-up; delta and KB/conn: held − before (1 MB = 1024 KB).
fds: the proxy's open file descriptors while held (two per connection); at redis: connections redis counted from the proxy.`;
}
