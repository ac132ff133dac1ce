// `methods` matching. Config names are case-insensitive ("get" means GET); the request method is compared as
// received, because methods are case-sensitive on the wire (RFC 9110) and the standard ones arrive upper-case.
// GET does not imply HEAD: list both when a route should answer both (nothing here guesses).
import type { Matcher } from "./matcher.ts";
import { asList, exactTest } from "./matcher.ts";

export function compileMethodsMatcher(spec: string | readonly string[]): Matcher {
  const test = exactTest([...new Set(asList(spec).map((m) => m.toUpperCase()))])!;
  return (view) => test(view.method);
}
