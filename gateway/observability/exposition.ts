// Figures as Prometheus reads them (text exposition format 0.0.4): families of samples, gathered when /metrics
// is scraped, summed over processes (`--workers`), and written as text. A process's figures are plain JSON, so
// a worker can hand its own to the primary as they are.
import type { Histogram } from "./histogram.ts";

export type MetricType = "counter" | "gauge" | "histogram";

/** What a family is: written once as its HELP and TYPE lines. */
export interface FamilyInfo {
  readonly name: string;
  readonly help: string;
  readonly type: MetricType;
}

/**
 * One sample: the suffix of the family name it carries ("", or "_bucket", "_sum", "_count" for histograms), its
 * labels as name, value, name, value…, and its value.
 */
export type Sample = [suffix: string, labels: string[], value: number];

/** Samples by family name. */
export type Figures = Record<string, Sample[]>;

/** Gathers samples, family by family. */
export class FigureSet {
  readonly figures: Figures = {};

  add(name: string, labels: string[], value: number, suffix = ""): void {
    (this.figures[name] ??= []).push([suffix, labels, value]);
  }

  /** A histogram's cumulative buckets (times in seconds), then its sum and count. */
  histogram(name: string, labels: string[], histogram: Histogram): void {
    let cumulative = 0;
    const bounds = histogram.boundsSeconds;
    for (let i = 0; i <= bounds.length; i++) {
      cumulative += histogram.counts[i]!;
      this.add(name, [...labels, "le", i < bounds.length ? String(bounds[i]) : "+Inf"], cumulative, "_bucket");
    }
    this.add(name, labels, histogram.sumMs / 1000, "_sum");
    this.add(name, labels, histogram.count, "_count");
  }
}

/**
 * The figures of several processes as one: samples of the same family, suffix and labels are added up; a sample
 * only some processes have is kept as it is. Order: first appearance, so a histogram's buckets stay together.
 */
export function sumFigures(all: readonly Figures[]): Figures {
  const sum: Figures = {};
  const index = new Map<string, Sample>();
  for (const figures of all) {
    for (const [name, samples] of Object.entries(figures)) {
      const into = (sum[name] ??= []);
      for (const [suffix, labels, value] of samples) {
        const key = `${name}${suffix}\0${labels.join("\0")}`;
        const seen = index.get(key);
        if (seen) seen[2] += value;
        else {
          const sample: Sample = [suffix, labels, value];
          index.set(key, sample);
          into.push(sample);
        }
      }
    }
  }
  return sum;
}

/** Label values escaped as the format wants: backslash, double quote, newline. */
function escapeLabel(value: string): string {
  return value.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");
}

function formatValue(value: number): string {
  if (Number.isFinite(value)) return String(value);
  return Number.isNaN(value) ? "NaN" : value > 0 ? "+Inf" : "-Inf";
}

/** The text exposition of `figures`, family by family in the order of `families`; empty families are left out. */
export function renderExposition(families: readonly FamilyInfo[], figures: Figures): string {
  const out: string[] = [];
  for (const { name, help, type } of families) {
    const samples = figures[name];
    if (!samples || samples.length === 0) continue;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [suffix, labels, value] of samples) {
      let text = "";
      for (let i = 0; i < labels.length; i += 2) text += `${i === 0 ? "" : ","}${labels[i]}="${escapeLabel(labels[i + 1]!)}"`;
      out.push(`${name}${suffix}${text === "" ? "" : `{${text}}`} ${formatValue(value)}`);
    }
  }
  return out.join("\n") + "\n";
}
