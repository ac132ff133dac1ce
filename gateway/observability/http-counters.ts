// Requests answered, per route and status class: the one figure /metrics needs from every request, kept
// as a handful of integer increments (the rest of /metrics is read from the pools when scraped). Owned by
// the gateway, so counts run on across reloads like Prometheus counters should.

/** Status classes 1xx–5xx, indexed by the status's first digit. */
const CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx"] as const;

export class HttpCounters {
  private readonly byRoute = new Map<string, number[]>();

  /** Count one answer; `route` is the route's name, "" when no route matched. */
  count(route: string, status: number): void {
    let counts = this.byRoute.get(route);
    if (!counts) this.byRoute.set(route, (counts = [0, 0, 0, 0, 0]));
    const i = Math.floor(status / 100) - 1;
    if (i >= 0 && i < 5) counts[i]!++;
  }

  /** Every (route, status class, count) with a count above zero. */
  *entries(): Generator<{ route: string; code: string; count: number }> {
    for (const [route, counts] of this.byRoute) {
      for (let i = 0; i < 5; i++) if (counts[i]! > 0) yield { route, code: CLASSES[i]!, count: counts[i]! };
    }
  }
}
