// One Redis connection per Redis URL in this process, shared by every rate-limit plugin that names it and
// handed over across reloads (closed by the last user's teardown). It never makes a request wait on a Redis
// that is away: nothing is queued while disconnected (a call fails at once and `onStoreError` decides), a
// server that stops answering is dropped after SOCKET_TIMEOUT_MS and reconnected, and at most MAX_PENDING calls
// wait for replies at once.
import { Redis } from "ioredis";
import { Shared } from "./shared.ts";
import { SLIDING_WINDOW_LUA, TOKEN_BUCKET_LUA } from "./redis-scripts.ts";

/** Calls waiting for replies at once, beyond which a call fails at once (a hung server must not grow a queue). */
const MAX_PENDING = 10_000;
/** A connection with calls waiting and no byte from the server for this long is dropped and made anew. */
const SOCKET_TIMEOUT_MS = 1_000;
/** The longest setup waits for a first connection: a Redis that is down must not hold the gateway's start. */
const FIRST_CONNECT_WAIT_MS = 1_000;
/** Reconnect attempts back off up to this delay, and never stop. */
const MAX_RECONNECT_DELAY_MS = 1_000;

/** The scripts' replies: see redis-scripts.ts. */
type SlidingWindowReply = [allowed: number, previous: number, current: number, elapsed: number];
type TokenBucketReply = [allowed: number, tokens: string];

interface ScriptCommands {
  slidingWindowHit(key: string, limit: number, windowMs: number): Promise<SlidingWindowReply>;
  tokenBucketHit(key: string, limit: number, windowMs: number, burst: number): Promise<TokenBucketReply>;
}

export class StoreUnavailable extends Error {}

export class RedisConnection {
  private readonly client: Redis & ScriptCommands;
  private pending = 0;
  private down = false;
  /** Resolves when the first connection is ready, or has failed. */
  readonly firstConnect: Promise<void>;

  constructor(
    url: string,
    readonly name: string,
    log: (message: string) => void,
  ) {
    this.client = new Redis(url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      autoResendUnfulfilledCommands: false,
      connectTimeout: SOCKET_TIMEOUT_MS,
      socketTimeout: SOCKET_TIMEOUT_MS,
      retryStrategy: (attempt) => Math.min(50 * 2 ** attempt, MAX_RECONNECT_DELAY_MS),
      protocol: 2,
      connectionName: "sluice-rate-limit",
      // ioredis loads each script once per connection (EVAL), then sends EVALSHA, and falls back to EVAL
      // when the server answers NOSCRIPT (restarted, or SCRIPT FLUSH).
      scripts: {
        slidingWindowHit: { lua: SLIDING_WINDOW_LUA, numberOfKeys: 1 },
        tokenBucketHit: { lua: TOKEN_BUCKET_LUA, numberOfKeys: 1 },
      },
    }) as Redis & ScriptCommands;
    // Logged once per change, not once per retry.
    this.client.on("error", (error: Error) => {
      if (this.down) return;
      this.down = true;
      log(`redis ${name}: ${error.message}; reconnecting`);
    });
    this.client.on("ready", () => {
      if (!this.down) return;
      this.down = false;
      log(`redis ${name}: connected`);
    });
    this.firstConnect = this.client.connect().catch(() => {});
  }

  /** Wait until connected (or failing), at most FIRST_CONNECT_WAIT_MS. */
  async ready(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.firstConnect, new Promise<void>((resolve) => (timer = setTimeout(resolve, FIRST_CONNECT_WAIT_MS)))]);
    clearTimeout(timer);
  }

  slidingWindowHit(key: string, limit: number, windowMs: number): Promise<SlidingWindowReply> {
    return this.call(() => this.client.slidingWindowHit(key, limit, windowMs));
  }

  tokenBucketHit(key: string, limit: number, windowMs: number, burst: number): Promise<TokenBucketReply> {
    return this.call(() => this.client.tokenBucketHit(key, limit, windowMs, burst));
  }

  private call<T>(send: () => Promise<T>): Promise<T> {
    if (this.pending >= MAX_PENDING) return Promise.reject(new StoreUnavailable(`${MAX_PENDING} calls already wait for redis`));
    this.pending++;
    const done = () => void this.pending--;
    const reply = send();
    reply.then(done, done);
    return reply;
  }

  /** Say goodbye if the server answers at once; close the socket either way. */
  async close(): Promise<void> {
    if (this.client.status === "ready") {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([this.client.quit().catch(() => {}), new Promise((resolve) => (timer = setTimeout(resolve, 200)))]);
      clearTimeout(timer);
    }
    this.client.disconnect();
  }
}

const connections = new Shared<RedisConnection>((connection) => connection.close());

/** The shared connection to `url`; `releaseRedis(url)` once when done with it. */
export function acquireRedis(url: string, log: (message: string) => void): RedisConnection {
  return connections.acquire(url, () => new RedisConnection(url, withoutPassword(url), log));
}

export function releaseRedis(url: string): Promise<void> {
  return connections.release(url);
}

/** Connections open in this process (tests check that reloads and teardowns leave none behind). */
export function openRedisConnections(): number {
  return connections.size;
}

/** The URL as logs may show it: a password never appears. */
function withoutPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = "***";
  return parsed.toString();
}
