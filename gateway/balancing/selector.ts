// The seam every balancing algorithm plugs into. An algorithm only chooses; the pool decides which
// servers are eligible (health, down, backup, maxConns, retry exclusions) and passes that in.
import type { UpstreamServer } from "../pool/server.ts";

/** Facts about the request an algorithm may key on (hash balancing, stickiness). */
export interface SelectionInput {
  clientIp: string;
  /** The value of the pool's `hash` key for this request, computed only when the algorithm needs it. */
  hashKey?: string;
}

export interface Selector {
  /** Choose one of `servers` for which `eligible` holds, or undefined when none does. */
  pick(servers: readonly UpstreamServer[], eligible: (server: UpstreamServer) => boolean, input: SelectionInput): UpstreamServer | undefined;
  /** True when pick() reads `input.hashKey`, so the pool computes it. */
  readonly needsHashKey: boolean;
}

export type SelectorFactory = (options: { hash: string }) => Selector;
