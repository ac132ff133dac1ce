// Which bucket a request is counted in: the route it is on (a route's limit is its own; a global plugin's
// spans every route) and the client as the `key` option names it. A request that lacks the key (no such
// header, no verified claim) is counted in one bucket shared by all such requests — never exempt.
import { createHash } from "node:crypto";
import type { Context } from "hono";
import type { GatewayEnv } from "../../gateway/mod.ts";
import { clientAddressKey } from "./client-address.ts";
import type { KeySource } from "./options.ts";

type RequestKey = (c: Context<GatewayEnv>) => string;

/** The key part of requests that lack the key; every other key part starts with "=" or "#". */
const NO_KEY = "-";
/** Longer values (a header the client chose) are hashed, so a client cannot make the store hold big keys. */
const LONGEST_KEPT = 64;

/**
 * Where verified JWT claims are found: the jwt plugin, placed before this one on the route, stores the
 * payload it verified there (hono's own jwt middleware uses the same name). Nothing is ever decoded here:
 * a claim read from an unverified token would let a client pick its own bucket.
 */
const VERIFIED_CLAIMS = "jwtPayload";

export function compileRequestKey(source: KeySource, ipv6Prefix: number): RequestKey {
  const scoped = (c: Context<GatewayEnv>, part: string) => {
    // The route is known when the plugin runs on a route; a global plugin runs before routing.
    const route = c.get("log").route;
    return route === undefined ? `*|${part}` : `${route.length}:${route}|${part}`;
  };
  switch (source.kind) {
    case "ip":
      return (c) => scoped(c, `=${clientAddressKey(c.env.sluice.client.address, ipv6Prefix)}`);
    case "route":
      return (c) => scoped(c, "");
    case "header": {
      const name = source.name;
      return (c) => scoped(c, valueKey(c.req.raw.headers.get(name)));
    }
    case "claim": {
      const name = source.name;
      return (c) => {
        // A variable the gateway's own types do not name: read it untyped.
        const claims = (c.get as unknown as (key: string) => unknown)(VERIFIED_CLAIMS);
        const value = claims !== null && typeof claims === "object" ? (claims as Record<string, unknown>)[name] : undefined;
        return scoped(c, valueKey(claimText(value)));
      };
    }
  }
}

function claimText(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return typeof value === "string" ? value : JSON.stringify(value);
}

function valueKey(value: string | null): string {
  if (value === null || value === "") return NO_KEY;
  if (value.length <= LONGEST_KEPT) return `=${value}`;
  return `#${createHash("sha256").update(value).digest("base64url")}`;
}
