// The token bucket, as Traefik's rateLimit (average and burst) and Envoy's local rate limit: `burst` tokens at
// most, refilled at `limit` per window; a request takes one token. Quiet clients may burst, busy ones get the
// average rate.
import type { Decision } from "./decision.ts";

/** Tokens a bucket holds at `now`, having held `tokens` at `at` (milliseconds), refilled at `perMs` up to `burst`. */
export function refilled(tokens: number, at: number, now: number, perMs: number, burst: number): number {
  return Math.min(burst, tokens + Math.max(0, now - at) * perMs);
}

/** The decision on a request that found `tokens` in the bucket (refilled to now); it is allowed when one is there. */
export function tokenBucketDecision(tokens: number, perMs: number, burst: number): Decision {
  if (tokens >= 1) {
    const left = tokens - 1;
    return { allowed: true, remaining: Math.floor(left), resetMs: (burst - left) / perMs };
  }
  return { allowed: false, remaining: 0, resetMs: (1 - tokens) / perMs };
}
