// Precomputed per-list state (hash tables, rings) for the lists of servers the pool hands to pick(): its
// primaries and its backups, two arrays fixed for the pool's life. Built at construction from the pool's
// servers, found again by array identity on each pick (two compares), so a pick builds nothing.
import type { UpstreamServer } from "../pool/server.ts";

/** How often a hash structure checks whether the admin API changed a weight (an O(n) scan, so not per pick). */
export const WEIGHT_CHECK_MS = 1_000;

export class PerServerList<T> {
  private firstList: readonly UpstreamServer[] | undefined;
  private firstValue: T | undefined;
  private secondList: readonly UpstreamServer[] | undefined;
  private secondValue: T | undefined;
  private readonly prebuilt: Array<{ members: readonly UpstreamServer[]; value: T }>;
  private readonly seen = new WeakMap<readonly UpstreamServer[], T>();

  constructor(
    all: readonly UpstreamServer[],
    private readonly build: (members: readonly UpstreamServer[]) => T,
  ) {
    // The pool splits its servers into primaries and backups in config order: build both now.
    this.prebuilt = [all.filter((s) => !s.backup), all.filter((s) => s.backup)]
      .filter((members) => members.length > 0)
      .map((members) => ({ members, value: build(members) }));
  }

  get(list: readonly UpstreamServer[]): T {
    if (list === this.firstList) return this.firstValue!;
    if (list === this.secondList) return this.secondValue!;
    let value = this.seen.get(list);
    if (value === undefined) {
      value = this.prebuilt.find((p) => sameMembers(p.members, list))?.value ?? this.build(list.slice());
      this.seen.set(list, value);
    }
    this.secondList = this.firstList;
    this.secondValue = this.firstValue;
    this.firstList = list;
    this.firstValue = value;
    return value;
  }
}

function sameMembers(a: readonly UpstreamServer[], b: readonly UpstreamServer[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The servers' weights as a table was built from; `changed` tells whether the admin API moved one since. */
export function weightsOf(members: readonly UpstreamServer[]): Float64Array {
  return Float64Array.from(members, (s) => s.weight);
}

export function weightsChanged(members: readonly UpstreamServer[], weights: Float64Array): boolean {
  for (let i = 0; i < members.length; i++) if (members[i]!.weight !== weights[i]) return true;
  return false;
}
