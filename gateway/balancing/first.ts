// HAProxy's `first`: the first server in config order that can take the request. The pool's eligible()
// already leaves out servers at their maxConns, so server 1 fills up to its maxConns, then server 2, and the
// last servers stay idle until they are needed (and can be switched off). Without maxConns the first live
// server takes everything. Weights play no part. O(position of the first eligible server).
import type { Selector, SelectorFactory } from "./selector.ts";

export const first: SelectorFactory = (): Selector => ({
  needsHashKey: false,
  pick(servers, eligible) {
    for (const server of servers) if (eligible(server)) return server;
    return undefined;
  },
});
