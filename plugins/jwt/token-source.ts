// Where a request carries its token: `header` (Authorization: Bearer, RFC 6750 §2.1), `header:NAME` (a header of
// its own, with or without "Bearer "), `cookie:NAME` or `query:NAME`. The first place that has one decides: a bad
// token there is refused, never passed over for another place.
import type { Context } from "hono";
import { getCookie } from "hono/cookie";

export type TokenSource = (c: Context) => string | undefined;

/** `from` as the config writes it: "header", "header:NAME", "cookie:NAME" or "query:NAME". */
export const SOURCE_PATTERN = /^(header|header:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|cookie:[!#$%&'*+\-.^_`|~0-9A-Za-z]+|query:[^&=#\s]+)$/;

// "Bearer" token68 (RFC 6750 §2.1); the scheme is case-insensitive (RFC 9110 §11.1).
const BEARER = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i;
const BEARER_SCHEME = /^\s*Bearer(\s|$)/i;

export function tokenSource(spec: string): TokenSource {
  const colon = spec.indexOf(":");
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const name = colon < 0 ? "" : spec.slice(colon + 1);
  switch (kind) {
    case "header":
      if (name === "") return (c) => bearerOf(c.req.raw.headers.get("authorization"));
      return (c) => {
        const value = c.req.raw.headers.get(name);
        if (value === null) return undefined;
        return bearerOf(value) ?? value.trim();
      };
    case "cookie":
      return (c) => getCookie(c, name) || undefined;
    case "query":
      return (c) => c.req.query(name) || undefined;
  }
  throw new Error(`unknown token source ${spec}`);
}

/** The token of a Bearer credential; "" for a malformed one (refused); undefined for none or another scheme. */
function bearerOf(value: string | null): string | undefined {
  if (value === null || !BEARER_SCHEME.test(value)) return undefined;
  return BEARER.exec(value)?.[1] ?? "";
}

/** The token of a request from the first source that has one, "" for one that is malformed, or undefined for none. */
export function findToken(c: Context, sources: readonly TokenSource[]): string | undefined {
  for (const source of sources) {
    const token = source(c);
    if (token !== undefined) return token;
  }
  return undefined;
}
