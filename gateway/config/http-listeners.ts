// The `listen` entries of a config as the gateway opens them: an address string, or an object with settings
// of its own, read the same way everywhere (the listener start-up, the address-clash check).
import type { Config, HttpListenerConfig } from "./schema.ts";

export interface HttpListenerSettings {
  address: string;
  /** Connections held at once; 0: no limit. */
  maxConnections: number;
}

/** The address of one `listen` entry. */
export function listenAddress(entry: HttpListenerConfig): string {
  return typeof entry === "string" ? entry : entry.address;
}

/** Every HTTP listener of `config`, with `limits.maxConnections` filled in where the entry has none. */
export function httpListeners(config: Pick<Config, "listen" | "limits">): HttpListenerSettings[] {
  return config.listen.map((entry) => ({
    address: listenAddress(entry),
    maxConnections: (typeof entry === "string" ? undefined : entry.maxConnections) ?? config.limits.maxConnections,
  }));
}
