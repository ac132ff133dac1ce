// Sticky sessions through an inserted cookie (HAProxy's `cookie NAME insert indirect nocache`).
//
// The cookie's value names a server by an opaque token: HMAC-SHA256(key, pool + server id), cut to 128 bits,
// base64url. Tokens are computed once per config load, so a request costs one map lookup and no crypto; a
// value that is not one of the tokens (forged, tampered, from a removed server, from another pool) is simply
// not found and the request is balanced anew. The token reveals nothing about the server, and gateways
// given the same key issue and honour the same tokens.
import { createHmac } from "node:crypto";
import type { StickyConfig } from "../config/schema.ts";
import type { RequestView } from "../routing/view.ts";
import type { UpstreamServer } from "./server.ts";

export interface StickyCookie {
  readonly name: string;
  /** The server id the request's sticky cookie names, or undefined (absent, forged or stale). */
  serverOf(view: RequestView): string | undefined;
  /** Servers that joined the pool later (DNS discovery): their clients get and keep cookies too. */
  learn(servers: readonly UpstreamServer[]): void;
  /** The Set-Cookie header value binding a client to this server. */
  setCookieFor(serverId: string): string;
  /** Remove the sticky cookie from a Cookie header going upstream ("indirect": servers never see it). */
  stripFrom(headers: Headers): void;
  /** The same for one Cookie header value: what is left of it, or null when nothing is. */
  stripFromValue(cookie: string): string | null;
}

export function createStickyCookie(config: StickyConfig, poolName: string, servers: readonly UpstreamServer[], key: string): StickyCookie {
  const tokenOf = new Map<string, string>();
  const serverOfToken = new Map<string, string>();
  const learn = (servers: readonly UpstreamServer[]) => {
    for (const server of servers) {
      if (tokenOf.has(server.id)) continue;
      const token = createHmac("sha256", key).update(`${poolName}\n${server.id}`).digest().subarray(0, 16).toString("base64url");
      tokenOf.set(server.id, token);
      serverOfToken.set(token, server.id);
    }
  };
  learn(servers);
  const attributes = [
    `Path=${config.path}`,
    // Rounded up: "500ms" must not become Max-Age=0, which deletes the cookie at once.
    ...(config.maxAge !== null ? [`Max-Age=${Math.ceil(config.maxAge / 1000)}`] : []),
    ...(config.httpOnly ? ["HttpOnly"] : []),
    // Browsers refuse SameSite=None without Secure.
    ...(config.secure || config.sameSite === "None" ? ["Secure"] : []),
    `SameSite=${config.sameSite}`,
  ].join("; ");
  const name = config.cookie;
  const prefix = `${name}=`;

  return {
    name,
    learn,
    serverOf(view) {
      const value = view.cookie(name);
      return value === undefined ? undefined : serverOfToken.get(value);
    },
    setCookieFor(serverId) {
      return `${prefix}${tokenOf.get(serverId)}; ${attributes}`;
    },
    stripFrom(headers) {
      const cookie = headers.get("cookie");
      if (cookie === null) return;
      const kept = this.stripFromValue(cookie);
      if (kept === null) headers.delete("cookie");
      else if (kept !== cookie) headers.set("cookie", kept);
    },
    stripFromValue(cookie) {
      if (!cookie.includes(prefix)) return cookie;
      const kept = cookie.split(";").filter((part) => part.trim().split("=", 1)[0] !== name);
      return kept.length === 0 ? null : kept.join(";").trim();
    },
  };
}

/**
 * A response that binds a client to a server must not be stored by shared caches, or every client of the
 * cache would get that binding (HAProxy's `nocache`): make it `private`, dropping what says otherwise.
 */
export function keepOutOfSharedCaches(headers: Headers): void {
  headers.set("cache-control", privateCacheControl(headers.get("cache-control")));
}

/** The Cache-Control value that keeps an answer out of shared caches, from the one it had (or null). */
export function privateCacheControl(current: string | null): string {
  if (current === null) return "private";
  const directives = current
    .split(",")
    .map((d) => d.trim())
    .filter((d) => d !== "" && !/^(public|s-maxage=.*)$/i.test(d));
  if (!directives.some((d) => /^(private|no-store)$/i.test(d))) directives.unshift("private");
  return directives.join(", ");
}
