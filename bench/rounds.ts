// Rounds: in each, every target runs once, so that a slow spell of the machine hits all targets alike
// rather than one of them; the order rotates from round to round.

/** The targets in the order of round `round` (1-based): rotated every round, so that no target always runs
 *  first (or right after the same neighbour). */
export function roundOrder<T>(targets: readonly T[], round: number): T[] {
  return targets.map((_, i) => targets[(i + round - 1) % targets.length]!);
}

/** "1 round", "3 rounds". */
export function roundsText(n: number): string {
  return `${n} round${n === 1 ? "" : "s"}`;
}
