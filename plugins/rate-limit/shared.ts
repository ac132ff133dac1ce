// Things several set-ups of the plugin share, counted by users. A reload runs setup again before the old
// config's teardown, so what the new config shares with the old one (a Redis connection, a local store
// with its counts) is handed over instead of closed and opened anew; the last user's teardown closes it.
export class Shared<T> {
  private readonly entries = new Map<string, { value: T; users: number }>();

  constructor(private readonly close: (value: T) => void | Promise<void>) {}

  /** The value under `id`, made by `create` when nobody holds it yet. Call `release(id)` once per acquire. */
  acquire(id: string, create: () => T): T {
    let entry = this.entries.get(id);
    if (!entry) {
      entry = { value: create(), users: 0 };
      this.entries.set(id, entry);
    }
    entry.users++;
    return entry.value;
  }

  async release(id: string): Promise<void> {
    const entry = this.entries.get(id);
    if (!entry || --entry.users > 0) return;
    this.entries.delete(id);
    await this.close(entry.value);
  }

  /** How many values are held (for tests: nothing leaks across reloads). */
  get size(): number {
    return this.entries.size;
  }
}
