// Balancing algorithms by the name users write in `balance`. This file only chooses.
import type { SelectorFactory, SelectorOptions } from "./selector.ts";
import { roundRobin } from "./round-robin.ts";
import { random } from "./random.ts";
import { leastConn } from "./least-conn.ts";
import { responseTime } from "./response-time.ts";
import { capacity } from "./capacity.ts";
import { first } from "./first.ts";
import { ipHash } from "./ip-hash.ts";
import { uriHash } from "./uri-hash.ts";
import { consistentHash } from "./consistent-hash.ts";
import { p2c } from "./p2c.ts";

/** The contract's names. */
const algorithms: Record<string, SelectorFactory> = {
  "round-robin": roundRobin,
  random,
  "least-conn": leastConn,
  "response-time": responseTime,
  capacity,
  first,
  "ip-hash": ipHash,
  "uri-hash": uriHash,
  "consistent-hash": consistentHash,
  p2c,
};

/** What users of HAProxy (`balance …`, `hash-type …`) and nginx (upstream directives) will type. */
const aliases: Record<string, string> = {
  roundrobin: "round-robin",
  rr: "round-robin",
  wrr: "round-robin",
  rand: "random",
  leastconn: "least-conn",
  least_conn: "least-conn",
  "least-connections": "least-conn",
  "least-time": "response-time",
  least_time: "response-time",
  ewma: "response-time",
  "peak-ewma": "response-time",
  source: "ip-hash",
  ip_hash: "ip-hash",
  uri: "uri-hash",
  ketama: "consistent-hash",
  chash: "consistent-hash",
  "power-of-two": "p2c",
  "p2c-leastconn": "p2c",
};

/** The algorithms, each by its contract name (for listings: /status, "expected one of"). */
export const balancingAlgorithms: readonly string[] = Object.keys(algorithms);

/** Every name `balance` accepts: the contract names, then the aliases. */
export const balancerNames: readonly string[] = [...balancingAlgorithms, ...Object.keys(aliases)];

/** The contract name for a name or alias (`leastconn` → `least-conn`), or undefined when unknown. */
export function canonicalBalancer(name: string): string | undefined {
  if (Object.hasOwn(algorithms, name)) return name;
  return Object.hasOwn(aliases, name) ? aliases[name] : undefined;
}

export function createSelector(name: string, options: SelectorOptions) {
  const canonical = canonicalBalancer(name);
  if (canonical === undefined) throw new Error(`unknown balancing algorithm "${name}"`);
  return algorithms[canonical]!(options);
}
