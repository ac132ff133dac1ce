// Weighted random: each eligible server with probability effective weight / total. Keeps no state, so several
// gateways in front of the same servers do not march in step. Usually O(1) (see weighted-sample.ts).
import type { Selector, SelectorFactory } from "./selector.ts";
import { WeightedSampler } from "./weighted-sample.ts";

export const random: SelectorFactory = (options): Selector => {
  const sampler = new WeightedSampler(options.servers, options.random ?? Math.random);
  return {
    needsHashKey: false,
    pick: (servers, eligible, input) => sampler.draw(servers, eligible, input.now),
  };
};
