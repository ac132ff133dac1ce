// The path changes a route makes on the way upstream: `stripPrefix` and `rewrite`. Both work on the pathname
// only; the caller appends the query string untouched (RouteMatch.upstreamTarget does).
// When a route has both, the prefix is stripped first and the rewrite sees the stripped path.
import { PatternError, compileRegex, isRegexPattern, regexGroups, within } from "./matcher.ts";

/** Maps a request pathname to the upstream pathname. */
export type PathRewriter = (path: string) => string;

const identity: PathRewriter = (path) => path;

/**
 * `stripPrefix: "/api"` removes the prefix at a segment boundary: /api → /, /api/x → /x, /api/ → /, and /apix
 * is left alone. A trailing slash in the config ("/api/") means the same prefix.
 */
export function compileStripPrefix(prefix: string): PathRewriter {
  if (!prefix.startsWith("/")) throw new PatternError('a prefix starts with "/"', prefix);
  let end = prefix.length;
  while (end > 0 && prefix.charCodeAt(end - 1) === 47) end--;
  const base = prefix.slice(0, end);
  if (base === "") return identity; // stripping "/" changes nothing
  const under = base + "/";
  return (path) => (path === base ? "/" : path.startsWith(under) ? path.slice(base.length) : path);
}

// "~REGEX -> REPLACEMENT", split at the first arrow (as config validation, config/references.ts, splits it).
const REWRITE = /^(~.+?)\s+->\s+(.*)$/s;
// References in a replacement: $$, $1..$9, $<name>, ${name}. Anything else after "$" is literal.
const REFERENCE = /\$(?:(\$)|([1-9])|<([^>]*)>|\{([^}]*)\})/g;

/**
 * `rewrite: { path: "~^/old/(.*) -> /new/$1" }`: the first match of the regex is replaced, the rest of the path
 * kept (String.replace semantics, like Traefik's ReplacePathRegex); a path the regex does not match passes
 * unchanged. The replacement may use $1..$9 and named groups as ${name} or $<name>; $$ is a literal "$".
 * Regex and replacement are compiled here, once; a reference to a group the regex lacks is a config error.
 * A result not starting with "/" gets one, so the upstream always receives an origin-form path.
 */
export function compileRewrite(spec: string): PathRewriter {
  const m = REWRITE.exec(spec);
  if (!m || !isRegexPattern(m[1]!)) throw new PatternError('not a rewrite: use "~REGEX -> /replacement/$1"', spec);
  const re = compileRegex(m[1]!.trimEnd());
  // The result goes into the upstream's request line: a space or a control character there would split it.
  if (/[\x00-\x20\x7f]/.test(m[2]!.trim())) throw new PatternError("a replacement may not hold spaces or control characters", spec);
  const replacement = jsReplacement(m[2]!.trim(), re, spec);
  return (path) => {
    const out = path.replace(re, replacement);
    return out.charCodeAt(0) === 47 ? out : "/" + out;
  };
}

/** Translates our replacement syntax into String.replace's, with literal "$" escaped so nothing else is special. */
function jsReplacement(text: string, re: RegExp, spec: string): string {
  const groups = regexGroups(re);
  let out = "";
  let last = 0;
  for (const ref of text.matchAll(REFERENCE)) {
    out += text.slice(last, ref.index).replaceAll("$", "$$$$");
    last = ref.index + ref[0].length;
    const [, dollar, number, angled, braced] = ref;
    if (dollar) out += "$$";
    else if (number) {
      if (Number(number) > groups.count) throw new PatternError(`$${number} refers to a group the regex does not have`, spec);
      out += "$" + number;
    } else {
      const name = (angled ?? braced)!;
      if (!groups.names.includes(name)) throw new PatternError(`\${${name}} refers to a named group the regex does not have`, spec);
      out += `$<${name}>`;
    }
  }
  return out + text.slice(last).replaceAll("$", "$$$$");
}

/** The route's whole path change (strip, then rewrite), or null when it makes none. */
export function compilePathRewrite(route: {
  readonly stripPrefix?: string | undefined;
  readonly rewrite?: { readonly path: string } | undefined;
}): PathRewriter | null {
  const strip = route.stripPrefix !== undefined ? within(["stripPrefix"], () => compileStripPrefix(route.stripPrefix!)) : null;
  const rewrite = route.rewrite !== undefined ? within(["rewrite", "path"], () => compileRewrite(route.rewrite!.path)) : null;
  if (strip && rewrite) return (path) => rewrite(strip(path));
  return strip ?? rewrite;
}
