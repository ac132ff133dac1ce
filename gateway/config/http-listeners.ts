// The `listen` entries of a config as the gateway opens them: an address string, or an object with settings
// of its own, read the same way everywhere (the listener start-up, reloads, the address-clash check).
import type { Config, HstsSettings, HttpListenerConfig } from "./schema.ts";

export interface HttpListenerSettings {
  address: string;
  /** Connections held at once; 0: no limit. */
  maxConnections: number;
  /** An HTTPS listener's Strict-Transport-Security value, for every answer it sends; undefined for none. */
  hsts: string | undefined;
  /** A listener that only redirects to HTTPS: the status, and the port of the HTTPS URLs when the config names one. */
  redirect: { status: 301 | 302 | 307 | 308; port: number | undefined } | undefined;
}

/** The address of one `listen` entry. */
export function listenAddress(entry: HttpListenerConfig): string {
  return typeof entry === "string" ? entry : entry.address;
}

/** Every HTTP listener of `config`, with `limits.maxConnections` filled in where the entry has none. */
export function httpListeners(config: Pick<Config, "listen" | "limits">): HttpListenerSettings[] {
  return config.listen.map((entry) => {
    if (typeof entry === "string") return { address: entry, maxConnections: config.limits.maxConnections, hsts: undefined, redirect: undefined };
    return {
      address: entry.address,
      maxConnections: entry.maxConnections ?? config.limits.maxConnections,
      hsts: entry.tls?.hsts ? hstsValue(entry.tls.hsts) : undefined,
      redirect: entry.redirect ? { status: entry.redirect.status, port: entry.redirect.port } : undefined,
    };
  });
}

/** The Strict-Transport-Security value (RFC 6797 §6.1): max-age in whole seconds, then the directives asked for. */
export function hstsValue(settings: NonNullable<HstsSettings>): string {
  let value = `max-age=${Math.floor(settings.maxAge / 1000)}`;
  if (settings.includeSubDomains) value += "; includeSubDomains";
  if (settings.preload) value += "; preload";
  return value;
}
