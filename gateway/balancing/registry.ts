// Balancing algorithms by the name users write in `balance`. This file only chooses.
import type { SelectorFactory, SelectorOptions } from "./selector.ts";
import { roundRobin } from "./round-robin.ts";

const algorithms: Record<string, SelectorFactory> = {
  "round-robin": roundRobin,
  roundrobin: roundRobin, // HAProxy's spelling
};

export const balancerNames: readonly string[] = Object.keys(algorithms);

export function createSelector(name: string, options: SelectorOptions) {
  const factory = algorithms[name];
  if (!factory) throw new Error(`unknown balancing algorithm "${name}"`);
  return factory(options);
}
