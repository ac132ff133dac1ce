// Reading /metrics in tests: a scrape parsed into samples, a sample's value by name and labels, and a check of
// the text exposition format (families, HELP/TYPE, histograms) that does not need promtool.
import { expect } from "bun:test";

export interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y;

function parseValue(text: string): number {
  if (text === "+Inf") return Infinity;
  if (text === "-Inf") return -Infinity;
  return Number(text);
}

export function parseSamples(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (!m) throw new Error(`not a sample line: ${line}`);
    const labels: Record<string, string> = {};
    if (m[2]) {
      LABEL.lastIndex = 0;
      while (LABEL.lastIndex < m[2].length) {
        const l = LABEL.exec(m[2]);
        if (!l) throw new Error(`bad labels in: ${line}`);
        labels[l[1]!] = l[2]!.replace(/\\n/g, "\n").replace(/\\"/g, '"').replace(/\\\\/g, "\\");
      }
    }
    samples.push({ name: m[1]!, labels, value: parseValue(m[3]!) });
  }
  return samples;
}

/** The value of the one sample with this name whose labels include `labels`; undefined when there is none. */
export function sampleValue(text: string | MetricSample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const samples = typeof text === "string" ? parseSamples(text) : text;
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} match ${JSON.stringify(labels)}`);
  return found[0]?.value;
}

/** The sum of every sample with this name whose labels include `labels`. */
export function sampleSum(text: string, name: string, labels: Record<string, string> = {}): number {
  return parseSamples(text)
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((a, s) => a + s.value, 0);
}

/**
 * The exposition format as Prometheus reads it (version 0.0.4): HELP then TYPE once per family, before its
 * samples; sample names of a family (with _bucket/_sum/_count for histograms); label syntax; for every histogram
 * series, `le` buckets in increasing order, cumulative counts, a `+Inf` bucket equal to `_count`, and a `_sum`.
 */
export function expectWellFormed(text: string): void {
  expect(text.endsWith("\n")).toBe(true);
  const seen = new Set<string>();
  let family = "";
  let type = "";
  const histograms = new Map<string, { les: number[]; counts: number[]; count?: number; sum?: number }>();
  const lines = text.trimEnd().split("\n");
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const help = /^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) \S.*$/.exec(line);
    if (help) {
      expect(seen.has(help[1]!)).toBe(false);
      seen.add((family = help[1]!));
      const typeLine = /^# TYPE (\S+) (counter|gauge|histogram)$/.exec(lines[++i] ?? "");
      expect(typeLine?.[1]).toBe(family);
      type = typeLine![2]!;
      if (type === "counter") expect(family).toEndWith("_total");
      continue;
    }
    expect(line.startsWith("#")).toBe(false);
    const [sample] = parseSamples(line);
    const suffixes = type === "histogram" ? ["_bucket", "_sum", "_count"] : [""];
    const suffix = suffixes.find((s) => sample!.name === family + s);
    if (suffix === undefined) throw new Error(`${sample!.name} outside its family ${family}`);
    expect(Number.isNaN(sample!.value)).toBe(false);
    if (type === "counter") expect(sample!.value).toBeGreaterThanOrEqual(0);
    if (type !== "histogram") continue;
    const { le, ...rest } = sample!.labels;
    const key = `${family}${JSON.stringify(rest)}`;
    const h = histograms.get(key) ?? { les: [], counts: [] };
    histograms.set(key, h);
    if (suffix === "_bucket") {
      expect(le).toBeDefined();
      h.les.push(le === "+Inf" ? Infinity : Number(le));
      h.counts.push(sample!.value);
    } else if (suffix === "_count") h.count = sample!.value;
    else h.sum = sample!.value;
  }
  for (const [key, h] of histograms) {
    if (h.les.length === 0) throw new Error(`${key}: no buckets`);
    for (let i = 1; i < h.les.length; i++) {
      expect(h.les[i]!).toBeGreaterThan(h.les[i - 1]!);
      expect(h.counts[i]!).toBeGreaterThanOrEqual(h.counts[i - 1]!);
    }
    expect(h.les.at(-1)).toBe(Infinity);
    expect(h.counts.at(-1)).toBe(h.count!);
    expect(h.sum).toBeGreaterThanOrEqual(0);
  }
}

/** Scrape an admin listener's /metrics (with its token, if any). */
export async function scrapeMetrics(adminUrl: string, token?: string): Promise<string> {
  const response = await fetch(`${adminUrl}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(response.status).toBe(200);
  expect(response.headers.get("content-type")).toStartWith("text/plain; version=0.0.4");
  return await response.text();
}
