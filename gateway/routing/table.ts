// The compiled route table: every route's match fields compiled into one test, filed in the pre-index, with its
// path change and redirect target compiled beside it. Built once per config (load and reload); `match` is
// the only thing that runs per request.
//
// Routes are tried in the order written and the first whose every field holds wins; a route with no `match`
// matches everything. Inside a route the cheap fields are tested first (methods, host, path) and the costly
// ones last (headers, query, cookies, browser — which parse lazily, so they are only parsed if reached).
import type { RouteConfig } from "../config/schema.ts";
import { compileBrowserMatcher } from "./browser.ts";
import { RouteIndex, type HostKeys } from "./buckets.ts";
import { compileHostMatcher } from "./host.ts";
import type { Matcher } from "./matcher.ts";
import { PatternError, allMatchers, within } from "./matcher.ts";
import { compileMethodsMatcher } from "./methods.ts";
import type { Params } from "./path.ts";
import { NO_PARAMS, compilePathMatcher } from "./path.ts";
import type { CompiledRedirect } from "./redirect.ts";
import { compileRedirect } from "./redirect.ts";
import type { PathRewriter } from "./rewrite.ts";
import { compilePathRewrite } from "./rewrite.ts";
import type { RequestView } from "./view.ts";
import { compileCookiesMatcher, compileHeadersMatcher, compileQueryMatcher } from "./values.ts";

/** A route config and what the caller wants back when it wins (a pool handle, a static handler…). */
export interface RouteEntry<T> {
  readonly route: RouteConfig;
  readonly value: T;
}

export interface CompiledRoute<T> {
  /** Position in the table as written (0-based). */
  readonly index: number;
  readonly name: string | undefined;
  readonly config: RouteConfig;
  readonly value: T;
  /** Every match field the index has not already decided, anded. */
  readonly test: Matcher;
  /** Path params of a request this route matched ({} when its patterns have none). */
  readonly params: (path: string) => Params;
  /** stripPrefix then rewrite; null when the route leaves the path alone. */
  readonly rewritePath: PathRewriter | null;
  /** The upstream receives the client's own target (`pathNormalization.forward: "original"`, no path change). */
  readonly forwardsClientTarget: boolean;
  readonly redirect: CompiledRedirect | null;
}

/** The winning route for one request. Params, upstream path and Location are worked out on first read. */
export class RouteMatch<T> {
  private _params: Params | undefined = undefined;
  private _path: string | undefined = undefined;

  constructor(
    readonly route: CompiledRoute<T>,
    readonly view: RequestView,
  ) {}

  get value(): T {
    return this.route.value;
  }

  /** `{ id: "42" }` for "/users/:id"; values as in the normalised path (escapes other than unreserved ones kept). */
  get params(): Params {
    return (this._params ??= this.route.params(this.view.path));
  }

  /** The pathname to send upstream (after stripPrefix/rewrite), without the query string. */
  get upstreamPath(): string {
    return (this._path ??= this.route.rewritePath ? this.route.rewritePath(this.view.path) : this.view.path);
  }

  /**
   * The request target to send upstream: upstreamPath plus the query string exactly as received; or, with
   * `pathNormalization.forward: "original"` on a route that changes no path, the target as the client sent it.
   */
  get upstreamTarget(): string {
    return this.route.forwardsClientTarget ? this.view.target : this.upstreamPath + this.view.search;
  }

  /** The Location for a redirect route, undefined for other routes. */
  get redirectLocation(): string | undefined {
    return this.route.redirect?.location(this.view, this.upstreamPath, this.params);
  }
}

export interface RouteTable<T> {
  readonly routes: readonly CompiledRoute<T>[];
  /** The first route, in written order, that the request matches; undefined means 404. */
  match(view: RequestView): RouteMatch<T> | undefined;
}

/** One thing wrong with a route config: `path` starts at the route's index in the array (prepend "routes"). */
export interface RouteProblem {
  readonly path: ReadonlyArray<string | number>;
  readonly message: string;
  readonly value: unknown;
}

export class RouteTableError extends Error {
  constructor(readonly problems: readonly RouteProblem[]) {
    super(problems.map((p) => `routes.${p.path.join(".")}: ${p.message} (got ${JSON.stringify(p.value)})`).join("\n"));
    this.name = "RouteTableError";
  }
}

/** How the table's routes forward a path: `pathNormalization.forward` of the config. */
export interface RouteTableOptions {
  /** "original": routes that change no path send the client's own target upstream (routing still read the normalised one). */
  readonly forward?: "normalized" | "original";
}

/** Compiles a route table; throws RouteTableError listing every problem (bad regexes, patterns, placeholders). */
export function compileRouteTable<T>(entries: ReadonlyArray<RouteEntry<T>>, options: RouteTableOptions = {}): RouteTable<T> {
  const forwardOriginal = options.forward === "original";
  const index = new RouteIndex<RequestView, CompiledRoute<T>>();
  const routes: CompiledRoute<T>[] = [];
  const problems: RouteProblem[] = [];
  entries.forEach((entry, i) => {
    const compiled = compileRoute(entry, i, forwardOriginal, (e) => problems.push({ path: [i, ...e.at], message: e.message, value: e.value }));
    if (compiled === null) return;
    routes.push(compiled.route);
    index.add(compiled.route, compiled.hostKeys, compiled.segmentKeys);
  });
  if (problems.length > 0) throw new RouteTableError(problems);
  return {
    routes,
    match(view) {
      const route = index.first(view);
      return route === undefined ? undefined : new RouteMatch(route, view);
    },
  };
}

/** The problems of a routes array without keeping a table: for `sluice check` and reload validation. */
export function checkRoutes(routes: readonly RouteConfig[]): RouteProblem[] {
  try {
    compileRouteTable(routes.map((route) => ({ route, value: null })));
    return [];
  } catch (e) {
    if (e instanceof RouteTableError) return [...e.problems];
    throw e;
  }
}

/** Compiles one route, reporting every broken field (not just the first); null when any was broken. */
function compileRoute<T>(entry: RouteEntry<T>, index: number, forwardOriginal: boolean, report: (e: PatternError) => void) {
  const { route: config, value } = entry;
  const m = config.match ?? {};
  let broken = false;
  const field = <R>(path: ReadonlyArray<string | number>, compile: () => R): R | null => {
    try {
      return within(path, compile);
    } catch (e) {
      if (!(e instanceof PatternError)) throw e;
      report(e);
      broken = true;
      return null;
    }
  };

  const matchers: Array<Matcher | null> = [];
  let hostKeys: HostKeys | null = null;
  if (m.methods !== undefined) matchers.push(field(["match", "methods"], () => compileMethodsMatcher(m.methods!)));
  const host = m.host !== undefined ? field(["match", "host"], () => compileHostMatcher(m.host!)) : null;
  // A route filed under host keys is only ever reached through them: its host already holds.
  if (host !== null && host.keys !== null) hostKeys = host.keys;
  else if (host !== null) matchers.push(host.test);
  const path = m.path !== undefined ? field(["match", "path"], () => compilePathMatcher(m.path!)) : null;
  if (path !== null) matchers.push(path.test);
  if (m.headers !== undefined) matchers.push(field(["match", "headers"], () => compileHeadersMatcher(m.headers!)));
  if (m.query !== undefined) matchers.push(field(["match", "query"], () => compileQueryMatcher(m.query!)));
  if (m.cookies !== undefined) matchers.push(field(["match", "cookies"], () => compileCookiesMatcher(m.cookies!)));
  if (m.browser !== undefined) matchers.push(field(["match", "browser"], () => compileBrowserMatcher(m.browser!)));

  const rewritePath = field([], () => compilePathRewrite(config));
  const redirect = config.redirect ? field(["redirect"], () => compileRedirect(config.redirect!, path?.paramNames ?? [])) : null;
  if (broken) return null;

  const route: CompiledRoute<T> = {
    index,
    name: config.name,
    config,
    value,
    test: allMatchers(matchers as Matcher[]),
    params: path?.params ?? (() => NO_PARAMS),
    rewritePath,
    forwardsClientTarget: forwardOriginal && rewritePath === null,
    redirect,
  };
  return { route, hostKeys, segmentKeys: path?.segments ?? null };
}
