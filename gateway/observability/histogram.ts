// A Prometheus histogram kept as plain numbers: one count per bucket (not cumulative: an observation adds to
// one bucket only), their sum and count. Observing is a short scan of the bounds and three additions; the
// cumulative `le` series is made when /metrics is scraped.

/**
 * Bucket bounds in seconds for times a proxy sees: Prometheus's client defaults (5 ms … 10 s) with 1 ms and
 * 2.5 ms in front, since an upstream on the same network answers in about a millisecond.
 */
export const LATENCY_BUCKETS_SECONDS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram {
  /** Upper bounds in milliseconds, as times are measured. */
  private readonly boundsMs: Float64Array;
  /** counts[i]: observations above bound i-1 and at most bound i; the last one is above every bound (+Inf). */
  readonly counts: Float64Array;
  /** The sum of every observation, in milliseconds. */
  sumMs = 0;
  count = 0;

  constructor(readonly boundsSeconds: readonly number[] = LATENCY_BUCKETS_SECONDS) {
    this.boundsMs = Float64Array.from(boundsSeconds, (s) => s * 1000);
    this.counts = new Float64Array(boundsSeconds.length + 1);
  }

  observe(ms: number): void {
    const bounds = this.boundsMs;
    let i = 0;
    while (i < bounds.length && ms > bounds[i]!) i++;
    this.counts[i]!++;
    this.sumMs += ms;
    this.count++;
  }
}
