// The client behind proxies one trusts: the peer's address, unless the peer is a trusted proxy — then the
// right-most X-Forwarded-For hop that is not one (nginx's real_ip_recursive). Hops left of it were written by the
// client or by proxies nobody vouches for, so they are never believed.
import type { AddressSet } from "../config/cidr.ts";

/** `forwardedFor`: every X-Forwarded-For field of the request joined with ", " (undefined for none). */
export function forwardedClient(peer: string, forwardedFor: string | undefined, trusted: AddressSet): string {
  if (forwardedFor === undefined || !trusted.has(peer)) return peer;
  const hops = forwardedFor.split(",");
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (hop === "") continue;
    client = hop;
    if (!trusted.has(hop)) break;
  }
  return client;
}
