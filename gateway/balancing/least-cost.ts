// The server with the lowest cost (least-conn, response-time), O(n) over the servers like nginx's
// least_conn: costs change with every request, so there is nothing to precompute. Servers tied at the lowest
// cost take turns by smooth weighted round-robin among themselves (nginx does the same), so equal idle servers
// share the traffic evenly and in proportion to their weights instead of the first in the list taking it all.
import type { UpstreamServer } from "../pool/server.ts";

export type Cost = (server: UpstreamServer, now: number) => number;

export function leastCost(servers: readonly UpstreamServer[], eligible: (server: UpstreamServer) => boolean, now: number, cost: Cost): UpstreamServer | undefined {
  let best: UpstreamServer | undefined;
  let bestCost = Infinity;
  let bestAt = 0;
  let ties = 0;
  for (let i = 0; i < servers.length; i++) {
    const server = servers[i]!;
    if (!eligible(server)) continue;
    const c = cost(server, now);
    if (best === undefined || c < bestCost) {
      best = server;
      bestCost = c;
      bestAt = i;
      ties = 1;
    } else if (c === bestCost) ties++;
  }
  if (ties < 2) return best;
  // Second pass over the tied servers only (the cost is compared first, so eligible runs for those alone).
  let winner = best!;
  let total = 0;
  for (let i = bestAt; i < servers.length; i++) {
    const server = servers[i]!;
    if (cost(server, now) !== bestCost || !eligible(server)) continue;
    const weight = server.effectiveWeight(now);
    server.rrCurrent += weight;
    total += weight;
    if (server.rrCurrent > winner.rrCurrent) winner = server;
  }
  winner.rrCurrent -= total;
  return winner;
}
