// The seam every balancing algorithm plugs into. An algorithm only chooses; the pool decides which
// servers are eligible (admin state, health, passive failures, backup, maxConns, retry exclusions,
// stickiness) and passes that in. Per-server facts an algorithm reads (active requests, effective weight
// during slow start, latency, reported load) are read from UpstreamServer; the pool owns and changes them.
import type { UpstreamServer } from "../pool/server.ts";

/** Facts about the request an algorithm may key on. */
export interface SelectionInput {
  /** Date.now() of this selection, read once. */
  now: number;
  clientIp: string;
  /** The value of the pool's `hash` key for this request, computed only when `needsHashKey`. */
  hashKey?: string;
  /** Path and query as received (HTTP only), set when `needsHashKey`: what `uri-hash` keys on. */
  uri?: string;
  /** The server id a sticky cookie names (the pool honours it before asking the algorithm). */
  stickyId?: string;
}

export interface Selector {
  /**
   * Choose one of `servers` for which `eligible` holds, or undefined when none does. Called separately for
   * the primaries and (when no primary can take it) the backups.
   */
  pick(servers: readonly UpstreamServer[], eligible: (server: UpstreamServer) => boolean, input: SelectionInput): UpstreamServer | undefined;
  /** True when pick() reads `input.hashKey`, so the caller computes it. */
  readonly needsHashKey: boolean;
}

export interface SelectorOptions {
  /** The pool's `hash` setting (ip, uri, path, header:NAME, cookie:NAME, query:NAME). */
  hash: string;
  /** Every server of the pool, fixed for the pool's life: algorithms may precompute over them (hash rings). */
  servers: readonly UpstreamServer[];
  /** Randomness, replaceable for reproducible tests. */
  random?: () => number;
}

export type SelectorFactory = (options: SelectorOptions) => Selector;
