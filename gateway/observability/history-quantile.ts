// A latency percentile estimated from a duration histogram, as Prometheus's histogram_quantile does: the
// bucket that holds the wanted rank is found, and the value is interpolated linearly inside it (the first
// bucket starts at 0). The dashboard applies it to the buckets' growth between two samples, which gives the
// percentile of the requests answered in that interval alone.

/**
 * The q-quantile (0 … 1) of the observations in `cumulative`: counts of observations at most `bounds[i]`
 * (ascending, the last one may be Infinity for +Inf), as Prometheus's `_bucket` series are. NaN without any
 * observation. A rank that falls into the +Inf bucket gives the highest finite bound, since nothing says how
 * far above it the observations were.
 */
export function quantileFromBuckets(bounds: readonly number[], cumulative: readonly number[], q: number): number {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (!(total > 0) || bounds.length === 0) return NaN;
  const rank = Math.min(Math.max(q, 0), 1) * total;
  let i = 0;
  while (i < cumulative.length - 1 && cumulative[i]! < rank) i++;
  const upper = bounds[i]!;
  if (upper === Infinity) return i > 0 ? bounds[i - 1]! : NaN;
  const lower = i === 0 ? 0 : bounds[i - 1]!;
  const below = i === 0 ? 0 : cumulative[i - 1]!;
  const inBucket = cumulative[i]! - below;
  if (inBucket <= 0) return upper;
  return lower + (upper - lower) * ((rank - below) / inBucket);
}
