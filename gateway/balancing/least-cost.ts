// The server with the lowest cost (least-conn, response-time), O(n) over the servers like nginx's
// least_conn: costs change with every request, so there is nothing to precompute. Servers tied at the lowest
// cost — all the idle ones, at low load — take turns by smooth weighted round-robin among themselves (nginx
// does the same), so equal servers share the traffic evenly and in proportion to their weights instead of
// the first in the list taking it all.
//
// One pass: each algorithm computes its costs in its own loop (no cost callback, so the loop stays
// monomorphic) and offers every eligible server here. The round-robin step runs on the fly over the servers
// tied at the lowest cost so far; when a lower cost turns up, the steps taken for the old group are undone
// (each server joins and leaves a group at most once: O(n) in all). No allocation per pick.
import type { UpstreamServer } from "../pool/server.ts";

export class LeastCost {
  private group: UpstreamServer[] = [];
  private weights = new Float64Array(16);
  private size = 0;
  private cost = Infinity;
  private total = 0;
  private winner: UpstreamServer | undefined;

  /** Start a pick over at most `n` servers. */
  begin(n: number): void {
    if (this.weights.length < n) this.weights = new Float64Array(Math.max(n, this.weights.length * 2));
    this.size = 0;
    this.cost = Infinity;
    this.total = 0;
    this.winner = undefined;
  }

  /** An eligible server, its cost now and its effective weight. */
  offer(server: UpstreamServer, cost: number, weight: number): void {
    if (this.winner !== undefined && !(cost <= this.cost)) return;
    if (this.winner === undefined || cost < this.cost) {
      // A new lowest cost: undo the round-robin steps of the servers that were tied at the old one.
      for (let k = 0; k < this.size; k++) this.group[k]!.rrCurrent -= this.weights[k]!;
      this.size = 0;
      this.total = 0;
      this.cost = cost;
      this.winner = server;
    }
    this.group[this.size] = server;
    this.weights[this.size++] = weight;
    server.rrCurrent += weight;
    this.total += weight;
    if (server.rrCurrent > this.winner.rrCurrent) this.winner = server;
  }

  /** The winner, or undefined when no server was offered. */
  end(): UpstreamServer | undefined {
    const winner = this.winner;
    if (winner === undefined) return undefined;
    winner.rrCurrent -= this.total;
    this.winner = undefined;
    return winner;
  }
}
