// The HTTP engine's goals, checked against one run: each goal's figure for Sluice on Bun and on Deno,
// and whether it is met. A goal whose scenario or comparison target was not part of the run reads n/a;
// the throughput goals are quoted for pinned runs, and say so when the run was not pinned.
import type { IdleMemory } from "./idle-memory.ts";
import type { TargetName } from "./options.ts";
import { summarize, TARGET_LABELS, type Scenario, type Summary } from "./report.ts";
import { fmt, type Table } from "./tables.ts";

/** TIME_WAIT left on the backend by a proxy that reuses its pool: "in the tens", as HAProxy. */
const TIME_WAIT_LIMIT = 100;
const RSS_LIMIT_MB = 150;

interface Figure {
  text: string;
  met: boolean | null;
}

interface Goal {
  name: string;
  goal: string;
  figure: (sluice: TargetName) => Figure;
}

const NA: Figure = { text: "n/a", met: null };

export function goalsTable(scenarios: Scenario[], targets: TargetName[], idle: IdleMemory[], pinned: boolean): Table | null {
  const sluices = (["sluice", "sluice-deno"] as TargetName[]).filter((t) => targets.includes(t));
  if (sluices.length === 0) return null;
  const summary = (scenario: string, target: TargetName): Summary | undefined => {
    const s = scenarios.find((x) => x.name === scenario);
    return s && targets.includes(target) ? summarize(s, [target])[0] : undefined;
  };
  const ratio = (scenario: string, sluice: TargetName, other: TargetName, field: "throughput" | "cpuUs", limit: number, atMost: boolean): Figure => {
    const mine = summary(scenario, sluice);
    const theirs = summary(scenario, other);
    if (!mine || !theirs) return NA;
    const r = mine[field] / theirs[field];
    if (!Number.isFinite(r)) return NA;
    return { text: `${r.toFixed(2)}×`, met: atMost ? r <= limit : r >= limit };
  };
  const unpinned = pinned ? "" : " (run unpinned)";
  const goals: Goal[] = [
    { name: "CPU per request, small body", goal: "≤ 1.2× nginx", figure: (s) => ratio("small", s, "nginx", "cpuUs", 1.2, true) },
    { name: `throughput, small body${unpinned}`, goal: "≥ 0.9× nginx", figure: (s) => ratio("small", s, "nginx", "throughput", 0.9, false) },
    {
      name: "TIME_WAIT on the backend, 200 clients",
      goal: `< ${TIME_WAIT_LIMIT} (HAProxy: ${fmt(summary("c200", "haproxy")?.timeWaitUpstream ?? NaN)})`,
      figure: (s) => {
        const mine = summary("c200", s);
        return mine && Number.isFinite(mine.timeWaitUpstream) ? { text: fmt(mine.timeWaitUpstream), met: mine.timeWaitUpstream < TIME_WAIT_LIMIT } : NA;
      },
    },
    {
      name: "upstream connections opened, 200 clients",
      goal: `no churn (HAProxy: ${fmt(summary("c200", "haproxy")?.upstreamOpened ?? NaN)})`,
      // One connection per client at most: anything beyond means connections were closed and reopened.
      figure: (s) => {
        const mine = summary("c200", s);
        return mine && Number.isFinite(mine.upstreamOpened) ? { text: fmt(mine.upstreamOpened), met: mine.upstreamOpened <= 200 } : NA;
      },
    },
    { name: `throughput, 200 clients${unpinned}`, goal: "≥ 0.9× HAProxy", figure: (s) => ratio("c200", s, "haproxy", "throughput", 0.9, false) },
    { name: `throughput, 1 MiB body${unpinned}`, goal: "≥ 1.0× nginx", figure: (s) => ratio("large", s, "nginx", "throughput", 1.0, false) },
    {
      name: `RSS holding ${fmt(idle[0]?.requested ?? 1000)} keep-alive clients`,
      goal: `< ${RSS_LIMIT_MB} MB`,
      figure: (s) => {
        const row = idle.find((r) => r.label === TARGET_LABELS[s]);
        if (!row || row.held !== row.requested) return row ? { text: `${row.heldMB.toFixed(1)} MB (held ${row.held})`, met: false } : NA;
        return { text: `${row.heldMB.toFixed(1)} MB`, met: row.heldMB < RSS_LIMIT_MB };
      },
    },
  ];
  const mark = (f: Figure) => (f.met === null ? f.text : `${f.text} ${f.met ? "✓" : "✗"}`);
  return {
    header: ["goal", "wanted", ...sluices.map((s) => TARGET_LABELS[s])],
    rows: goals.map((g) => [g.name, g.goal, ...sluices.map((s) => mark(g.figure(s)))]),
    left: 2,
  };
}
