// Listen addresses are "host:port", ":port" (all interfaces) or "[v6]:port".

export interface ListenAddress {
  hostname: string;
  port: number;
}

const ADDRESS = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s]*)):(\d{1,5})$/;

/** The parsed address, or null when the text is not "host:port". */
export function parseAddress(text: string): ListenAddress | null {
  const m = ADDRESS.exec(text.trim());
  if (!m) return null;
  const port = Number(m[3]);
  if (port > 65535) return null;
  const hostname = m[1] ?? (m[2] || "0.0.0.0");
  return { hostname, port };
}

export function formatAddress(a: ListenAddress): string {
  return a.hostname.includes(":") ? `[${a.hostname}]:${a.port}` : `${a.hostname}:${a.port}`;
}

/** True for addresses only this machine can reach: an admin listener there may run without a token. */
export function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "::1" || /^127\./.test(hostname);
}
