// Weighted modulo hashing for ip-hash and uri-hash, as nginx's ip_hash and hash without `consistent`: a key's
// hash, modulo the total weight, falls into one server's share (a binary search over cumulative weights,
// O(log n)). When that server cannot take it (down, full, already tried by this request), the hash is mixed
// again and again (at most REHASHES times, as nginx's 20 tries), so a key goes to the same second choice every
// time, and keys of live servers never move. After that, the first eligible server scanning from a place the
// key decides, so even then the keys of a dead majority spread instead of piling onto servers[0].
//
// Weights are the servers' `weight` (not the slow-start ramp, which would remap keys at every step); slow
// start admits a growing share of a recovering server's keys instead (see `admits` in hash.ts). A weight
// changed through the admin API is picked up within WEIGHT_CHECK_MS; it remaps keys, as in nginx — use
// consistent-hash where that matters.
import type { UpstreamServer } from "../pool/server.ts";
import { admits, GOLDEN, hashString, mix32 } from "./hash.ts";
import { PerServerList, WEIGHT_CHECK_MS, weightsChanged, weightsOf } from "./server-lists.ts";

const REHASHES = 20;

class WeightTable {
  /** cumulative[i] = weights of members 0..i: member i owns [cumulative[i-1], cumulative[i]). */
  private cumulative!: Float64Array;
  private total = 0;
  private weights!: Float64Array;
  private readonly seeds: Uint32Array;
  private checkedAt = 0;

  constructor(readonly members: readonly UpstreamServer[]) {
    this.seeds = Uint32Array.from(members, (s) => hashString(s.id, 0));
    this.build();
  }

  private build(): void {
    this.weights = weightsOf(this.members);
    this.cumulative = new Float64Array(this.members.length);
    let total = 0;
    this.weights.forEach((w, i) => (this.cumulative[i] = total += Math.max(0, w)));
    this.total = total;
  }

  pick(keyHash: number, eligible: (server: UpstreamServer) => boolean, now: number): UpstreamServer | undefined {
    const members = this.members;
    const n = members.length;
    if (n === 0) return undefined;
    if (now - this.checkedAt >= WEIGHT_CHECK_MS || now < this.checkedAt) {
      this.checkedAt = now;
      if (weightsChanged(members, this.weights)) this.build();
    }
    if (this.total > 0) {
      let h = keyHash;
      for (let attempt = 0; attempt < REHASHES; attempt++) {
        const i = this.owner(h % this.total);
        const server = members[i]!;
        if (eligible(server) && admits(server, keyHash, this.seeds[i]!, now)) return server;
        h = mix32((h + GOLDEN) >>> 0);
      }
    }
    const start = keyHash % n;
    for (let k = 0; k < n; k++) {
      const server = members[(start + k) % n]!;
      if (eligible(server)) return server;
    }
    return undefined;
  }

  /** The member whose share holds `point` (0 ≤ point < total): the first with cumulative > point. */
  private owner(point: number): number {
    const c = this.cumulative;
    let lo = 0;
    let hi = c.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (c[mid]! > point) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }
}

/** The weighted modulo hash over each list of servers the pool picks from (built at construction). */
export class WeightedHash {
  private readonly tables: PerServerList<WeightTable>;

  constructor(all: readonly UpstreamServer[]) {
    this.tables = new PerServerList(all, (members) => new WeightTable(members));
  }

  pick(servers: readonly UpstreamServer[], eligible: (server: UpstreamServer) => boolean, keyHash: number, now: number): UpstreamServer | undefined {
    return this.tables.get(servers).pick(keyHash, eligible, now);
  }
}
