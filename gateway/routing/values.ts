// `headers`, `query` and `cookies` matching: an object of name → value, where a value is an exact string or
// "~regex" (or an array of them, any of). Every name listed must hold. A name the request does not carry never
// holds, whatever the pattern, so "~^" means "present, with any value"; there is no test for absence.
//
// - headers: names case-insensitive; several same-named headers are one value joined by ", " (fetch Headers).
// - query:   names case-sensitive; values decoded as forms are; holds when any value of a repeated name matches.
// - cookies: names case-sensitive; values as sent (not percent-decoded); the first cookie of a name counts.
import type { Matcher, StringTest } from "./matcher.ts";
import { PatternError, allMatchers, compileValueTest } from "./matcher.ts";

type ValueSpec = Readonly<Record<string, string | readonly string[]>>;

// RFC 9110 token: what a header name may be.
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

export function compileHeadersMatcher(spec: ValueSpec): Matcher {
  return allOf(spec, (name, test) => {
    if (!HEADER_NAME.test(name)) throw new PatternError("not a header name", name);
    const lower = name.toLowerCase(); // Headers.get lower-cases anyway; passing it lower-cased saves that work
    return (view) => {
      const value = view.header(lower);
      return value !== null && test(value);
    };
  });
}

export function compileQueryMatcher(spec: ValueSpec): Matcher {
  return allOf(spec, (name, test) => (view) => {
    const values = view.queryValues(name);
    if (values === undefined) return false;
    for (let i = 0; i < values.length; i++) if (test(values[i]!)) return true;
    return false;
  });
}

export function compileCookiesMatcher(spec: ValueSpec): Matcher {
  return allOf(spec, (name, test) => (view) => {
    const value = view.cookie(name);
    return value !== undefined && test(value);
  });
}

/** One matcher per name, anded; errors carry the name in their path (`headers.x-version.1`). */
function allOf(spec: ValueSpec, entry: (name: string, test: StringTest) => Matcher): Matcher {
  const matchers = Object.entries(spec).map(([name, value]) => {
    try {
      if (name === "") throw new PatternError("empty name", name);
      return entry(name, compileValueTest(value));
    } catch (e) {
      if (e instanceof PatternError) throw new PatternError(e.message, e.value, [name, ...e.at]);
      throw e;
    }
  });
  return allMatchers(matchers);
}
