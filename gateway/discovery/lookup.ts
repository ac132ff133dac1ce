// One lookup of a name's A and AAAA records (with the shortest TTL among them), or of its SRV records.
// node:dns's Resolver asks the configured name servers (or the system's) on Bun and Deno alike; a lookup
// that does not finish in time is cancelled: a name server that never answers must not hold up discovery.
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

/** One SRV record. */
export interface ServiceRecord {
  target: string;
  port: number;
  weight: number;
  priority: number;
}

/** `fn` on a resolver for these options, cancelled when it has not answered within the timeout. */
async function withResolver<T>(options: LookupOptions, fn: (resolver: Resolver) => Promise<T>): Promise<T> {
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
    return await Promise.race([fn(resolver), deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** The SRV records of `name`; throws when there are none. node:dns gives no TTL for them. */
export async function lookupServices(name: string, options: LookupOptions): Promise<ServiceRecord[]> {
  try {
    const records = await withResolver(options, (resolver) => resolver.resolveSrv(name));
    if (records.length === 0) throw new Error("no SRV records");
    return records.map((r) => ({ target: r.name.replace(/\.$/, ""), port: r.port, weight: r.weight, priority: r.priority }));
  } catch (error) {
    throw new Error(describe(error));
  }
}

/**
 * Both record types of `name`. One type missing is normal (a name with only IPv4 addresses); throws when
 * neither gives an address, with the reason of the A lookup (NXDOMAIN, timeout, refused…).
 */
export async function lookupAddresses(name: string, options: LookupOptions): Promise<LookupResult> {
  const [v4, v6] = await withResolver(options, (resolver) =>
    Promise.allSettled([resolver.resolve4(name, { ttl: true }), resolver.resolve6(name, { ttl: true })]),
  );
  {
    const records = [...(v4.status === "fulfilled" ? v4.value : []), ...(v6.status === "fulfilled" ? v6.value : [])];
    if (records.length === 0) {
      const reason = v4.status === "rejected" ? v4.reason : v6.status === "rejected" ? v6.reason : undefined;
      throw new Error(reason ? describe(reason) : "no A or AAAA records");
    }
    return { addresses: records.map((r) => r.address), ttl: Math.min(...records.map((r) => r.ttl)) };
  }
}

function describe(error: unknown): string {
  const e = error as { code?: string; message?: string };
  return e.code ?? e.message ?? String(error);
}
