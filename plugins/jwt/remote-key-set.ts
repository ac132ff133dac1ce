// A JSON Web Key Set fetched from a URL, as identity providers publish them. jose picks the key for a token from
// the set (kid, alg, kty, use) and caches each imported key; this file decides when the set is fetched:
//
// - once at setup, without waiting for it (a JWKS server that is down never blocks loading the config);
// - again in the background when the set is older than `refresh`: the request that notices it is verified with
//   the keys in hand, never held up by the fetch (no timer runs, so nothing outlives a reload);
// - at once when a token names a key the set lacks (a key rotated in), at most once per `cooldown`: a flood of
//   tokens with made-up kids costs one fetch, not one each.
// A fetch that fails keeps the keys in hand; attempts, failed or not, count for the cooldown.
import { createLocalJWKSet, errors, type JSONWebKeySet, type JWSHeaderParameters, type FlattenedJWSInput } from "jose";

export interface RemoteKeySetOptions {
  refreshMs: number;
  cooldownMs: number;
  timeoutMs: number;
  log(message: string): void;
}

type LocalSet = ReturnType<typeof createLocalJWKSet>;

/** No key set could be fetched yet: the token cannot be checked at all (503, not the client's fault). */
export class KeySetUnavailable extends Error {}

/** A key set document larger than this is refused: a JWKS holds a few keys, not megabytes. */
const MAX_JWKS_BYTES = 512 * 1024;
/** While no set has ever been fetched, attempts are this far apart at least (the server may be starting). */
const FIRST_FETCH_RETRY_MS = 1_000;

export class RemoteKeySet {
  private local: LocalSet | undefined;
  private text = "";
  private fetchedAt = -Infinity;
  private attemptedAt = -Infinity;
  private pending: Promise<void> | undefined;
  private lastFailure = "";
  private readonly closed = new AbortController();
  /** Goes up whenever the keys change: tokens verified with an older set are verified again. */
  generation = 0;

  constructor(
    private readonly url: URL,
    private readonly options: RemoteKeySetOptions,
  ) {}

  /** Cancel a fetch in flight and make no more: the config this set belongs to was replaced. */
  close(): void {
    this.closed.abort(new Error("the plugin was torn down"));
  }

  /** Start the first fetch without waiting for it. */
  warmUp(): void {
    void this.refresh();
  }

  /** The key for a token (jose's key resolver). */
  readonly key = async (header: JWSHeaderParameters, token: FlattenedJWSInput): Promise<CryptoKey> => {
    const now = Date.now();
    if (!this.local) {
      if (this.pending || now - this.attemptedAt >= FIRST_FETCH_RETRY_MS) await this.refresh();
      if (!this.local) throw new KeySetUnavailable(`the key set ${this.url.href} could not be fetched: ${this.lastFailure}`);
    } else this.refreshIfStale(now);
    const local = this.local;
    try {
      return await local(header, token);
    } catch (error) {
      if (!(error instanceof errors.JWKSNoMatchingKey)) throw error;
      // A fetch already under way may bring the key; otherwise one is started if the cooldown allows.
      if (this.pending) await this.pending;
      else if (this.mayAttempt(Date.now())) await this.refresh();
      else throw error;
      return this.local(header, token);
    }
  };

  /** Start a background fetch when the set is older than `refresh` (also asked on every request whose token was cached). */
  refreshIfStale(now: number): void {
    if (this.local && now - this.fetchedAt >= this.options.refreshMs && this.mayAttempt(now)) void this.refresh();
  }

  private mayAttempt(now: number): boolean {
    return this.pending === undefined && now - this.attemptedAt >= this.options.cooldownMs;
  }

  /** Fetch the set once (concurrent callers share the fetch); never rejects: a failure is logged and kept. */
  private refresh(): Promise<void> {
    if (this.closed.signal.aborted) return Promise.resolve();
    this.pending ??= this.fetchSet().then(
      () => {
        this.pending = undefined;
      },
      (error: Error) => {
        this.pending = undefined;
        this.lastFailure = error.message;
        if (!this.closed.signal.aborted)
          this.options.log(`cannot fetch the key set ${this.url.href}: ${error.message}${this.local ? " (keeping the keys in hand)" : ""}`);
      },
    );
    return this.pending;
  }

  private async fetchSet(): Promise<void> {
    this.attemptedAt = Date.now();
    let response: Response;
    try {
      response = await fetch(this.url, {
        headers: { accept: "application/jwk-set+json, application/json" },
        redirect: "error",
        signal: AbortSignal.any([AbortSignal.timeout(this.options.timeoutMs), this.closed.signal]),
      });
    } catch (error) {
      const e = error as Error;
      throw new Error(e.name === "TimeoutError" ? `no answer within ${this.options.timeoutMs}ms` : e.message);
    }
    if (response.status !== 200) {
      void response.body?.cancel().catch(() => {});
      throw new Error(`status ${response.status}`);
    }
    const text = await response.text();
    if (text.length > MAX_JWKS_BYTES) throw new Error(`larger than ${MAX_JWKS_BYTES} bytes`);
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error("not JSON");
    }
    const local = createLocalJWKSet(json as JSONWebKeySet);
    this.fetchedAt = Date.now();
    if (text !== this.text) {
      this.text = text;
      this.local = local;
      this.generation++;
    }
  }
}
