// Counts in Redis, shared by every gateway process (and worker) that names the same server and prefix: one
// Lua script per request (redis-scripts.ts). A request waits for Redis at most `timeoutMs`; then the store
// gives up on it (the plugin applies `onStoreError`), and the late reply is dropped.
import type { Decision, RateLimitStore } from "./decision.ts";
import { StoreUnavailable, type RedisConnection } from "./redis-connection.ts";
import { slidingWindowDecision } from "./sliding-window.ts";
import { tokenBucketDecision } from "./token-bucket.ts";

export const DEFAULT_PREFIX = "sluice:rl:";
export const DEFAULT_TIMEOUT_MS = 50;

export interface RedisStoreSettings {
  connection: RedisConnection;
  /** Prefix of this limit's keys: the configured prefix and what tells this limit from others. */
  keyPrefix: string;
  timeoutMs: number;
}

export function redisSlidingWindow(limit: number, windowMs: number, settings: RedisStoreSettings): RateLimitStore {
  const { connection, keyPrefix, timeoutMs } = settings;
  return {
    hit: (key) =>
      within(timeoutMs, connection.slidingWindowHit(keyPrefix + key, limit, windowMs)).then(
        ([allowed, previous, current, elapsed]): Decision => slidingWindowDecision(limit, windowMs, previous, current, elapsed, allowed === 1),
      ),
  };
}

export function redisTokenBucket(limit: number, windowMs: number, burst: number, settings: RedisStoreSettings): RateLimitStore {
  const { connection, keyPrefix, timeoutMs } = settings;
  const perMs = limit / windowMs;
  return {
    hit: (key) =>
      within(timeoutMs, connection.tokenBucketHit(keyPrefix + key, limit, windowMs, burst)).then(
        ([, tokens]): Decision => tokenBucketDecision(Number(tokens), perMs, burst),
      ),
  };
}

/** `reply`, or a StoreUnavailable after `ms`, whichever comes first. */
function within<T>(ms: number, reply: Promise<T>): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new StoreUnavailable(`no answer from redis within ${ms}ms`)), ms);
    reply.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (error: unknown) => {
        clearTimeout(timer);
        reject(error);
      },
    );
  });
}
