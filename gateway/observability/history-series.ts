// Named series of the dashboard's history, each a ring per field (requests/s, p95…), all aligned with the
// history's sample times: every sample pushes one value into every series, so point i of any series belongs
// to time i. A series appears with its first activity and is dropped after a whole window without any, so
// that memory follows what is busy now, not every route a config ever had; their number is capped too.
import { Ring } from "./history-ring.ts";

export interface SeriesOptions<F extends string> {
  /** The fields of each series, in order. */
  fields: readonly F[];
  /** Points per ring: the window. */
  capacity: number;
  /** Series kept at most: further keys are left out until one is dropped. */
  maxSeries: number;
  /** Whether a sample's values show activity (traffic, open connections). */
  active(values: Readonly<Record<F, number>>): boolean;
  /** Keys shown even while idle, for as long as they are sampled (the gateway total, the configured listeners). */
  pinned?(key: string): boolean;
}

export class SeriesSet<F extends string> {
  private readonly series = new Map<string, { rings: Record<F, Ring>; idleFor: number }>();
  /** Points pushed so far, up to the capacity: a new series is back-filled to this length. */
  private points = 0;

  constructor(private readonly options: SeriesOptions<F>) {}

  /**
   * One sample: the values of each key sampled. A series not sampled this time gets NaN (a gap) for every
   * field. `idle` is what a new series is back-filled with (0 for rates, NaN for latencies).
   */
  push(values: ReadonlyMap<string, Readonly<Record<F, number>>>, idle: Readonly<Record<F, number>>): void {
    const { fields, capacity, maxSeries, active, pinned } = this.options;
    for (const [key, sample] of values) {
      if (this.series.has(key) || this.series.size >= maxSeries) continue;
      if (!active(sample) && !pinned?.(key)) continue;
      const rings = {} as Record<F, Ring>;
      for (const field of fields) {
        const ring = (rings[field] = new Ring(capacity));
        for (let i = 0; i < this.points; i++) ring.push(idle[field]);
      }
      this.series.set(key, { rings, idleFor: 0 });
    }
    for (const [key, entry] of this.series) {
      const sample = values.get(key);
      for (const field of fields) entry.rings[field].push(sample ? sample[field] : NaN);
      entry.idleFor = sample && active(sample) ? 0 : entry.idleFor + 1;
      if (entry.idleFor >= capacity && !(sample && pinned?.(key))) this.series.delete(key);
    }
    this.points = Math.min(this.points + 1, capacity);
  }

  /**
   * Every series as plain arrays (null for NaN), in order of appearance. A list rather than an object keyed by
   * name: a route may be called anything, "__proto__" included.
   */
  list(): Array<{ key: string; points: Record<F, Array<number | null>> }> {
    return [...this.series].map(([key, { rings }]) => {
      const points = {} as Record<F, Array<number | null>>;
      // Three decimals are more than a chart shows, and keep the JSON short.
      for (const field of this.options.fields) points[field] = rings[field].toArray().map((v) => (v === null ? null : Math.round(v * 1000) / 1000));
      return { key, points };
    });
  }

  get size(): number {
    return this.series.size;
  }
}
