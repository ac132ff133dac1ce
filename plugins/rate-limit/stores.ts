// Which store a plugin's options ask for, opened for one setup and released by its teardown. Stores are
// shared across reloads: a config that keeps a limit as it was keeps its counts (local) and its connection
// (Redis); the last setup that used one releases it.
import type { RateLimitStore } from "./decision.ts";
import type { RateLimitOptions } from "./options.ts";
import { DEFAULT_MAX_KEYS, localSlidingWindow, localTokenBucket } from "./local-store.ts";
import { acquireRedis, releaseRedis } from "./redis-connection.ts";
import { DEFAULT_PREFIX, DEFAULT_TIMEOUT_MS, redisSlidingWindow, redisTokenBucket } from "./redis-store.ts";
import { Shared } from "./shared.ts";

export interface OpenStore {
  store: RateLimitStore;
  release(): Promise<void>;
}

const localStores = new Shared<RateLimitStore>(() => {});

export async function openStore(o: RateLimitOptions, log: (message: string) => void): Promise<OpenStore> {
  const burst = o.burst ?? o.limit;
  // What tells this limit's counts from another's: stores and keys are shared only by identical limits.
  const limitId = o.algorithm === "token-bucket" ? `tb:${o.limit}:${o.window / 1000}:${burst}` : `sw:${o.limit}:${o.window / 1000}`;
  const url = o.store.redis;
  if (url === undefined) {
    const maxKeys = o.store.maxKeys ?? DEFAULT_MAX_KEYS;
    const id = `${limitId}:${maxKeys}`;
    const store = localStores.acquire(id, () =>
      o.algorithm === "token-bucket" ? localTokenBucket(o.limit, o.window, burst, maxKeys) : localSlidingWindow(o.limit, o.window, maxKeys),
    );
    return { store, release: () => localStores.release(id) };
  }
  const connection = acquireRedis(url, log);
  await connection.ready();
  const settings = { connection, keyPrefix: `${o.store.prefix ?? DEFAULT_PREFIX}${limitId}:`, timeoutMs: o.store.timeout ?? DEFAULT_TIMEOUT_MS };
  const store = o.algorithm === "token-bucket" ? redisTokenBucket(o.limit, o.window, burst, settings) : redisSlidingWindow(o.limit, o.window, settings);
  return { store, release: () => releaseRedis(url) };
}
