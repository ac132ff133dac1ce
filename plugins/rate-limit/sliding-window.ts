// The sliding window as Cloudflare, Kong and nginx-style limiters estimate it: two fixed windows, the
// previous one weighted by how much of it still overlaps the sliding window that ends now. One counter per
// window instead of a timestamp per request, and a window boundary is no longer a moment to burst at.
// Fixed windows start at multiples of the window since the epoch, so every process agrees on them.
import type { Decision } from "./decision.ts";

/**
 * Whether one more request fits, given the previous and current windows' counts (before this request) and
 * the milliseconds since the current window began. The Redis script makes the same comparison with the same
 * arithmetic, so the local and the shared store agree on every request.
 */
export function fits(limit: number, windowMs: number, previous: number, current: number, elapsed: number): boolean {
  return (previous * (windowMs - elapsed)) / windowMs + current + 1 <= limit;
}

/** The decision on a request that found these counts; `allowed` is the verdict of `fits` (or of the Redis script). */
export function slidingWindowDecision(limit: number, windowMs: number, previous: number, current: number, elapsed: number, allowed: boolean): Decision {
  const leftInWindow = windowMs - elapsed;
  if (allowed) {
    const estimate = (previous * leftInWindow) / windowMs + current + 1;
    return { allowed, remaining: Math.max(0, Math.floor(limit - estimate)), resetMs: leftInWindow };
  }
  // Refused: how long until the estimate leaves room for one request, if none is counted meanwhile.
  let waitMs: number;
  if (current + 1 <= limit) {
    // The previous window's share must shrink until previous × overlap ≤ limit − 1 − current.
    waitMs = leftInWindow - ((limit - 1 - current) * windowMs) / previous;
  } else {
    // This window alone is full: wait into the next one, where it becomes the previous window and fades.
    waitMs = leftInWindow + windowMs * (1 - (limit - 1) / current);
  }
  return { allowed, remaining: 0, resetMs: Math.max(0, waitMs) };
}
