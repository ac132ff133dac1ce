// Option types the built-in plugins share, so a duration or a header name is written and checked the same way
// in every plugin as in the rest of the config.
import { z } from "zod";
import { durationProblem, parseCidr, parseDuration } from "../../gateway/mod.ts";

/** A duration as milliseconds: 250, "500ms", "2s", "1m", "1h", "1d". */
export const duration = z.union([z.number(), z.string()]).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === null) {
    ctx.addIssue({ code: "custom", message: durationProblem(value) });
    return z.NEVER;
  }
  return ms;
});

/** An HTTP field name (RFC 9110 token), lower-cased. */
export const headerName = z
  .string()
  .regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, { message: "not a header name" })
  .transform((name) => name.toLowerCase());

/**
 * Fields a plugin must never set from what it verified: the gateway or the connection owns them (framing, routing,
 * forwarding facts), or they carry the client's own credentials.
 */
const RESERVED = new Set([
  "host",
  "content-length",
  "transfer-encoding",
  "connection",
  "keep-alive",
  "te",
  "trailer",
  "upgrade",
  "expect",
  "proxy-authorization",
  "proxy-connection",
  "authorization",
  "cookie",
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-request-id",
]);

/** A header name a plugin may set on the upstream request to pass on who the client is. */
export const identityHeaderName = headerName.refine((name) => !RESERVED.has(name), {
  message: "a header the gateway or the client's credentials own: pick another name, like x-user-id",
});

/** An address range as the config's `trustedProxies` writes it: "10.0.0.0/8", "192.0.2.7", "fd00::/8", "::1". */
export const addressRange = z.string().refine((text) => parseCidr(text) !== undefined, {
  message: 'not an address or CIDR: use "10.0.0.0/8", "192.0.2.7" or "fd00::/8"',
});
