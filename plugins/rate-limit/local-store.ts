// Counts in this process: an LRU map of at most `maxKeys` clients, whose entries expire once they no longer
// matter (an entry is dropped when read after its lifetime: no timer per key). A client forgotten, by expiry or because
// `maxKeys` newer ones pushed it out, starts again with a full allowance.
import { LRUCache } from "lru-cache";
import type { Decision, RateLimitStore } from "./decision.ts";
import { fits, slidingWindowDecision } from "./sliding-window.ts";
import { refilled, tokenBucketDecision } from "./token-bucket.ts";

export const DEFAULT_MAX_KEYS = 100_000;

// Both maps are made with `ttlResolution: 0`: lru-cache's default (1 ms) keeps its clock reading for a
// millisecond and starts a timer to forget it, so a busy gateway ran a timer a millisecond (a thousand event
// loop wakeups a second) to spare a performance.now() per request, which costs far less.

interface WindowState {
  index: number;
  current: number;
  previous: number;
}

interface BucketState {
  tokens: number;
  at: number;
}

export function localSlidingWindow(limit: number, windowMs: number, maxKeys: number): RateLimitStore {
  // An entry lives two windows from its last move to a new window: as long as its count can still matter
  // (this window, then the next as the previous one). Renewed once per window, not on every request.
  const counts = new LRUCache<string, WindowState>({ max: maxKeys, ttl: 2 * windowMs, ttlResolution: 0 });
  return {
    hit(key: string): Decision {
      const now = Date.now();
      const index = Math.floor(now / windowMs);
      let state = counts.get(key);
      if (!state) {
        state = { index, current: 0, previous: 0 };
        counts.set(key, state);
      } else if (state.index !== index) {
        state.previous = state.index === index - 1 ? state.current : 0;
        state.current = 0;
        state.index = index;
        counts.set(key, state);
      }
      const elapsed = now - index * windowMs;
      const allowed = fits(limit, windowMs, state.previous, state.current, elapsed);
      const decision = slidingWindowDecision(limit, windowMs, state.previous, state.current, elapsed, allowed);
      if (allowed) state.current++;
      return decision;
    },
  };
}

export function localTokenBucket(limit: number, windowMs: number, burst: number, maxKeys: number): RateLimitStore {
  const perMs = limit / windowMs;
  // A bucket left alone this long is full again: forgetting it changes nothing.
  const buckets = new LRUCache<string, BucketState>({ max: maxKeys, ttl: Math.ceil(burst / perMs), updateAgeOnGet: true, ttlResolution: 0 });
  return {
    hit(key: string): Decision {
      const now = Date.now();
      const state = buckets.get(key);
      const tokens = state ? refilled(state.tokens, state.at, now, perMs, burst) : burst;
      const decision = tokenBucketDecision(tokens, perMs, burst);
      if (decision.allowed) {
        if (state) {
          state.tokens = tokens - 1;
          state.at = now;
        } else {
          buckets.set(key, { tokens: tokens - 1, at: now });
        }
      }
      return decision;
    },
  };
}
