// The soak run's plot, written by hand: RSS (left axis) and open file descriptors (right axis) for every
// second of the run, the minute-2 mark from which the verdict looks, and the ±10% band around each line's
// minute-2 value. No dependency: a few lines, polylines and labels. Both axes have the same number of steps, so
// that the grid lines serve both.
import type { Sample } from "./soak-sampler.ts";
import { FLAT_FROM_SECONDS, FLAT_WITHIN, type Flatness } from "./soak-report.ts";

const WIDTH = 900;
const HEIGHT = 360;
const PLOT = { left: 64, right: WIDTH - 64, top: 40, bottom: HEIGHT - 48 };
const RSS_COLOUR = "#1f6feb";
const FDS_COLOUR = "#d9730d";

const INTERVALS = 5;

/** A scale from 0 in INTERVALS round steps (1, 2, 2.5, 4 or 5 times a power of ten) that clears `max` by a quarter. */
function axis(max: number): { top: number; ticks: number[] } {
  const least = Math.max(max * 1.25, 1) / INTERVALS;
  const power = 10 ** Math.floor(Math.log10(least));
  const step = [1, 2, 2.5, 4, 5, 10].map((m) => m * power).find((s) => s >= least)!;
  const ticks = Array.from({ length: INTERVALS + 1 }, (_, i) => Math.round(i * step * 1e6) / 1e6);
  return { top: step * INTERVALS, ticks };
}

const esc = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;");

export function renderSoakSvg(samples: Sample[], seconds: number, rss: Flatness | undefined, fds: Flatness | undefined, title: string): string {
  const rssAxis = axis(Math.max(...samples.map((s) => s.rssMB), 1));
  const fdsAxis = axis(Math.max(...samples.map((s) => s.fds), 1));
  const x = (t: number) => PLOT.left + (t / seconds) * (PLOT.right - PLOT.left);
  const yRss = (v: number) => PLOT.bottom - (v / rssAxis.top) * (PLOT.bottom - PLOT.top);
  const yFds = (v: number) => PLOT.bottom - (v / fdsAxis.top) * (PLOT.bottom - PLOT.top);
  const line = (y: (v: number) => number, value: (s: Sample) => number) => samples.map((s) => `${x(s.t).toFixed(1)},${y(value(s)).toFixed(1)}`).join(" ");
  const band = (f: Flatness | undefined, y: (v: number) => number, colour: string) => {
    if (!f || seconds <= FLAT_FROM_SECONDS) return "";
    const hi = y(f.atStart * (1 + FLAT_WITHIN));
    const lo = y(f.atStart * (1 - FLAT_WITHIN));
    return `<rect x="${x(FLAT_FROM_SECONDS).toFixed(1)}" y="${hi.toFixed(1)}" width="${(PLOT.right - x(FLAT_FROM_SECONDS)).toFixed(1)}" height="${(lo - hi).toFixed(1)}" fill="${colour}" opacity="0.08"/>`;
  };
  const minuteStep = seconds > 1200 ? 5 : seconds > 300 ? 1 : 0.5;
  const minuteTicks: number[] = [];
  for (let m = 0; m * 60 <= seconds + 1e-9; m += minuteStep) minuteTicks.push(m);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`,
    `<text x="${WIDTH / 2}" y="22" text-anchor="middle" font-size="14">${esc(title)}</text>`,
    band(rss, yRss, RSS_COLOUR),
    band(fds, yFds, FDS_COLOUR),
    // Grid and the left axis (RSS).
    ...rssAxis.ticks.map(
      (v) =>
        `<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${yRss(v).toFixed(1)}" y2="${yRss(v).toFixed(1)}" stroke="#e5e5e5"/><text x="${PLOT.left - 6}" y="${(yRss(v) + 4).toFixed(1)}" text-anchor="end" fill="${RSS_COLOUR}">${v}</text>`,
    ),
    // The right axis (fds).
    ...fdsAxis.ticks.map((v) => `<text x="${PLOT.right + 6}" y="${(yFds(v) + 4).toFixed(1)}" fill="${FDS_COLOUR}">${v}</text>`),
    // Time, in minutes.
    ...minuteTicks.map(
      (m) =>
        `<line x1="${x(m * 60).toFixed(1)}" x2="${x(m * 60).toFixed(1)}" y1="${PLOT.bottom}" y2="${PLOT.bottom + 4}" stroke="#888"/><text x="${x(m * 60).toFixed(1)}" y="${PLOT.bottom + 18}" text-anchor="middle">${m}</text>`,
    ),
    `<text x="${(PLOT.left + PLOT.right) / 2}" y="${HEIGHT - 10}" text-anchor="middle">minutes</text>`,
    `<text x="16" y="${(PLOT.top + PLOT.bottom) / 2}" text-anchor="middle" fill="${RSS_COLOUR}" transform="rotate(-90 16 ${(PLOT.top + PLOT.bottom) / 2})">RSS (MB)</text>`,
    `<text x="${WIDTH - 16}" y="${(PLOT.top + PLOT.bottom) / 2}" text-anchor="middle" fill="${FDS_COLOUR}" transform="rotate(90 ${WIDTH - 16} ${(PLOT.top + PLOT.bottom) / 2})">open file descriptors</text>`,
    `<line x1="${PLOT.left}" x2="${PLOT.right}" y1="${PLOT.bottom}" y2="${PLOT.bottom}" stroke="#888"/>`,
    seconds > FLAT_FROM_SECONDS
      ? `<line x1="${x(FLAT_FROM_SECONDS).toFixed(1)}" x2="${x(FLAT_FROM_SECONDS).toFixed(1)}" y1="${PLOT.top}" y2="${PLOT.bottom}" stroke="#888" stroke-dasharray="4 4"/><text x="${(x(FLAT_FROM_SECONDS) + 4).toFixed(1)}" y="${PLOT.top + 12}" fill="#666">minute 2: ±${FLAT_WITHIN * 100}% bands from here</text>`
      : "",
    `<polyline fill="none" stroke="${RSS_COLOUR}" stroke-width="1.5" points="${line(yRss, (s) => s.rssMB)}"/>`,
    `<polyline fill="none" stroke="${FDS_COLOUR}" stroke-width="1.5" points="${line(yFds, (s) => s.fds)}"/>`,
    `<rect x="${PLOT.left + 8}" y="${PLOT.bottom - 44}" width="10" height="3" fill="${RSS_COLOUR}"/><text x="${PLOT.left + 24}" y="${PLOT.bottom - 39}">RSS (MB, left)</text>`,
    `<rect x="${PLOT.left + 8}" y="${PLOT.bottom - 26}" width="10" height="3" fill="${FDS_COLOUR}"/><text x="${PLOT.left + 24}" y="${PLOT.bottom - 21}">open fds (right)</text>`,
    `</svg>`,
  ];
  return parts.filter(Boolean).join("\n") + "\n";
}
