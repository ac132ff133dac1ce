// Consistent hashing over the pool's `hash` key (ketama-style): every server owns POINTS_PER_WEIGHT points per
// unit of weight on a 32-bit ring, a key goes to the owner of the first point at or after the key's hash
// (binary search, O(log points)), and when that server cannot take it (down, full, tried), on clockwise to the
// next server that can. So when one of N servers fails only its keys move, each to the server after it on
// the ring, and they all come back when it recovers; other keys never move. Points come from the server's
// id, not its position, so reordering the config or running several gateways maps keys the same way.
//
// Weights are `weight`, not the slow-start ramp; a recovering server gets its keys back a growing share at a
// time instead (see `admits` in hash.ts): each returns from exactly where it was kept during the outage. A
// weight changed through the admin API is seen within WEIGHT_CHECK_MS and moves only that server's points.
import type { UpstreamServer } from "../pool/server.ts";
import type { Selector, SelectorFactory } from "./selector.ts";
import { admits, hashString } from "./hash.ts";
import { PerServerList, WEIGHT_CHECK_MS, weightsChanged, weightsOf } from "./server-lists.ts";

/** ketama's 160 points per server, here per unit of weight. */
const POINTS_PER_WEIGHT = 160;
/** Heavy weights on many servers would make a huge ring: above this many points, fewer per unit of weight. */
const MAX_POINTS = 1 << 18;
/** Packing a point with its owner's index into one double to sort both at once: index < 2^20. */
const OWNER_BITS = 0x100000;

export class HashRing {
  private points!: Uint32Array;
  private owners!: Uint32Array;
  private weights!: Float64Array;
  private readonly seeds: Uint32Array;
  /** Per-pick marks (this pick's number) of servers already asked, so a walk asks each server once. */
  private readonly asked: Uint32Array;
  private pickNo = 0;
  private checkedAt = 0;

  constructor(readonly members: readonly UpstreamServer[]) {
    if (members.length >= OWNER_BITS) throw new Error("too many servers for a hash ring");
    this.seeds = Uint32Array.from(members, (s) => hashString(s.id, 0));
    this.asked = new Uint32Array(members.length);
    this.build();
  }

  private build(): void {
    this.weights = weightsOf(this.members);
    const totalWeight = this.weights.reduce((sum, w) => sum + Math.max(0, w), 0);
    const perWeight = Math.min(POINTS_PER_WEIGHT, MAX_POINTS / Math.max(1, totalWeight));
    const counts = Array.from(this.weights, (w) => (w > 0 ? Math.max(1, Math.round(w * perWeight)) : 0));
    const packed = new Float64Array(counts.reduce((a, b) => a + b, 0));
    let k = 0;
    this.members.forEach((server, i) => {
      for (let j = 0; j < counts[i]!; j++) packed[k++] = hashString(`${server.id}-${j}`, 0) * OWNER_BITS + i;
    });
    packed.sort();
    this.points = new Uint32Array(packed.length);
    this.owners = new Uint32Array(packed.length);
    packed.forEach((p, at) => {
      const owner = p % OWNER_BITS;
      this.owners[at] = owner;
      this.points[at] = (p - owner) / OWNER_BITS;
    });
  }

  pick(keyHash: number, eligible: (server: UpstreamServer) => boolean, now: number): UpstreamServer | undefined {
    const members = this.members;
    if (members.length === 0) return undefined;
    if (now - this.checkedAt >= WEIGHT_CHECK_MS || now < this.checkedAt) {
      this.checkedAt = now;
      if (weightsChanged(members, this.weights)) this.build();
    }
    if (++this.pickNo === 0xffffffff) {
      this.asked.fill(0);
      this.pickNo = 1;
    }
    const mark = this.pickNo;
    const points = this.points;
    const owners = this.owners;
    const size = points.length;
    let asked = 0;
    /** An eligible server passed over only because its slow start is not yet admitting this key. */
    let ramping: UpstreamServer | undefined;
    for (let at = this.lookup(keyHash), step = 0; step < size; step++, at = at + 1 === size ? 0 : at + 1) {
      const i = owners[at]!;
      if (this.asked[i] === mark) continue;
      this.asked[i] = mark;
      const server = members[i]!;
      if (eligible(server)) {
        if (admits(server, keyHash, this.seeds[i]!, now)) return server;
        ramping ??= server;
      }
      if (++asked === members.length) break;
    }
    if (ramping) return ramping;
    // Only servers without points (weight 0) are left: they serve rather than nothing, as in round-robin.
    for (const server of members) if (eligible(server)) return server;
    return undefined;
  }

  /** Index of the first point ≥ hash, wrapping past the top of the ring to 0. */
  private lookup(hash: number): number {
    const points = this.points;
    let lo = 0;
    let hi = points.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < hash) lo = mid + 1;
      else hi = mid;
    }
    return lo === points.length ? 0 : lo;
  }
}

export const consistentHash: SelectorFactory = (options): Selector => {
  const rings = new PerServerList(options.servers, (members) => new HashRing(members));
  return {
    needsHashKey: true,
    pick: (servers, eligible, input) => rings.get(servers).pick(hashString(input.hashKey ?? input.clientIp, 0), eligible, input.now),
  };
};
