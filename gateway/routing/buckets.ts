// The pre-index that spares a request from testing every route, without changing which route wins.
//
// Each route is filed under the exact hosts it requires (or "any host") and, inside that, under the first path
// segments it requires (or "any path"). A request looks up at most four lists — its host × its segment, its
// host × any path, any host × its segment, any host × any path — which between them hold every route that
// could possibly match it. Every list is in written order, and a route sits in at most one of the four lists a
// request reads (its host keys and segment keys are each either exact or "any"), so walking them as one
// merged sequence by route index, testing as we go, finds exactly the route a full linear scan would.
// The merge uses four cursors and allocates nothing.

/** What the index needs of a route: its position in the table as written, and its remaining test. */
export interface Indexed<V> {
  readonly index: number;
  readonly test: (view: V) => boolean;
}

interface Bucket<R> {
  readonly bySegment: Map<string, R[]>;
  readonly anyPath: R[];
}

const EMPTY: readonly never[] = Object.freeze([]);

export class RouteIndex<V extends { readonly host: string; readonly segment: string | null }, R extends Indexed<V>> {
  private readonly hosts = new Map<string, Bucket<R>>();
  private readonly anyHost: Bucket<R> = { bySegment: new Map(), anyPath: [] };

  /** Files a route; call in written order. Null keys mean "any". */
  add(route: R, hostKeys: readonly string[] | null, segmentKeys: readonly string[] | null): void {
    const buckets = hostKeys === null ? [this.anyHost] : hostKeys.map((host) => this.bucket(host));
    for (const bucket of buckets) {
      if (segmentKeys === null) bucket.anyPath.push(route);
      else for (const seg of segmentKeys) push(bucket.bySegment, seg, route);
    }
  }

  /** The first route, in written order, whose test holds for the view. */
  first(view: V): R | undefined {
    let a: readonly R[] = EMPTY;
    let b: readonly R[] = EMPTY;
    let c: readonly R[] = EMPTY;
    if (this.hosts.size !== 0) {
      const hb = this.hosts.get(view.host);
      if (hb !== undefined) {
        b = hb.anyPath;
        if (hb.bySegment.size !== 0) a = lookup(hb.bySegment, view.segment);
      }
    }
    if (this.anyHost.bySegment.size !== 0) c = lookup(this.anyHost.bySegment, view.segment);
    const d = this.anyHost.anyPath;

    // The usual case (no index hit, or only one list) needs no merge.
    if (a.length + b.length + c.length === 0) return scan(d, view);

    let i = 0, j = 0, k = 0, l = 0;
    for (;;) {
      let best = Infinity;
      let which = -1;
      if (i < a.length && a[i]!.index < best) { best = a[i]!.index; which = 0; }
      if (j < b.length && b[j]!.index < best) { best = b[j]!.index; which = 1; }
      if (k < c.length && c[k]!.index < best) { best = c[k]!.index; which = 2; }
      if (l < d.length && d[l]!.index < best) { which = 3; }
      if (which < 0) return undefined;
      const route = which === 0 ? a[i++]! : which === 1 ? b[j++]! : which === 2 ? c[k++]! : d[l++]!;
      if (route.test(view)) return route;
    }
  }

  private bucket(host: string): Bucket<R> {
    let bucket = this.hosts.get(host);
    if (bucket === undefined) {
      bucket = { bySegment: new Map(), anyPath: [] };
      this.hosts.set(host, bucket);
    }
    return bucket;
  }
}

function push<R>(map: Map<string, R[]>, key: string, route: R): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [route]);
  else if (list[list.length - 1] !== route) list.push(route);
}

function lookup<R>(map: Map<string, R[]>, segment: string | null): readonly R[] {
  return segment === null ? EMPTY : (map.get(segment) ?? EMPTY);
}

function scan<V, R extends Indexed<V>>(routes: readonly R[], view: V): R | undefined {
  for (let i = 0; i < routes.length; i++) if (routes[i]!.test(view)) return routes[i];
  return undefined;
}
