// Header rules on the hono path (requests and answers as Headers objects): hop-by-hop headers never cross the
// proxy (RFC 9110 §7.6.1), the upstream learns who the client was through X-Forwarded-* and X-Request-Id, and
// nothing goes upstream that could not be written as a valid field line.
import { Role, roleOf } from "./field-roles.ts";
import { contentLengthValue, NOT_FIELD_VALUE } from "../http/syntax.ts";

/** Headers that describe one connection, not the message: never forwarded, either way. */
const HOP_BY_HOP = [
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  // The gateway answers `100-continue` itself (or not at all, to HTTP/1.0 clients), as on the byte path.
  "expect",
];

/** Remove hop-by-hop headers, including every header the Connection header names. */
export function stripHopByHop(headers: Headers): void {
  const listed = headers.get("connection");
  if (listed) {
    for (const name of listed.split(",")) {
      const trimmed = name.trim();
      if (trimmed) headers.delete(trimmed);
    }
  }
  for (const name of HOP_BY_HOP) headers.delete(name);
}

export interface ForwardedFacts {
  clientIp: string;
  /** The client's address is one of `trustedProxies`: its X-Forwarded-For is kept and appended to. */
  trusted: boolean;
  proto: "http" | "https";
  host: string;
  requestId: string;
}

/**
 * Add what the upstream needs to know about the original request. X-Forwarded-Proto and X-Forwarded-Host are
 * always the gateway's own; X-Forwarded-For is appended to only for a trusted proxy, and replaced for anyone
 * else (a client could otherwise name any address as its own), whose other claims about itself (Forwarded,
 * X-Real-Ip, X-Forwarded-Port…) are dropped.
 */
export function addForwarded(headers: Headers, facts: ForwardedFacts): void {
  if (!facts.trusted) {
    let claims: string[] | undefined;
    headers.forEach((_value, name) => {
      if (roleOf(name) === Role.ClientClaim) (claims ??= []).push(name);
    });
    if (claims) for (const name of claims) headers.delete(name);
  }
  const prior = facts.trusted ? headers.get("x-forwarded-for") : null;
  headers.set("x-forwarded-for", prior ? `${prior}, ${facts.clientIp}` : facts.clientIp);
  headers.set("x-forwarded-proto", facts.proto);
  if (facts.host) headers.set("x-forwarded-host", facts.host);
  else headers.delete("x-forwarded-host");
  headers.set("x-request-id", facts.requestId);
}

/** A request id from a client, kept when it is a plain token of at most 200 bytes (ASCII: one byte a character). */
/** What a request id may be: a plain token of at most 200 bytes (a client's, or one a plugin sets). */
export const SAFE_REQUEST_ID = /^[\w.:@=+\/-]{1,200}$/;

/** The client's X-Request-Id when it is a sane token, else a new one. */
export function requestIdFor(incoming: string | null): string {
  return incoming !== null && SAFE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
}

/** A header a plugin (or its config) set that cannot be sent: the request ends with the gateway's own 500. */
export class UnwritableHeader extends Error {}

/**
 * The last look at the headers of an upstream request on the hono path, after the plugins had their turn: a
 * value that is not a valid field value throws UnwritableHeader; a look-alike of a field the gateway writes
 * itself (`X_Forwarded_For`) is dropped; and the framing is the body's, never a header a plugin set (a
 * Content-Length that disagreed with the body would leave its rest to be read as the next request on that
 * connection). `length`: the client's Content-Length when its body goes up as it came (sent in its plain form,
 * `5, 5` as `5`); null when there is no body or its length is not known ahead (chunked, or transformed).
 */
export function settleOutgoing(headers: Headers, length: string | null): void {
  let lookalikes: string[] | undefined;
  headers.forEach((value, name) => {
    if (NOT_FIELD_VALUE.test(value)) throw new UnwritableHeader(`header ${name} holds a control character`);
    if (name.includes("_") && roleOf(name) === Role.Lookalike) (lookalikes ??= []).push(name);
  });
  if (lookalikes) for (const name of lookalikes) headers.delete(name);
  if (length === null) {
    headers.delete("content-length");
    return;
  }
  const value = contentLengthValue(length);
  if (value < 0) throw new UnwritableHeader(`invalid content-length ${JSON.stringify(length)}`);
  headers.set("content-length", String(value));
}
