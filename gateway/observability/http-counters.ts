// What /metrics counts of every HTTP request: answers per route, pool, method and exact status, the time each
// took, and the answers plugins gave instead of an upstream (401, 403, 429). Per request that is a few integer
// operations on a RouteFigures slot: the slot of a (route, pool) is looked up once and then cached where the
// route is (ProxyRoute.figures), so no label text is built and no map is searched per request. Owned by the
// gateway, so counts run on across reloads like Prometheus counters should.
import { Histogram } from "./histogram.ts";
import { METHOD_LABELS } from "./methods.ts";
import type { FigureSet } from "./exposition.ts";

/** Statuses only a plugin answers with on the proxy path: counted as its rejections when no upstream gave them. */
export function isRejection(status: number): boolean {
  return status === 401 || status === 403 || status === 429;
}

/** The figures of one route and pool: where a request of theirs is counted. */
export class RouteFigures {
  /** Per method (METHOD_LABELS index): the status codes seen, in order of first appearance (the common one first). */
  private readonly codes: number[][] = METHOD_LABELS.map(() => []);
  /** Per method: how many answers had each of those codes. */
  private readonly counts: number[][] = METHOD_LABELS.map(() => []);
  /** From the request's head to the end of its answer. */
  readonly duration = new Histogram();

  constructor(
    readonly route: string,
    readonly pool: string,
  ) {}

  /** One answer: `method` is a methodIndex, `ms` the time from the head to the answer's end. */
  count(method: number, status: number, ms: number): void {
    const codes = this.codes[method]!;
    let i = 0;
    while (i < codes.length && codes[i] !== status) i++;
    if (i === codes.length) {
      codes.push(status);
      this.counts[method]!.push(0);
    }
    this.counts[method]![i]!++;
    this.duration.observe(ms);
  }

  collect(into: FigureSet): void {
    const labels = ["route", this.route, "pool", this.pool];
    for (let m = 0; m < METHOD_LABELS.length; m++) {
      const codes = this.codes[m]!;
      for (let i = 0; i < codes.length; i++) {
        into.add("sluice_http_requests_total", [...labels, "method", METHOD_LABELS[m]!, "code", String(codes[i])], this.counts[m]![i]!);
      }
    }
    if (this.duration.count > 0) into.histogram("sluice_http_request_duration_seconds", labels, this.duration);
  }
}

export class HttpCounters {
  /** route name → pool name → figures. */
  private readonly slots = new Map<string, Map<string, RouteFigures>>();
  /** route name → status → plugin rejections. */
  private readonly rejections = new Map<string, Map<number, number>>();
  /** Requests no route matched (and those refused before routing). */
  readonly unrouted: RouteFigures;

  constructor() {
    this.unrouted = this.route("", "");
  }

  /** The slot of a route and pool ("" for none), made on first use: cache it rather than calling this per request. */
  route(route: string, pool: string): RouteFigures {
    let byPool = this.slots.get(route);
    if (!byPool) this.slots.set(route, (byPool = new Map()));
    let slot = byPool.get(pool);
    if (!slot) byPool.set(pool, (slot = new RouteFigures(route, pool)));
    return slot;
  }

  /**
   * A plugin answered instead of the upstream (on the byte path, its onRequest phase; on the hono path, a
   * middleware or beforeUpstream that did not pass the request on). 401, 403 and 429 are counted in
   * `sluice_plugin_rejections_total{route,code}`; other statuses (a CORS preflight's 204) are not rejections.
   */
  rejected(route: string, status: number): void {
    if (!isRejection(status)) return;
    let byStatus = this.rejections.get(route);
    if (!byStatus) this.rejections.set(route, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  collect(into: FigureSet): void {
    for (const byPool of this.slots.values()) for (const slot of byPool.values()) slot.collect(into);
    for (const [route, byStatus] of this.rejections) {
      for (const [status, count] of byStatus) into.add("sluice_plugin_rejections_total", ["route", route, "code", String(status)], count);
    }
  }
}
