// `path` matching against the normalised pathname (see view.ts: unreserved escapes decoded, the others kept).
//
// Patterns (one or an array, any of), all case-sensitive like nginx locations:
//   "/exact"        exactly that path; "/exact/" is a different path
//   "/prefix/*"     the prefix itself and everything under it: "/api/*" matches /api, /api/, /api/x, not /apix
//   "/prefix*"      a plain string prefix: "/api*" matches /api, /apix, /api/x ("/*" matches every path)
//   "*.css"         a suffix ("*" alone matches every path)
//   "/users/:id"    a parameter takes one whole, non-empty segment; may end with "/*" ("/users/:id/*")
//   "~^/v[0-9]+/"   a regular expression after "~"; its named groups become params. A regex anchored with "^"
//                   and starting with a literal segment ("~^/v1/…") is indexed like a prefix.
// A "*" anywhere else is refused rather than guessed at.
//
// Params are captured only for the route that wins (`params`, called once), so testing routes that lose
// allocates nothing.
import type { Matcher, StringTest } from "./matcher.ts";
import { PatternError, anyTest, compileEach, compileRegex, exactTest, isRegexPattern, regexGroups } from "./matcher.ts";

export type Params = Readonly<Record<string, string>>;
export const NO_PARAMS: Params = Object.freeze({});

export interface PathMatcher {
  readonly test: Matcher;
  /** The params of the first pattern (in written order) that matches `path`; call only once `test` held. */
  readonly params: (path: string) => Params;
  /** Every param name some pattern can capture (redirect targets may use them). */
  readonly paramNames: readonly string[];
  /** The first path segment every pattern requires ("api" for "/api/*"), or null when some pattern has none. */
  readonly segments: readonly string[] | null;
}

interface PathPattern {
  readonly kind: "exact" | "other";
  readonly text: string;
  readonly test: StringTest;
  readonly capture: ((path: string) => Params) | null;
  readonly names: readonly string[];
  readonly segment: string | null;
}

const PARAM_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function compilePathMatcher(spec: string | readonly string[]): PathMatcher {
  const patterns = compileEach(spec, parsePathPattern);
  // All exact paths share one Set lookup; the rest are tried one by one.
  const exact = exactTest(patterns.filter((p) => p.kind === "exact").map((p) => p.text));
  const others = patterns.filter((p) => p.kind !== "exact").map((p) => p.test);
  const test = anyTest(exact, ...others)!;

  const capturing = patterns.some((p) => p.capture !== null);
  const params = capturing
    ? (path: string): Params => {
        for (const p of patterns) if (p.test(path)) return p.capture ? p.capture(path) : NO_PARAMS;
        return NO_PARAMS;
      }
    : () => NO_PARAMS;

  const segments = patterns.every((p) => p.segment !== null) ? [...new Set(patterns.map((p) => p.segment!))] : null;
  return {
    test: (view) => test(view.path),
    params,
    paramNames: [...new Set(patterns.flatMap((p) => p.names))],
    segments,
  };
}

function parsePathPattern(pattern: string): PathPattern {
  if (isRegexPattern(pattern)) {
    const re = compileRegex(pattern);
    const names = regexGroups(re).names;
    return {
      kind: "other",
      text: pattern,
      test: (path) => re.test(path),
      capture: names.length === 0 ? null : (path) => groupsOf(re.exec(path)),
      names,
      segment: regexFirstSegment(re.source),
    };
  }

  if (pattern.startsWith("*")) {
    const suffix = pattern.slice(1);
    if (suffix.includes("*")) throw starError(pattern);
    return { kind: "other", text: pattern, test: suffix === "" ? () => true : (path) => path.endsWith(suffix), capture: null, names: [], segment: null };
  }

  if (!pattern.startsWith("/")) throw new PatternError('a path starts with "/", "*" or "~"', pattern);

  // "/x/*": under a segment boundary. "/x*": a plain string prefix.
  const underSegment = pattern.endsWith("/*");
  const rawPrefix = !underSegment && pattern.endsWith("*");
  const base = underSegment ? pattern.slice(0, -2) : rawPrefix ? pattern.slice(0, -1) : pattern;
  if (base.includes("*")) throw starError(pattern);

  const parts = base.split("/"); // base starts with "/", so parts[0] is ""
  const hasParams = parts.some((part) => part.startsWith(":"));
  // The first segment is known when it is literal and, for a raw prefix, already complete ("/api/v*" → "api").
  const first = parts.length > 1 && !parts[1]!.startsWith(":") && (!rawPrefix || parts.length > 2) ? parts[1]! : null;

  if (hasParams) {
    if (rawPrefix) throw new PatternError('a pattern with parameters may only end with "/*"', pattern);
    return paramPattern(pattern, parts, underSegment, first);
  }
  if (underSegment) {
    const under = base + "/";
    return {
      kind: "other",
      text: pattern,
      test: (path) => path === base || path.startsWith(under),
      capture: null,
      names: [],
      segment: base === "" ? null : first,
    };
  }
  if (rawPrefix) return { kind: "other", text: pattern, test: (path) => path.startsWith(base), capture: null, names: [], segment: first };
  return { kind: "exact", text: pattern, test: (path) => path === pattern, capture: null, names: [], segment: first ?? "" };
}

/** "/users/:id/posts/:post" → ^/users/([^/]+)/posts/([^/]+)$, compiled once; values come back by position. */
function paramPattern(pattern: string, parts: string[], tail: boolean, segment: string | null): PathPattern {
  const names: string[] = [];
  const source = parts.map((part) => {
    if (!part.startsWith(":")) return escapeRegex(part);
    const name = part.slice(1);
    if (!PARAM_NAME.test(name)) {
      throw new PatternError("a parameter is a whole segment named with letters, digits and _ (like /users/:id)", pattern);
    }
    if (names.includes(name)) throw new PatternError(`parameter :${name} appears twice`, pattern);
    names.push(name);
    return "([^/]+)";
  });
  const re = new RegExp(`^${source.join("/")}${tail ? "(?:/.*)?" : ""}$`);
  return {
    kind: "other",
    text: pattern,
    test: (path) => re.test(path),
    capture: (path) => {
      const m = re.exec(path);
      const params: Record<string, string> = {};
      if (m) for (let i = 0; i < names.length; i++) params[names[i]!] = m[i + 1]!;
      return params;
    },
    names,
    segment,
  };
}

/**
 * The first path segment every match of an anchored regex must have, read from its literal start, so regex
 * routes can be indexed too: "^/v1/" → "v1", "^/health$" → "health"; "^/v[0-9]+/", "^/a|^/b", "/x/" → null.
 * Conservative: any doubt (a class, group, quantifier or escape sequence) ends the literal run early, and
 * an early end only ever means "not indexed", never a wrong key.
 */
export function regexFirstSegment(source: string): string | null {
  if (source.charCodeAt(0) !== 94 /* ^ */ || hasTopLevelAlternation(source)) return null;
  let literal = "";
  let i = 1;
  while (i < source.length) {
    let char = source[i]!;
    let width = 1;
    if (char === "\\") {
      const next = source[i + 1];
      // An escaped punctuation mark is that mark; an escaped letter or digit is a class or a reference.
      if (next === undefined || /[A-Za-z0-9]/.test(next)) break;
      char = next;
      width = 2;
    } else if ("^$.|?*+()[]{}".includes(char)) break;
    const after = source[i + width];
    if (after === "?" || after === "*" || after === "+" || after === "{") break; // this char may be absent or repeated
    literal += char;
    i += width;
  }
  if (literal.charCodeAt(0) !== 47) return null;
  const slash = literal.indexOf("/", 1);
  if (slash > 0) return literal.slice(1, slash);
  // The whole regex was literal up to a final "$": an exact path.
  return i === source.length - 1 && source[i] === "$" ? literal.slice(1) : null;
}

/** Does the regex have an "|" outside every group and class (which would escape the leading "^")? */
function hasTopLevelAlternation(source: string): boolean {
  let depth = 0;
  let inClass = false;
  for (let i = 0; i < source.length; i++) {
    const c = source[i];
    if (c === "\\") i++;
    else if (inClass) inClass = c !== "]";
    else if (c === "[") inClass = true;
    else if (c === "(") depth++;
    else if (c === ")") depth--;
    else if (c === "|" && depth === 0) return true;
  }
  return false;
}

function groupsOf(m: RegExpExecArray | null): Params {
  const params: Record<string, string> = {};
  if (m?.groups) for (const [name, value] of Object.entries(m.groups)) if (value !== undefined) params[name] = value;
  return params;
}

function escapeRegex(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

function starError(pattern: string): PatternError {
  return new PatternError('"*" is allowed only as "/prefix/*", "/prefix*" or "*.suffix"; use "~regex" for more', pattern);
}
