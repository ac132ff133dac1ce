// One lookup of a name's A and AAAA records, with the shortest TTL among them. node:dns's Resolver asks
// the configured name servers (or the system's) on Bun and Deno alike; a lookup that does not finish in
// time is cancelled, since a name server that never answers must not hold the discovery of a name.
import { Resolver } from "node:dns/promises";

export interface LookupResult {
  /** IPv4 then IPv6 addresses, each list in the order the name server gave. */
  addresses: string[];
  /** Seconds until the first of the records expires. */
  ttl: number;
}

export interface LookupOptions {
  /** Name servers ("IP", "IP:port", "[IPv6]:port"); the system's when absent. */
  servers?: readonly string[];
  timeoutMs: number;
}

/**
 * Both record types of `name`. One type missing is normal (a name with only IPv4 addresses); throws when
 * neither gives an address, with the reason of the A lookup (NXDOMAIN, timeout, refused…).
 */
export async function lookupAddresses(name: string, options: LookupOptions): Promise<LookupResult> {
  const resolver = new Resolver({ timeout: options.timeoutMs, tries: 1 });
  if (options.servers) resolver.setServers([...options.servers]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      resolver.cancel();
      reject(new Error(`no answer within ${options.timeoutMs}ms`));
    }, options.timeoutMs);
  });
  try {
    const [v4, v6] = await Promise.race([
      Promise.allSettled([resolver.resolve4(name, { ttl: true }), resolver.resolve6(name, { ttl: true })]),
      deadline,
    ]);
    const records = [...(v4.status === "fulfilled" ? v4.value : []), ...(v6.status === "fulfilled" ? v6.value : [])];
    if (records.length === 0) {
      const reason = v4.status === "rejected" ? v4.reason : v6.status === "rejected" ? v6.reason : undefined;
      throw new Error(reason ? describe(reason) : "no A or AAAA records");
    }
    return { addresses: records.map((r) => r.address), ttl: Math.min(...records.map((r) => r.ttl)) };
  } finally {
    clearTimeout(timer);
  }
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e.code ?? e.message ?? String(error);
}
