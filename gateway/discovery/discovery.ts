// DNS service discovery of one snapshot: every pool server with `resolve` stands for the addresses its
// name resolves to, every `srv` server for its SRV records' targets, looked up again when the records' TTL
// runs out (kept within minTtl–maxTtl) or every `resolver.interval`. The pool swaps its servers
// (Pool.setResolved); requests in flight are not touched.
// A lookup that fails or finds nothing keeps the last good addresses, with one line on stderr per change
// between failing and working, so a name server that is down does not empty a pool nor flood the log.
// The gateway starts it for each snapshot and stops it when the snapshot is replaced or the gateway stops.
import type { Endpoint, Pool } from "../pool/pool.ts";
import { RESOLVER_DEFAULTS, type ResolverConfig } from "../config/schema.ts";
import { formatAddress } from "../config/address.ts";
import { lookupAddresses, lookupServices, type LookupOptions } from "./lookup.ts";

/** SRV answers come without a TTL (node:dns): without `interval` they are looked up this often (within minTtl–maxTtl). */
const SRV_INTERVAL_MS = 30_000;

/** What a name stands for now, and how many seconds that holds. */
async function endpointsOf(name: string, records: "address" | "srv", options: LookupOptions): Promise<{ endpoints: Endpoint[]; ttl: number }> {
  if (records === "address") {
    const { addresses, ttl } = await lookupAddresses(name, options);
    return { endpoints: addresses.map((host) => ({ host, port: 0 })), ttl };
  }
  const services = await lookupServices(name, options);
  // The lowest priority number is preferred; the others are backups. Weight 0 still takes a share (RFC 2782 allows it).
  const best = Math.min(...services.map((r) => r.priority));
  const endpoints = services.map((r) => ({ host: r.target, port: r.port, weight: Math.min(1000, Math.max(1, r.weight)), backup: r.priority !== best }));
  return { endpoints, ttl: SRV_INTERVAL_MS / 1000 };
}

/** How an endpoint reads in a log line. */
function shown(e: Endpoint): string {
  return e.port === 0 ? e.host : formatAddress({ hostname: e.host, port: e.port });
}

export interface Discovery {
  /** No more lookups: the next one is cancelled and one in flight is ignored. Idempotent. */
  stop(): void;
}

type Timer = ReturnType<typeof setTimeout>;

export function startDiscovery(pools: ReadonlyMap<string, Pool>, config: ResolverConfig | undefined, log: (line: string) => void): Discovery {
  const settings = config ?? RESOLVER_DEFAULTS;
  const options: LookupOptions = { servers: settings.servers, timeoutMs: settings.timeout };
  const timers = new Set<Timer>();
  let stopped = false;

  const watch = (pool: Pool, index: number, name: string, records: "address" | "srv") => {
    let failing = false;
    const next = (delayMs: number) => {
      if (stopped) return;
      const timer: Timer = setTimeout(() => {
        timers.delete(timer);
        void once();
      }, delayMs);
      (timer as { unref?: () => void }).unref?.();
      timers.add(timer);
    };
    const once = async () => {
      let delayMs: number;
      try {
        const { endpoints, ttl } = await endpointsOf(name, records, options);
        if (stopped) return;
        if (failing) log(`sluice: pool ${pool.name}: ${name} resolves again`);
        failing = false;
        const { added, removed } = pool.setResolved(index, endpoints);
        if (added.length || removed.length) {
          log(`sluice: pool ${pool.name}: ${name} is now ${endpoints.map(shown).join(", ")}${describeChange(added.length, removed.length)}`);
        }
        delayMs = settings.interval ?? Math.min(settings.maxTtl, Math.max(settings.minTtl, ttl * 1000));
      } catch (error) {
        if (stopped) return;
        if (!failing) {
          const kept = pool.resolvedEndpoints(index).map((e) => (records === "address" ? e.host : shown(e)));
          log(`sluice: pool ${pool.name}: lookup of ${name} failed (${(error as Error).message}); keeping ${kept.length ? kept.join(", ") : "no servers"}`);
        }
        failing = true;
        // Try again soon, but not in a tight loop against a name server that is down.
        delayMs = settings.interval ?? settings.minTtl;
      }
      next(delayMs);
    };
    void once();
  };

  for (const pool of pools.values()) for (const { index, name, records } of pool.namesToResolve) watch(pool, index, name, records);
  return {
    stop() {
      stopped = true;
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
    },
  };
}

function describeChange(added: number, removed: number): string {
  const parts = [added ? `${added} added` : "", removed ? `${removed} removed` : ""].filter(Boolean);
  return ` (${parts.join(", ")})`;
}
