// `host` matching against the request's Host header without its port, case-insensitively.
//
// Patterns (one or an array, any of):
//   "example.com"     exactly that host (also written "Example.COM", "example.com.", "[::1]")
//   "*.example.com"   any subdomain at any depth (a.example.com, a.b.example.com) but NOT the apex
//                     example.com itself — the same as nginx `server_name *.example.com`; list both to get both
//   ".example.com"    the apex and every subdomain (nginx's shorthand for the pair above)
//   "*"               any host, including a request without one
//   "~regex"          a regular expression, tested case-insensitively against the lower-case host
//
// Exact hosts and wildcard domains are also reported (`keys`) so the table can find a route by Map lookups on
// the host and its parent domains instead of testing it; a route is indexed that way only when none of its
// patterns is "*" or a regex.
import type { HostKeys } from "./buckets.ts";
import type { Matcher, StringTest } from "./matcher.ts";
import { MATCH_ALL, PatternError, anyTest, compileEach, compileRegex, exactTest, isRegexPattern, regexTest } from "./matcher.ts";
import { normaliseHost } from "./view.ts";

export interface HostMatcher {
  readonly test: Matcher;
  /** The index keys that imply this matcher holds, or null when a "*" or regex pattern cannot be keyed. */
  readonly keys: HostKeys | null;
}

type HostPattern = { kind: "exact"; host: string } | { kind: "any" } | { kind: "suffix"; suffix: string; apex: string | null } | { kind: "regex"; re: RegExp };

export function compileHostMatcher(spec: string | readonly string[]): HostMatcher {
  const patterns = compileEach(spec, parseHostPattern);
  const exact = patterns.flatMap((p) => (p.kind === "exact" ? [p.host] : []));
  if (patterns.some((p) => p.kind === "any")) return { test: MATCH_ALL, keys: null };

  // Suffixes are tested with endsWith; their apexes (from ".example.com") join the exact set.
  const suffixes = patterns.flatMap((p) => (p.kind === "suffix" ? [p.suffix] : []));
  const apexes = patterns.flatMap((p) => (p.kind === "suffix" && p.apex !== null ? [p.apex] : []));
  const regexes = patterns.flatMap((p) => (p.kind === "regex" ? [p.re] : []));
  const test = anyTest(exactTest([...exact, ...apexes]), suffixTest(suffixes), regexTest(regexes))!;
  const keys: HostKeys | null =
    regexes.length > 0 ? null : { exact: [...new Set([...exact, ...apexes])], domains: [...new Set(suffixes.map((s) => s.slice(1)))] };
  return { test: (view) => test(view.host), keys };
}

function parseHostPattern(pattern: string): HostPattern {
  if (pattern === "*") return { kind: "any" };
  if (isRegexPattern(pattern)) return { kind: "regex", re: compileRegex(pattern, "i") };
  if (pattern.startsWith("*.")) return { kind: "suffix", suffix: checkedHost(pattern.slice(1), pattern), apex: null };
  if (pattern.startsWith(".")) {
    const suffix = checkedHost(pattern, pattern);
    return { kind: "suffix", suffix, apex: suffix.slice(1) };
  }
  return { kind: "exact", host: checkedHost(pattern, pattern) };
}

/** Normalises a host from config and refuses what could never match a port-less Host. */
function checkedHost(text: string, pattern: string): string {
  if (text.includes("*")) {
    throw new PatternError('a host wildcard is only "*" or a leading "*." (like "*.example.com")', pattern);
  }
  if (/[\s/?#@]/.test(text)) throw new PatternError("not a host name", pattern);
  const colons = text.split(":").length - 1;
  if (colons === 1 || (text.startsWith("[") && /\]:\d*$/.test(text))) {
    throw new PatternError("a host is matched without its port: leave the port out", pattern);
  }
  const host = normaliseHost(text);
  if (host === "" || host === ".") throw new PatternError("not a host name", pattern);
  // normaliseHost drops a trailing dot; a suffix keeps its leading one.
  return text.startsWith(".") ? "." + normaliseHost(text.slice(1)) : host;
}

function suffixTest(suffixes: readonly string[]): StringTest | null {
  if (suffixes.length === 0) return null;
  // The host must be longer than ".example.com" so that ".example.com" itself (an empty label) never matches.
  if (suffixes.length === 1) {
    const s = suffixes[0]!;
    return (host) => host.length > s.length && host.endsWith(s);
  }
  const list = suffixes.slice();
  return (host) => {
    for (let i = 0; i < list.length; i++) {
      const s = list[i]!;
      if (host.length > s.length && host.endsWith(s)) return true;
    }
    return false;
  };
}
