// The request key hash balancing uses (`hash` in a pool): compiled once per pool into a function, so a
// request only reads the one thing the key names.
import type { RequestView } from "../routing/view.ts";

/** What a key may be read from: the client address always, the HTTP request when there is one (not for TCP). */
export interface KeySource {
  clientIp: string;
  view?: RequestView;
}

export type HashKeyOf = (source: KeySource) => string;

/**
 * `ip` the client address; `uri` path and query as received (nginx's $request_uri); `path` the path alone;
 * `header:NAME`, `cookie:NAME`, `query:NAME` that value. A missing header, cookie or query parameter gives
 * "" — all such requests share one server, as nginx's `hash $cookie_x` does. `spec` is canonical, as the
 * config is once loaded: a header's name is in lower case already (config/canonical.ts).
 */
export function compileHashKey(spec: string): HashKeyOf {
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const name = colon < 0 ? "" : spec.slice(colon + 1);
  switch (kind) {
    case "ip":
      return (s) => s.clientIp;
    case "uri":
      return (s) => (s.view ? s.view.path + s.view.search : "");
    case "path":
      return (s) => s.view?.path ?? "";
    case "header":
      return (s) => s.view?.headers.get(name) ?? "";
    case "cookie":
      return (s) => s.view?.cookie(name) ?? "";
    case "query":
      return (s) => s.view?.queryValues(name)?.[0] ?? "";
    default:
      throw new Error(`unknown hash key "${spec}"`);
  }
}
