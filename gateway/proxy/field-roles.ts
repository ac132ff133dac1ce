// What a header field is to the proxy, decided from its name without lower-casing it (a string allocation per
// field and per request otherwise): a switch on the length, then one case-insensitive compare.
import { sameNameAt } from "../http/head.ts";

export const enum Role {
  /** End to end: forwarded as it is. */
  Ordinary,
  /** Describes one connection: never forwarded (RFC 9110 §7.6.1). */
  HopByHop,
  Connection,
  Upgrade,
  Host,
  ContentLength,
  Expect,
  XForwardedFor,
  XForwardedProto,
  XForwardedHost,
  XRequestId,
  Cookie,
  CacheControl,
  /**
   * One of the fields the gateway writes itself (X-Forwarded-*, X-Request-Id) spelled with `_` for `-`: dropped,
   * since servers that map names to CGI-style variables read both spellings as one and could take it for ours.
   */
  Lookalike,
  /**
   * Says who the client is or how it connected (Forwarded, X-Real-Ip, X-Forwarded-* other than those the gateway
   * writes, such as -Port or -Prefix): believed, and forwarded, only from a trusted proxy.
   */
  ClientClaim,
}

export function roleOf(name: string): Role {
  return roleAt(name, 0, name.length);
}

/** `roleOf` for the name at `text[start..end)` (a parsed head's source), without cutting it out. */
export function roleAt(text: string, start: number, end: number): Role {
  switch (end - start) {
    case 2:
      return sameNameAt(text, start, end, "te") ? Role.HopByHop : Role.Ordinary;
    case 4:
      return sameNameAt(text, start, end, "host") ? Role.Host : Role.Ordinary;
    case 9:
      return sameNameAt(text, start, end, "forwarded") || sameNameAt(text, start, end, "x-real-ip") ? Role.ClientClaim : Role.Ordinary;
    case 6:
      return sameNameAt(text, start, end, "cookie") ? Role.Cookie : sameNameAt(text, start, end, "expect") ? Role.Expect : Role.Ordinary;
    case 7:
      return sameNameAt(text, start, end, "upgrade") ? Role.Upgrade : sameNameAt(text, start, end, "trailer") ? Role.HopByHop : Role.Ordinary;
    case 10:
      return sameNameAt(text, start, end, "connection") ? Role.Connection : sameNameAt(text, start, end, "keep-alive") ? Role.HopByHop : Role.Ordinary;
    case 12:
      return sameNameAt(text, start, end, "x-request-id") ? Role.XRequestId : lookalike(text, start, end, "x-request-id");
    case 13:
      return sameNameAt(text, start, end, "cache-control") ? Role.CacheControl : forwardedClaim(text, start, end);
    case 14:
      return sameNameAt(text, start, end, "content-length") ? Role.ContentLength : forwardedClaim(text, start, end);
    case 15:
      return sameNameAt(text, start, end, "x-forwarded-for") ? Role.XForwardedFor : lookalike(text, start, end, "x-forwarded-for");
    case 16:
      return sameNameAt(text, start, end, "x-forwarded-host")
        ? Role.XForwardedHost
        : sameNameAt(text, start, end, "proxy-connection")
          ? Role.HopByHop
          : lookalike(text, start, end, "x-forwarded-host");
    case 17:
      return sameNameAt(text, start, end, "transfer-encoding")
        ? Role.HopByHop
        : sameNameAt(text, start, end, "x-forwarded-proto")
          ? Role.XForwardedProto
          : lookalike(text, start, end, "x-forwarded-proto");
    case 18:
      return sameNameAt(text, start, end, "proxy-authenticate") ? Role.HopByHop : forwardedClaim(text, start, end);
    case 19:
      return sameNameAt(text, start, end, "proxy-authorization") ? Role.HopByHop : forwardedClaim(text, start, end);
    default:
      return end - start > 12 ? forwardedClaim(text, start, end) : Role.Ordinary;
  }
}

/** Role.ClientClaim for any other `X-Forwarded-…` name (longer than the prefix), Role.Ordinary otherwise. */
function forwardedClaim(text: string, start: number, end: number): Role {
  // Most names differ at their first byte.
  if ((text.charCodeAt(start) | 0x20) !== 0x78 || end - start <= 12) return Role.Ordinary;
  return sameNameAt(text, start, start + 12, "x-forwarded-") ? Role.ClientClaim : Role.Ordinary;
}

/**
 * Role.Lookalike when the name at `text[start..end)` (as long as `lower`) equals `lower` with `_` in place of at
 * least one `-`, ignoring case; else what forwardedClaim says. Most names differ at their first byte.
 */
function lookalike(text: string, start: number, end: number, lower: string): Role {
  let underscores = 0;
  for (let i = 0; i < lower.length; i++) {
    const code = text.charCodeAt(start + i);
    const want = lower.charCodeAt(i);
    if ((code | 0x20) === want) continue;
    if (want !== 0x2d || code !== 0x5f) return forwardedClaim(text, start, end);
    underscores++;
  }
  return underscores > 0 ? Role.Lookalike : forwardedClaim(text, start, end);
}

/** Connection options that name fields beyond the standard hop-by-hop ones (lower-case), or undefined when none do. */
export function extraHopFields(tokens: string[] | undefined): string[] | undefined {
  if (tokens === undefined) return undefined;
  let extra: string[] | undefined;
  for (const token of tokens) {
    if (token !== "close" && token !== "keep-alive" && token !== "upgrade") (extra ??= []).push(token);
  }
  return extra;
}
