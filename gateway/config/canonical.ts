// Names the config accepts in more than one spelling, settled once at load so that pools, selectors, /status
// and the metrics see one spelling only: a pool's `balance` alias becomes the algorithm's contract name
// (`leastconn` → `least-conn`), and a `hash` key on a header names it in lower case (header names ignore case,
// and the request's fields are looked up by their lower-case names).
import type { Config } from "./schema.ts";

/** The contract name an algorithm name or alias stands for (the balancing registry's), or undefined when unknown. */
export type CanonicalBalancer = (name: string) => string | undefined;

/** `config` with its pools' `balance` and `hash` in canonical form. Runs after validation: every name is known. */
export function withCanonicalNames(config: Config, canonicalBalancer: CanonicalBalancer): Config {
  const pools: Config["pools"] = {};
  for (const [name, pool] of Object.entries(config.pools)) {
    pools[name] = { ...pool, balance: canonicalBalancer(pool.balance) ?? pool.balance, hash: canonicalHashKey(pool.hash) };
  }
  return { ...config, pools };
}

/** `header:X-User` → `header:x-user`; every other key is canonical as the schema accepts it. */
export function canonicalHashKey(key: string): string {
  return key.startsWith("header:") ? `header:${key.slice("header:".length).toLowerCase()}` : key;
}
