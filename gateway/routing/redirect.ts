// Redirect targets: `redirect: { to, status }`. `to` is an absolute URL ("https://example.com/x") or a path
// ("/x", "//cdn.example.com/x"), with optional placeholders, compiled once into literal and value parts:
//
//   $scheme   "http" or "https", as the request arrived
//   $host     the request host, lower-case and WITHOUT its port (as nginx's $host)
//   $path     the request path after the route's stripPrefix/rewrite (the path as received when it has none)
//   $query    the query string WITH its "?" ("?a=1"), or "" when there is none, so "$path$query" never
//             leaves a dangling "?"
//   ${name}   a path parameter of the route ("/users/:id", or a regex's named group); "" if not captured
//
// `${scheme}` etc. work too, for a placeholder followed by letters; `$$` is a literal "$". An unknown name is a
// config error. Without placeholders `to` is used as written: the query string is dropped, as nginx's `return`.
// Classic use: `{ "to": "https://$host$path$query", "status": 301 }`.
import type { Params } from "./path.ts";
import { PatternError } from "./matcher.ts";
import type { RequestView } from "./view.ts";

export interface CompiledRedirect {
  readonly status: number;
  /** The Location for a request; `path` is the (rewritten) path, `params` the route's captured params. */
  location(view: RequestView, path: string, params: Params): string;
}

type Part = string | ((view: RequestView, path: string, params: Params) => string);

const BUILTINS: Record<string, Part> = {
  scheme: (view) => view.scheme,
  // An IPv6 host was stored without brackets; a URL needs them back.
  host: (view) => (view.host.includes(":") ? `[${view.host}]` : view.host),
  path: (_view, path) => path,
  query: (view) => view.search,
};

const PLACEHOLDER = /\$(?:(\$)|\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))/g;
const ABSOLUTE = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

export function compileRedirect(redirect: { readonly to: string; readonly status: number }, paramNames: readonly string[] = []): CompiledRedirect {
  const { to, status } = redirect;
  const parts: Part[] = [];
  let literal = "";
  let last = 0;
  for (const m of to.matchAll(PLACEHOLDER)) {
    literal += to.slice(last, m.index);
    last = m.index + m[0].length;
    if (m[1]) {
      literal += "$";
      continue;
    }
    const name = (m[2] ?? m[3])!;
    const part = BUILTINS[name] ?? (paramNames.includes(name) ? paramPart(name) : undefined);
    if (part === undefined) {
      throw new PatternError(`unknown placeholder $${name}: use $scheme, $host, $path, $query or a path parameter`, to, ["to"]);
    }
    if (literal !== "") parts.push(literal);
    literal = "";
    parts.push(part);
  }
  literal += to.slice(last);
  if (literal !== "") parts.push(literal);

  const first = parts[0];
  const startsWell = typeof first === "string" ? first.startsWith("/") || ABSOLUTE.test(first) : first === BUILTINS.path || first === BUILTINS.scheme;
  if (!startsWell) throw new PatternError('a redirect goes to an absolute URL ("https://…") or a path ("/…")', to, ["to"]);

  if (parts.length === 1 && typeof first === "string") return { status, location: () => first };
  const list = parts.slice();
  return {
    status,
    location(view, path, params) {
      let out = "";
      for (let i = 0; i < list.length; i++) {
        const part = list[i]!;
        out += typeof part === "string" ? part : part(view, path, params);
      }
      return out;
    },
  };
}

function paramPart(name: string): Part {
  return (_view, _path, params) => params[name] ?? "";
}
