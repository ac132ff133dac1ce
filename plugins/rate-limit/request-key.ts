// Which bucket a request is counted in: where the limit is listed (a route's limit is its own; a global plugin's
// spans every route, also requests no route matched) and the client as the `key` option names it. A request that
// lacks the key (no such header, no verified claim) is counted in one bucket shared by all such requests — never
// exempt.
import { createHash } from "node:crypto";
import type { GatewayRequest } from "../../gateway/mod.ts";
import { clientAddressKey } from "./client-address.ts";
import type { KeySource } from "./options.ts";

type RequestKey = (req: GatewayRequest) => string;

/** The key part of requests that lack the key; every other key part starts with "=" or "#". */
const NO_KEY = "-";
/** Clients whose address key is kept (a few hundred bytes each); past it the map starts again. */
const KEYS_KEPT = 10_000;
/** Longer values (a header the client chose) are hashed, so a client cannot make the store hold big keys. */
const LONGEST_KEPT = 64;

/**
 * Where verified JWT claims are found: the jwt plugin, placed before this one, leaves the payload it verified in
 * the request's `vars` under this name (hono's own jwt middleware uses the same one). Nothing is ever decoded
 * here: a claim read from an unverified token would let a client pick its own bucket.
 */
const VERIFIED_CLAIMS = "jwtPayload";

/**
 * The key of a request. A route's limit scopes its keys by the route's name, so that two routes with the same
 * limit (which share a store) count apart; a global limit's keys are the same on every route.
 */
export function compileRequestKey(source: KeySource, ipv6Prefix: number, scope: "global" | "route"): RequestKey {
  const scoped =
    scope === "global"
      ? (_req: GatewayRequest, part: string) => `*|${part}`
      : (req: GatewayRequest, part: string) => `${req.route.length}:${req.route}|${part}`;
  switch (source.kind) {
    case "ip": {
      // The client's address: the peer's, or the one a trusted proxy in front forwarded (`trustedProxies`). A
      // client's key is the same on each of its requests, so it is kept by address: the peer's address is one
      // string per connection, so a request looks its key up instead of building a new string (and the store
      // hashing it anew).
      // A global limit's key is the same on every route: only a route's own limit keeps keys per route.
      const routeOf = scope === "global" ? () => "" : (req: GatewayRequest) => req.route;
      const known = new Map<string, { route: string; key: string }>();
      return (req) => {
        const address = req.clientIp;
        const route = routeOf(req);
        const kept = known.get(address);
        if (kept !== undefined && kept.route === route) return kept.key;
        const key = scoped(req, `=${clientAddressKey(address, ipv6Prefix)}`);
        if (known.size >= KEYS_KEPT) known.clear();
        known.set(address, { route, key });
        return key;
      };
    }
    case "route":
      // A route's own limit: the route is already in the scope. A global one: a limit per route ("" for none).
      return scope === "global" ? (req) => scoped(req, valueKey(req.route)) : (req) => scoped(req, "");
    case "header": {
      const name = source.name;
      return (req) => scoped(req, valueKey(req.header(name)));
    }
    case "claim": {
      const name = source.name;
      return (req) => {
        const claims = req.vars.get(VERIFIED_CLAIMS);
        const value = claims !== null && typeof claims === "object" ? (claims as Record<string, unknown>)[name] : undefined;
        return scoped(req, valueKey(claimText(value)));
      };
    }
  }
}

function claimText(value: unknown): string | undefined {
  if (value === undefined || value === null) return undefined;
  return typeof value === "string" ? value : JSON.stringify(value);
}

function valueKey(value: string | undefined): string {
  if (value === undefined || value === "") return NO_KEY;
  if (value.length <= LONGEST_KEPT) return `=${value}`;
  return `#${createHash("sha256").update(value).digest("base64url")}`;
}
