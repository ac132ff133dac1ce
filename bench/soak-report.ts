// What the soak run writes: bench/SOAK.md, a dated table with one row per 10 s (memory, descriptors,
// requests, errors, what happened) and the verdict — RSS and fds from minute 2 to the end within 10% of where
// they were at minute 2 — and the numbers the verdict and the plot (soak-svg.ts) are made of.
import type { Sample } from "./soak-sampler.ts";

/** Something the run did at a moment: a backend restart, a reload. */
export interface SoakEvent {
  t: number;
  what: string;
}

export interface Row {
  from: number;
  to: number;
  rssMB: number;
  fds: number;
  requests: number;
  errors: number;
  events: string[];
}

const ROW_SECONDS = 10;
/** The verdict looks at the run from here on: the first minutes are warm-up (JIT, heap growing to its size). */
export const FLAT_FROM_SECONDS = 120;
export const FLAT_WITHIN = 0.1;

/** One row per 10 s: the means of RSS and fds over its samples, the requests and errors that fell in it. */
export function rowsOf(samples: Sample[], events: SoakEvent[], seconds: number): Row[] {
  const rows: Row[] = [];
  let before = samples[0];
  for (let from = 0; from < seconds; from += ROW_SECONDS) {
    const to = Math.min(from + ROW_SECONDS, seconds);
    const inside = samples.filter((s) => s.t >= from && s.t < to);
    if (inside.length === 0) continue;
    const last = inside.at(-1)!;
    rows.push({
      from,
      to,
      rssMB: mean(inside.map((s) => s.rssMB)),
      fds: mean(inside.map((s) => s.fds)),
      requests: last.requests - (before?.requests ?? 0),
      errors: last.errors - (before?.errors ?? 0),
      events: events.filter((e) => e.t >= from && e.t < to).map((e) => e.what),
    });
    before = last;
  }
  return rows;
}

export interface Flatness {
  /** The row at minute 2 (the reference), the last row, and the lowest and highest rows from minute 2 on. */
  atStart: number;
  atEnd: number;
  low: number;
  high: number;
  /** The largest distance of a row from the reference, as a fraction of it. */
  worst: number;
  flat: boolean;
}

/** How far `value` of the rows from minute 2 on strays from its value at minute 2; undefined for a run too short. */
export function flatness(rows: Row[], value: (row: Row) => number): Flatness | undefined {
  const window = rows.filter((r) => r.from >= FLAT_FROM_SECONDS);
  if (window.length < 2) return undefined;
  const values = window.map(value);
  const atStart = values[0]!;
  const worst = Math.max(...values.map((v) => Math.abs(v - atStart) / atStart));
  return { atStart, atEnd: values.at(-1)!, low: Math.min(...values), high: Math.max(...values), worst, flat: worst <= FLAT_WITHIN };
}

export interface SoakSummary {
  date: string;
  minutes: number;
  setup: string;
  environment: string;
  rows: Row[];
  rss: Flatness | undefined;
  fds: Flatness | undefined;
  /** Lines of totals: wrk's count, rate, latency and errors, the gateway's 5xx, the slow clients, the events. */
  totals: string[];
}

function verdictLine(what: string, unit: string, f: Flatness | undefined): string {
  if (!f) return `- **${what}**: the run is too short for a verdict (it needs rows after minute 2).`;
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  const of = (x: number) => `${x.toFixed(1)}${unit ? ` ${unit}` : ""}`;
  return `- **${what}**: ${of(f.atStart)} at minute 2, ${of(f.atEnd)} at the end, ${f.low.toFixed(1)}–${of(f.high)} in between: at most ${pct(f.worst)} from minute 2 — **${f.flat ? "flat" : "NOT flat"}** (within ${pct(FLAT_WITHIN)} is flat).`;
}

export function renderSoakMarkdown(s: SoakSummary): string {
  const clock = (t: number) => `${Math.floor(t / 60)}:${String(Math.round(t % 60)).padStart(2, "0")}`;
  const table = [
    "| time | RSS (MB) | fds | requests | req/s | 5xx | events |",
    "|---|---:|---:|---:|---:|---:|---|",
    ...s.rows.map(
      (r) =>
        `| ${clock(r.from)}–${clock(r.to)} | ${r.rssMB.toFixed(1)} | ${r.fds.toFixed(0)} | ${r.requests} | ${Math.round(r.requests / (r.to - r.from))} | ${r.errors} | ${r.events.join("; ")} |`,
    ),
  ];
  return `# Soak run

\`npm run soak\` (\`bun bench/soak.ts\`, \`--help\` for the options) runs Sluice for ten minutes under a steady load
while its backends crash and come back and its config is reloaded, and watches its memory and file descriptors.
Memory or descriptors that leak per request, per connection, per restart or per reload show as a line that
climbs; the verdict asks that both stay within ${FLAT_WITHIN * 100}% of their minute-2 value to the end (the
first two minutes are warm-up: the JIT, the heap growing to its working size). RSS and fds are the means of
the per-second samples in each row; requests and 5xx are the gateway's own counts (\`/metrics\`). The last run
replaces this file and [soak.svg](soak.svg).

## ${s.date}: ${s.minutes} minutes

${s.setup}

${s.environment}

${verdictLine("RSS", "MB", s.rss)}
${verdictLine("Open file descriptors", "", s.fds)}

${s.totals.map((t) => `- ${t}`).join("\n")}

![RSS and open file descriptors over the run](soak.svg)

${table.join("\n")}
`;
}

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}
