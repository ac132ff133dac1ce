// What a store answers for one request, and the shape every store has: the plugin asks, the store counts.

/** The verdict on one request, and what the response headers tell the client. */
export interface Decision {
  readonly allowed: boolean;
  /** Requests still allowed right now, after this one. */
  readonly remaining: number;
  /** Milliseconds until the count resets (allowed), or until a request will be allowed again (refused). */
  readonly resetMs: number;
}

/** Counts requests under keys. A store that cannot answer rejects (the plugin applies `onStoreError`). */
export interface RateLimitStore {
  /** Count one request under `key` and say whether it is allowed; the local store answers at once. */
  hit(key: string): Decision | Promise<Decision>;
}
