// The pre-index that spares a request from testing every route, without changing which route wins.
//
// Each route is filed under host keys — the exact hosts it accepts, the parent domains of its "*.domain"
// wildcards — or under "any host" when a host pattern is "*" or a regex or it has none; and inside each, under
// the first path segments it requires, or "any path". A request looks up its own host, each of its parent
// domains (a.b.example.com → b.example.com, example.com, com) and "any host", and in each of those its first
// segment and "any path". The lists found hold every route that could match; each is in written order, so
// walking them as one sequence merged by route index, testing as we go, finds exactly the route a full
// linear scan would. Reaching a route through a host key already proves its host holds, so its own test skips
// the host (table.ts). A route reachable through two keys (a.example.com and *.example.com) is tested once.
// Nothing is allocated per request except the parent-domain slices, and only when wildcard hosts exist.

/** What the index needs of a route: its position in the table as written, and its remaining test. */
export interface Indexed<V> {
  readonly index: number;
  readonly test: (view: V) => boolean;
}

/** Host keys of a route: exact hosts, and the domains D of its "*.D" patterns (a ".D" gives both). */
export interface HostKeys {
  readonly exact: readonly string[];
  readonly domains: readonly string[];
}

interface Bucket<R> {
  readonly bySegment: Map<string, R[]>;
  readonly anyPath: R[];
}

const newBucket = <R>(): Bucket<R> => ({ bySegment: new Map(), anyPath: [] });

export class RouteIndex<V extends { readonly host: string; readonly segment: string | null }, R extends Indexed<V>> {
  private readonly exact = new Map<string, Bucket<R>>();
  private readonly domains = new Map<string, Bucket<R>>();
  private readonly anyHost: Bucket<R> = newBucket();
  // Scratch space reused by every lookup: matching is synchronous, so a table never runs two lookups at once.
  private readonly lists: Array<readonly R[]> = [];
  private readonly cursors: number[] = [];

  /** Files a route; call in written order. Null keys mean "any". */
  add(route: R, hostKeys: HostKeys | null, segmentKeys: readonly string[] | null): void {
    const buckets =
      hostKeys === null ? [this.anyHost] : [...hostKeys.exact.map((h) => bucketOf(this.exact, h)), ...hostKeys.domains.map((d) => bucketOf(this.domains, d))];
    for (const bucket of buckets) {
      if (segmentKeys === null) push(bucket.anyPath, route);
      else for (const seg of segmentKeys) pushTo(bucket.bySegment, seg, route);
    }
  }

  /** The first route, in written order, whose test holds for the view. */
  first(view: V): R | undefined {
    const lists = this.lists;
    lists.length = 0;
    const host = view.host;
    if (this.exact.size !== 0) {
      const bucket = this.exact.get(host);
      if (bucket !== undefined) this.collect(bucket, view);
    }
    if (this.domains.size !== 0) {
      // From index 1: a label before the dot must be non-empty, as for the "*.D" test itself.
      for (let dot = host.indexOf(".", 1); dot >= 0; dot = host.indexOf(".", dot + 1)) {
        const bucket = this.domains.get(host.slice(dot + 1));
        if (bucket !== undefined) this.collect(bucket, view);
      }
    }
    this.collect(this.anyHost, view);
    if (lists.length === 0) return undefined;
    if (lists.length === 1) return scan(lists[0]!, view);
    return this.merge(view);
  }

  private collect(bucket: Bucket<R>, view: V): void {
    if (bucket.bySegment.size !== 0) {
      const seg = view.segment;
      const list = seg === null ? undefined : bucket.bySegment.get(seg);
      if (list !== undefined) this.lists.push(list);
    }
    if (bucket.anyPath.length !== 0) this.lists.push(bucket.anyPath);
  }

  /** Walks the collected lists as one sequence ordered by route index (a k-way merge, k small). */
  private merge(view: V): R | undefined {
    const lists = this.lists;
    const cursors = this.cursors;
    const k = lists.length;
    for (let i = 0; i < k; i++) cursors[i] = 0;
    let last = -1;
    for (;;) {
      let best = Infinity;
      let which = -1;
      for (let i = 0; i < k; i++) {
        const list = lists[i]!;
        const at = cursors[i]!;
        if (at < list.length && list[at]!.index < best) {
          best = list[at]!.index;
          which = i;
        }
      }
      if (which < 0) return undefined;
      const route = lists[which]![cursors[which]!++]!;
      if (best === last) continue; // the same route reached through a second key
      last = best;
      if (route.test(view)) return route;
    }
  }
}

function bucketOf<R>(map: Map<string, Bucket<R>>, key: string): Bucket<R> {
  let bucket = map.get(key);
  if (bucket === undefined) map.set(key, (bucket = newBucket()));
  return bucket;
}

function push<R>(list: R[], route: R): void {
  if (list[list.length - 1] !== route) list.push(route);
}

function pushTo<R>(map: Map<string, R[]>, key: string, route: R): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [route]);
  else push(list, route);
}

function scan<V, R extends Indexed<V>>(routes: readonly R[], view: V): R | undefined {
  for (let i = 0; i < routes.length; i++) if (routes[i]!.test(view)) return routes[i];
  return undefined;
}
