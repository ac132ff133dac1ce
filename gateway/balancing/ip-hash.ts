// ip-hash (nginx ip_hash, HAProxy `balance source`): the client's address decides the server, so a client keeps
// its server while that server is up, without a cookie. Always the client address, whatever the pool's
// `hash` says (that setting is for consistent-hash). The whole address is hashed, as HAProxy does (nginx uses
// only the first three bytes of an IPv4 address); an IPv4 address seen as IPv6 (::ffff:1.2.3.4) hashes as the
// IPv4 one, so a dual-stack listener does not move clients. Mapping and fail-over: weighted-hash.ts.
import type { Selector, SelectorFactory } from "./selector.ts";
import { hashString } from "./hash.ts";
import { WeightedHash } from "./weighted-hash.ts";

const MAPPED = "::ffff:";

/** The address's hash, skipping an IPv4-mapped prefix (without slicing: no allocation). */
export function hashClientIp(ip: string): number {
  const mapped = ip.length > MAPPED.length && ip.startsWith(MAPPED) && ip.indexOf(".", MAPPED.length) > 0;
  return hashString(ip, mapped ? MAPPED.length : 0);
}

export const ipHash: SelectorFactory = (options): Selector => {
  const table = new WeightedHash(options.servers);
  return {
    needsHashKey: false,
    pick: (servers, eligible, input) => table.pick(servers, eligible, hashClientIp(input.clientIp), input.now),
  };
};
