// Tokens already verified, so that a client sending the same token again (every request of a session does) costs a
// map lookup instead of a signature check. An entry lives until the token expires, at most `maxAgeMs`, and only
// while the keys it was verified with are unchanged; invalid tokens are never kept (they would let anyone fill it).

export class VerifiedTokens<T> {
  private readonly entries = new Map<string, { value: T; until: number; generation: number }>();

  constructor(
    private readonly maxEntries: number,
    private readonly maxAgeMs: number,
  ) {}

  get(token: string, now: number, generation: number): T | undefined {
    const entry = this.entries.get(token);
    if (entry === undefined) return undefined;
    if (now < entry.until && entry.generation === generation) return entry.value;
    this.entries.delete(token);
    return undefined;
  }

  /** Keep `value` for `token` until `expiresAt` (ms; Infinity for a token without exp). */
  set(token: string, value: T, now: number, expiresAt: number, generation: number): void {
    // Full: the oldest entry goes (a Map iterates in insertion order).
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
    this.entries.set(token, { value, until: Math.min(expiresAt, now + this.maxAgeMs), generation });
  }
}
