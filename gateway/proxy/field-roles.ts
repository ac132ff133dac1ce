// What a header field is to the proxy, decided from its name without lower-casing it (a string allocation per
// field and per request otherwise): a switch on the length, then one case-insensitive compare.
import { sameName } from "../http/head.ts";

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
}

export function roleOf(name: string): Role {
  switch (name.length) {
    case 2:
      return sameName(name, "te") ? Role.HopByHop : Role.Ordinary;
    case 4:
      return sameName(name, "host") ? Role.Host : Role.Ordinary;
    case 6:
      return sameName(name, "cookie") ? Role.Cookie : sameName(name, "expect") ? Role.Expect : Role.Ordinary;
    case 7:
      return sameName(name, "upgrade") ? Role.Upgrade : sameName(name, "trailer") ? Role.HopByHop : Role.Ordinary;
    case 10:
      return sameName(name, "connection") ? Role.Connection : sameName(name, "keep-alive") ? Role.HopByHop : Role.Ordinary;
    case 12:
      return sameName(name, "x-request-id") ? Role.XRequestId : Role.Ordinary;
    case 13:
      return sameName(name, "cache-control") ? Role.CacheControl : Role.Ordinary;
    case 14:
      return sameName(name, "content-length") ? Role.ContentLength : Role.Ordinary;
    case 15:
      return sameName(name, "x-forwarded-for") ? Role.XForwardedFor : Role.Ordinary;
    case 16:
      return sameName(name, "x-forwarded-host") ? Role.XForwardedHost : sameName(name, "proxy-connection") ? Role.HopByHop : Role.Ordinary;
    case 17:
      return sameName(name, "transfer-encoding") ? Role.HopByHop : sameName(name, "x-forwarded-proto") ? Role.XForwardedProto : Role.Ordinary;
    case 18:
      return sameName(name, "proxy-authenticate") ? Role.HopByHop : Role.Ordinary;
    case 19:
      return sameName(name, "proxy-authorization") ? Role.HopByHop : Role.Ordinary;
    default:
      return Role.Ordinary;
  }
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
