// The path-and-query part of a request URL without a URL parse: Request.url is always absolute
// ("http://host/path?query"), so the path starts at the first "/" after "://".
export function pathAndQueryOf(url: string): string {
  const start = url.indexOf("/", url.indexOf("://") + 3);
  return start === -1 ? "/" : url.slice(start);
}

/** Split "path?query" into its path and its "?query" (empty when there is none). */
export function splitQuery(pathAndQuery: string): [path: string, search: string] {
  const q = pathAndQuery.indexOf("?");
  return q === -1 ? [pathAndQuery, ""] : [pathAndQuery.slice(0, q), pathAndQuery.slice(q)];
}
