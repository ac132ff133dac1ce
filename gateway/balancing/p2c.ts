// Power of two choices (Mitzenmacher; Linkerd, Envoy, traefik): draw two distinct eligible servers at random by
// effective weight and send the request to the one with fewer requests in flight for its weight. Nearly as
// even as least-conn, O(1) in the usual case (two weighted draws, see weighted-sample.ts), and without
// least-conn's herd: several gateways with the same stale view do not all pick the same idle server.
import type { Selector, SelectorFactory } from "./selector.ts";
import { WeightedSampler } from "./weighted-sample.ts";

export const p2c: SelectorFactory = (options): Selector => {
  const sampler = new WeightedSampler(options.servers, options.random ?? Math.random);
  return {
    needsHashKey: false,
    pick(servers, eligible, input) {
      const now = input.now;
      const a = sampler.draw(servers, eligible, now);
      if (a === undefined) return undefined;
      const b = sampler.draw(servers, eligible, now, a);
      if (b === undefined) return a;
      // active / weight (as least-conn), compared without dividing. A tie (two idle servers, at low load)
      // keeps the first draw, itself weighted: so at low load traffic splits by weight, as in random.
      return b.active * a.effectiveWeight(now) < a.active * b.effectiveWeight(now) ? b : a;
    },
  };
};
