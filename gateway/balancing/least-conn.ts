// Least connections, weighted, as nginx's least_conn: the server with the fewest requests in flight for its
// weight (lowest active / weight); servers tied at the lowest — above all the idle ones at low load — take
// turns by smooth weighted round-robin (least-cost.ts). So at low load the weights split traffic exactly as in
// round-robin, and as load grows in-flight requests spread in proportion to the weights.
//
// Not HAProxy's (active + 1) / weight: that sends every request of a sequential client to the heaviest idle
// server (weights 1 and 3 give 0% and 100%, not 25% and 75%), and a server in slow start (weight 10%) would
// get nothing at all until the others had ten requests each in flight. O(n), as nginx's least_conn.
import type { Selector, SelectorFactory } from "./selector.ts";
import { LeastCost } from "./least-cost.ts";

export const leastConn: SelectorFactory = (): Selector => {
  const scratch = new LeastCost();
  return {
    needsHashKey: false,
    pick(servers, eligible, input) {
      const now = input.now;
      scratch.begin(servers.length);
      for (const server of servers) {
        if (!eligible(server)) continue;
        const weight = server.effectiveWeight(now);
        scratch.offer(server, weight > 0 ? server.active / weight : Infinity, weight);
      }
      return scratch.end();
    },
  };
};
