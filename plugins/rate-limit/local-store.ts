// Counts in this process: an LRU map of at most `maxKeys` clients. An entry needs no expiry of its own: what it
// holds says when it was counted (the window's index, the bucket's last refill), so an entry read long after is
// read as a full allowance, as a forgotten client starts again with one. The map is made without lru-cache's TTL,
// which would cost every request a clock reading and a staleness check for no difference in the answer.
import { LRUCache } from "lru-cache";
import type { Decision, RateLimitStore } from "./decision.ts";
import { fits, slidingWindowDecision } from "./sliding-window.ts";
import { refilled, tokenBucketDecision } from "./token-bucket.ts";

export const DEFAULT_MAX_KEYS = 100_000;

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
  // An entry two windows old counts for nothing: its window is neither this one nor the previous one.
  const counts = new LRUCache<string, WindowState>({ max: maxKeys });
  return {
    hit(key: string): Decision {
      const now = Date.now();
      const index = Math.floor(now / windowMs);
      let state = counts.get(key);
      if (!state) {
        state = { index, current: 0, previous: 0 };
        counts.set(key, state);
      } else if (state.index !== index) {
        // Moved to the new window in place: the map holds this object, and get() has made it the most recent.
        state.previous = state.index === index - 1 ? state.current : 0;
        state.current = 0;
        state.index = index;
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
  // A bucket left alone long enough is refilled to full when read: forgetting it would change nothing.
  const buckets = new LRUCache<string, BucketState>({ max: maxKeys });
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
