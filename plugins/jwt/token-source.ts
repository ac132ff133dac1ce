// Where a request carries its token: `header` (Authorization: Bearer, RFC 6750 §2.1), `header:NAME` (a header of
// its own, with or without "Bearer "), `cookie:NAME` or `query:NAME`. The first place that has one decides: a bad
// token there is refused, never passed over for another place.
import type { GatewayRequest } from "../../gateway/mod.ts";

export type TokenSource = (req: GatewayRequest) => string | undefined;

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
      if (name === "") return (req) => bearerOf(req.header("authorization"));
      return (req) => {
        const value = req.header(name);
        if (value === undefined) return undefined;
        return bearerOf(value) ?? value.trim();
      };
    case "cookie":
      return (req) => req.cookie(name) || undefined;
    case "query":
      return (req) => req.query(name) || undefined;
  }
  throw new Error(`unknown token source ${spec}`);
}

/**
 * The token of a Bearer credential; "" for a malformed one (refused); undefined for none or another scheme. The
 * usual form, "Bearer " and one word, is taken without the token68 check: what is not token68 is not a compact
 * JWS either, and the verifier refuses it as malformed all the same (a regular expression over the whole token
 * would cost more than the rest of a cached token's check).
 */
function bearerOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  if (value.startsWith("Bearer ") && value.indexOf(" ", 7) < 0) return value.slice(7);
  if (!BEARER_SCHEME.test(value)) return undefined;
  return BEARER.exec(value)?.[1] ?? "";
}

/** The token of a request from the first source that has one, "" for one that is malformed, or undefined for none. */
export function findToken(req: GatewayRequest, sources: readonly TokenSource[]): string | undefined {
  for (const source of sources) {
    const token = source(req);
    if (token !== undefined) return token;
  }
  return undefined;
}
