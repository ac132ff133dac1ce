// ip-filter: lets a request through by the address of its client, as nginx's allow/deny, HAProxy's
// `http-request deny if { src … }` and Traefik's ipAllowList do. `deny` wins over `allow`; an empty `allow` lets in
// every address not denied. Lists are CIDR ranges (IPv4 and IPv6), parsed once at setup.
//
// The client is the gateway's clientIp (the peer, or the X-Forwarded-For hop the top-level trustedProxies vouch
// for); `trustedProxies` in the options replaces that list for this plugin. An address that cannot be read as one
// (a proxy writing "unknown", or a port) is refused: a filter that cannot tell who is asking keeps the door shut.
import { z } from "zod";
import { AddressSet, definePlugin } from "../../gateway/mod.ts";
import { addressRange } from "../shared/option-types.ts";
import { clientAddress } from "./client-address.ts";

const ranges = z.union([addressRange, z.array(addressRange)]).transform((r) => (Array.isArray(r) ? r : [r]));

const options = z
  .strictObject({
    /** Addresses let in; empty: every address not denied. */
    allow: ranges.default([]),
    /** Addresses refused, whatever `allow` says. */
    deny: ranges.default([]),
    /** Proxies whose X-Forwarded-For tells the client's address; default: the gateway's `trustedProxies`. */
    trustedProxies: ranges.optional(),
  })
  .superRefine((o, ctx) => {
    if (o.allow.length === 0 && o.deny.length === 0) {
      ctx.addIssue({ code: "custom", path: [], message: "give allow, deny or both: an ip-filter with neither lets every client through" });
    }
  });

/** Every IPv4 and IPv6 address: whether a text is an address at all. */
const ANY_ADDRESS = ["0.0.0.0/0", "::/0"];

export default definePlugin({
  name: "ip-filter",
  options,
  setup(o) {
    const allow = o.allow.length === 0 ? undefined : new AddressSet(o.allow);
    const deny = new AddressSet(o.deny);
    const trusted = o.trustedProxies === undefined ? undefined : new AddressSet(o.trustedProxies);
    const isAddress = new AddressSet(ANY_ADDRESS);
    return {
      onRequest(req) {
        const client = trusted === undefined ? req.clientIp : clientAddress(req, trusted);
        if (isAddress.has(client) && !deny.has(client) && (allow === undefined || allow.has(client))) return;
        return { status: 403, json: { error: "client address not allowed", requestId: req.requestId }, logError: `ip-filter: ${client} not allowed` };
      },
    };
  },
});
