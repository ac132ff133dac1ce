// Addresses as the UDP listener handles them: session keys, client IPs for balancing, and where a
// server's datagrams go (a hostname is resolved when a session starts, and the answer kept briefly).
import { isIP } from "node:net";
import { lookup } from "node:dns/promises";

/** One client's session: its address and port, as the listener socket reported them. */
export function sessionKey(address: string, port: number): string {
  return `${address}|${port}`;
}

const MAPPED_V4 = /^::ffff:(\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3})$/i;

/**
 * The IP as balancing and comparisons should see it: an IPv4 client reaching a dual-stack (`::`) listener
 * shows up as `::ffff:a.b.c.d` and is `a.b.c.d`; IPv6 in its canonical (compressed, lower-case) form.
 */
export function plainIp(address: string): string {
  const mapped = MAPPED_V4.exec(address);
  if (mapped) return mapped[1]!;
  if (!address.includes(":")) return address;
  try {
    return new URL(`http://[${address}]/`).hostname.slice(1, -1);
  } catch {
    return address.toLowerCase();
  }
}

/** Where a session's datagrams go. */
export interface UdpTarget {
  ip: string;
  port: number;
  family: 4 | 6;
}

const RESOLVE_TTL_MS = 10_000;
const resolved = new Map<string, { ip: string; family: 4 | 6; until: number }>();

/** The server's IP: itself when it is one, else looked up (and remembered for a few seconds). */
export async function resolveTarget(hostname: string, port: number, now = Date.now()): Promise<UdpTarget> {
  const literal = isIP(hostname);
  if (literal !== 0) return { ip: plainIp(hostname), port, family: literal === 6 && !MAPPED_V4.test(hostname) ? 6 : 4 };
  const cached = resolved.get(hostname);
  if (cached && cached.until > now) return { ip: cached.ip, port, family: cached.family };
  const answer = await lookup(hostname);
  const family = answer.family === 6 ? 6 : 4;
  const ip = plainIp(answer.address);
  if (resolved.size > 1000) resolved.clear();
  resolved.set(hostname, { ip, family, until: now + RESOLVE_TTL_MS });
  return { ip, port, family };
}

/** The wildcard address a session's own socket binds to (ephemeral port), in the server's family. */
export function anyAddress(family: 4 | 6): string {
  return family === 6 ? "::" : "0.0.0.0";
}
