// Least response time, as Finagle's and Linkerd's peak-EWMA balancers: the cost of a server is its latency
// estimate × (requests in flight + 1), divided by its weight, and the cheapest wins. The estimate (kept by
// UpstreamServer) jumps up at once on a slow answer and decays toward 0 while the server is not used, so a
// server that turned slow is avoided at once, is tried again after a while, and wins back traffic once its
// answers are fast again. O(n): costs change with every answer.
//
// A server with no sample yet (new, or never answered) costs 0 while idle, so it is probed first. Once it
// has a request in flight but still no answer, it costs more than any measured server (Finagle's penalty):
// a latency of 0 × (in flight + 1) would otherwise send it everything, and a new server that hangs would
// swallow the whole load until its first timeout. Among such servers the fewest in flight for the weight wins.
import type { Selector, SelectorFactory } from "./selector.ts";
import { LeastCost } from "./least-cost.ts";

/** Above any measured cost: latencies are bounded by the response timeout, in-flight counts by memory. */
const UNMEASURED_BUSY = 1e15;

export const responseTime: SelectorFactory = (): Selector => {
  const scratch = new LeastCost();
  return {
    needsHashKey: false,
    pick(servers, eligible, input) {
      const now = input.now;
      scratch.begin(servers.length);
      for (const server of servers) {
        if (!eligible(server)) continue;
        const latency = server.latencyEstimate(now);
        const weight = server.effectiveWeight(now);
        const cost = latency === 0 ? (server.active === 0 ? 0 : UNMEASURED_BUSY + server.active / weight) : (latency * (server.active + 1)) / weight;
        scratch.offer(server, cost, weight);
      }
      return scratch.end();
    },
  };
};
