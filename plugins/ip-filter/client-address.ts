// Which address a request comes from, when the plugin names its own trusted proxies: the peer's, unless the peer
// is one of them — then the right-most X-Forwarded-For hop that is not (what the gateway's own clientIp does with
// the top-level trustedProxies).
import { forwardedClient, type AddressSet, type GatewayRequest } from "../../gateway/mod.ts";

export function clientAddress(req: GatewayRequest, trusted: AddressSet): string {
  return forwardedClient(req.peerIp, req.header("x-forwarded-for"), trusted);
}
