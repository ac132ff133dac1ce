// Which address a request comes from, when the plugin names its own trusted proxies: the peer's, unless the peer
// is one of them — then the right-most X-Forwarded-For hop that is not (nginx's real_ip_recursive, and what the
// gateway's own clientIp does with the top-level trustedProxies). Hops left of it were written by the client or by
// proxies nobody vouches for, so they are never read.
import type { AddressSet, GatewayRequest } from "../../gateway/mod.ts";

export function clientAddress(req: GatewayRequest, trusted: AddressSet): string {
  const peer = req.peerIp;
  if (!trusted.has(peer)) return peer;
  const forwarded = req.header("x-forwarded-for");
  if (forwarded === undefined) return peer;
  const hops = forwarded.split(",");
  let client = peer;
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i]!.trim();
    if (hop === "") continue;
    client = hop;
    if (!trusted.has(hop)) break;
  }
  return client;
}
