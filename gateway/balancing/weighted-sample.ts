// Drawing one eligible server with probability proportional to its effective weight (random, p2c).
//
// Rejection sampling, usually O(1): draw a server uniformly, keep it with probability weight/maxWeight if it is
// eligible. One random number serves both draws (its integer part picks the server, its fraction decides).
// With all servers eligible and equal weights the first draw is kept; a few draws more when weights are
// skewed or many servers are out. After TRIES misses it falls back to the exact O(n) two-pass draw over the
// eligible servers. Both paths give exactly the weighted distribution, so mixing them does too.
import type { UpstreamServer } from "../pool/server.ts";
import { WEIGHT_CHECK_MS } from "./server-lists.ts";

const TRIES = 8;

export class WeightedSampler {
  /** An upper bound on every server's effective weight (slow start only lowers it; the admin API may raise it). */
  private maxWeight: number;
  private checkedAt = 0;

  constructor(
    private readonly all: readonly UpstreamServer[],
    private readonly random: () => number,
  ) {
    this.maxWeight = maxWeightOf(all, 0);
  }

  /** One of `servers` that is eligible and not `not`, drawn by effective weight; undefined when there is none. */
  draw(servers: readonly UpstreamServer[], eligible: (server: UpstreamServer) => boolean, now: number, not?: UpstreamServer): UpstreamServer | undefined {
    const n = servers.length;
    if (n === 0) return undefined;
    if (now - this.checkedAt >= WEIGHT_CHECK_MS || now < this.checkedAt) {
      // A lowered weight leaves the bound too high: still exact, only slower. Tighten it now and then.
      this.maxWeight = maxWeightOf(this.all, 0);
      this.checkedAt = now;
    }
    let max = this.maxWeight;
    if (max > 0) {
      for (let t = 0; t < TRIES; t++) {
        const x = this.random() * n;
        const i = x < n ? x | 0 : n - 1;
        const server = servers[i]!;
        if (server === not) continue;
        const weight = server.effectiveWeight(now);
        if (weight > max) this.maxWeight = max = maxWeightOf(servers, maxWeightOf(this.all, weight));
        if ((x - i) * max < weight && eligible(server)) return server;
      }
    }
    return this.exact(servers, eligible, now, not);
  }

  /** The O(n) draw: total the eligible weights, then walk to a random point of the total. */
  private exact(
    servers: readonly UpstreamServer[],
    eligible: (server: UpstreamServer) => boolean,
    now: number,
    not?: UpstreamServer,
  ): UpstreamServer | undefined {
    let total = 0;
    let first: UpstreamServer | undefined;
    for (const server of servers) {
      if (server === not || !eligible(server)) continue;
      first ??= server;
      total += server.effectiveWeight(now);
    }
    // Only zero weights left: they still serve rather than nothing (as round-robin does).
    if (first === undefined || total <= 0) return first;
    let point = this.random() * total;
    let last = first;
    for (const server of servers) {
      if (server === not || !eligible(server)) continue;
      last = server;
      point -= server.effectiveWeight(now);
      if (point < 0) return server;
    }
    return last; // rounding left a sliver of the total: the last eligible server owns it
  }
}

function maxWeightOf(servers: readonly UpstreamServer[], start: number): number {
  let max = start;
  for (const server of servers) if (server.weight > max) max = server.weight;
  return max;
}
