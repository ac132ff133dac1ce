// Hysteresis of active health: a server flips to down only after `fall` failed checks in a row, and back
// up only after `rise` good ones in a row (HAProxy rise/fall, nginx-plus passes/fails, Pingora's
// health_check.rs). One odd result never moves traffic.

export type Verdict = { flip: "down" | "up"; streak: number } | undefined;

export class RiseFall {
  /** Checks passed in a row so far, and failed in a row: one of the two is always 0. */
  private passes = 0;
  private fails = 0;

  constructor(
    private readonly rise: number,
    private readonly fall: number,
  ) {}

  /**
   * Count one check result against the server's current state; returns the flip it causes, with the number
   * of results in a row behind it, or undefined when the state holds.
   */
  record(ok: boolean, healthy: boolean): Verdict {
    if (ok) {
      this.fails = 0;
      this.passes++;
      if (!healthy && this.passes >= this.rise) return { flip: "up", streak: this.passes };
    } else {
      this.passes = 0;
      this.fails++;
      if (healthy && this.fails >= this.fall) return { flip: "down", streak: this.fails };
    }
    return undefined;
  }
}
