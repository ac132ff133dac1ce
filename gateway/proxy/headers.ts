// Header rules on the way through: hop-by-hop headers never cross the proxy (RFC 9110 §7.6.1), and
// the upstream learns who the client was through X-Forwarded-* and X-Request-Id.

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
  proto: "http" | "https";
  host: string;
  requestId: string;
}

/** Add what the upstream needs to know about the original request. */
export function addForwarded(headers: Headers, facts: ForwardedFacts): void {
  const prior = headers.get("x-forwarded-for");
  headers.set("x-forwarded-for", prior ? `${prior}, ${facts.clientIp}` : facts.clientIp);
  headers.set("x-forwarded-proto", facts.proto);
  if (facts.host) headers.set("x-forwarded-host", facts.host);
  headers.set("x-request-id", facts.requestId);
}

const SAFE_REQUEST_ID = /^[\w.:@=+\/-]{1,200}$/;

/** The client's X-Request-Id when it is a sane token, else a new one. */
export function requestIdFor(incoming: string | null): string {
  return incoming !== null && SAFE_REQUEST_ID.test(incoming) ? incoming : crypto.randomUUID();
}
