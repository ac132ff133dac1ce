// Smooth weighted round-robin, as nginx does it: each pick adds every eligible server's weight to its
// running score, takes the highest, and subtracts the total from the winner. Weights 5:1:1 give
// a a b a c a a rather than a a a a a b c, so no server gets a burst.
import type { Selector, SelectorFactory } from "./selector.ts";

export const roundRobin: SelectorFactory = (): Selector => ({
  needsHashKey: false,
  pick(servers, eligible, input) {
    let best;
    let total = 0;
    for (const server of servers) {
      if (!eligible(server)) continue;
      const weight = server.effectiveWeight(input.now);
      server.rrCurrent += weight;
      total += weight;
      if (!best || server.rrCurrent > best.rrCurrent) best = server;
    }
    if (best) best.rrCurrent -= total;
    return best;
  },
});
