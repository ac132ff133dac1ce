// What every match field compiles to, and the small helpers they share.
// A field's config slice is turned into a `Matcher` once, at load; per request only the returned closure
// runs. Nothing here builds a RegExp, array or Set after compile time.
import type { RequestView } from "./view.ts";

/** A compiled predicate over the per-request view: does this field of a route hold? */
export type Matcher = (view: RequestView) => boolean;

/** A compiled test of one string (a header value, a query value…). */
export type StringTest = (value: string) => boolean;

/** Holds for every request: a field that is absent, or a pattern such as `"*"`. */
export const MATCH_ALL: Matcher = () => true;

/**
 * A config pattern that cannot be compiled. `at` is the position inside the field (an array index, a header
 * name…); the table prepends the route's own position so the caller can print `path.to.key: message (got value)`.
 */
export class PatternError extends Error {
  constructor(
    message: string,
    readonly value: unknown,
    readonly at: Array<string | number> = [],
  ) {
    super(message);
    this.name = "PatternError";
  }
}

/** Config fields take one value or an array meaning "any of"; compile code only ever sees the array. */
export function asList<T>(value: T | readonly T[]): readonly T[] {
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

/**
 * Compiles each item of a one-or-many field, prefixing the item's index to errors when the config used an array
 * (a single value has no index in its path).
 */
export function compileEach<T, R>(value: T | readonly T[], compile: (item: T) => R): R[] {
  if (!Array.isArray(value)) return [compile(value as T)];
  return (value as readonly T[]).map((item, i) => {
    try {
      return compile(item);
    } catch (e) {
      if (e instanceof PatternError) throw new PatternError(e.message, e.value, [i, ...e.at]);
      throw e;
    }
  });
}

/** Runs a compile step, placing its errors under a config key (`within(["match", "path"], …)`). */
export function within<T>(path: ReadonlyArray<string | number>, compile: () => T): T {
  try {
    return compile();
  } catch (e) {
    if (e instanceof PatternError) throw new PatternError(e.message, e.value, [...path, ...e.at]);
    throw e;
  }
}

/** Is this pattern a regular expression (`~regex`)? */
export function isRegexPattern(pattern: string): boolean {
  return pattern.charCodeAt(0) === 126; // "~"
}

/**
 * Compiles `~regex`. No `g`/`y` flag ever: `test` must stay stateless between requests. (nginx's `~*` for
 * case-insensitive is deliberately not supported: config validation checks `~` patterns as plain JS regexes.)
 */
export function compileRegex(pattern: string, flags = ""): RegExp {
  const source = pattern.slice(1);
  if (source === "") throw new PatternError("empty regular expression after ~", pattern);
  try {
    return new RegExp(source, flags);
  } catch (e) {
    // Engines phrase it differently (JSC vs V8): keep the reason only.
    const reason = String((e as Error).message)
      .replace(/^Invalid regular expression:\s*/, "")
      .replace(/^\/.*\/[a-z]*:\s*/s, "");
    throw new PatternError(`not a valid regular expression: ${reason}`, pattern);
  }
}

/** The numbered-group count and named-group names of a compiled regex (for checking `$3` or `${name}` references). */
export function regexGroups(re: RegExp): { count: number; names: string[] } {
  // An empty alternative always matches "", and the result lists every group of the pattern (all undefined).
  const probe = new RegExp(`(?:${re.source})|`, re.flags).exec("")!;
  return { count: probe.length - 1, names: Object.keys(probe.groups ?? {}) };
}

/**
 * Compiles a value spec list (headers, query, cookies): each item is an exact value or `~regex`; any may hold.
 * Exact values go into one Set so many alternatives still cost one lookup.
 */
export function compileValueTest(specs: string | readonly string[]): StringTest {
  const exact: string[] = [];
  const regexes: RegExp[] = [];
  compileEach(specs, (spec) => {
    if (isRegexPattern(spec)) regexes.push(compileRegex(spec));
    else exact.push(spec);
  });
  const test = anyTest(exactTest(exact), regexTest(regexes));
  return test ?? (() => false);
}

/** Exact string membership, specialised for the common single value. */
export function exactTest(values: readonly string[]): StringTest | null {
  if (values.length === 0) return null;
  if (values.length === 1) {
    const only = values[0]!;
    return (v) => v === only;
  }
  const set = new Set(values);
  return (v) => set.has(v);
}

/** Any of several regexes, specialised for the common single regex. */
export function regexTest(regexes: readonly RegExp[]): StringTest | null {
  if (regexes.length === 0) return null;
  if (regexes.length === 1) {
    const re = regexes[0]!;
    return (v) => re.test(v);
  }
  const list = regexes.slice();
  return (v) => {
    for (let i = 0; i < list.length; i++) if (list[i]!.test(v)) return true;
    return false;
  };
}

/** Ors compiled tests together, skipping absent ones; null when there is nothing to test. */
export function anyTest(...tests: Array<StringTest | null>): StringTest | null {
  const present = tests.filter((t): t is StringTest => t !== null);
  if (present.length === 0) return null;
  if (present.length === 1) return present[0]!;
  if (present.length === 2) {
    const [a, b] = present as [StringTest, StringTest];
    return (v) => a(v) || b(v);
  }
  return (v) => {
    for (let i = 0; i < present.length; i++) if (present[i]!(v)) return true;
    return false;
  };
}

/** Ands matchers (all must hold), specialised for the short lists routes have. */
export function allMatchers(matchers: readonly Matcher[]): Matcher {
  if (matchers.length === 0) return MATCH_ALL;
  if (matchers.length === 1) return matchers[0]!;
  if (matchers.length === 2) {
    const [a, b] = matchers as [Matcher, Matcher];
    return (view) => a(view) && b(view);
  }
  const list = matchers.slice();
  return (view) => {
    for (let i = 0; i < list.length; i++) if (!list[i]!(view)) return false;
    return true;
  };
}
